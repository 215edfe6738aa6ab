"""The publish loop: one message every interval, every publish future checked."""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent import futures

from google.api_core import exceptions
from google.cloud import pubsub_v1

from common.health import HEARTBEAT_INTERVAL_SECONDS, Heartbeat
from common.publishing import Publishes
from common.pubsub import ensure_topic
from common.retry import ShutdownRequested
from publisher.config import PublisherConfig
from publisher.sources import SOURCES, Outgoing, Source

log = logging.getLogger(__name__)


# At high rates the loop's own scheduling jitter exceeds an interval: lateness up to this
# is made up by publishing the missed slots at once, so the rate holds.
MAX_CATCH_UP_SECONDS = 1.0


def next_due(due: float, interval: float, now: float) -> float:
    """When to publish next. A loop that fell far behind (a paused container, a slow call)
    skips the missed slots instead of publishing them in a burst."""
    due += interval
    return due if due > now - MAX_CATCH_UP_SECONDS else now + interval


class Publisher:
    """Publishes generated messages and tracks each publish future until it resolves."""

    def __init__(
        self,
        client: pubsub_v1.PublisherClient,
        topic_path: str,
        publisher_id: str,
        source: Source,
    ) -> None:
        self._client = client
        self._publishes = Publishes(client, topic_path, self._on_done)
        self._publisher_id = publisher_id
        self._source = source
        self._rng = random.Random()
        self._sequence = 0
        # Whether the latest publish to resolve succeeded; the health check reads it.
        self.last_publish_ok = True
        # Set when Pub/Sub says the topic does not exist (deleted, or an emulator that
        # restarted with no state): the loop creates it again.
        self.topic_missing = threading.Event()

    def publish_next(self) -> None:
        self._sequence += 1
        message = self._source(self._rng, self._sequence, self._publisher_id)
        self._publishes.publish(message.data, message.attributes, message)

    def _on_done(self, future: futures.Future[str], message: Outgoing) -> None:
        try:
            message_id = future.result()
        except Exception as exc:  # the future carries the client's final error
            self.last_publish_ok = False
            if isinstance(exc, exceptions.NotFound):
                self.topic_missing.set()
            log.error(
                "publish failed: %s sequence=%s: %s: %s",
                message.description,
                message.sequence,
                type(exc).__name__,
                exc,
            )
            return
        self.last_publish_ok = True
        log.info(
            "published message_id=%s %s sequence=%s",
            message_id,
            message.description,
            message.sequence,
        )

    def flush(self, timeout: float) -> bool:
        """Send what is batched, wait for every pending future; True if all succeeded."""
        self._client.stop()
        if in_flight := self._publishes.in_flight():
            log.info("flushing %d pending publish(es)", in_flight)
        failed, unresolved = self._publishes.wait(timeout)
        if unresolved or failed:
            log.error(
                "flush incomplete: %d publish(es) failed, %d unresolved after %.1fs",
                failed,
                unresolved,
                timeout,
            )
            return False
        return True


def run(config: PublisherConfig, stop: threading.Event, publisher_id: str) -> int:
    """Publish until ``stop`` is set; return the process exit status."""
    client = pubsub_v1.PublisherClient()
    heartbeat = Heartbeat()
    try:
        ensure_topic(client, config.pubsub.topic_path, stop=stop, logger=log)
    except ShutdownRequested:
        log.info("stopped before the topic was ready")
        return 0

    publisher = Publisher(client, config.pubsub.topic_path, publisher_id, SOURCES[config.mode])
    log.info(
        "publishing %s to %s every %gs",
        config.mode,
        config.pubsub.topic_path,
        config.publish_interval_seconds,
    )
    due = time.monotonic()
    try:
        while True:
            if publisher.topic_missing.is_set():
                log.warning("topic %s is gone; creating it again", config.pubsub.topic_path)
                ensure_topic(client, config.pubsub.topic_path, stop=stop, logger=log)
                publisher.topic_missing.clear()
            now = time.monotonic()
            if now >= due:
                publisher.publish_next()
                due = next_due(due, config.publish_interval_seconds, now)
            if publisher.last_publish_ok:
                heartbeat.beat()
            wait = min(due - time.monotonic(), HEARTBEAT_INTERVAL_SECONDS)
            if stop.wait(max(wait, 0.0)):
                break
    except ShutdownRequested:
        log.info("stopped while waiting to create the topic again")
    finally:
        heartbeat.clear()
        flushed = publisher.flush(config.flush_timeout_seconds)
    log.info("publisher stopped%s", "" if flushed else " with unflushed publishes")
    return 0 if flushed else 1
