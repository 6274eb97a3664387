"""``pair backup`` and ``pair restore`` on the command line, with progress bars."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

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
