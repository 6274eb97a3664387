"""Persistence behind one interface: SQLite embedded by default, Redis to scale out."""

from server.store.base import Store
from server.store.records import RevisionConflict, StoreError

__all__ = ["RevisionConflict", "Store", "StoreError"]
