"""diff_operation turns any old text into any new text, keeping shared text retained."""

from __future__ import annotations

from hypothesis import given

from pairtui.core import diff
from pairtui.core.diff import diff_operation
from tests.core.strategies import texts


@given(texts, texts)
def test_diff_turns_old_into_new(old: str, new: str) -> None:
    op = diff_operation(old, new)
    assert op.apply(old) == new


def test_small_change_in_large_text_is_a_small_op() -> None:
    old = "line\n" * 10_000
    new = old[:25_000] + "changed " + old[25_000:]
    op = diff_operation(old, new)
    assert op.ops == [25_000, "changed ", len(old) - 25_000]


def test_huge_change_falls_back_to_replacing_the_middle() -> None:
    old = "a" * (diff.FINE_DIFF_LIMIT + 10)
    new = "b" * 10
    assert diff_operation(old, new).apply(old) == new
