"""The sans-I/O heart of pairtui.

Nothing in this package performs I/O, touches asyncio, or knows about the
terminal UI: it imports only the standard library and msgspec, so that the
relay, the client, the load generator and the tests share one exact copy of
the collaboration logic. ``tests/test_import_hygiene.py`` proves the rule.
"""
