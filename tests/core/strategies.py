"""Hypothesis strategies for texts and operations that fit them."""

from __future__ import annotations

from hypothesis import strategies as st

from pairtui.core.ot import TextOperation

# Mostly ASCII with some multi-byte and astral characters: lengths count code points.
characters = st.sampled_from([*"abcxyz \n\t{}()", "é", "ß", "中", "😀", "🎉"])
texts = st.text(alphabet=characters, max_size=40)


@st.composite
def operation_for(draw: st.DrawFn, text: str) -> TextOperation:
    """A random op whose base is ``text``."""
    op = TextOperation()
    remaining = len(text)
    while remaining > 0:
        kind = draw(st.sampled_from(("retain", "delete", "insert")))
        n = draw(st.integers(1, min(remaining, 6)))
        if kind == "retain":
            op.retain(n)
            remaining -= n
        elif kind == "delete":
            op.delete(n)
            remaining -= n
        else:
            op.insert(draw(st.text(alphabet=characters, min_size=1, max_size=5)))
    if draw(st.booleans()):
        op.insert(draw(st.text(alphabet=characters, min_size=1, max_size=5)))
    return op


@st.composite
def text_and_operation(draw: st.DrawFn) -> tuple[str, TextOperation]:
    text = draw(texts)
    return text, draw(operation_for(text))


@st.composite
def text_and_two_concurrent(draw: st.DrawFn) -> tuple[str, TextOperation, TextOperation]:
    text = draw(texts)
    return text, draw(operation_for(text)), draw(operation_for(text))


@st.composite
def text_and_two_consecutive(draw: st.DrawFn) -> tuple[str, TextOperation, TextOperation]:
    text = draw(texts)
    first = draw(operation_for(text))
    second = draw(operation_for(first.apply(text)))
    return text, first, second
