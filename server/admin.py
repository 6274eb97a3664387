"""``pair backup`` and ``pair restore`` on the command line, with progress bars."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from pairtui.core.keys import hash_secret, new_secret
from pairtui.dirs import relay_data_dir
from server.backup import BackupError, backup, restore
from server.lock import DataDirBusyError, DataDirLock
from server.room import RoomLimits
from server.store.records import StoreError
from server.store.sqlite import DATABASE_NAME, SQLiteStore


def add_backup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="where to write the backup (e.g. rooms.pairtui.gz)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the relay's data directory (default: the user data directory)",
    )


def add_restore_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a file written by 'pair backup'")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the relay's data directory (default: the user data directory)",
    )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def run_backup(args: argparse.Namespace) -> int:
    console = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
    data_dir = args.data_dir or relay_data_dir()
    if not (data_dir / DATABASE_NAME).exists():
        console.print(f"pair backup: no relay data in {data_dir}; pass --data-dir")
        return 1

    async def work() -> int:
        store = await SQLiteStore.open(data_dir)
        try:
            with _progress(console) as progress:
                task = progress.add_task("backing up rooms", total=None)
                return await backup(
                    store,
                    args.file,
                    history=RoomLimits().history,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
        finally:
            await store.close()

    try:
        rooms = asyncio.run(work())
    except (OSError, StoreError) as error:
        console.print(f"pair backup: {error}")
        return 1
    console.print(f"backed up {rooms} room(s) to {args.file}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    console = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
    data_dir = args.data_dir or relay_data_dir()
    if not args.file.exists():
        console.print(f"pair restore: {args.file} does not exist")
        return 1

    async def work() -> int:
        store = await SQLiteStore.open(data_dir)
        try:
            with _progress(console) as progress:
                task = progress.add_task("reading backup", total=None)
                return await restore(
                    store,
                    args.file,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
        finally:
            await store.close()

    try:
        with DataDirLock(data_dir):
            rooms = asyncio.run(work())
    except DataDirBusyError as error:
        console.print(f"pair restore: {error}")
        return 1
    except (BackupError, OSError, StoreError) as error:
        console.print(f"pair restore: {error}")
        return 1
    console.print(f"restored {rooms} room(s) into {data_dir}")
    return 0


def add_new_token_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", type=Path, help="the tokens file to add to (pair serve --tokens-file FILE)"
    )
    parser.add_argument("--label", default="", help="a note kept beside the token's hash")


def run_new_token(args: argparse.Namespace) -> int:
    """Make an admin token, append only its hash to the tokens file, print it once."""
    token = new_secret()
    label = args.label.replace("\n", " ").replace("#", "")
    line = f"sha256:{hash_secret(token)}  # {label or 'token'}, {time.strftime('%Y-%m-%d')}\n"
    try:
        args.file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(args.file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
            handle.write(line)
    except OSError as error:
        print(
            f"pair new-token: cannot write {args.file}: {error.strerror or error}", file=sys.stderr
        )
        return 1
    print(token)
    print(
        f"Added its hash to {args.file}. Give the token above to whoever may create rooms; "
        "they run 'pair login --server URL'. It is not shown again. Restart the relay "
        "to load it.",
        file=sys.stderr,
    )
    return 0
