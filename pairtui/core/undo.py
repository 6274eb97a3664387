"""Per-user undo and redo: your own edits only, transformed past everyone else's.

Each stack entry is an op that would undo (or redo) one group of your edits
*if applied to the document as it is now*. Your edits push their inverse;
a partner's edit never enters the stacks, but every entry is transformed past
it (ot.js's ``transformStack``), so undo reverts your typing and leaves your
partner's alone. Typing in a quick burst forms one undo step.
"""

from __future__ import annotations

from pairtui.core.ot import TextOperation

DEFAULT_GROUP_SECONDS = 1.0
DEFAULT_MAX_DEPTH = 1_000


class UndoManager:
    """Undo and redo stacks of one person for one file."""

    def __init__(
        self,
        *,
        group_seconds: float = DEFAULT_GROUP_SECONDS,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        self.group_seconds = group_seconds
        self.max_depth = max_depth
        self.undo_stack: list[TextOperation] = []
        self.redo_stack: list[TextOperation] = []
        self._last_edit_at: float | None = None

    @property
    def can_undo(self) -> bool:
        return bool(self.undo_stack)

    @property
    def can_redo(self) -> bool:
        return bool(self.redo_stack)

    def record(self, op: TextOperation, text_before: str, now: float) -> None:
        """Remember your own edit ``op`` (applied to ``text_before`` at time ``now``)."""
        if op.is_noop():
            return
        inverse = op.invert(text_before)
        last = self._last_edit_at
        if self.undo_stack and last is not None and 0 <= now - last <= self.group_seconds:
            self.undo_stack[-1] = inverse.compose(self.undo_stack[-1])
        else:
            self.undo_stack.append(inverse)
            del self.undo_stack[: -self.max_depth]
        self._last_edit_at = now
        self.redo_stack.clear()

    def break_group(self) -> None:
        """Make the next edit start a new undo step (the cursor moved, a paste, a save)."""
        self._last_edit_at = None

    def remote(self, op: TextOperation) -> None:
        """Someone else's edit was applied: move every stack entry past it."""
        self.undo_stack = _transform_stack(self.undo_stack, op)
        self.redo_stack = _transform_stack(self.redo_stack, op)

    def undo(self, text: str) -> TextOperation | None:
        """The op that undoes your latest step on ``text``; apply it as a local edit.

        Do not ``record`` it: the manager already put its inverse on the redo stack.
        """
        return self._pop(self.undo_stack, self.redo_stack, text)

    def redo(self, text: str) -> TextOperation | None:
        """The op that redoes your latest undone step on ``text``."""
        return self._pop(self.redo_stack, self.undo_stack, text)

    def _pop(
        self, source: list[TextOperation], target: list[TextOperation], text: str
    ) -> TextOperation | None:
        self._last_edit_at = None
        while source:
            op = source.pop()
            if not op.is_noop():
                target.append(op.invert(text))
                return op
        return None


def _transform_stack(stack: list[TextOperation], op: TextOperation) -> list[TextOperation]:
    """Transform each entry, newest first, past ``op``; drop entries that became no-ops."""
    transformed: list[TextOperation] = []
    for entry in reversed(stack):
        entry, op = TextOperation.transform(entry, op)
        if not entry.is_noop():
            transformed.append(entry)
    transformed.reverse()
    return transformed
