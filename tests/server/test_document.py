"""The relay's per-file ordering: transform, dedupe, and clear refusals."""

from __future__ import annotations

from pairtui.core.ot import TextOperation
from pairtui.core.protocol import ErrorCode
from server.document import Applied, Duplicate, Rejected, ServerDocument

A = "client-a-0123456789"
B = "client-b-0123456789"


def edit(length: int, position: int, text: str) -> TextOperation:
    return TextOperation.from_edit(length, position, 0, text)


def test_concurrent_op_is_transformed_past_history() -> None:
    doc = ServerDocument("abc")
    first = doc.receive(0, edit(3, 3, "!"), A, 1)
    second = doc.receive(0, edit(3, 0, ">"), B, 1)
    assert isinstance(first, Applied) and isinstance(second, Applied)
    assert second.entry.op.ops == [">", 4]
    assert doc.text == ">abc!"
    assert doc.revision == 2


def test_resent_op_is_acknowledged_not_applied_twice() -> None:
    doc = ServerDocument("")
    assert isinstance(doc.receive(0, edit(0, 0, "x"), A, 1), Applied)
    again = doc.receive(0, edit(0, 0, "x"), A, 1)
    assert again == Duplicate(1, 1)
    assert doc.text == "x"


def test_future_revision_is_refused() -> None:
    doc = ServerDocument("")
    outcome = doc.receive(5, edit(0, 0, "x"), A, 1)
    assert isinstance(outcome, Rejected) and outcome.code == ErrorCode.FUTURE_REVISION
    assert doc.revision == 0


def test_op_that_does_not_fit_is_refused_and_changes_nothing() -> None:
    doc = ServerDocument("abc")
    outcome = doc.receive(0, edit(10, 0, "x"), A, 1)
    assert isinstance(outcome, Rejected) and outcome.code == ErrorCode.OP_MISMATCH
    doc.receive(0, edit(3, 0, "y"), B, 1)
    outcome = doc.receive(0, edit(7, 0, "x"), A, 1)  # wrong length at revision 0, transform fails
    assert isinstance(outcome, Rejected) and outcome.code == ErrorCode.OP_MISMATCH
    assert doc.text == "yabc" and doc.revision == 1
    assert A not in doc.applied_seqs  # a refused op is not remembered as applied


def test_document_size_limit() -> None:
    doc = ServerDocument("ab", max_length=3)
    outcome = doc.receive(0, edit(2, 0, "xy"), A, 1)
    assert isinstance(outcome, Rejected) and outcome.code == ErrorCode.DOCUMENT_TOO_LARGE
    shrink = TextOperation().delete(1).retain(1)
    assert isinstance(doc.receive(0, shrink, A, 1), Applied)


def test_trimmed_history_refuses_old_bases_but_keeps_dedupe() -> None:
    doc = ServerDocument("")
    for seq in range(1, 6):
        doc.receive(doc.revision, edit(len(doc.text), 0, "x"), A, seq)
    doc.trim_history(2)
    assert doc.history_start == 3
    assert doc.ops_since(2) is None
    assert [e.revision for e in doc.ops_since(3) or []] == [4, 5]
    outcome = doc.receive(1, edit(1, 0, "y"), B, 1)
    assert isinstance(outcome, Rejected) and outcome.code == ErrorCode.HISTORY_UNAVAILABLE
    assert doc.receive(0, edit(0, 0, "x"), A, 2) == Duplicate(2, 5)


def test_loading_from_history_restores_dedupe() -> None:
    doc = ServerDocument("")
    doc.receive(0, edit(0, 0, "x"), A, 1)
    loaded = ServerDocument(doc.text, doc.revision, history=doc.history)
    assert isinstance(loaded.receive(0, edit(0, 0, "x"), A, 1), Duplicate)
