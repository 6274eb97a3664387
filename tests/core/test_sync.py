"""FileSync's transitions, one scenario at a time."""

from __future__ import annotations

import pytest

from pairtui.core import protocol as p
from pairtui.core.ot import TextOperation
from pairtui.core.sync import (
    AwaitingConfirm,
    AwaitingWithBuffer,
    Confirmed,
    FileSync,
    RemoteChange,
    SyncError,
    Synchronized,
)


def insert(sync: FileSync, position: int, text: str) -> None:
    sync.local_edit(TextOperation.from_edit(len(sync.text), position, 0, text))


def test_first_edit_is_sent_and_later_ones_are_buffered() -> None:
    sync = FileSync("f", text="abc", revision=5)
    insert(sync, 3, "d")
    [sent] = sync.data_to_send()
    assert sent == p.Op(file="f", revision=5, seq=1, op=[3, "d"])
    assert isinstance(sync.state, AwaitingConfirm)
    insert(sync, 4, "e")
    insert(sync, 5, "f")
    assert sync.data_to_send() == []
    assert isinstance(sync.state, AwaitingWithBuffer)
    assert sync.buffer is not None and sync.buffer.ops == [4, "ef"]
    assert sync.text == "abcdef"


def test_ack_sends_the_buffer_as_the_next_seq() -> None:
    sync = FileSync("f", text="", revision=0)
    insert(sync, 0, "a")
    insert(sync, 1, "b")
    sync.data_to_send()
    sync.receive(p.Ack(file="f", seq=1, revision=1))
    assert sync.events_received() == [Confirmed(1, 1)]
    assert sync.data_to_send() == [p.Op(file="f", revision=1, seq=2, op=[1, "b"])]
    sync.receive(p.Ack(file="f", seq=2, revision=2))
    assert isinstance(sync.state, Synchronized)
    assert sync.server_text == sync.text == "ab"


def test_remote_op_is_transformed_past_pending_edits() -> None:
    sync = FileSync("f", text="hello", revision=1)
    insert(sync, 5, "!")  # outstanding
    insert(sync, 0, ">")  # buffer
    sync.data_to_send()
    sync.receive(p.RemoteOp(file="f", revision=2, op=[2, "XY", 3], member="m2"))
    [change] = sync.events_received()
    assert isinstance(change, RemoteChange) and change.member == "m2"
    assert sync.text == ">heXYllo!"
    assert sync.server_text == "heXYllo"
    sync.receive(p.Ack(file="f", seq=1, revision=3))
    [op] = sync.data_to_send()
    assert op == p.Op(file="f", revision=3, seq=2, op=[">", 8])


def test_an_op_sent_once_is_resent_unchanged_after_reconnect() -> None:
    sync = FileSync("f", text="", revision=0)
    insert(sync, 0, "a")
    [first] = sync.data_to_send()
    sync.disconnected()
    insert(sync, 1, "b")  # goes to the buffer, never into the sent op
    assert sync.data_to_send() == []
    sync.reconnected()
    assert sync.data_to_send() == [p.Open(file="f", since=0)]
    sync.receive(p.Catchup(file="f", revision=0, ops=[]))
    [resent] = sync.data_to_send()
    assert resent == first


def test_catchup_with_our_own_op_counts_as_its_ack() -> None:
    sync = FileSync("f", text="", revision=0)
    insert(sync, 0, "a")
    sync.data_to_send()
    sync.disconnected()
    sync.reconnected()
    sync.data_to_send()
    sync.receive(
        p.Catchup(
            file="f",
            revision=2,
            ops=[
                p.HistoryOp(revision=1, op=["z"], member="m2"),
                p.HistoryOp(revision=2, op=["a", 1], seq=1),
            ],
        )
    )
    assert isinstance(sync.state, Synchronized)
    assert sync.text == "az"
    assert sync.data_to_send() == []  # nothing to resend


def test_edits_made_offline_wait_for_the_catchup() -> None:
    sync = FileSync("f", text="x", revision=3, connected=False)
    insert(sync, 1, "y")
    assert sync.data_to_send() == []
    sync.reconnected()
    insert(sync, 2, "z")
    assert sync.data_to_send() == [p.Open(file="f", since=3)]
    sync.receive(p.Catchup(file="f", revision=3, ops=[]))
    assert sync.data_to_send() == [p.Op(file="f", revision=3, seq=1, op=[1, "y"])]


def test_stale_duplicate_ack_is_ignored() -> None:
    sync = FileSync("f", text="", revision=0)
    insert(sync, 0, "a")
    sync.receive(p.Ack(file="f", seq=1, revision=1))
    sync.receive(p.Ack(file="f", seq=1, revision=1))
    assert sync.revision == 1 and isinstance(sync.state, Synchronized)


def test_snapshot_rebases_unsent_edits_instead_of_dropping_them() -> None:
    sync = FileSync("f", text="one two", revision=10)
    insert(sync, 7, " three")
    sync.data_to_send()
    sync.receive(p.Error(code=p.ErrorCode.HISTORY_UNAVAILABLE, message="old", file="f", seq=1))
    assert sync.data_to_send() == [p.Open(file="f")]
    sync.receive(p.Snapshot(file="f", revision=50, text="ZERO one two", applied_seq=0))
    assert sync.text == "ZERO one two three"
    [resent] = sync.data_to_send()
    assert resent.seq == 2 and resent.revision == 50  # type: ignore[union-attr]
    assert p.parse_operation(resent.op).apply("ZERO one two") == sync.text  # type: ignore[union-attr]


def test_snapshot_that_already_holds_our_op_does_not_apply_it_again() -> None:
    sync = FileSync("f", text="ab", revision=1)
    insert(sync, 2, "c")
    insert(sync, 3, "d")
    sync.data_to_send()
    sync.disconnected()
    sync.reconnected()
    sync.data_to_send()
    sync.receive(p.Snapshot(file="f", revision=9, text="Xabc", applied_seq=1))
    assert sync.text == "Xabcd"
    [sent] = sync.data_to_send()
    assert p.parse_operation(sent.op).apply("Xabc") == "Xabcd"  # type: ignore[union-attr]


def test_out_of_order_revision_is_a_sync_error() -> None:
    sync = FileSync("f", text="", revision=0)
    with pytest.raises(SyncError, match="expected revision 1"):
        sync.receive(p.RemoteOp(file="f", revision=3, op=["x"]))


def test_restore_from_journal_state() -> None:
    outstanding = TextOperation().retain(1).insert("b")
    buffer = TextOperation().retain(2).insert("c")
    sync = FileSync(
        "f",
        text="abc",
        revision=4,
        server_text="a",
        next_seq=7,
        pending=(outstanding, buffer),
        connected=False,
    )
    assert sync.outstanding is not None and sync.outstanding.seq == 7
    sync.reconnected()
    sync.data_to_send()
    sync.receive(p.Catchup(file="f", revision=4, ops=[]))
    assert sync.data_to_send() == [p.Op(file="f", revision=4, seq=7, op=[1, "b"])]
