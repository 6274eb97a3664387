"""Two headless people in one room talk through a real relay: each hears the other's tone.

Each side's microphone is a generated WAV file played in real time, its
speaker a recorder; audio goes over real WebRTC (ICE, DTLS, SRTP, Opus)
between two aiortc peer connections on this machine, signalled through
the relay on a loopback port.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from pairtui.client import ClientSession, SignalReceived
from pairtui.core import protocol as p
from pairtui.voice.call import VoiceCall, VoiceNotice
from pairtui.voice.jitter import AudioJitterBuffer
from pairtui.voice.peer import rtc_configuration
from pairtui.voice.wav import FileDevices, write_wav
from server.relay import Relay
from server.room import Effects, Reply, Room
from tests.server.conftest import SessionFactory
from tests.voice.tones import dominant_frequency, tone
from tests.waiting import until

ADA_TONE, BOB_TONE = 440.0, 660.0


class Person:
    """A session with a voice call whose microphone plays ``wav``."""

    def __init__(self, session: ClientSession, wav: Path, connect_timeout: float = 15.0) -> None:
        self.session = session
        self.devices = FileDevices.from_wav(wav)
        self.notices: list[VoiceNotice] = []
        self.call = VoiceCall(
            session, self.devices, on_notice=self.notices.append, connect_timeout=connect_timeout
        )

    @classmethod
    async def with_tone(
        cls,
        session: SessionFactory,
        tmp_path: Path,
        name: str,
        frequency: float,
        seconds: float = 1.0,
        connect_timeout: float = 15.0,
    ) -> Person:
        """``name`` joins the room; their microphone plays a WAV file of ``frequency``."""
        wav = tmp_path / f"{name}.wav"
        write_wav(wav, tone(frequency, seconds))
        return cls(await session(name), wav, connect_timeout)

    def heard_seconds(self, partner: Person) -> float:
        return self.devices.recorder.recording(partner.session.member or "").size / 48_000


@pytest.fixture
async def pair(session: SessionFactory, tmp_path: Path) -> AsyncIterator[tuple[Person, Person]]:
    people = []
    for name, frequency in (("ada", ADA_TONE), ("bob", BOB_TONE)):
        people.append(await Person.with_tone(session, tmp_path, name, frequency, 2.0))
    yield people[0], people[1]
    for person in people:
        await person.call.close()


async def test_each_hears_the_partners_tone_not_their_own(pair: tuple[Person, Person]) -> None:
    ada, bob = pair
    assert await ada.call.join()
    assert await bob.call.join()
    await until(lambda: ada.heard_seconds(bob) > 2.0 and bob.heard_seconds(ada) > 2.0)

    for listener, speaker in ((ada, bob), (bob, ada)):
        received = listener.devices.recorder.recording(speaker.session.member or "")
        settled = received[24_000:]  # past the codec's first moments
        expected = BOB_TONE if speaker is bob else ADA_TONE
        assert abs(dominant_frequency(settled) - expected) < 5.0
        heard = [n.text for n in listener.notices]
        assert f"You hear {speaker.session.name}." in heard
    levels = ada.call.levels()
    assert levels[bob.session.member or ""] > 0.5  # a tone at -10 dBFS is speaking
    assert levels[ada.session.member or ""] > 0.5
    for person in pair:  # the audio came through pairtui's jitter buffer, not aiortc's
        [link] = person.call.links.values()
        [transceiver] = link.connection.getTransceivers()
        buffer = getattr(transceiver.receiver, "_RTCRtpReceiver__jitter_buffer", None)
        assert isinstance(buffer, AudioJitterBuffer), "aiortc changed: see voice/jitter.py"


async def test_muting_sends_silence_and_tells_the_partner(pair: tuple[Person, Person]) -> None:
    ada, bob = pair
    await ada.call.join()
    await bob.call.join()
    await until(lambda: ada.heard_seconds(bob) > 0.5)
    bob.call.set_muted(True)
    await until(lambda: ada.session.members[bob.session.member or ""].voice == "muted")
    heard_before = ada.heard_seconds(bob)
    await until(lambda: ada.heard_seconds(bob) > heard_before + 1.0)
    tail = ada.devices.recorder.recording(bob.session.member or "")[-24_000:]
    assert abs(tail.astype(int)).max() < 200  # Opus's silence, not a 660 Hz tone


async def test_leaving_releases_devices_tasks_and_threads(pair: tuple[Person, Person]) -> None:
    ada, bob = pair
    loop = asyncio.get_running_loop()
    tasks_before = set(asyncio.all_tasks())
    threads_before = set(threading.enumerate())
    await ada.call.join()
    await bob.call.join()
    await until(lambda: ada.heard_seconds(bob) > 0.5 and bob.heard_seconds(ada) > 0.5)
    assert any(t.name == "audio-decoder" for t in threading.enumerate())

    await ada.call.leave()
    assert ada.devices.recorder.closed and all(i.closed for i in ada.devices.inputs)
    await until(lambda: not bob.call.links)  # the relay told bob: his side hangs up too
    await bob.call.leave()
    await asyncio.sleep(0.1)

    executor = getattr(loop, "_default_executor", None)
    pool = set(getattr(executor, "_threads", ()))  # aiortc encodes in the loop's default pool
    leaked_threads = set(threading.enumerate()) - threads_before - pool
    assert not leaked_threads, leaked_threads
    leaked_tasks = {t for t in asyncio.all_tasks() - tasks_before if not t.done()}
    leaked_tasks.discard(asyncio.current_task())  # type: ignore[arg-type]
    assert not leaked_tasks, leaked_tasks


async def test_losing_the_relay_releases_everything_and_the_call_resumes(
    relay: Relay, pair: tuple[Person, Person]
) -> None:
    ada, bob = pair
    await ada.call.join()
    await bob.call.join()
    await until(lambda: ada.heard_seconds(bob) > 0.3)
    threads_in_call = sum(t.name == "audio-decoder" for t in threading.enumerate())
    assert threads_in_call == 2

    connection = ada.session._connection
    assert connection is not None
    connection.transport.abort()  # the network drops under ada
    await until(lambda: ada.call.status == "off" and ada.devices.recorder.closed, 5.0)
    assert any("Voice paused" in n.text for n in ada.notices)

    await until(lambda: ada.call.status == "on" and len(ada.call.links) == 1)
    await until(lambda: any(n.text == "Voice resumed." for n in ada.notices))
    new_id = ada.session.member or ""
    await until(lambda: bob.devices.recorder.recording(new_id).size > 48_000)
    assert abs(dominant_frequency(bob.devices.recorder.recording(new_id)[9_600:]) - 440) < 5
    assert sum(t.name == "audio-decoder" for t in threading.enumerate()) == 2


async def test_a_partner_who_cannot_be_reached_is_reported_and_let_go(
    session: SessionFactory, tmp_path: Path
) -> None:
    """The partner answers, but every address in the answer leads nowhere (a strict NAT)."""
    ada = await Person.with_tone(session, tmp_path, "ada", ADA_TONE, connect_timeout=2.0)
    ghost = await session("ghost")
    answered = asyncio.Event()

    async def answer_from_nowhere(offer: p.SignalRelayed) -> None:
        connection = RTCPeerConnection(rtc_configuration([]))
        await connection.setRemoteDescription(RTCSessionDescription(offer.sdp or "", "offer"))
        await connection.setLocalDescription(await connection.createAnswer())
        sdp = re.sub(
            r"(a=candidate:\S+ \d \S+ \d+ )\S+ \d+",
            r"\g<1>198.51.100.1 9",
            connection.localDescription.sdp,
        )
        await connection.close()  # nothing answers ada's checks, from any address
        ghost.signal(p.Signal(to=offer.member, kind="answer", sdp=sdp))
        answered.set()

    tasks = []
    ghost.subscribe(
        lambda event: (
            tasks.append(asyncio.ensure_future(answer_from_nowhere(event.signal)))
            if isinstance(event, SignalReceived) and event.signal.kind == "offer"
            else None
        )
    )
    ghost.join_voice()
    await until(
        lambda: (
            ada.session.members.get(ghost.member or "") is not None
            and ada.session.members[ghost.member or ""].voice == "on"
        )
    )
    await ada.call.join()
    await asyncio.wait_for(answered.wait(), 10)
    await until(lambda: any("Could not reach ghost" in n.text for n in ada.notices), 10)
    [notice] = [n for n in ada.notices if "Could not reach" in n.text]
    assert notice.severity == "error" and "TURN server" in notice.text
    await until(lambda: not ada.call.links)
    assert ada.call.status == "on"  # the call goes on for whoever can be reached
    await ada.call.close()
    await asyncio.gather(*tasks)


async def test_three_people_form_a_mesh_and_each_hears_both_others(
    session: SessionFactory, tmp_path: Path
) -> None:
    tones = {"ada": 440.0, "bob": 660.0, "cy": 880.0}
    people = []
    for name, frequency in tones.items():
        people.append(await Person.with_tone(session, tmp_path, name, frequency, 2.0))
    try:
        for person in people:
            assert await person.call.join()
        await until(
            lambda: all(
                listener.heard_seconds(speaker) > 1.5
                for listener in people
                for speaker in people
                if speaker is not listener
            ),
            20.0,
        )
        for listener in people:
            assert len(listener.call.links) == 2
            for speaker in people:
                if speaker is listener:
                    continue
                heard = listener.devices.recorder.recording(speaker.session.member or "")
                frequency = dominant_frequency(heard[24_000:])
                assert abs(frequency - tones[speaker.session.name]) < 5.0
    finally:
        for person in people:
            await person.call.close()


class Stranger:
    """A member of the call whose app is not pairtui: it speaks WebRTC through raw signals."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session
        self.offers: asyncio.Queue[p.SignalRelayed] = asyncio.Queue()
        session.subscribe(
            lambda event: (
                self.offers.put_nowait(event.signal)
                if isinstance(event, SignalReceived) and event.signal.kind == "offer"
                else None
            )
        )

    async def enter(self, listener: Person) -> None:
        self.session.join_voice()
        me = self.session.member or ""
        await until(
            lambda: me in listener.session.members and listener.session.members[me].voice == "on"
        )


async def test_a_partner_that_trickles_its_candidates_is_heard(
    session: SessionFactory, tmp_path: Path
) -> None:
    """Browsers send candidates one by one after the answer: pairtui takes them that way too."""
    ada = await Person.with_tone(session, tmp_path, "ada", ADA_TONE)
    stranger = Stranger(await session("trickler"))
    await stranger.enter(ada)
    await ada.call.join()
    offer = await asyncio.wait_for(stranger.offers.get(), 10)

    connection = RTCPeerConnection(rtc_configuration([]))
    received: list[int] = []
    readers: list[asyncio.Future[None]] = []

    @connection.on("track")
    def listen(track: object) -> None:
        async def read() -> None:
            while len(received) < 50:
                frame = await track.recv()  # type: ignore[attr-defined]
                received.append(frame.samples)

        readers.append(asyncio.ensure_future(read()))

    await connection.setRemoteDescription(RTCSessionDescription(offer.sdp or "", "offer"))
    await connection.setLocalDescription(await connection.createAnswer())
    lines = connection.localDescription.sdp.splitlines()
    candidates = [line.removeprefix("a=") for line in lines if line.startswith("a=candidate:")]
    bare = [line for line in lines if not line.startswith(("a=candidate:", "a=end-of-candidates"))]
    assert candidates
    to = offer.member
    stranger.session.signal(p.Signal(to=to, kind="answer", sdp="\r\n".join(bare) + "\r\n"))
    for candidate in candidates:
        stranger.session.signal(p.Signal(to=to, kind="ice", candidate=candidate, mid="0"))
    stranger.session.signal(p.Signal(to=to, kind="ice", candidate=""))
    try:
        await until(lambda: len(received) >= 50)  # a second of ada's voice reached it
        [link] = ada.call.links.values()
        assert link.connected.is_set()
    finally:
        await connection.close()
        await ada.call.close()
        for reader in readers:
            reader.cancel()


async def test_garbage_from_a_partner_ends_only_that_link(
    session: SessionFactory, tmp_path: Path
) -> None:
    ada = await Person.with_tone(session, tmp_path, "ada", ADA_TONE)
    bob = await Person.with_tone(session, tmp_path, "bob", ADA_TONE)
    await bob.call.join()
    vandal = Stranger(await session("vandal"))
    await vandal.enter(ada)
    await ada.call.join()
    await until(lambda: ada.heard_seconds(bob) > 0.2)
    offer = await asyncio.wait_for(vandal.offers.get(), 10)
    vandal.session.signal(p.Signal(to=offer.member, kind="answer", sdp="v=0\r\nm=audio x\r\n"))
    await until(lambda: any("Could not reach vandal" in n.text for n in ada.notices))
    assert "cannot use" in next(n.text for n in ada.notices if "vandal" in n.text)
    await until(lambda: list(ada.call.links) == [bob.session.member])
    heard = ada.heard_seconds(bob)
    await until(lambda: ada.heard_seconds(bob) > heard + 0.5)  # the call with bob goes on
    await ada.call.close()
    await bob.call.close()


@pytest.mark.parametrize("old_relay_says", ["nothing", "unknown_type"])
async def test_a_relay_from_before_voice_is_named_and_the_devices_let_go(
    session: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old_relay_says: str
) -> None:
    def like_an_old_relay(room: Room, state: object, message: object, now: float) -> Effects:
        if old_relay_says == "nothing":
            return Effects()
        error = p.Error(code=p.ErrorCode.UNKNOWN_TYPE, message="unknown message type")
        return Effects(messages=[Reply(state.member, error)])  # type: ignore[attr-defined]

    monkeypatch.setattr(Room, "_voice_join", like_an_old_relay)
    ada = await Person.with_tone(session, tmp_path, "ada", ADA_TONE)
    ada.call.welcome_timeout = 0.5
    assert await ada.call.join()
    await until(lambda: ada.call.status == "off", 5.0)
    assert any("too old for voice" in n.text for n in ada.notices)
    assert ada.devices.recorder.closed and all(i.closed for i in ada.devices.inputs)


async def test_joining_during_a_hang_up_waits_for_it_and_keeps_its_devices(
    pair: tuple[Person, Person],
) -> None:
    """A quick reconnect rejoins while the hang-up of the lost call is still closing links."""
    ada, bob = pair
    await ada.call.join()
    await bob.call.join()
    await until(lambda: len(ada.call.links) == 1)
    hanging_up = asyncio.create_task(ada.call._hang_up())
    await asyncio.sleep(0)  # the hang-up has begun: links closing, devices still open
    assert ada.call.status == "off"
    assert await ada.call.join()
    await hanging_up
    assert ada.call.status in ("joining", "on")
    newest = ada.devices.inputs[-1]
    assert len(ada.devices.inputs) == 2 and not newest.closed and not ada.devices.recorder.closed
    await until(lambda: ada.heard_seconds(bob) > 0.5)
