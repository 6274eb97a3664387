"""What folder sync may read and write: safe paths, ignore rules, text files of sane size.

Kept apart from the syncing itself so each rule is small and testable on its
own. A room's file names come from other people (and a relay we may not
trust), so every name is checked twice before it touches the disk: by the
room's own path rules, and by resolving it under the folder (a symlink must
not lead out either).
"""

from __future__ import annotations

import os
from pathlib import Path

import pathspec

from pairtui.core.paths import BadPathError, check_file_path

MAX_FILE_BYTES = 1_000_000
"""Larger files are refused: a shared exercise is code, not data."""

CONFLICT_SUFFIX = ".pairtui-local"
TEMP_SUFFIX = ".pairtui-tmp"
IGNORE_FILES = (".gitignore", ".pairignore")
DEFAULT_IGNORES = (
    ".git/",
    ".hg/",
    ".svn/",
    "__pycache__/",
    "*.py[cod]",
    ".venv/",
    "venv/",
    "node_modules/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".DS_Store",
    "*.swp",
    "*.swo",
    "*.swx",
    "*~",
    ".#*",
    "#*#",
    "4913",  # vim probes whether it may write in a folder with this name
    f"*{CONFLICT_SUFFIX}",
    f"*{TEMP_SUFFIX}",
)


class RefusedFile(Exception):
    """A file folder sync will not mirror; the message says why and what to do."""


def disk_path(root: Path, room_path: str) -> Path:
    """Where a room file lives under ``root``; ``RefusedFile`` if it would leave the folder."""
    try:
        check_file_path(room_path)
    except BadPathError as error:
        raise RefusedFile(f"refused the room file name {room_path!r}: {error}") from None
    target = root / room_path
    resolved = target.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise RefusedFile(f"refused {room_path!r}: it leads outside the folder (a symlink?)")
    return target


def room_path(root: Path, path: Path) -> str:
    """The room's name for a file under ``root``: relative, with forward slashes."""
    return path.relative_to(root).as_posix()


class IgnoreRules:
    """``.gitignore`` and ``.pairignore`` at the folder's top, plus editors' litter."""

    def __init__(self, root: Path) -> None:
        lines = list(DEFAULT_IGNORES)
        for name in IGNORE_FILES:
            file = root / name
            if file.is_file():
                lines.extend(file.read_text(encoding="utf-8", errors="replace").splitlines())
        self._spec = pathspec.GitIgnoreSpec.from_lines(lines)

    def ignored(self, relative: str, *, is_dir: bool = False) -> bool:
        return self._spec.match_file(relative + "/" if is_dir else relative)


def read_text(path: Path) -> str | None:
    """A file's text with ``\\n`` line endings; ``None`` if it is gone.

    Raises ``RefusedFile`` for a file that is too big, binary or not UTF-8.
    """
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RefusedFile(
                f"skipped {path.name}: {size:,} bytes is more than folder sync takes "
                f"({MAX_FILE_BYTES:,}); add it to .pairignore"
            )
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    if b"\0" in data:
        raise RefusedFile(f"skipped {path.name}: it is a binary file; add it to .pairignore")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RefusedFile(
            f"skipped {path.name}: it is not UTF-8 text; add it to .pairignore"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def write_text(path: Path, text: str) -> None:
    """Replace a file's contents at once (never half-written), keeping its permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}{TEMP_SUFFIX}")
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    temporary.write_text(text, encoding="utf-8", newline="\n")
    if mode is not None:
        os.chmod(temporary, mode)
    os.replace(temporary, path)
