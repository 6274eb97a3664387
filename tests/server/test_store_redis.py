"""The store contract on a real redis-server, and what only Redis needs checking."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from server.store.records import StoreError
from server.store.redis import RedisStore
from tests.server.redis_server import RedisServer
from tests.server.store_contract import ROOM, StoreContract, op_entry


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


class TestRedisStore(StoreContract):
    @pytest.fixture
    async def store(
        self, redis_server: RedisServer, request: pytest.FixtureRequest
    ) -> AsyncIterator[RedisStore]:
        prefix = f"t{uuid.uuid4().hex}"  # each test its own keys
        store = await RedisStore.open(redis_server.url, prefix=prefix)
        yield store
        await store.close()

    async def test_two_stores_on_one_redis_see_each_other(
        self, store: RedisStore, redis_server: RedisServer
    ) -> None:
        await self.create(store)
        other = await RedisStore.open(redis_server.url, prefix=store.prefix)
        await other.commit([op_entry(1, 0, "a")])
        with pytest.raises(StoreError):
            await store.commit([op_entry(1, 0, "b")])  # the compare-and-set across processes
        await store.commit([op_entry(2, 1, "b")])
        record = await other.load_room(ROOM, history=10)
        assert record is not None and record.files[0].text == "ab"
        await other.close()

    async def test_unicode_text_survives(self, store: RedisStore) -> None:
        await self.create(store)
        await store.commit([op_entry(1, 0, 'héllo 😀 / \\ "q"\n')])
        record = await store.load_room(ROOM, history=10)
        assert record is not None and record.files[0].text == 'héllo 😀 / \\ "q"\n'


async def test_an_unreachable_redis_is_a_clear_store_error(tmp_path: Path) -> None:
    from tests.server.relay_process import free_port

    with pytest.raises(StoreError, match="cannot reach Redis"):
        await RedisStore.open(f"redis://127.0.0.1:{free_port()}/0")


def test_a_password_never_shows_in_messages() -> None:
    from server.store.redis import safe_url

    assert safe_url("redis://:hunter2@db.internal:6379/0") == "redis://:***@db.internal:6379/0"
    assert safe_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
