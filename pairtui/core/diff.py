"""Turn two versions of a text into one operation.

Used where only before-and-after texts are known: a file changed on disk by
another editor (folder sync) and a client rebasing its unsent edits onto a
fresh snapshot. Common prefix and suffix are trimmed first, so the usual
small change costs time proportional to the document only once; the rest is
matched with difflib when it is small enough to be worth it.
"""

from __future__ import annotations

import difflib

from pairtui.core.ot import TextOperation

FINE_DIFF_LIMIT = 20_000
"""Above this many changed code points, replace the middle wholesale (difflib is quadratic)."""


def diff_operation(old: str, new: str) -> TextOperation:
    """An op that turns ``old`` into ``new``, keeping unchanged text as retains."""
    prefix = _common_prefix_length(old, new)
    suffix = _common_suffix_length(old, new, prefix)
    old_middle = old[prefix : len(old) - suffix]
    new_middle = new[prefix : len(new) - suffix]
    operation = TextOperation().retain(prefix)
    if len(old_middle) + len(new_middle) <= FINE_DIFF_LIMIT:
        matcher = difflib.SequenceMatcher(None, old_middle, new_middle, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                operation.retain(i2 - i1)
            else:
                operation.insert(new_middle[j1:j2]).delete(i2 - i1)
    else:
        operation.insert(new_middle).delete(len(old_middle))
    return operation.retain(suffix)


def _common_prefix_length(a: str, b: str) -> int:
    limit = min(len(a), len(b))
    low, high = 0, limit
    while low < high:  # binary search on slice equality: C-speed comparisons
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix_length(a: str, b: str, prefix: int) -> int:
    limit = min(len(a), len(b)) - prefix
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle :] == b[len(b) - middle :]:
            low = middle
        else:
            high = middle - 1
    return low
