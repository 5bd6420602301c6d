"""Hands each change of a graph to its followers through the event bus: the whole state to
those reading `format=state`, the patch (or the state, when the change has no field-level
patch) to those reading `format=patch`. Each is rendered and encoded once, and only when
someone reads that format (on any server process, with a shared bus)."""

from __future__ import annotations

from stepgrad.app import jsonio
from stepgrad.app.live.event_bus import EventBus
from stepgrad.app.live.session import Change


class Publisher:
    def __init__(self, bus: EventBus):
        self.bus = bus

    def publish(self, change: Change) -> None:
        snapshot = change.snapshot
        formats = self.bus.formats(snapshot.id)
        if not formats:
            return
        version = snapshot.version
        if "state" in formats:
            self.bus.publish(
                snapshot.id, "state", jsonio.dumps(change.state), format="state", version=version
            )
        if "patch" in formats:
            if change.diff.full:  # no field-level patch: the whole state, as on a resync
                text, event, base = jsonio.dumps(change.state), "state", None
            else:
                text, event, base = jsonio.dumps(change.patch), "patch", change.base_version
            self.bus.publish(snapshot.id, event, text, "patch", version, base)

    def deleted(self, graph_id: str) -> None:
        self.bus.close_graph(graph_id)
