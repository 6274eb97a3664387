"""The status bar: room, file, connection state, edits waiting for the relay, round trip."""

from __future__ import annotations

import time

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from pairtui.ui.people import level_bar


class StatusBar(Static):
    """Shows what the app sets on it; it never reaches into the session itself."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    room: reactive[str] = reactive("")
    path: reactive[str] = reactive("")
    status: reactive[str] = reactive("connecting")
    retry_at: reactive[float | None] = reactive(None)
    reason: reactive[str | None] = reactive(None)
    pending: reactive[int] = reactive(0)
    rtt: reactive[float | None] = reactive(None)
    people: reactive[int] = reactive(0)
    unread: reactive[int] = reactive(0)
    following: reactive[str] = reactive("")
    voice: reactive[str] = reactive("")
    """"": not in voice; else "joining", "on", "muted", "talking" or "push-to-talk"."""
    voice_level: reactive[float] = reactive(0.0)

    def on_mount(self) -> None:
        self.set_interval(0.5, self.refresh)  # the reconnect countdown

    def render(self) -> Text:
        text = Text()
        text.append(f" {self.room} ", style="bold reverse")
        text.append(f"  {self.path or '(no file)'}")
        text.append("   ")
        text.append_text(self._connection())
        if self.pending:
            text.append(f"   {self.pending} file(s) with edits not yet stored", style="yellow")
        if self.rtt is not None and self.status == "connected":
            text.append(f"   rtt {self.rtt * 1000:.0f} ms", style="dim")
        text.append(f"   {self.people} here", style="dim")
        if self.following:
            text.append(f"   following {self.following} (F5 stops)", style="bold cyan")
        if self.voice:
            text.append("   ")
            text.append_text(self._voice())
        if self.unread:
            text.append(f"   ✉ {self.unread} unread (F3)", style="bold magenta")
        return text

    def _voice(self) -> Text:
        if self.voice == "joining":
            return Text("voice: joining…", style="yellow")
        if self.voice in ("muted", "push-to-talk"):
            hint = "hold F7 to talk" if self.voice == "push-to-talk" else "F7 unmutes"
            return Text(f"voice: muted ({hint})", style="yellow")
        text = Text("voice ", style="bold green")
        text.append(level_bar(self.voice_level), style="green")
        text.append(" (F7 mutes)" if self.voice == "on" else " talking", style="dim")
        return text

    def _connection(self) -> Text:
        if self.status == "connected":
            return Text("● connected", style="green")
        if self.status == "reconnecting":
            seconds = max(0.0, (self.retry_at or 0.0) - time.monotonic())
            label = f"● reconnecting in {seconds:.0f} s" if seconds >= 0.5 else "● reconnecting"
            why = f": {self.reason}" if self.reason else ""
            return Text(f"{label}{why} (edits kept locally)", style="yellow")
        if self.status == "closed":
            return Text("● offline: edits kept locally", style="red")
        return Text("● connecting", style="yellow")
