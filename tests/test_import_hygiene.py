"""House rules: the core stays free of I/O and UI; the relay never imports the UI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_CORE = ("textual", "websockets", "keyring", "asyncio", "rich")


def test_importing_core_loads_no_io_or_ui_library() -> None:
    modules = sorted(p.stem for p in (ROOT / "pairtui" / "core").glob("*.py"))
    assert "ot" in modules and "sync" in modules
    imports = "; ".join(f"import pairtui.core.{name}" for name in modules if name != "__init__")
    probe = (
        f"import sys; {imports}; "
        f"bad = [m for m in {FORBIDDEN_IN_CORE!r} if m in sys.modules]; print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "", f"pairtui.core pulled in: {result.stdout.strip()}"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_sources_import_only_stdlib_and_msgspec() -> None:
    allowed_third_party = {"msgspec"}
    for path in (ROOT / "pairtui" / "core").glob("*.py"):
        for name in _imported_modules(path):
            top = name.split(".")[0]
            if top == "__future__":
                continue
            if top == "pairtui":
                assert name.startswith("pairtui.core"), f"{path.name} imports {name}"
                continue
            assert top in sys.stdlib_module_names or top in allowed_third_party, (
                f"{path.name} imports {name}"
            )
            assert top not in FORBIDDEN_IN_CORE, f"{path.name} imports {name}"


def test_server_never_imports_the_ui() -> None:
    for path in (ROOT / "server").rglob("*.py"):
        for name in _imported_modules(path):
            assert not name.startswith("pairtui.ui"), f"{path} imports {name}"
            assert not name.startswith("textual"), f"{path} imports {name}"


VOICE_LIBRARIES = ("aiortc", "av", "numpy", "sounddevice")


def test_the_app_and_the_relay_start_without_loading_voice_libraries() -> None:
    """Voice is an extra: without it, or until F6, nothing of it is imported."""
    probe = (
        "import sys; import pairtui.cli, pairtui.ui.app, server.relay, server.serve; "
        f"print(','.join(m for m in {VOICE_LIBRARIES!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "", f"loaded at start: {result.stdout.strip()}"


def test_the_relay_never_touches_audio() -> None:
    """The relay passes signalling only: audio goes peer to peer."""
    for path in (ROOT / "server").rglob("*.py"):
        for name in _imported_modules(path):
            assert not name.startswith("pairtui.voice"), f"{path} imports {name}"
            assert name.split(".")[0] not in VOICE_LIBRARIES, f"{path} imports {name}"
