"""Incremental syntax highlighting with Pygments.

Pygments lexes whole texts; an editor cannot afford that on every keystroke
of a 20,000-line file. For regex lexers (nearly all of Pygments' languages)
this module runs the lexer's own state machine itself, so it can remember the
lexer's state stack at the start of each line. After an edit only lines from
the edited one down are re-lexed, only as far as they are asked for (the
visible ones), and the work stops early once the new state at a line start
matches the state remembered there from before the edit: everything below is
unchanged.

Lexers that are not plain regex lexers are lexed over a window of context
above the lines asked for, which is approximate but bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pygments.lexer import ExtendedRegexLexer, Lexer, RegexLexer
from pygments.lexers import get_lexer_for_filename
from pygments.token import Error, Token, Whitespace, _TokenType
from pygments.util import ClassNotFound

Span = tuple[int, int, str]  # (start column, end column, style name), columns in code points
State = tuple[str, ...]

CHUNK_LINES = 40
LOOKAHEAD_LINES = 64  # lex this far past the line asked for: the rest of the screen
FALLBACK_CONTEXT = 200

_STYLE_NAMES: dict[_TokenType, str] = {
    Token.Comment: "comment",
    Token.Comment.Preproc: "include",
    Token.Keyword: "keyword",
    Token.Keyword.Constant: "boolean",
    Token.Keyword.Type: "type.builtin",
    Token.Keyword.Namespace: "include",
    Token.Name.Builtin: "type.builtin",
    Token.Name.Builtin.Pseudo: "variable.builtin",
    Token.Name.Function: "function",
    Token.Name.Class: "type.class",
    Token.Name.Decorator: "function.call",
    Token.Name.Exception: "exception",
    Token.Name.Tag: "tag",
    Token.Name.Constant: "constant.builtin",
    Token.Name.Attribute: "parameter",
    Token.String: "string",
    Token.String.Doc: "string.documentation",
    Token.Number: "number",
    Token.Number.Float: "float",
    Token.Operator: "operator",
    Token.Operator.Word: "keyword.operator",
    Token.Punctuation: "punctuation.delimiter",
    Token.Generic.Heading: "heading",
    Token.Generic.Subheading: "heading",
    Token.Generic.Emph: "italic",
    Token.Generic.Strong: "bold",
    Token.Generic.Deleted: "strikethrough",
    Token.Generic.Inserted: "string",
}
_style_cache: dict[_TokenType, str | None] = {}


def style_name(token_type: _TokenType) -> str | None:
    """The TextArea theme style for a Pygments token type (its nearest mapped ancestor)."""
    cached = _style_cache.get(token_type, "")
    if cached != "":
        return cached
    current: _TokenType | None = token_type
    name = None
    while current is not None:
        name = _STYLE_NAMES.get(current)
        if name is not None:
            break
        current = current.parent
    _style_cache[token_type] = name
    return name


def lexer_for(path: str) -> Lexer | None:
    """The Pygments lexer for a file name, or ``None`` for plain text."""
    try:
        return get_lexer_for_filename(path, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


class Highlighter:
    """Spans for each line of a document, recomputed only where edits reached.

    Invariant: lines before ``trusted`` have correct spans, and the start
    state of line ``trusted`` is correct. After an edit, what was known below
    it is kept as tentative: re-lexing that reaches a line start with the same
    state as before (below every edit) makes it all trusted again.
    """

    def __init__(
        self,
        lexer: Lexer | None,
        get_line: Callable[[int], str],
        line_count: int,
        *,
        get_text: Callable[[], str] | None = None,
        line_offset: Callable[[int], int] | None = None,
    ) -> None:
        """``get_text`` gives the whole document and ``line_offset`` where a line starts
        in it; without them they are derived from ``get_line`` (slower, for tests)."""
        self.lexer = lexer
        self.get_line = get_line
        self.get_text = get_text or (lambda: "\n".join(get_line(i) for i in range(self.line_count)))
        self.line_offset = line_offset or (
            lambda row: sum(len(get_line(i)) + 1 for i in range(row))
        )
        self.incremental = isinstance(lexer, RegexLexer) and not isinstance(
            lexer, ExtendedRegexLexer
        )
        self._starts: list[State | None] = [("root",)] + [None] * (line_count - 1)
        self._spans: list[list[Span] | None] = [None] * line_count
        self.trusted = 0
        self._resume_at = 0  # how far trust extends again once re-lexing converges
        self._dirty_end = -1  # the last line an edit touched
        self._fresh_end = -1  # the last line start recorded since the latest edit
        self._known_offset: tuple[int, int] | None = None  # (line, its offset), until an edit
        self.lines_lexed = 0  # work done so far, for tests and benchmarks
        self.changed_rows: set[int] = set()  # rows whose spans changed; the caller empties it

    @property
    def line_count(self) -> int:
        return len(self._spans)

    def edited(self, top: int, old_bottom: int, new_bottom: int) -> None:
        """Lines ``top..old_bottom`` were replaced by lines ``top..new_bottom``."""
        delta = new_bottom - old_bottom
        fresh = new_bottom - top
        self._spans[top + 1 : old_bottom + 1] = [None] * fresh
        self._starts[top + 1 : old_bottom + 1] = [None] * fresh
        self._spans[top] = None
        if not self.incremental:
            self._spans[top:] = [None] * (self.line_count - top)
        # A token may have begun on an earlier line (a fenced block, a multi-line
        # string) and an edit changes it too: fall back to the nearest line before
        # the edit where lexing can restart.
        anchor = max(0, top - 1)
        while anchor > 0 and self._starts[anchor] is None:
            anchor -= 1
        if self.trusted > anchor:
            self._resume_at = max(self._resume_at, self.trusted)
            self.trusted = anchor
        if self._resume_at > old_bottom:
            self._resume_at += delta
        if self._dirty_end > old_bottom:
            self._dirty_end += delta
        self._dirty_end = max(self._dirty_end, new_bottom)
        self._fresh_end = -1
        if self._known_offset is not None and self._known_offset[0] > top:
            self._known_offset = None

    def spans(self, row: int) -> list[Span]:
        """The styled spans of line ``row``."""
        if not 0 <= row < self.line_count or self.lexer is None:
            return []
        if row < self.trusted or (not self.incremental and self._spans[row] is not None):
            return self._spans[row] or []
        if self.incremental:
            self._lex_through(row)
        else:
            self._lex_window(row)
        return self._spans[row] or []

    # -- regex lexers: incremental --------------------------------------------------

    def _lex_through(self, row: int) -> None:
        first = self.trusted
        while self._starts[first] is None:
            first -= 1
        text = self.get_text()
        known = self._known_offset
        position = known[1] if known is not None and known[0] == first else self.line_offset(first)
        self._lex(text, first, position, row)

    def verify_all(self) -> int:
        """Lex the whole document afresh (when idle); returns how many lines changed.

        An edit can change a token that began far above it (an unclosed ``/*``
        that a new ``*/`` closes); no bounded re-lex sees that, this pass does.
        """
        old = list(self._spans)
        self.trusted = 0
        self._resume_at = 0
        self._dirty_end = self.line_count
        self._fresh_end = self.line_count
        self._lex(self.get_text(), 0, 0, self.line_count - 1)
        return sum(a != b for a, b in zip(old, self._spans, strict=True))

    def _lex(self, text: str, first: int, start: int, row: int) -> None:
        """Lex ``text`` from line ``first`` (at ``start``) until line ``row`` is settled."""
        state = self._starts[first]
        assert state is not None
        spans: list[list[Span]] = []
        current: list[Span] = []
        line, line_start = first, start
        next_start = _next_line_start(text, start)
        open_end, open_name = 0, ""  # a token that runs on past its line
        for position, token_type, value, stack in _run_regex_lexer(self.lexer, text, state, start):
            while next_start is not None and position >= next_start:
                spans.append(current)
                line, line_start = line + 1, next_start
                next_start = _next_line_start(text, line_start)
                current = _continuation(open_end, open_name, line_start, next_start)
                restartable = position == line_start and stack is not None
                if self._line_start(line, stack if restartable else None, first, spans):
                    first, spans = line, []
                    self._known_offset = (line, line_start)
                    converged = self.trusted > line
                    if row < self.trusted and (converged or line > row + LOOKAHEAD_LINES):
                        return
            name = style_name(token_type)
            if name is None or not value:
                continue
            end = position + len(value)
            line_end = len(text) if next_start is None else next_start - 1
            if min(end, line_end) > position:
                current.append((position - line_start, min(end, line_end) - line_start, name))
            if end > line_end:
                open_end, open_name = end, name
        while next_start is not None:  # lines covered by the last token, or empty
            spans.append(current)
            line_start, next_start = next_start, _next_line_start(text, next_start)
            current = _continuation(open_end, open_name, line_start, next_start)
        spans.append(current)
        self._commit(first, spans)

    def _line_start(
        self, line: int, stack: State | None, first: int, spans: list[list[Span]]
    ) -> bool:
        """Record the state at a line start; True when lines ``first..line`` were committed."""
        previous = self._starts[line]
        self._starts[line] = stack
        comparable = line > self._fresh_end  # ``previous`` is from before the latest edit
        self._fresh_end = max(self._fresh_end, line)
        if stack is None:
            return False
        converged = (
            comparable
            and line > self._dirty_end
            and line < self._resume_at
            and previous == stack
            and self._spans[line] is not None
        )
        self._commit(first, spans)
        if converged:
            self.trusted = self._resume_at
            self._resume_at = 0
            self._dirty_end = -1
        return True

    @property
    def settled(self) -> bool:
        """True when no line below an edit is still waiting to be checked."""
        return self._resume_at == 0 and self._dirty_end == -1

    def _commit(self, first: int, spans: list[list[Span]]) -> None:
        old = self._spans[first : first + len(spans)]
        self.changed_rows.update(
            first + i for i, (a, b) in enumerate(zip(old, spans, strict=False)) if a != b
        )
        self._spans[first : first + len(spans)] = spans
        self.trusted = max(self.trusted, first + len(spans))
        self.lines_lexed += len(spans)
        if self.trusted > self._dirty_end:  # every edited line has been lexed again
            self._dirty_end = -1
        if self.trusted >= self._resume_at:
            self._resume_at = 0

    def advance(self, lines: int) -> bool:
        """Lex up to ``lines`` more lines beyond what is trusted (idle time); True when done."""
        if self.lexer is None or not self.incremental or self.trusted >= self.line_count:
            return True
        self._lex_through(min(self.line_count - 1, self.trusted + lines))
        return self.trusted >= self.line_count

    # -- other lexers: a bounded window ---------------------------------------------

    def _lex_window(self, row: int) -> None:
        assert self.lexer is not None
        first = max(0, row - FALLBACK_CONTEXT)
        end = min(self.line_count, row + CHUNK_LINES)
        lines = [self.get_line(i) for i in range(first, end)]
        text = "\n".join(lines)
        offsets = _line_offsets(lines)
        spans: list[list[Span]] = [[] for _ in lines]
        for position, token_type, value in self.lexer.get_tokens_unprocessed(text):
            _add_spans(spans, offsets, position, value, style_name(token_type))
        for index in range(row - first, len(lines)):  # lines above row lack context
            self._spans[first + index] = spans[index]
        self.lines_lexed += len(lines)


def _add_spans(
    spans: list[list[Span]], offsets: list[int], position: int, value: str, name: str | None
) -> None:
    """Add a token to the lines it covers, split at line ends."""
    if name is None or not value:
        return
    end = position + len(value)
    line = _line_of(offsets, position)
    while position < end and line < len(spans):
        line_end = offsets[line + 1] - 1
        stop = min(end, line_end)
        if stop > position:
            spans[line].append((position - offsets[line], stop - offsets[line], name))
        position = line_end + 1
        line += 1


def _next_line_start(text: str, position: int) -> int | None:
    newline = text.find("\n", position)
    return None if newline < 0 else newline + 1


def _continuation(open_end: int, name: str, line_start: int, next_start: int | None) -> list[Span]:
    """The part of a multi-line token that lies on the line starting at ``line_start``."""
    if open_end <= line_start:
        return []
    line_end = open_end if next_start is None else min(open_end, next_start - 1)
    return [(0, line_end - line_start, name)] if line_end > line_start else []


def _line_offsets(lines: list[str]) -> list[int]:
    """Where each line starts in the lines joined with newlines (plus one past the end)."""
    offsets = [0]
    for text in lines:
        offsets.append(offsets[-1] + len(text) + 1)
    return offsets


def _line_of(offsets: list[int], position: int) -> int:
    low, high = 0, len(offsets) - 2
    while low < high:
        middle = (low + high + 1) // 2
        if offsets[middle] <= position:
            low = middle
        else:
            high = middle - 1
    return low


def _run_regex_lexer(
    lexer: Any, text: str, stack: State, start: int = 0
) -> Iterator[tuple[int, Any, str, State | None]]:
    """RegexLexer's state machine, as Pygments runs it, also telling where one may restart.

    Each token comes with the state stack it started in when it begins a
    regex match (a point lexing can restart from), else ``None``.
    """
    definitions = lexer._tokens
    states = list(stack)
    rules = definitions[states[-1]]
    position = start
    length = len(text)
    while position < length:
        for match_at, action, new_state in rules:
            match = match_at(text, position)
            if match is None:
                continue
            current: State | None = tuple(states)
            if action is not None:
                if type(action) is _TokenType:
                    yield position, action, match.group(), current
                else:
                    for at, token_type, value in action(lexer, match):
                        yield at, token_type, value, current if at == position else None
            position = match.end()
            if new_state is not None:
                _transition(states, new_state)
                rules = definitions[states[-1]]
            break
        else:
            current = tuple(states)
            if text[position] == "\n":
                states = ["root"]
                rules = definitions["root"]
                yield position, Whitespace, "\n", current
            else:
                yield position, Error, text[position], current
            position += 1


def _transition(states: list[str], new_state: Any) -> None:
    if isinstance(new_state, tuple):
        for state in new_state:
            if state == "#pop":
                if len(states) > 1:
                    states.pop()
            elif state == "#push":
                states.append(states[-1])
            else:
                states.append(state)
    elif isinstance(new_state, int):
        if abs(new_state) >= len(states):
            del states[1:]
        else:
            del states[new_state:]
    elif new_state == "#push":
        states.append(states[-1])
