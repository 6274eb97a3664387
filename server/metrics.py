"""The relay's Prometheus metrics, in a registry of its own (several relays can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class RelayMetrics:
    """Counters a relay updates as it works; ``render`` gives the /metrics page."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connections = Gauge(
            "pairtui_connections", "Open websocket connections", registry=self.registry
        )
        self.rooms = Gauge("pairtui_rooms", "Rooms loaded in memory", registry=self.registry)
        self.ops_applied = Counter(
            "pairtui_ops_applied", "Edits applied and stored", registry=self.registry
        )
        self.messages = Counter(
            "pairtui_messages_received", "Messages received from clients", registry=self.registry
        )
        self.op_latency = Histogram(
            "pairtui_op_handling_seconds",
            "From receiving an edit to sending its ack (transform, store, fan-out)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "pairtui_errors", "Errors sent to clients, by code", ["code"], registry=self.registry
        )
        self.commits = Counter(
            "pairtui_store_commits", "Batches committed to the store", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
