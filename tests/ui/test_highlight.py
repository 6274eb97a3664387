"""Incremental highlighting gives exactly what a full Pygments lex gives, for less work."""

from __future__ import annotations

import random

import pytest

from pairtui.ui.highlight import Highlighter, _add_spans, _line_offsets, lexer_for, style_name

SAMPLES = {
    "example.py": (
        'import os\n\n\nclass A:\n    """Doc\n    string"""\n'
        '    def f(self, x=1.5):\n        return "s" + str(x)  # note\n'
    ),
    "example.c": "/* multi\n   line */\nint main(void) {\n  return 0; // done\n}\n",
    "example.md": "# Title\n\nSome *text* and `code`.\n\n```py\nx = 1\n```\n",
    "example.rs": 'fn main() {\n    let s = r#"raw\n"#;\n    println!("{}", s);\n}\n',
}


def full_spans(path: str, lines: list[str]) -> list[list[tuple[int, int, str]]]:
    lexer = lexer_for(path)
    assert lexer is not None
    spans: list[list[tuple[int, int, str]]] = [[] for _ in lines]
    offsets = _line_offsets(lines)
    for position, token_type, value in lexer.get_tokens_unprocessed("\n".join(lines)):
        _add_spans(spans, offsets, position, value, style_name(token_type))
    return spans


def merged(spans: list[tuple[int, int, str]]) -> list[tuple[int, str]]:
    """Per-column style names: the comparison ignores how tokens were split."""
    columns: list[tuple[int, str]] = []
    for start, end, name in spans:
        columns.extend((column, name) for column in range(start, end))
    return sorted(columns)


def check(path: str, lines: list[str], highlighter: Highlighter) -> None:
    expected = full_spans(path, lines)
    for row, line_spans in enumerate(expected):
        assert merged(highlighter.spans(row)) == merged(line_spans), f"{path} line {row}"


@pytest.mark.parametrize("path", sorted(SAMPLES))
def test_matches_full_lexing_after_random_edits(path: str) -> None:
    """Python is exact edit by edit; languages whose regexes can reach far back are
    exact after the idle-time verification pass."""
    exact_per_edit = path.endswith(".py")
    seed = 99
    print(f"seed {seed}")
    rng = random.Random(seed)
    lines = SAMPLES[path].split("\n") * 5
    highlighter = Highlighter(lexer_for(path), lambda i: lines[i], len(lines))
    check(path, lines, highlighter)
    pieces = ['"', '"""', "/*", "*/", "\n", "x", "#", "`", "'", " ", 'r#"', "\n\n"]
    for _ in range(60):
        row = rng.randrange(len(lines))
        column = rng.randint(0, len(lines[row]))
        inserted = rng.choice(pieces)
        text = lines[row][:column] + inserted + lines[row][column:]
        new_lines = text.split("\n")
        lines[row : row + 1] = new_lines
        highlighter.edited(row, row, row + len(new_lines) - 1)
        if not exact_per_edit:
            highlighter.verify_all()
        check(path, lines, highlighter)


def test_an_edit_relexes_only_near_the_edit() -> None:
    lines = ["def f(x):", "    return x + 1", ""] * 7_000
    highlighter = Highlighter(lexer_for("big.py"), lambda i: lines[i], len(lines))
    for row in range(10_000, 10_040):  # the visible window
        highlighter.spans(row)
    before = highlighter.lines_lexed
    lines[10_010] = "    return x + 2"
    highlighter.edited(10_010, 10_010, 10_010)
    for row in range(10_000, 10_040):
        highlighter.spans(row)
    assert highlighter.lines_lexed - before < 100  # not the whole file


def test_an_unclosed_string_far_above_reaches_only_what_is_asked() -> None:
    lines = ["x = 1"] * 5_000
    highlighter = Highlighter(lexer_for("a.py"), lambda i: lines[i], len(lines))
    highlighter.spans(4_990)
    before = highlighter.lines_lexed
    lines[10] = 'x = """open'
    highlighter.edited(10, 10, 10)
    assert [name for *_, name in highlighter.spans(20)] == ["string"]
    assert highlighter.lines_lexed - before < 200


def test_plain_text_and_unknown_files_have_no_spans() -> None:
    lines = ["hello"]
    assert lexer_for("notes.unknownextension") is None
    assert Highlighter(None, lambda i: lines[i], 1).spans(0) == []
