"""The live view's state: messages by replicas, and the counters. Pure: no I/O, no clock.

Three feeds change it: messages published on the topic, receipts from the replicas, and
messages dead-lettered. Each change returns the events to send to the browsers; a new
browser gets ``snapshot()`` first. Every event carries the counters, so a client never
has to add anything up itself.

Receipts and the published messages arrive on different subscriptions, in any order: a
receipt may come first, so either one creates a message's row.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

from common.messages.channels import InvalidMessage, decode
from common.messages.receipts import Receipt

Event = dict[str, Any]
# Columns of replicas that left are kept for a while (the page greys them), not for ever.
MAX_LEFT_REPLICAS = 10


@dataclass
class Replica:
    # The replica's subscription ID: unique, unlike a host name (a restarted container
    # keeps its host name but makes a new subscription).
    id: str
    host: str
    status: str = "joined"  # or "left"
    acked: int = 0
    rejected: int = 0


@dataclass
class Row:
    message_id: str
    seen_at: str
    channel: str | None = None
    sequence: int | None = None
    sent_at: str | None = None
    published: bool = False
    # replica ID -> "acked" or "rejected" (the latest outcome there)
    handled: dict[str, str] = field(default_factory=dict)


@dataclass
class Counters:
    published: int = 0
    acked: int = 0
    rejected: int = 0
    dead_lettered: int = 0


class Grid:
    def __init__(self, history: int) -> None:
        self._history = history
        self._rows: OrderedDict[str, Row] = OrderedDict()
        self._replicas: dict[str, Replica] = {}
        self.counters = Counters()

    def published(self, message_id: str, data: bytes, seen_at: str) -> list[Event]:
        row = self._row(message_id, seen_at)
        if row.published:  # a redelivery to the dashboard's own subscription
            return []
        row.published = True
        self.counters.published += 1
        try:
            message = decode(data)
        except InvalidMessage:
            row.channel = "(not a channel message)"
        else:
            row.channel = f"{message.channel.number} {message.channel.name}"
            row.sequence = message.sequence
            row.sent_at = message.sent_at
        return [self._message_event(row)]

    def receipt(self, receipt: Receipt, seen_at: str) -> list[Event]:
        replica = self._replicas.get(receipt.subscription)
        events: list[Event] = []
        if replica is None:
            # Also for a replica that joined before the dashboard started.
            replica = Replica(receipt.subscription, receipt.replica)
            self._replicas[replica.id] = replica
            events.append(self._replica_event(replica))
        if receipt.kind == "left":
            if replica.status != "left":
                replica.status = "left"
                self._prune_left()
                events.append(self._replica_event(replica))
            return events
        if receipt.kind == "joined" or receipt.message_id is None or receipt.outcome is None:
            return events
        if replica.status == "left":  # a late receipt; the replica has gone anyway
            return events
        if receipt.outcome == "acked":
            replica.acked += 1
            self.counters.acked += 1
        else:
            replica.rejected += 1
            self.counters.rejected += 1
        row = self._row(receipt.message_id, seen_at)
        row.handled[replica.id] = receipt.outcome
        events.append(self._replica_event(replica))
        events.append(self._message_event(row))
        return events

    def dead_lettered(self) -> list[Event]:
        self.counters.dead_lettered += 1
        return [{"type": "counters", "counters": asdict(self.counters)}]

    def snapshot(self) -> Event:
        return {
            "type": "snapshot",
            "replicas": [asdict(r) for r in self._replicas.values()],
            "messages": [asdict(r) for r in self._rows.values()],
            "counters": asdict(self.counters),
            "history": self._history,
        }

    def _row(self, message_id: str, seen_at: str) -> Row:
        row = self._rows.get(message_id)
        if row is None:
            row = self._rows[message_id] = Row(message_id, seen_at)
            while len(self._rows) > self._history:
                self._rows.popitem(last=False)
        return row

    def _prune_left(self) -> None:
        left = [r.id for r in self._replicas.values() if r.status == "left"]
        for replica_id in left[: max(0, len(left) - MAX_LEFT_REPLICAS)]:
            del self._replicas[replica_id]

    def _message_event(self, row: Row) -> Event:
        return {"type": "message", "message": asdict(row), "counters": asdict(self.counters)}

    def _replica_event(self, replica: Replica) -> Event:
        return {"type": "replica", "replica": asdict(replica), "counters": asdict(self.counters)}
