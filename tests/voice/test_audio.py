"""The arithmetic a person hears and sees: levels, the meter, mixing partners, settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pairtui.config import ConfigError, load_voice_settings
from pairtui.core import protocol as p
from pairtui.ui.people import level_bar
from pairtui.voice.audio import SILENCE_DBFS, LevelMeter, Mixer, dbfs, mono
from pairtui.voice.peer import rtc_configuration
from tests.voice.tones import tone


def test_loudness_in_dbfs() -> None:
    assert dbfs(np.zeros(960, dtype=np.int16)) == SILENCE_DBFS
    full_square = np.array([32767, -32768] * 480, dtype=np.int16)
    assert dbfs(full_square) == pytest.approx(0.0, abs=0.01)
    assert dbfs(tone(440, 0.1, level=0.5)) == pytest.approx(-9.03, abs=0.05)  # sine RMS: -3 dB
    assert dbfs(np.full(960, 3, dtype=np.int16)) == SILENCE_DBFS  # under -60 dBFS


def test_the_meter_jumps_up_falls_back_and_counts_digital_silence() -> None:
    meter = LevelMeter(decay=0.5)
    loud = tone(440, 0.02, level=0.5)
    assert meter.update(loud) == pytest.approx(1 - 9.03 / 60, abs=0.01)
    assert meter.speaking
    quiet = np.zeros(960, dtype=np.int16)
    levels = [meter.update(quiet) for _ in range(4)]
    assert levels == pytest.approx([0.4246, 0.2123, 0.1061, 0.0531], abs=0.001)
    assert not meter.speaking and meter.silent_frames == 4
    meter.update(loud)
    assert meter.silent_frames == 0


def test_the_level_bar_lights_one_cell_in_five_per_fifth() -> None:
    assert level_bar(0.0) == "▯▯▯▯▯"
    assert level_bar(0.5) == "▮▮▯▯▯"
    assert level_bar(0.61) == "▮▮▮▯▯"
    assert level_bar(1.0) == "▮▮▮▮▮"
    assert level_bar(7.0) == "▮▮▮▮▮"


def test_stereo_becomes_the_mean_of_its_channels() -> None:
    interleaved = np.array([100, 300, -50, -150], dtype=np.int16)
    assert mono(interleaved, 2).tolist() == [200, -100]


def test_the_mixer_sums_partners_clips_and_waits_for_a_little_audio_first() -> None:
    mixer = Mixer(rate=1000, max_delay=0.1, prefetch=0.004)
    mixer.push("ada", np.full(3, 30_000, dtype=np.int16))
    assert mixer.pull(3).tolist() == [0, 0, 0]  # 3 ms < the 4 ms prefetch: not started yet
    mixer.push("ada", np.full(3, 30_000, dtype=np.int16))
    mixer.push("bob", np.array([1, 2, 3], dtype=np.int16))
    assert mixer.pull(4).tolist() == [30_000, 30_000, 30_000, 30_000]  # ada only; bob waits
    mixer.push("bob", np.array([4], dtype=np.int16))
    assert mixer.pull(3).tolist() == [30_001, 30_002, 3]  # ada ran dry after 2
    mixer.push("ada", np.full(5, 30_000, dtype=np.int16))
    mixer.push("bob", np.full(5, 30_000, dtype=np.int16))
    assert mixer.pull(2).tolist() == [30_004, 32_767]  # bob's last 4, then clipped
    mixer.drop("ada")
    assert mixer.pull(2).tolist() == [30_000, 30_000]


@given(st.lists(st.integers(1, 50), min_size=1, max_size=40))
def test_the_mixer_never_holds_more_than_its_delay_bound(sizes: list[int]) -> None:
    mixer = Mixer(rate=1000, max_delay=0.05, prefetch=0.0)
    for size in sizes:
        mixer.push("ada", np.ones(size, dtype=np.int16))
    held = int(mixer.pull(10_000).sum())
    assert held <= max(50, sizes[-1])  # old audio went; at least the newest chunk stays
    assert held == sum(sizes) or mixer.dropped > 0


def test_voice_settings_from_config_toml(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[voice]\nmicrophone = "USB"\npush_to_talk = true\nstun = ["stun:stun.example.org:3478"]\n'
    )
    settings = load_voice_settings(config)
    assert (settings.microphone, settings.speaker, settings.push_to_talk) == ("USB", None, True)
    assert settings.ice_servers == (p.IceServer(urls=["stun:stun.example.org:3478"]),)
    config.write_text('[voice]\nstun = ["turn:t.example.org"]\n')
    with pytest.raises(ConfigError, match=r"voice\.stun"):
        load_voice_settings(config)
    assert load_voice_settings(tmp_path / "absent.toml").ice_servers == ()


def test_ice_servers_become_aiortcs_and_none_means_none() -> None:
    turn = p.IceServer(urls=["turn:t.example.org:3478"], username="camp", credential="pw")
    [server] = rtc_configuration([turn]).iceServers or []
    assert (server.urls, server.username, server.credential) == (
        ["turn:t.example.org:3478"],
        "camp",
        "pw",
    )
    assert rtc_configuration([]).iceServers == []  # not None: aiortc would add Google's STUN
