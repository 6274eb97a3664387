"""The store contract on the in-memory reference store."""

from __future__ import annotations

import pytest

from server.store.memory import MemoryStore
from tests.server.store_contract import StoreContract


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()
