"""Every sequential real editing trace replays through TextOperation to its end text."""

from __future__ import annotations

import pytest

from bench.traces import SEQUENTIAL, load_sequential, traces_dir
from pairtui.core.ot import TextOperation

pytestmark = pytest.mark.skipif(
    traces_dir() is None, reason="the shared traces folder is not beside this checkout"
)


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_trace_replays_to_end_content(name: str) -> None:
    trace = load_sequential(name)
    text = trace.start
    for position, deleted, inserted in trace.patches:
        text = TextOperation.from_edit(len(text), position, deleted, inserted).apply(text)
    assert text == trace.end


@pytest.mark.parametrize("name", ["sveltecomponent"])
def test_trace_composed_as_a_client_buffer_gives_the_same_text(name: str) -> None:
    """Composing consecutive edits (as a client's buffer does) loses nothing."""
    trace = load_sequential(name)
    text = buffer_base = trace.start
    buffer: TextOperation | None = None
    for count, (position, deleted, inserted) in enumerate(trace.patches, 1):
        op = TextOperation.from_edit(len(text), position, deleted, inserted)
        text = op.apply(text)
        buffer = op if buffer is None else buffer.compose(op)
        if count % 50 == 0:  # the buffer is flushed when an ack arrives
            assert buffer.apply(buffer_base) == text
            buffer_base, buffer = text, None
    assert text == trace.end
