"""Operational transformation for plain text: the algorithm every other part trusts.

A ``TextOperation`` walks the whole document once, as a list of components:

* a positive ``int`` *retains* (skips over) that many code points,
* a ``str`` *inserts* that text,
* a negative ``int`` *deletes* that many code points.

This is ot.js's JSON form, and the same ops give the same results as ot.js for
text without astral characters (ot.js counts UTF-16 units, we count code
points, as Python ``str`` indices do). The four laws the rest of pairtui relies
on are checked by property tests: ``apply`` gives ``target_length``; composing
then applying equals applying twice; ``invert`` undoes; and transform
satisfies TP1 (``a . b' == b . a'``).

Operations are built with the chaining builders and then treated as values:
nothing in pairtui mutates an operation after handing it on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeAlias

Component: TypeAlias = int | str
"""One step of an operation: retain (> 0), delete (< 0) or insert (str)."""


class OTError(ValueError):
    """An operation is malformed, or does not fit the text or the other operation."""


class TextOperation:
    """A sequence of retain / insert / delete components over a whole document."""

    __slots__ = ("base_length", "ops", "target_length")

    def __init__(self) -> None:
        self.ops: list[Component] = []
        self.base_length = 0
        self.target_length = 0

    # -- builders -------------------------------------------------------------

    def retain(self, n: int) -> TextOperation:
        """Skip over ``n`` code points, merging with a preceding retain."""
        _check_count(n, "retain")
        if n == 0:
            return self
        self.base_length += n
        self.target_length += n
        ops = self.ops
        last = ops[-1] if ops else None
        if isinstance(last, int) and last > 0:
            ops[-1] = last + n
        else:
            ops.append(n)
        return self

    def insert(self, text: str) -> TextOperation:
        """Insert ``text``; an insert next to a delete is kept before it (canonical form)."""
        if not isinstance(text, str):
            raise OTError(f"insert takes a str, got {type(text).__name__}")
        if not text:
            return self
        self.target_length += len(text)
        ops = self.ops
        last = ops[-1] if ops else None
        if isinstance(last, str):
            ops[-1] = last + text
        elif isinstance(last, int) and last < 0:
            before = ops[-2] if len(ops) > 1 else None
            if isinstance(before, str):
                ops[-2] = before + text
            else:
                ops[-1] = text
                ops.append(last)
        else:
            ops.append(text)
        return self

    def delete(self, n: int) -> TextOperation:
        """Delete ``n`` code points, merging with a preceding delete."""
        _check_count(n, "delete")
        if n == 0:
            return self
        self.base_length += n
        ops = self.ops
        last = ops[-1] if ops else None
        if isinstance(last, int) and last < 0:
            ops[-1] = last - n
        else:
            ops.append(-n)
        return self

    @classmethod
    def from_edit(cls, length: int, position: int, deleted: int, inserted: str) -> TextOperation:
        """The op that replaces ``deleted`` code points at ``position`` with ``inserted``.

        ``length`` is the document's length before the edit; the op retains the
        rest of the document so that it applies to the whole text.
        """
        _check_count(length, "document length")
        _check_count(position, "position")
        _check_count(deleted, "deleted count")
        if position + deleted > length:
            raise OTError(
                f"edit at {position} deleting {deleted} does not fit a document of length {length}"
            )
        op = cls().retain(position).insert(inserted).delete(deleted)
        return op.retain(length - position - deleted)

    # -- JSON -------------------------------------------------------------------

    @classmethod
    def from_json(cls, value: object) -> TextOperation:
        """Parse ot.js's JSON form; raise ``OTError`` saying what is wrong."""
        if not isinstance(value, list):
            raise OTError(f"an operation is a JSON array, got {type(value).__name__}")
        op = cls()
        for index, component in enumerate(value):
            if isinstance(component, str):
                if not component:
                    raise OTError(f"component {index}: an insert must not be empty")
                op.insert(component)
            elif type(component) is int:
                if component > 0:
                    op.retain(component)
                elif component < 0:
                    op.delete(-component)
                else:
                    raise OTError(f"component {index}: 0 is neither a retain nor a delete")
            else:
                raise OTError(
                    f"component {index}: expected an integer or a string, "
                    f"got {type(component).__name__}"
                )
        return op

    @classmethod
    def from_canonical(cls, components: Iterable[Component]) -> TextOperation:
        """Rebuild an op from the components of one that was valid (no checks: fast).

        For ops a program made itself and kept, like the relay's history; anything
        from outside goes through ``from_json``.
        """
        op = cls()
        op.ops = list(components)
        base = target = 0
        for component in op.ops:
            if isinstance(component, str):
                target += len(component)
            elif component > 0:
                base += component
                target += component
            else:
                base -= component
        op.base_length, op.target_length = base, target
        return op

    def to_json(self) -> list[Component]:
        """ot.js's JSON form: a fresh list the caller may keep."""
        return list(self.ops)

    # -- queries ----------------------------------------------------------------

    def is_noop(self) -> bool:
        """True when applying the op changes nothing."""
        ops = self.ops
        return not ops or (len(ops) == 1 and isinstance(ops[0], int) and ops[0] > 0)

    def edits(self) -> Iterator[tuple[int, int, str]]:
        """Yield ``(position, deleted, inserted)`` edits in ascending base positions.

        Positions refer to the document *before* the op, so a caller applying
        them to a mutable buffer one at a time goes from the last to the first.
        """
        position = 0
        pending_insert = ""
        for component in self.ops:
            if isinstance(component, str):
                pending_insert = component
            elif component > 0:
                if pending_insert:
                    yield position, 0, pending_insert
                    pending_insert = ""
                position += component
            else:
                yield position, -component, pending_insert
                pending_insert = ""
                position -= component
        if pending_insert:
            yield position, 0, pending_insert

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TextOperation):
            return NotImplemented
        return self.ops == other.ops

    __hash__ = None  # type: ignore[assignment]  # mutable while being built

    def __repr__(self) -> str:
        return f"TextOperation({self.ops!r})"

    # -- the algorithm ----------------------------------------------------------

    def apply(self, text: str) -> str:
        """Return ``text`` with this op applied; the text must be ``base_length`` long."""
        if len(text) != self.base_length:
            raise OTError(
                f"the operation expects a document of length {self.base_length}, "
                f"but it has length {len(text)}"
            )
        parts: list[str] = []
        index = 0
        for component in self.ops:
            if isinstance(component, str):
                parts.append(component)
            elif component > 0:
                end = index + component
                parts.append(text[index:end])
                index = end
            else:
                index -= component
        return "".join(parts)

    def invert(self, text: str) -> TextOperation:
        """The op that undoes this one, given the text this op was applied to."""
        if len(text) != self.base_length:
            raise OTError(
                f"cannot invert: the operation expects a document of length "
                f"{self.base_length}, but it has length {len(text)}"
            )
        inverse = TextOperation()
        index = 0
        for component in self.ops:
            if isinstance(component, str):
                inverse.delete(len(component))
            elif component > 0:
                inverse.retain(component)
                index += component
            else:
                end = index - component
                inverse.insert(text[index:end])
                index = end
        return inverse

    def compose(self, other: TextOperation) -> TextOperation:
        """One op with the effect of this op followed by ``other``."""
        if self.target_length != other.base_length:
            raise OTError(
                f"cannot compose: the first operation yields length {self.target_length}, "
                f"the second expects {other.base_length}"
            )
        result = TextOperation()
        first = iter(self.ops)
        second = iter(other.ops)
        a = next(first, None)
        b = next(second, None)
        while a is not None or b is not None:
            if isinstance(a, int) and a < 0:  # a deletes: the second never saw that text
                result.delete(-a)
                a = next(first, None)
            elif isinstance(b, str):  # b inserts: the first never saw that text
                result.insert(b)
                b = next(second, None)
            elif a is None or b is None:
                raise OTError("cannot compose: the operations do not line up")
            elif isinstance(a, str):
                step = min(len(a), abs(b))
                if b > 0:  # b keeps (part of) what a inserted
                    result.insert(a[:step])
                # else b deletes (part of) what a inserted: both vanish
                a = a[step:] or next(first, None)
                b = _shrink(b, step) or next(second, None)
            else:  # a retains: b decides what happens to that text
                step = min(a, abs(b))
                if b > 0:
                    result.retain(step)
                else:
                    result.delete(step)
                a = a - step or next(first, None)
                b = _shrink(b, step) or next(second, None)
        return result

    @staticmethod
    def transform(a: TextOperation, b: TextOperation) -> tuple[TextOperation, TextOperation]:
        """Return ``(a', b')`` with ``a.compose(b') == b.compose(a')`` (TP1).

        ``a`` and ``b`` were made concurrently against the same text. When both
        insert at the same place, ``a``'s text goes first: the relay passes the
        incoming op as ``a`` and a client passes its own pending op as ``a``,
        so both sides break the tie the same way (as ot.js does).

        ::

                  text
                 a/   \\b
                 /     \\
                 \\     /
                b'\\   /a'
                  text'
        """
        if a.base_length != b.base_length:
            raise OTError(
                f"cannot transform: the operations expect documents of length "
                f"{a.base_length} and {b.base_length}"
            )
        a_prime = TextOperation()
        b_prime = TextOperation()
        first = iter(a.ops)
        second = iter(b.ops)
        x = next(first, None)
        y = next(second, None)
        while x is not None or y is not None:
            if isinstance(x, str):
                a_prime.insert(x)
                b_prime.retain(len(x))
                x = next(first, None)
            elif isinstance(y, str):
                a_prime.retain(len(y))
                b_prime.insert(y)
                y = next(second, None)
            elif x is None or y is None:
                raise OTError("cannot transform: the operations do not line up")
            else:  # each retains or deletes
                step = min(abs(x), abs(y))
                if x > 0 and y > 0:
                    a_prime.retain(step)
                    b_prime.retain(step)
                elif x < 0 < y:
                    a_prime.delete(step)
                elif y < 0 < x:
                    b_prime.delete(step)
                # When both delete the same text, neither needs to delete it again.
                x = _shrink(x, step) or next(first, None)
                y = _shrink(y, step) or next(second, None)
        return a_prime, b_prime


def compose_all(operations: Iterable[TextOperation]) -> TextOperation | None:
    """Compose a run of consecutive ops into one; ``None`` for an empty run."""
    result: TextOperation | None = None
    for operation in operations:
        result = operation if result is None else result.compose(operation)
    return result


def transform_index(index: int, operation: TextOperation, *, own: bool) -> int:
    """Move a cursor index through ``operation``.

    An insert exactly at the cursor pushes it right when the cursor's owner
    made the insert (they were typing there) and leaves it in place when
    somebody else did (their text appears after your cursor, not under it).
    A cursor inside deleted text moves to where the deletion started. An index
    past the end is first clamped to the document, so the result always lies
    within the new document.
    """
    if type(index) is not int or index < 0:
        raise OTError(f"a cursor index is an integer >= 0, got {index!r}")
    index = min(index, operation.base_length)
    moved = index
    position = 0  # where the walk is in the base document
    for component in operation.ops:
        if isinstance(component, str):
            if position < index or (position == index and own):
                moved += len(component)
        elif component > 0:
            position += component
        else:
            moved -= max(0, min(-component, index - position))
            position -= component
        if position > index:
            break
    return moved


def _shrink(component: int, step: int) -> int:
    """What remains of a retain (> 0) or delete (< 0) after ``step`` code points of it."""
    return component - step if component > 0 else component + step


def _check_count(n: object, what: str) -> None:
    if type(n) is not int:
        raise OTError(f"{what} takes an integer, got {type(n).__name__}")
    if n < 0:
        raise OTError(f"{what} takes a count >= 0, got {n}")
