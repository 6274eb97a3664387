"""Chat messages split into text, links, code and references into the room's files."""

from __future__ import annotations

from pairtui.ui.chat_format import Code, Link, Plain, Reference, parse_message, reference_message


def test_links_are_found_without_trailing_punctuation() -> None:
    pieces = parse_message(
        "see https://docs.python.org/3/library/re.html, then (https://x.org).", []
    )
    assert Link("https://docs.python.org/3/library/re.html") in pieces
    assert Link("https://x.org") in pieces
    assert pieces[0] == Plain("see ")


def test_fenced_code_blocks_keep_their_language_and_text() -> None:
    pieces = parse_message("look:\n```python\ndef f():\n    return 1\n```\nok?", [])
    assert pieces == [Plain("look:\n"), Code("python", "def f():\n    return 1"), Plain("\nok?")]


def test_unterminated_fence_takes_the_rest() -> None:
    assert parse_message("```\nx = 1", []) == [Code("text", "x = 1")]


def test_only_room_files_become_references() -> None:
    pieces = parse_message(
        "bug in main.py:12-14 and other.py:3, see ex/a.py:7", ["main.py", "ex/a.py"]
    )
    assert Reference("main.py", 12, 14) in pieces
    assert Reference("ex/a.py", 7, 7) in pieces
    assert not any(isinstance(p, Reference) and p.path == "other.py" for p in pieces)


def test_send_selection_round_trips_as_reference_and_code() -> None:
    text = reference_message("main.py", 3, 4, "x = 1\ny = 2\n", "python")
    assert text == "main.py:3-4\n```python\nx = 1\ny = 2\n```"
    assert parse_message(text, ["main.py"]) == [
        Reference("main.py", 3, 4),
        Plain("\n"),
        Code("python", "x = 1\ny = 2"),
    ]


def test_code_holding_a_fence_round_trips_inside_a_longer_fence() -> None:
    code = 'doc = """\n```py\nx\n```\n"""'
    text = reference_message("main.py", 1, 5, code, "python")
    pieces = parse_message(text, ["main.py"])
    assert pieces[-1] == Code("python", code)
