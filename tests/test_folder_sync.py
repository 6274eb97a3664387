"""Folder sync with real files, a real watcher and a real relay."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve

from pairtui.client import Backoff, ClientSession
from pairtui.core import protocol as p
from pairtui.folder_rules import MAX_FILE_BYTES, RefusedFile, disk_path
from pairtui.folder_sync import FolderSync
from tests.server.conftest import SessionFactory
from tests.waiting import until

Mirror = Callable[..., Awaitable[tuple[ClientSession, FolderSync, list[str]]]]


def read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


@pytest.fixture
async def mirror(session: SessionFactory, tmp_path: Path) -> AsyncIterator[Mirror]:
    folders: list[FolderSync] = []

    async def make(
        name: str, folder: Path, room: str = "sync"
    ) -> tuple[ClientSession, FolderSync, list[str]]:
        client = await session(name, room=room)
        notices: list[str] = []
        sync = FolderSync(
            client, folder, state_dir=tmp_path / f"state-{name}", notify=notices.append
        )
        await sync.start()
        folders.append(sync)
        return client, sync, notices

    yield make
    for folder in folders:
        await folder.close()


async def partner_file(bob: ClientSession, path: str) -> str:
    await until(lambda: bob.file_id(path) is not None)
    file = bob.file_id(path)
    assert file is not None
    await bob.open(file)
    return file


async def shared_file(
    session: SessionFactory, folder: Path, path: str, text: str
) -> tuple[ClientSession, str]:
    """Bob creates a file in the room; wait until it is in the mirrored folder."""
    bob = await session("bob", room="sync")
    bob.create_file(path, text)
    file = await partner_file(bob, path)
    await until(lambda: read(folder / path) == text)
    return bob, file


async def test_room_files_appear_in_the_folder(
    session: SessionFactory, mirror: Mirror, tmp_path: Path
) -> None:
    bob = await session("bob", room="sync")
    bob.create_file("ex/01.py", "print(1)\n")
    folder = tmp_path / "ada"
    await mirror("ada", folder)
    await until(lambda: read(folder / "ex" / "01.py") == "print(1)\n")
    assert (folder / "main.py").exists()  # every room starts with one file


async def test_an_outside_write_becomes_an_edit_the_partner_sees(
    session: SessionFactory, mirror: Mirror, tmp_path: Path
) -> None:
    folder = tmp_path / "ada"
    _ada, _sync, _ = await mirror("ada", folder)
    await until(lambda: (folder / "main.py").exists())
    bob = await session("bob", room="sync")
    file = await partner_file(bob, "main.py")
    (folder / "main.py").write_text("def f():\n    return 42\n", encoding="utf-8")  # like vim :w
    await until(lambda: bob.syncs[file].text == "def f():\n    return 42\n")


async def test_a_remote_edit_lands_on_disk(
    session: SessionFactory, mirror: Mirror, tmp_path: Path
) -> None:
    folder = tmp_path / "ada"
    await mirror("ada", folder)
    await until(lambda: (folder / "main.py").exists())
    bob = await session("bob", room="sync")
    file = await partner_file(bob, "main.py")
    bob.replace(file, 0, 0, "# from bob\n")
    await until(lambda: read(folder / "main.py") == "# from bob\n")


async def test_simultaneous_edits_on_disk_and_in_the_room_merge(
    session: SessionFactory, mirror: Mirror, tmp_path: Path
) -> None:
    folder = tmp_path / "ada"
    ada, ada_sync, _ = await mirror("ada", folder)
    bob, file = await shared_file(session, folder, "m.py", "a = 1\nb = 2\nc = 3\n")
    # Both change the file before either hears of the other's change.
    (folder / "m.py").write_text("a = 10\nb = 2\nc = 3\n", encoding="utf-8")
    bob.replace(file, len("a = 1\nb = 2\nc = "), 1, "30")
    expected = "a = 10\nb = 2\nc = 30\n"
    await until(lambda: bob.syncs[file].text == expected and read(folder / "m.py") == expected)
    await ada_sync.idle()
    await bob.wait_synced()
    assert ada.syncs[file].text == expected


async def test_merge_when_disk_changed_and_room_moved_before_the_watcher_fired(
    session: SessionFactory, mirror: Mirror, tmp_path: Path
) -> None:
    """The merge itself, with no timing luck: the room's text moved on while the disk changed."""
    folder = tmp_path / "ada"
    ada, ada_sync, _ = await mirror("ada", folder)
    bob, file = await shared_file(session, folder, "m.py", "one\ntwo\n")
    await ada_sync.idle()
    # The watcher reports folder sync's own write of m.py after its debounce; let that
    # come and go, or it would write the room's next change after all.
    await asyncio.sleep(3 * ada_sync.debounce_ms / 1000)
    await ada_sync.idle()
    ada_sync.session.unsubscribe(ada_sync._on_event)  # hold back the room's change
    bob.replace(file, 0, 0, "zero\n")
    await until(lambda: ada.syncs[file].text == "zero\none\ntwo\n")
    (folder / "m.py").write_text("one\ntwo\nthree\n", encoding="utf-8")
    await until(lambda: bob.syncs[file].text == "zero\none\ntwo\nthree\n")
    await until(lambda: read(folder / "m.py") == "zero\none\ntwo\nthree\n")


async def test_new_local_files_are_uploaded_and_ignored_ones_are_not(
    session: SessionFactory, mirror: Mirror, tmp_path: Path
) -> None:
    folder = tmp_path / "ada"
    folder.mkdir()
    (folder / ".gitignore").write_text("secret.txt\nbuild/\n", encoding="utf-8")
    (folder / "secret.txt").write_text("password\n", encoding="utf-8")
    (folder / "notes.md").write_text("# notes\n", encoding="utf-8")
    await mirror("ada", folder)
    bob = await session("bob", room="sync")
    await until(lambda: bob.file_id("notes.md") is not None)
    (folder / "ex").mkdir()
    (folder / "ex" / "02.py").write_text("x = 2\n", encoding="utf-8")
    (folder / "build").mkdir()
    (folder / "build" / "out.py").write_text("generated\n", encoding="utf-8")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0\1")
    (folder / ".main.py.swp").write_bytes(b"vim")
    file = await partner_file(bob, "ex/02.py")
    assert bob.syncs[file].text == "x = 2\n"
    await asyncio.sleep(0.3)
    paths = {info.path for info in bob.files}
    assert paths == {"main.py", "notes.md", ".gitignore", "ex/02.py"}


async def test_binary_and_huge_files_are_refused_with_a_clear_message(
    mirror: Mirror, session: SessionFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "ada"
    _ada, _sync, notices = await mirror("ada", folder)
    await until(lambda: (folder / "main.py").exists())
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    (folder / "data.csv").write_text("x\n" * (MAX_FILE_BYTES // 2 + 1), encoding="utf-8")
    await until(lambda: len(notices) >= 2)
    assert any("logo.png: it is a binary file" in n for n in notices)
    assert any("data.csv" in n and "more than folder sync takes" in n for n in notices)
    bob = await session("bob", room="sync")
    assert {info.path for info in bob.files} == {"main.py"}


async def test_changes_made_while_not_running_merge_on_the_next_run(
    session: SessionFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "ada"
    state = tmp_path / "state"
    ada = await session("ada", room="sync")
    first = FolderSync(ada, folder, state_dir=state)
    await first.start()
    await until(lambda: (folder / "main.py").exists())
    bob = await session("bob", room="sync")
    file = await partner_file(bob, "main.py")
    bob.replace(file, 0, 0, "middle\n")
    await until(lambda: read(folder / "main.py") == "middle\n")
    await first.idle()
    await first.close()
    await ada.close()
    # Offline: ada edits the file in her editor; bob keeps working in the room.
    (folder / "main.py").write_text("top\nmiddle\n", encoding="utf-8")
    bob.replace(file, len(bob.syncs[file].text), 0, "bottom\n")
    await bob.wait_synced()
    again = await session("ada", room="sync")
    second = FolderSync(again, folder, state_dir=state)
    await second.start()
    try:
        await until(lambda: read(folder / "main.py") == "top\nmiddle\nbottom\n")
        await until(lambda: bob.syncs[file].text == "top\nmiddle\nbottom\n")
        assert not (folder / "main.py.pairtui-local").exists()
    finally:
        await second.close()


async def test_a_folder_unknown_to_the_room_keeps_its_copy_beside_the_rooms(
    session: SessionFactory, mirror: Mirror, tmp_path: Path
) -> None:
    bob = await session("bob", room="sync")
    bob.create_file("a.py", "room's\n")
    await until(lambda: bob.file_id("a.py") is not None)
    folder = tmp_path / "ada"
    folder.mkdir()
    (folder / "a.py").write_text("mine\n", encoding="utf-8")
    _ada, _sync, notices = await mirror("ada", folder)
    await until(lambda: read(folder / "a.py") == "room's\n")
    assert read(folder / "a.py.pairtui-local") == "mine\n"
    assert any("a.py.pairtui-local" in n for n in notices)


async def test_room_renames_and_deletes_reach_the_folder(
    session: SessionFactory, mirror: Mirror, tmp_path: Path
) -> None:
    folder = tmp_path / "ada"
    await mirror("ada", folder)
    bob = await session("bob", room="sync")
    bob.create_file("old.py", "x\n")
    file = await partner_file(bob, "old.py")
    await until(lambda: read(folder / "old.py") == "x\n")
    bob.rename_file(file, "pkg/new.py")
    await until(
        lambda: read(folder / "pkg" / "new.py") == "x\n" and not (folder / "old.py").exists()
    )
    bob.delete_file(file)
    await until(lambda: not (folder / "pkg" / "new.py").exists())


def test_room_names_that_would_leave_the_folder_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link")
    for hostile in ("../x", "/etc/passwd", "a/../../x", "link/x", "a\\..\\x"):
        with pytest.raises(RefusedFile):
            disk_path(root, hostile)
    assert disk_path(root, "ex/01.py") == root / "ex" / "01.py"


async def test_a_hostile_relay_cannot_make_folder_sync_write_outside(tmp_path: Path) -> None:
    """A relay that lists files named ../x and /abs: nothing is written outside the folder."""
    hostile = [
        p.FileInfo(file="up", path="../escaped.py"),
        p.FileInfo(file="abs", path=str(tmp_path / "absolute.py")),
        p.FileInfo(file="ok", path="fine.py"),
    ]

    async def relay(connection: ServerConnection) -> None:
        async for frame in connection:
            message = p.decode_client(frame)
            if isinstance(message, p.Join):
                welcome = p.Welcome(
                    protocol=p.PROTOCOL_VERSION,
                    server="hostile",
                    room=message.room,
                    member="m1",
                    role="write",
                    files=hostile,
                    members=[],
                    chat=[],
                )
                await connection.send(p.encode(welcome).decode())
            elif isinstance(message, p.Open):
                snapshot = p.Snapshot(file=message.file, revision=0, text="pwned\n")
                await connection.send(p.encode(snapshot).decode())

    async with serve(relay, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = ClientSession(f"ws://127.0.0.1:{port}/", "r", "ada", backoff=Backoff(0.05, 0.2))
        await client.start()
        notices: list[str] = []
        folder = tmp_path / "folder"
        sync = FolderSync(client, folder, state_dir=tmp_path / "state", notify=notices.append)
        await sync.start()
        try:
            await until(lambda: read(folder / "fine.py") == "pwned\n")
            await sync.idle()
        finally:
            await sync.close()
            await client.close()
    assert not (tmp_path / "escaped.py").exists()
    assert not (tmp_path / "absolute.py").exists()
    assert sum("refused the room file name" in n for n in notices) == 2
