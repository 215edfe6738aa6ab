"""Acks, nacks and lease changes, gathered and sent on a thread of their own.

A callback settles each message from its own thread; a call to Pub/Sub per message would
cost more than the handling itself, and a call to an unreachable Pub/Sub takes its whole
deadline to fail. So ``ack``, ``nack`` and ``modify`` only append to a queue (no lock
taken), and this thread sends what gathered every ``LATENCY_SECONDS``: one call per kind
per round, at most ``MAX_IDS_PER_CALL`` IDs each, as the client library's dispatcher
does. A failed call is not retried: an unacked message comes back when its lease lapses,
and an ack is a best effort in Pub/Sub's at-least-once delivery. Failures are logged
once per outage (``common.outage``).

Batched log lines (``common.logs.batched``) are written before each ack call: a message
acked is a message logged, even if the process dies next.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable

from google.api_core import exceptions

from common import logs, tracing
from common.outage import Outage
from common.receive.counts import Counts
from common.receive.message import Received
from common.receive.rpc import Rpc

log = logging.getLogger(__name__)

# How long settled messages gather before they are sent: well inside any lease, and a
# call per 50 ms rather than per message (benchmarks/README.md, "Where the CPU goes").
LATENCY_SECONDS = 0.05
# Deadline of one call; nothing waits on it but this thread.
RPC_TIMEOUT_SECONDS = 10.0
# Pub/Sub takes up to 2,500 ack IDs a request; the client library sends at most 1,000.
MAX_IDS_PER_CALL = 1000

# What the thread is told: a settled message (ack True, nack False), or a lease change
# of (ack IDs, seconds).
_Item = tuple[Received, bool] | tuple[list[str], int]
# Called on this thread with the settled messages before they are sent; returns those
# still held (the others were let go already, or settled twice).
Release = Callable[[list[Received]], list[Received]]


class Acker:
    """Sends settled messages and lease changes for the subscription at ``path``; adds
    what went to ``counts`` and tells its observer (``common.receive.counts``)."""

    def __init__(
        self,
        rpc: Rpc,
        path: str,
        release: Release,
        *,
        counts: Counts | None = None,
    ) -> None:
        self._rpc = rpc
        self._path = path
        self._release = release
        self.counts = counts or Counts()
        self._items: collections.deque[_Item] = collections.deque()
        self._outage = Outage(f"Pub/Sub (acks and leases on {path})", retrying=False)
        self._idle = threading.Event()
        self._idle.set()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="acker", daemon=True)
        self._thread.start()

    def settle(self, received: Received, ack: bool) -> None:
        """Ack (True) or nack (False) ``received`` at the next round; from any thread."""
        received.settled_at = time.time()  # its handling's end, for its delivery lag
        self._items.append((received, ack))

    def modify(self, ack_ids: list[str], seconds: int) -> None:
        """Set the lease of ``ack_ids`` to ``seconds`` (0: hand them back) next round."""
        if ack_ids:
            self._items.append((ack_ids, seconds))

    def close(self, timeout: float) -> bool:
        """Send what is queued, within ``timeout`` seconds, then stop; True if all went."""
        self._closing.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until everything queued so far is sent."""
        self._idle.clear()
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            closing = self._closing.wait(LATENCY_SECONDS)
            self.send_round()
            if closing and not self._items:
                return

    def send_round(self) -> None:
        """Send everything queued now (the thread calls it every ``LATENCY_SECONDS``)."""
        items = self._items
        if not items:
            self._idle.set()
            return
        settled: list[Received] = []
        acks: dict[Received, bool] = {}
        leases: dict[int, list[str]] = collections.defaultdict(list)
        while items:
            item = items.popleft()
            if isinstance(item[0], Received):
                received, ack = item
                if received not in acks:
                    acks[received] = bool(ack)
                    settled.append(received)
            else:
                ack_ids, seconds = item
                leases[int(seconds)].extend(ack_ids)
        held = self._release(settled)
        acked = [r for r in held if acks[r]]
        nacked = [r.ack_id for r in held if not acks[r]]
        self.counts.settled(len(acked), len(nacked))
        if acked:
            logs.flush()
            self._send([r.ack_id for r in acked], None)
            self.counts.observer.acked(acked)
        if nacked:
            leases[0] = nacked + leases.get(0, [])
        for seconds, ack_ids in leases.items():
            self._send(ack_ids, seconds)
        if not items:
            self._idle.set()

    def _send(self, ack_ids: list[str], seconds: int | None) -> None:
        kind = "ack" if seconds is None else "nack" if seconds == 0 else "modack"
        for start in range(0, len(ack_ids), MAX_IDS_PER_CALL):
            chunk = ack_ids[start : start + MAX_IDS_PER_CALL]
            began = time.monotonic()
            error: BaseException | None = None
            try:
                with tracing.step(kind, self._path, {tracing.MESSAGE_COUNT: len(chunk)}):
                    if seconds is None:
                        self._rpc.acknowledge(self._path, chunk, RPC_TIMEOUT_SECONDS)
                    else:
                        self._rpc.modify_ack_deadline(
                            self._path, chunk, seconds, RPC_TIMEOUT_SECONDS
                        )
            except exceptions.NotFound as exc:
                # The subscription is gone, and its leases with it; the pull threads see
                # it too, and the subscription is provisioned again.
                error = exc
                log.debug("nothing to %s: subscription %s is gone", kind, self._path)
            except exceptions.GoogleAPICallError as exc:
                error = exc
                self.counts.send_failed()
                self._outage.failed(
                    f"{type(exc).__name__}: {exc}",
                    f"{len(chunk)} {kind}s not sent: those messages come back when "
                    "their lease lapses",
                )
            else:
                self._outage.succeeded()
            self.counts.observer.operation(kind, time.monotonic() - began, error)
