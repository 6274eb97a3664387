"""wss:// end to end with a certificate made for the test; an untrusted one is refused."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from pairtui.access import ssl_context_for
from pairtui.client import Backoff, ClientSession, SessionClosed
from server.relay import Relay, RelayConfig
from server.serve import tls_context
from server.store.sqlite import SQLiteStore


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_relay(tmp_path: Path, authority: trustme.CA) -> AsyncIterator[Relay]:
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    chain, key = tmp_path / "relay.pem", tmp_path / "relay.key"
    certificate.private_key_pem.write_to_path(str(key))
    chain.write_bytes(b"".join(blob.bytes() for blob in certificate.cert_chain_pems))
    store = await SQLiteStore.open(tmp_path / "relay")
    relay = Relay(store, RelayConfig(port=0, ssl=tls_context(chain, key)))
    await relay.start()
    yield relay
    await relay.shutdown()
    await store.close()


async def test_edits_cross_tls_with_a_trusted_ca(
    tls_relay: Relay, authority: trustme.CA, tmp_path: Path
) -> None:
    cafile = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(cafile))
    url = f"wss://127.0.0.1:{tls_relay.port}/"
    context = ssl_context_for(url, str(cafile))
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
    ada = ClientSession(url, "tls", "ada", ssl_context=context)
    bob = ClientSession(url, "tls", "bob", ssl_context=context)
    await ada.start()
    await bob.start()
    file = ada.files[0].file
    await ada.open(file)
    await bob.open(file)
    ada.replace(file, 0, 0, "over tls\n")
    await ada.wait_synced()
    for _ in range(200):
        if bob.syncs[file].text == "over tls\n":
            break
        await bob.wait_synced()
    assert bob.syncs[file].text == "over tls\n"
    await ada.close()
    await bob.close()


async def test_an_untrusted_certificate_is_refused_and_said_so(tls_relay: Relay) -> None:
    url = f"wss://127.0.0.1:{tls_relay.port}/"
    session = ClientSession(
        url, "tls", "ada", ssl_context=ssl_context_for(url, None), backoff=Backoff(0.05, 0.1)
    )
    with pytest.raises(SessionClosed, match=r"not trusted.*--cafile"):
        await session.start()
    assert session.reconnects == 0 and tls_relay.connections == 0
    await session.close()


def test_plain_ws_needs_no_context_and_a_bad_cafile_is_explained(tmp_path: Path) -> None:
    from pairtui.access import AccessError

    assert ssl_context_for("ws://127.0.0.1:8765/", None) is None
    with pytest.raises(AccessError, match="CA file"):
        ssl_context_for("wss://example.org/", str(tmp_path / "missing.pem"))
