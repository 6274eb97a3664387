"""The audio jitter buffer: in order, a fixed delay, and a lost packet costs only itself."""

from __future__ import annotations

import random

from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket
from hypothesis import given, settings
from hypothesis import strategies as st

from pairtui.voice.jitter import RESTART_GAP, AudioJitterBuffer

FRAME = 960  # RTP timestamp units in one 20 ms Opus frame


def packet(seq: int) -> RtpPacket:
    made = RtpPacket(sequence_number=seq & 0xFFFF, timestamp=(seq * FRAME) & 0xFFFFFFFF)
    made._data = seq.to_bytes(4, "big", signed=True)  # type: ignore[attr-defined]
    return made


def feed(buffer: AudioJitterBuffer | JitterBuffer, seqs: list[int]) -> list[tuple[int, int]]:
    """(arrived, played) pairs: which packet's arrival let which frame out."""
    played = []
    for seq in seqs:
        _, frame = buffer.add(packet(seq))
        if frame is not None:
            played.append((seq, int.from_bytes(frame.data, "big", signed=True)))
    return played


def test_aiortcs_own_buffer_falls_300_ms_behind_for_good_after_one_lost_packet() -> None:
    """Why pairtui brings its own: this is aiortc's, as pinned."""
    arrivals = [s for s in range(40) if s != 10]
    played = feed(JitterBuffer(capacity=16, prefetch=4), arrivals)
    assert played[0] == (4, 0)  # 4 packets (80 ms) behind from the start
    assert [p for _, p in played if 5 < p < 11] == []  # 6 to 9 never played
    assert played[-1] == (39, 25)  # and then 14 packets, 280 ms, behind


def test_a_frame_plays_once_depth_newer_ones_are_in() -> None:
    played = feed(AudioJitterBuffer(depth=2), list(range(8)))
    assert played == [(2, 0), (3, 1), (4, 2), (5, 3), (6, 4), (7, 5)]


def test_a_lost_packet_is_skipped_at_its_moment_and_the_delay_stays() -> None:
    buffer = AudioJitterBuffer(depth=2)
    played = feed(buffer, [s for s in range(12) if s not in (4, 7, 8)])
    assert played == [(2, 0), (3, 1), (5, 2), (6, 3), (9, 5), (10, 6), (11, 9)]
    assert buffer.skipped == 3
    assert all(arrived - frame <= 2 for arrived, frame in played[-1:])


def test_one_place_out_of_order_is_still_played_later_ones_are_not() -> None:
    buffer = AudioJitterBuffer(depth=2)
    played = feed(buffer, [0, 1, 3, 2, 4, 5, 7, 8, 9, 6, 10])
    assert [frame for _, frame in played] == [0, 1, 2, 3, 4, 5, 7, 8]
    assert buffer.late == 1 and buffer.skipped == 1  # 6 came after its moment


def test_duplicates_play_once_and_sequence_numbers_wrap() -> None:
    start = 0xFFFF - 3
    seqs = [start + n for n in range(8)]
    buffer = AudioJitterBuffer(depth=2)
    played = feed(buffer, [*seqs[:4], seqs[2], *seqs[4:]])
    assert [frame for _, frame in played] == [start + n for n in range(6)]
    assert buffer.late == 1


def test_a_sender_that_started_over_is_followed_at_once() -> None:
    buffer = AudioJitterBuffer(depth=2)
    feed(buffer, list(range(5)))
    restart = 5 + RESTART_GAP + 50
    played = feed(buffer, [restart + n for n in range(4)])
    assert [frame for _, frame in played] == [restart, restart + 1]


@settings(max_examples=300)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_random_loss_reordering_and_duplicates(seed: int, depth: int) -> None:
    """Whatever the network does: in order, never twice, never more than depth behind."""
    rng = random.Random(seed)
    first = rng.randrange(0x10000)
    sent = [first + n for n in range(200)]
    arrivals = [s for s in sent if rng.random() > 0.05]
    for _ in range(10):  # swap neighbours: mild reordering
        i = rng.randrange(len(arrivals) - 1)
        arrivals[i], arrivals[i + 1] = arrivals[i + 1], arrivals[i]
    arrivals += [rng.choice(arrivals) for _ in range(5)]  # and a few duplicates, late
    buffer = AudioJitterBuffer(depth=depth)
    played = feed(buffer, arrivals)
    frames = [frame for _, frame in played]
    assert frames == sorted(frames) and len(frames) == len(set(frames))
    newest = first
    for arrived, frame in played:
        newest = max(newest, arrived)
        assert newest - frame >= depth  # nothing played early
    held_back = len(set(arrivals)) - len(frames) - buffer.late
    assert held_back <= depth + 1  # only the last few wait for packets that never come
