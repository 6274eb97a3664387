"""Backup while the relay runs; restore twice; truncated and damaged files change nothing."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from pairtui.client import ClientSession
from server.backup import BackupError, backup, read_backup, restore
from server.lock import DataDirBusyError, DataDirLock
from server.relay import Relay
from server.store.sqlite import SQLiteStore
from tests.server.conftest import relay_url


async def fill(relay: Relay) -> dict[str, str]:
    """Two rooms with edits, files and chat; returns room/path -> text."""
    texts = {}
    for room in ("alpha", "beta"):
        ada = ClientSession(relay_url(relay), room, "ada")
        await ada.start()
        ada.create_file("notes.md", "# notes\n")
        while len(ada.files) < 2:
            await __import__("asyncio").sleep(0.01)
        for info in ada.files:
            await ada.open(info.file)
            for i in range(25):
                ada.replace(info.file, 0, 0, f"{room}{i} ")
        ada.send_chat(f"hello {room}")
        await ada.wait_synced()
        texts.update({f"{room}/{f.path}": ada.syncs[f.file].text for f in ada.files})
        await ada.close()
    return texts


async def snapshot(store: SQLiteStore) -> dict[str, object]:
    state: dict[str, object] = {}
    for name in await store.room_names():
        record = await store.load_room(name, history=1000)
        assert record is not None
        for f in record.files:
            state[f"{name}/{f.path}"] = (f.text, f.revision, len(f.history), f.applied_seqs)
        state[f"{name}#chat"] = [m.text for m in record.chat]
    return state


async def test_backup_while_running_and_restore_twice(relay: Relay, tmp_path: Path) -> None:
    texts = await fill(relay)
    target = tmp_path / "rooms.pairtui.gz"
    assert isinstance(relay.store, SQLiteStore)
    seen: list[tuple[int, int]] = []
    count = await backup(
        relay.store, target, history=1000, progress=lambda done, total: seen.append((done, total))
    )
    assert count == 2 and seen[-1] == (2, 2)
    original = await snapshot(relay.store)

    restored = await SQLiteStore.open(tmp_path / "restored")
    assert await restore(restored, target) == 2
    first = await snapshot(restored)
    assert await restore(restored, target) == 2  # idempotent: no duplicate-key error
    assert await snapshot(restored) == first == original
    assert {k: v[0] for k, v in first.items() if "#" not in k} == texts  # type: ignore[index]
    await restored.close()


async def test_truncated_or_damaged_backups_restore_nothing(relay: Relay, tmp_path: Path) -> None:
    await fill(relay)
    good = tmp_path / "good.gz"
    assert isinstance(relay.store, SQLiteStore)
    await backup(relay.store, good, history=1000)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.gz"
    truncated.write_bytes(data[: int(len(data) * 0.94)])  # the dump that died at 94%
    plain = gzip.decompress(data)
    no_end = tmp_path / "no_end.gz"
    no_end.write_bytes(gzip.compress(plain[: plain.rindex(b'{"kind":"end"')]))
    tampered = tmp_path / "tampered.gz"
    tampered.write_bytes(gzip.compress(plain.replace(b"alpha0 ", b"alphaX ", 1)))
    not_backup = tmp_path / "not.gz"
    not_backup.write_bytes(
        gzip.compress(b'{"kind":"header","format":"other","version":1,"created":0}\n')
    )
    garbage = tmp_path / "garbage.gz"
    garbage.write_bytes(b"this is not gzip at all")

    target = await SQLiteStore.open(tmp_path / "target")
    before = await snapshot(target)
    for bad, fragment in [
        (truncated, "truncated"),
        (no_end, "truncated"),
        (tampered, "checksum"),
        (not_backup, "not a pairtui backup"),
        (garbage, "corrupt"),
    ]:
        with pytest.raises(BackupError, match=fragment):
            await restore(target, bad)
        assert await snapshot(target) == before, bad.name
    await target.close()
    assert read_backup(good)  # the good one still reads


def test_restore_refuses_while_a_relay_holds_the_data_dir(tmp_path: Path) -> None:
    with DataDirLock(tmp_path), pytest.raises(DataDirBusyError, match="stop it first"):
        DataDirLock(tmp_path).acquire()


async def test_pair_backup_and_restore_commands(relay: Relay, tmp_path: Path) -> None:
    await fill(relay)
    assert isinstance(relay.store, SQLiteStore)
    data_dir = relay.store.path.parent
    file = tmp_path / "cli.gz"
    done = subprocess.run(
        [sys.executable, "-m", "pairtui.cli", "backup", str(file), "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "backed up 2 room(s)" in done.stderr
    restored = subprocess.run(
        [
            sys.executable,
            "-m",
            "pairtui.cli",
            "restore",
            str(file),
            "--data-dir",
            str(tmp_path / "new"),
        ],
        capture_output=True,
        text=True,
    )
    assert restored.returncode == 0, restored.stderr
    assert "restored 2 room(s)" in restored.stderr
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "pairtui.cli",
            "restore",
            str(tmp_path / "no.gz"),
            "--data-dir",
            str(tmp_path / "new"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "does not exist" in bad.stderr
