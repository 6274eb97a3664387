"""What a chat message is made of: text, links, fenced code, and references into files.

Pure parsing, no widgets: the chat panel renders the pieces. Links become
clickable (a terminal hyperlink, and a click opens them); fenced code blocks
are highlighted with Pygments; ``path:line`` or ``path:line-line`` naming a
file of the room jumps there when chosen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

_FENCE = re.compile(r"(`{3,})([\w+#.-]*)[ \t]*\n(.*?)(?:\n\1`*[ \t]*(?=\n|\Z)|\Z)", re.DOTALL)
_URL = re.compile(r"https?://[^\s<>\"'\[\]{}|\\^`]+")
_TRAILING = ".,;:!?)"


@dataclass(frozen=True)
class Plain:
    text: str


@dataclass(frozen=True)
class Link:
    url: str


@dataclass(frozen=True)
class Reference:
    path: str
    line: int  # 1-based, as people write it
    end_line: int


@dataclass(frozen=True)
class Code:
    language: str
    code: str


Piece: TypeAlias = Plain | Link | Reference | Code


def parse_message(text: str, paths: Iterable[str]) -> list[Piece]:
    """Split a chat message into pieces; only paths of the room count as references."""
    pieces: list[Piece] = []
    position = 0
    for fence in _FENCE.finditer(text):
        pieces.extend(_inline(text[position : fence.start()], paths))
        pieces.append(Code(fence.group(2) or "text", fence.group(3)))
        position = fence.end()
    pieces.extend(_inline(text[position:], paths))
    return [p for p in pieces if not (isinstance(p, Plain) and not p.text)]


def reference_message(path: str, first_line: int, last_line: int, code: str, language: str) -> str:
    """The chat text for "send selection to chat": a reference, then the code."""
    where = f"{path}:{first_line}"
    if last_line != first_line:
        where += f"-{last_line}"
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)  # longer than any run inside, so the code stays whole
    return f"{where}\n{fence}{language}\n{code.rstrip(chr(10))}\n{fence}"


def _inline(text: str, paths: Iterable[str]) -> list[Piece]:
    if not text:
        return []
    known = sorted(set(paths), key=len, reverse=True)
    reference = (
        re.compile(r"(?<![\w/.-])(" + "|".join(re.escape(p) for p in known) + r"):(\d+)(?:-(\d+))?")
        if known
        else None
    )
    pieces: list[Piece] = []
    position = 0
    for url in _URL.finditer(text):
        found = url.group().rstrip(_TRAILING)
        pieces.extend(_references(text[position : url.start()], reference))
        pieces.append(Link(found))
        position = url.start() + len(found)
    pieces.extend(_references(text[position:], reference))
    return pieces


def _references(text: str, reference: re.Pattern[str] | None) -> list[Piece]:
    if reference is None:
        return [Plain(text)]
    pieces: list[Piece] = []
    position = 0
    for match in reference.finditer(text):
        line = int(match.group(2))
        end = int(match.group(3)) if match.group(3) else line
        pieces.append(Plain(text[position : match.start()]))
        pieces.append(Reference(match.group(1), line, max(line, end)))
        position = match.end()
    pieces.append(Plain(text[position:]))
    return pieces
