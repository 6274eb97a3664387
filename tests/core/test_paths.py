"""Room file paths that could escape a folder or break a file system are refused."""

from __future__ import annotations

import pytest

from pairtui.core.paths import BadPathError, check_file_path


@pytest.mark.parametrize("path", ["main.py", "ex/01-hello/solution.py", "README", "a.b.c"])
def test_ordinary_paths_are_accepted(path: str) -> None:
    assert check_file_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a/./b",
        "a//b",
        "a/",
        "C:\\x",
        "c:x",
        "a\\b",
        "con",
        "nul.txt",
        "a\x00b",
        "tab\there",
        "trailing.",
        "space ",
        "x" * 256,
        "what?",
    ],
)
def test_hostile_or_unportable_paths_are_refused(path: str) -> None:
    with pytest.raises(BadPathError):
        check_file_path(path)
