"""Undo reverts only your own edits, transformed past your partner's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pairtui.core.ot import TextOperation
from pairtui.core.undo import UndoManager


class Editor:
    """One person's view: a text and their undo manager."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.undo = UndoManager()

    def type(self, position: int, inserted: str, now: float, deleted: int = 0) -> None:
        op = TextOperation.from_edit(len(self.text), position, deleted, inserted)
        self.undo.record(op, self.text, now)
        self.text = op.apply(self.text)

    def remote(self, position: int, inserted: str, deleted: int = 0) -> None:
        op = TextOperation.from_edit(len(self.text), position, deleted, inserted)
        self.undo.remote(op)
        self.text = op.apply(self.text)

    def press_undo(self) -> bool:
        op = self.undo.undo(self.text)
        if op is not None:
            self.text = op.apply(self.text)
        return op is not None

    def press_redo(self) -> bool:
        op = self.undo.redo(self.text)
        if op is not None:
            self.text = op.apply(self.text)
        return op is not None


def test_undo_reverts_own_typing_and_keeps_partners() -> None:
    me = Editor("def f():\n")
    me.type(9, "    return 1", now=0.0)
    me.remote(0, "# partner\n")
    me.remote(len(me.text), "\nprint(f())")
    assert me.press_undo()
    assert me.text == "# partner\ndef f():\n\nprint(f())"
    assert me.press_redo()
    assert me.text == "# partner\ndef f():\n    return 1\nprint(f())"


def test_typing_burst_is_one_step_and_a_pause_starts_another() -> None:
    me = Editor("")
    for i, char in enumerate("abc"):
        me.type(i, char, now=i * 0.2)
    me.type(3, "d", now=5.0)
    assert me.press_undo() and me.text == "abc"
    assert me.press_undo() and me.text == ""
    assert not me.press_undo()


def test_break_group_splits_a_burst() -> None:
    me = Editor("")
    me.type(0, "a", now=0.0)
    me.undo.break_group()
    me.type(1, "b", now=0.1)
    assert me.press_undo() and me.text == "a"


def test_new_edit_clears_redo() -> None:
    me = Editor("")
    me.type(0, "a", now=0.0)
    me.press_undo()
    me.type(0, "b", now=9.0)
    assert not me.undo.can_redo


def test_partner_deleting_my_text_makes_undo_a_noop_step() -> None:
    me = Editor("xy")
    me.type(1, "MINE", now=0.0)
    me.remote(0, "", deleted=6)  # partner deletes everything
    assert not me.press_undo()  # nothing of mine is left to undo
    assert me.text == ""


@given(
    st.text(alphabet="abc", max_size=10),
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 100), st.text("XYZ", min_size=1, max_size=3)),
        max_size=12,
    ),
)
def test_undoing_everything_removes_exactly_my_inserts(
    start: str, steps: list[tuple[bool, int, str]]
) -> None:
    """Mine are lowercase-free X/Y/Z inserts, the partner's are digits; undo all of mine."""
    me = Editor(start)
    partner_chars = 0
    for index, (mine, position, text) in enumerate(steps):
        position %= len(me.text) + 1
        if mine:
            me.type(position, text, now=index * 10.0)
        else:
            me.remote(position, "7" * len(text))
            partner_chars += len(text)
    while me.press_undo():
        pass
    assert not any(c in "XYZ" for c in me.text)
    assert me.text.count("7") == partner_chars
    assert "".join(c for c in me.text if c != "7") == start
