"""The status bar says what is going on, including why a connection fails."""

from __future__ import annotations

import time

from textual.app import App, ComposeResult

from pairtui.ui.status import StatusBar


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar()


async def test_reconnecting_shows_the_countdown_and_the_reason() -> None:
    app = Host()
    async with app.run_test(size=(160, 3)) as pilot:
        bar = app.query_one(StatusBar)
        bar.room, bar.path = "demo", "main.py"
        bar.status = "reconnecting"
        bar.retry_at = time.monotonic() + 4.2
        bar.reason = "nothing is listening at ws://10.9.9.9:8765/; is the relay running?"
        bar.pending = 1
        await pilot.pause()
        shown = str(bar.render())
        assert "reconnecting in 4 s" in shown
        assert "ws://10.9.9.9:8765/" in shown and "is the relay running?" in shown
        assert "1 file(s) with edits not yet stored" in shown
        bar.status = "connected"
        bar.rtt = 0.012
        assert "connected" in str(bar.render()) and "rtt 12 ms" in str(bar.render())
