"""Presence, lost acks, restarts, health and metrics through a real relay."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

from pairtui.client import ClientSession
from pairtui.core import protocol as p
from server.relay import Relay, RelayConfig
from server.store.sqlite import SQLiteStore
from tests.server.conftest import SessionFactory, relay_url
from tests.server.raw import RawPeer, op_frame
from tests.waiting import until


async def test_presence_moves_with_edits_and_clears_when_someone_drops(
    session: SessionFactory,
) -> None:
    ada = await session("ada")
    bob = await session("bob")
    file = ada.files[0].file
    await ada.open(file)
    await bob.open(file)
    ada.replace(file, 0, 0, "hello world")
    await ada.wait_synced()
    await until(lambda: bob.syncs[file].text == "hello world")
    bob.set_presence(p.SetPresence(file=file, cursor=6, anchor=11, viewport=(0, 20)))
    await until(lambda: ada.members[bob.member or ""].cursor == 6)
    ada.replace(file, 0, 0, ">> ")  # before bob's selection: it moves right
    assert ada.members[bob.member or ""].cursor == 9
    assert ada.members[bob.member or ""].anchor == 14
    await ada.wait_synced()
    late = await session("cy")  # the relay moved it too, so a newcomer sees it right
    assert late.members[bob.member or ""].cursor == 9
    assert late.members[bob.member or ""].viewport == (0, 20)
    bob_id = bob.member
    await bob.close()
    await until(lambda: bob_id not in ada.members and bob_id not in late.members)


async def test_resent_op_after_a_lost_ack_is_acknowledged_not_applied_twice(
    relay: Relay, session: SessionFactory
) -> None:
    url = relay_url(relay)
    peer, welcome = await RawPeer.join(url)
    file = welcome["files"][0]["file"]
    await peer.send({"type": "open", "file": file})
    await peer.expect("snapshot")
    await peer.send(op_frame(file, 0, 1, ["once"]))
    peer.connection.transport.abort()  # the connection drops: the ack is lost
    again, _ = await RawPeer.join(url)
    await again.send({"type": "open", "file": file, "since": 0})
    catchup = await again.expect("catchup")
    assert catchup["ops"] == [
        {"revision": 1, "op": ["once"], "member": catchup["ops"][0]["member"], "seq": 1}
    ]
    await again.send(op_frame(file, 0, 1, ["once"]))  # a naive client resends anyway
    ack = await again.expect("ack")
    assert (ack["seq"], ack["revision"]) == (1, 1)
    watcher = await session("watcher")
    assert (await watcher.open(file)).text == "once"
    await again.close()


async def test_everything_is_back_after_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "relay"
    store = await SQLiteStore.open(data)
    relay = Relay(store, RelayConfig(port=0))
    await relay.start()
    ada = ClientSession(relay_url(relay), "keep", "ada")
    await ada.start()
    ada.create_file("two.py", "2\n")
    await until(lambda: len(ada.files) == 2)
    for info in ada.files:
        await ada.open(info.file)
        for i in range(30):
            ada.replace(info.file, 0, 0, f"{i},")
    ada.send_chat("remember me")
    await ada.wait_synced()
    await until(lambda: len(ada.chat) == 1)
    expected = {f.path: ada.syncs[f.file].text for f in ada.files}
    revisions = {f.path: ada.syncs[f.file].revision for f in ada.files}
    await ada.close()
    await relay.shutdown()
    await store.close()

    store = await SQLiteStore.open(data)
    relay = Relay(store, RelayConfig(port=0))
    await relay.start()
    bob = ClientSession(relay_url(relay), "keep", "bob")
    await bob.start()
    got = {f.path: (await bob.open(f.file)) for f in bob.files}
    assert {path: sync.text for path, sync in got.items()} == expected
    assert {path: sync.revision for path, sync in got.items()} == revisions
    assert [m.text for m in bob.chat] == ["remember me"]
    await bob.close()
    await relay.shutdown()
    await store.close()


def _get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


async def test_healthz_and_metrics_answer_and_count(relay: Relay, session: SessionFactory) -> None:
    ada = await session("ada")
    file = ada.files[0].file
    await ada.open(file)
    for i in range(5):
        ada.replace(file, 0, 0, str(i))
    await ada.wait_synced()
    ada.send_raw("not json")
    await asyncio.sleep(0.1)
    base = f"http://127.0.0.1:{relay.port}"
    status, kind, body = await asyncio.to_thread(_get, base + "/healthz")
    health = json.loads(body)
    assert status == 200 and kind == "application/json"
    assert health["status"] == "ok" and health["rooms"] == 1 and health["connections"] == 1
    assert health["version"]
    status, kind, metrics = await asyncio.to_thread(_get, base + "/metrics")
    assert status == 200 and kind.startswith("text/plain")
    lines = dict(
        line.rsplit(" ", 1) for line in metrics.splitlines() if line and not line.startswith("#")
    )
    ops = ada.syncs[file].revision  # keystrokes typed while one op was in flight were combined
    assert 2 <= ops <= 5
    assert float(lines["pairtui_ops_applied_total"]) == ops
    assert float(lines["pairtui_connections"]) == 1
    assert float(lines["pairtui_rooms"]) == 1
    assert float(lines['pairtui_errors_total{code="bad_json"}']) == 1
    assert float(lines["pairtui_op_handling_seconds_count"]) == ops
