"""A unary-pull consumer's main thread: provision, then step until SIGTERM, recovering.

Faults are normal: when Pub/Sub says the subscription is gone (someone deleted it, or the
emulator restarted empty), the loop says so once and provisions again (topics and the
subscription, waiting with backoff while Pub/Sub is away), then carries on in the same
process. The heartbeat goes on meanwhile, saying "not ready" and why, so the health
check is red exactly while the consumer is not doing its job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from common.health import Beat, Heartbeat
from common.retry import ShutdownRequested
from common.unary_pull.puller import Puller

log = logging.getLogger(__name__)

# On the way out, how long the last acks and nacks may take to go out.
ACK_FLUSH_SECONDS = 2.0

# provision(beat): create what the consumer owns; beat(reason) keeps the heartbeat going
# while it waits for Pub/Sub. Raises ShutdownRequested if stopped while waiting.
Provision = Callable[[Beat], None]


@dataclass(frozen=True)
class Consumer:
    """What a mode plugs into the loop.

    ``started`` runs once, when the subscription first exists; ``step`` waits at most a
    heartbeat interval and does one round of work; ``drain`` runs once on SIGTERM;
    ``not_ready`` gives the mode's own reason not to be ready (its database is down), or "".
    """

    provision: Provision
    started: Callable[[], None]
    step: Callable[[], None]
    drain: Callable[[], None]
    not_ready: Callable[[], str] = lambda: ""


def run_until_stopped(puller: Puller, path: str, stop: threading.Event, consumer: Consumer) -> int:
    """Provision, start ``puller`` and step until ``stop`` is set (then drain) or pulling
    fails for good. Returns the exit status: 0, or 1 on a final pull error."""
    heartbeat = Heartbeat()

    def beat(reason: str) -> None:
        heartbeat.beat(not_ready=reason)

    try:
        consumer.provision(beat)
        consumer.started()
        puller.start()
        while not stop.is_set() and puller.error is None:
            if puller.gone.is_set():
                log.warning("subscription %s is gone; creating it again", path)
                consumer.provision(beat)
                puller.gone.clear()
                log.info("pulling from %s again", path)
            consumer.step()
            heartbeat.beat(not_ready=puller.not_ready() or consumer.not_ready())
        if puller.error is not None:
            log.error("pulling from %s failed: %s", path, puller.error)
            return 1
        consumer.drain()
        # What the drain acked or handed back must reach Pub/Sub before the process goes:
        # a durable subscription keeps the rest until their leases lapse.
        if not puller.leaser.flush(ACK_FLUSH_SECONDS):
            log.warning("acks and leases still unsent after %gs; leaving them", ACK_FLUSH_SECONDS)
        return 0
    except ShutdownRequested:
        if puller.started:
            log.info("stopped while waiting for Pub/Sub")
        else:
            log.info("stopped before subscribing")
        return 0
    finally:
        heartbeat.clear()
