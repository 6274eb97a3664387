"""What makes a room file path acceptable, the same for the relay and for folder sync.

A room's file paths end up as real files in people's folders (``pair join
--dir``), so the relay refuses any path that could escape that folder or that
some operating system cannot store: absolute paths, ``..`` and ``.`` segments,
backslashes, drive letters, control characters and the characters Windows
reserves.
"""

from __future__ import annotations

import re

MAX_PATH_LENGTH = 255
_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\]')
_RESERVED_NAMES = {"con", "prn", "aux", "nul"} | {
    f"{prefix}{n}" for prefix in ("com", "lpt") for n in range(10)
}


class BadPathError(ValueError):
    """A file path a room must not hold; the message says why."""


def check_file_path(path: str) -> str:
    """Return ``path`` if a room may hold it, else raise ``BadPathError``."""
    if not path:
        raise BadPathError("a file path must not be empty")
    if len(path) > MAX_PATH_LENGTH:
        raise BadPathError(f"a file path is at most {MAX_PATH_LENGTH} characters")
    if path.startswith("/"):
        raise BadPathError(f"{path!r} is absolute; room paths are relative, like 'src/main.py'")
    match = _FORBIDDEN.search(path)
    if match:
        raise BadPathError(f"{path!r} contains the character {match.group()!r}")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise BadPathError(f"{path!r} has an empty, '.' or '..' segment")
        if segment.endswith((" ", ".")):
            raise BadPathError(f"{path!r} has a segment ending in a space or a dot")
        if segment.split(".")[0].lower() in _RESERVED_NAMES:
            raise BadPathError(f"{path!r} uses a reserved device name")
    return path
