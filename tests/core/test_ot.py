"""TextOperation: builders, JSON, the algebraic laws, cursor moves, and bad input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pairtui.core.ot import OTError, TextOperation, compose_all, transform_index
from tests.core.strategies import (
    text_and_operation,
    text_and_two_concurrent,
    text_and_two_consecutive,
    texts,
)

# -- builders and canonical form ----------------------------------------------


def test_builders_merge_adjacent_components() -> None:
    op = TextOperation().retain(2).retain(3).insert("ab").insert("c").delete(1).delete(2)
    assert op.ops == [5, "abc", -3]
    assert (op.base_length, op.target_length) == (8, 8)


def test_insert_goes_before_delete_at_the_same_place() -> None:
    a = TextOperation().retain(1).delete(2).insert("x")
    b = TextOperation().retain(1).insert("x").delete(2)
    assert a == b
    assert a.ops == [1, "x", -2]
    c = TextOperation().retain(1).insert("x").delete(2).insert("y")
    assert c.ops == [1, "xy", -2]


def test_zero_length_builders_add_nothing() -> None:
    assert TextOperation().retain(0).insert("").delete(0).ops == []


def test_noop() -> None:
    assert TextOperation().is_noop()
    assert TextOperation().retain(5).is_noop()
    assert not TextOperation().retain(5).insert("a").is_noop()
    assert not TextOperation().delete(1).is_noop()


def test_from_edit_and_edits() -> None:
    op = TextOperation.from_edit(10, 3, 2, "XY")
    assert op.ops == [3, "XY", -2, 5]
    assert op.apply("0123456789") == "012XY56789"
    assert list(op.edits()) == [(3, 2, "XY")]
    multi = TextOperation().retain(1).insert("a").retain(2).delete(3).retain(1).insert("z")
    assert list(multi.edits()) == [(1, 0, "a"), (3, 3, ""), (7, 0, "z")]


@given(text_and_operation())
def test_edits_applied_last_to_first_equal_apply(case: tuple[str, TextOperation]) -> None:
    text, op = case
    buffer = text
    for position, deleted, inserted in reversed(list(op.edits())):
        buffer = buffer[:position] + inserted + buffer[position + deleted :]
    assert buffer == op.apply(text)


# -- the laws -------------------------------------------------------------------


@given(text_and_operation())
def test_apply_gives_target_length(case: tuple[str, TextOperation]) -> None:
    text, op = case
    assert len(op.apply(text)) == op.target_length
    assert op.base_length == len(text)


@given(text_and_two_consecutive())
def test_compose_equals_applying_twice(case: tuple[str, TextOperation, TextOperation]) -> None:
    text, a, b = case
    composed = a.compose(b)
    assert composed.apply(text) == b.apply(a.apply(text))
    assert composed.base_length == a.base_length
    assert composed.target_length == b.target_length


@given(text_and_operation())
def test_invert_round_trips(case: tuple[str, TextOperation]) -> None:
    text, op = case
    inverse = op.invert(text)
    assert inverse.apply(op.apply(text)) == text
    assert op.compose(inverse).apply(text) == text
    assert inverse.invert(op.apply(text)) == op


@given(text_and_two_concurrent())
def test_transform_satisfies_tp1(case: tuple[str, TextOperation, TextOperation]) -> None:
    text, a, b = case
    a_prime, b_prime = TextOperation.transform(a, b)
    assert a.compose(b_prime) == b.compose(a_prime)  # as operations
    assert b_prime.apply(a.apply(text)) == a_prime.apply(b.apply(text))  # and as text


@given(text_and_operation())
def test_json_round_trip(case: tuple[str, TextOperation]) -> None:
    _, op = case
    wire = json.loads(json.dumps(op.to_json()))
    assert TextOperation.from_json(wire) == op


@given(text_and_operation(), st.integers(0, 60), st.booleans())
def test_cursor_stays_within_document(
    case: tuple[str, TextOperation], index: int, own: bool
) -> None:
    _, op = case
    moved = transform_index(index, op, own=own)
    assert 0 <= moved <= op.target_length


@given(texts, st.data(), st.booleans())
def test_cursor_stays_on_its_text(text: str, data: st.DataObject, own: bool) -> None:
    """Inserts never separate the cursor from its text.

    After your own insert at the cursor, the character that followed the
    cursor still follows it; after someone else's, the character that came
    before the cursor still comes right before it.
    """
    index = data.draw(st.integers(0, len(text)))
    marked = text[:index] + "\x00" + text[index:]  # the character after the cursor
    position = data.draw(st.integers(0, len(marked)))
    op = TextOperation.from_edit(len(marked), position, 0, "ins")
    moved = transform_index(index, op, own=own)
    result = op.apply(marked)
    if own or position != index:
        assert result[moved] == "\x00"
    else:
        assert result[:moved] == marked[:index]


def test_cursor_rules_own_versus_others_insert() -> None:
    insert_at_3 = TextOperation.from_edit(6, 3, 0, "xy")
    assert transform_index(3, insert_at_3, own=True) == 5
    assert transform_index(3, insert_at_3, own=False) == 3
    assert transform_index(2, insert_at_3, own=True) == 2
    assert transform_index(4, insert_at_3, own=False) == 6
    delete_1_to_4 = TextOperation.from_edit(6, 1, 3, "")
    assert transform_index(2, delete_1_to_4, own=False) == 1
    assert transform_index(5, delete_1_to_4, own=False) == 2
    assert transform_index(99, delete_1_to_4, own=False) == 3


def test_insert_tie_puts_first_operand_first() -> None:
    a = TextOperation().retain(1).insert("A")
    b = TextOperation().retain(1).insert("B")
    a_prime, b_prime = TextOperation.transform(a, b)
    assert b_prime.apply(a.apply("x")) == "xAB"
    assert a_prime.apply(b.apply("x")) == "xAB"


def test_compose_all() -> None:
    ops = [TextOperation.from_edit(i, i, 0, "a") for i in range(4)]
    composed = compose_all(ops)
    assert composed is not None
    assert composed.apply("") == "aaaa"
    assert compose_all([]) is None


def test_astral_characters_count_as_one() -> None:
    op = TextOperation.from_edit(3, 1, 1, "🎉")
    assert op.apply("a😀b") == "a🎉b"


# -- bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not a list", "JSON array"),
        ({"retain": 1}, "JSON array"),
        ([0], "neither a retain nor a delete"),
        ([""], "must not be empty"),
        ([1.5], "expected an integer or a string"),
        ([True], "expected an integer or a string"),
        ([None], "expected an integer or a string"),
        ([[1]], "expected an integer or a string"),
    ],
)
def test_from_json_rejects_malformed(value: object, message: str) -> None:
    with pytest.raises(OTError, match=message):
        TextOperation.from_json(value)


def test_builders_reject_wrong_types_and_negative_counts() -> None:
    with pytest.raises(OTError, match="integer"):
        TextOperation().retain("3")  # type: ignore[arg-type]
    with pytest.raises(OTError, match=">= 0"):
        TextOperation().retain(-1)
    with pytest.raises(OTError, match=">= 0"):
        TextOperation().delete(-2)
    with pytest.raises(OTError, match="str"):
        TextOperation().insert(5)  # type: ignore[arg-type]
    with pytest.raises(OTError, match="does not fit"):
        TextOperation.from_edit(3, 2, 2, "")


def test_length_mismatch_is_an_error_not_a_wrong_result() -> None:
    op = TextOperation().retain(3).insert("x")
    with pytest.raises(OTError, match="length 3, but it has length 4"):
        op.apply("abcd")
    with pytest.raises(OTError, match="cannot invert"):
        op.invert("ab")
    with pytest.raises(OTError, match="cannot compose"):
        op.compose(TextOperation().retain(3))
    with pytest.raises(OTError, match="cannot transform"):
        TextOperation.transform(op, TextOperation().retain(2))
    with pytest.raises(OTError, match="cursor"):
        transform_index(-1, op, own=True)
