"""The same ops give the same results as ot.js (the npm package ``ot``).

Runs when Node and the package are on the machine (``.ci/run`` installs both):
random cases are generated here, evaluated by ot.js in one Node process, and
compared component by component. ot.js counts UTF-16 units, so the texts
have no astral characters.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess

import pytest

from pairtui.core.ot import TextOperation

SEED = 20261203
CASES = 400
ALPHABET = "abcdefgh \n{}é中"

NODE_SCRIPT = r"""
const ot = require('ot');
const T = ot.TextOperation;
let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((c) => {
    const a = T.fromJSON(c.a), b = T.fromJSON(c.b), next = T.fromJSON(c.next);
    const [ap, bp] = T.transform(a, b);
    return {
      apply: a.apply(c.text),
      compose: a.compose(next).toJSON(),
      transform: [ap.toJSON(), bp.toJSON()],
      invert: a.invert(c.text).toJSON(),
    };
  });
  process.stdout.write(JSON.stringify(out));
});
"""


def _node_with_ot() -> bool:
    node = shutil.which("node")
    if node is None:
        return False
    probe = subprocess.run([node, "-e", "require('ot')"], capture_output=True, check=False)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not _node_with_ot(), reason="node with the npm package 'ot' is not available (see .ci/run)"
)


def _random_op(rng: random.Random, text: str) -> TextOperation:
    op = TextOperation()
    remaining = len(text)
    while remaining:
        n = rng.randint(1, min(4, remaining))
        choice = rng.random()
        if choice < 0.4:
            op.retain(n)
            remaining -= n
        elif choice < 0.7:
            op.delete(n)
            remaining -= n
        else:
            op.insert("".join(rng.choice(ALPHABET) for _ in range(n)))
    if rng.random() < 0.5:
        op.insert(rng.choice(ALPHABET))
    return op


def test_apply_compose_transform_invert_match_ot_js() -> None:
    rng = random.Random(SEED)
    print(f"seed {SEED}")
    cases = []
    for _ in range(CASES):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 20)))
        a, b = _random_op(rng, text), _random_op(rng, text)
        following = _random_op(rng, a.apply(text))
        cases.append((text, a, b, following))
    payload = [
        {"text": t, "a": a.to_json(), "b": b.to_json(), "next": n.to_json()} for t, a, b, n in cases
    ]
    result = subprocess.run(
        ["node", "-e", NODE_SCRIPT],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    expected = json.loads(result.stdout)
    for (text, a, b, following), js in zip(cases, expected, strict=True):
        a_prime, b_prime = TextOperation.transform(a, b)
        context = f"text={text!r} a={a.ops} b={b.ops}"
        assert a.apply(text) == js["apply"], context
        assert a.compose(following).to_json() == js["compose"], context
        assert [a_prime.to_json(), b_prime.to_json()] == js["transform"], context
        assert a.invert(text).to_json() == js["invert"], context
