"""The publish loop: one message every interval, every publish future checked.

Faults are normal here too. While Pub/Sub is unreachable, the client retries each
publish (for minutes): the loop goes on, publishes pile up within a flow-control limit
(past it, new messages are skipped and counted, not queued without end), the health
check turns red once the oldest one has waited ``STALL_SECONDS`` with none confirmed
since, and when Pub/Sub is back they go out. A topic that is gone (deleted, or an
emulator restarted empty) is created again. Each of these is logged once when it starts
and once when it ends.

The source (PUBLISHER_SOURCE) is the user's code: whatever it raises, ``BaseException``
included (a ``sys.exit(0)`` in it must not end the publisher with a status that no
restart policy restarts), and whatever it returns that is not a message (an awaitable
among others), fails that sequence number only. So does every refusal of the client's
publish call: the failure is that message's, counted, and the loop goes on.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent import futures

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1 import types
from google.cloud.pubsub_v1.publisher.exceptions import FlowControlLimitError

from common import metrics, tracing
from common.config import PubSubConfig
from common.health import HEARTBEAT_INTERVAL_SECONDS, Heartbeat
from common.logs import error_text, fields
from common.outage import Outage, ShutdownRequested
from common.provision import Provisioner
from common.publishing import Publishes
from common.pubsub import publisher_client
from common.resources import topic as declared_topic
from publisher.config import PublisherConfig
from publisher.sources import Outgoing, Source, checked

log = logging.getLogger(__name__)

# At high rates the loop's own scheduling jitter exceeds an interval: lateness up to this
# is made up by publishing the missed slots at once, so the rate holds.
MAX_CATCH_UP_SECONDS = 1.0
# Publishes in flight at most: while Pub/Sub is away they wait here, so this bounds the
# memory they take (ten seconds' worth at 1,000 msgs/s).
MAX_IN_FLIGHT = 10_000
# A publish unresolved this long means Pub/Sub is not answering: not ready.
STALL_SECONDS = 10.0


def next_due(due: float, interval: float, now: float) -> float:
    """When to publish next. A loop that fell far behind (a paused container, a slow call)
    skips the missed slots instead of publishing them in a burst."""
    due += interval
    return due if due > now - MAX_CATCH_UP_SECONDS else now + interval


def client(pubsub: PubSubConfig) -> pubsub_v1.PublisherClient:
    """A client that refuses a publish past ``MAX_IN_FLIGHT`` rather than queue it."""
    flow_control = types.PublishFlowControl(
        message_limit=MAX_IN_FLIGHT,
        limit_exceeded_behavior=types.LimitExceededBehavior.ERROR,
    )
    # With tracing on, the client makes each publish's span and writes its context into
    # the message's attributes, where the consumers find it (common.tracing).
    options = types.PublisherOptions(
        flow_control=flow_control, enable_open_telemetry_tracing=tracing.enabled()
    )
    return publisher_client(pubsub, publisher_options=options)


class Publisher:
    """Publishes generated messages and tracks each publish future until it resolves."""

    def __init__(
        self,
        client: pubsub_v1.PublisherClient,
        topic_path: str,
        publisher_id: str,
        source: Source,
        source_name: str = "",
    ) -> None:
        self._client = client
        self._publishes = Publishes(client, topic_path, self._on_done)
        self._publisher_id = publisher_id
        self._source = source
        self._source_name = source_name
        self._rng = random.Random()
        self._sequence = 0
        self._lock = threading.Lock()
        # Since start-up: messages Pub/Sub confirmed; sequence numbers that failed (the
        # source's error, a message refused or skipped, a publish that failed).
        self.published = 0
        self.failed = 0
        # Publishes failed (or skipped) since the last success; 0 while all is well.
        self._failing = 0
        self._failing_since = 0.0
        # When Pub/Sub last confirmed a publish (monotonic; start-up counts as one).
        self._confirmed_at = time.monotonic()
        # Pub/Sub not confirming publishes: one line when it starts, one when it ends.
        self._stall = Outage(f"Pub/Sub (publishing to {topic_path})", retrying=False)
        # Set when Pub/Sub says the topic does not exist (deleted, or an emulator that
        # restarted with no state): the loop creates it again.
        self.topic_missing = threading.Event()
        metrics.publisher(topic_path, self, self._publishes, self._stall)

    def publish_next(self) -> None:
        """Call the source for the next sequence number and publish what it returns."""
        self._sequence += 1
        try:
            message = checked(self._source(self._rng, self._sequence, self._publisher_id))
        except BaseException as exc:  # the source's, a sys.exit included: this message's
            self._failed(f"source {self._source_name}", self._sequence, error_text(exc))
            return
        if message is None:  # nothing to send this time
            return
        try:
            self._publishes.publish(message.data, message.attributes, message)
        except FlowControlLimitError:
            self._failed(
                message.description,
                message.sequence,
                f"skipped: {MAX_IN_FLIGHT} publishes already in flight",
            )
        except Exception as exc:  # refused at once (too large, ...): this message's only
            self._failed(message.description, message.sequence, f"refused: {error_text(exc)}")

    def not_ready(self) -> str:
        """Why the publisher is not doing its job now, or "".

        A publish left waiting from an outage (the client retries it for up to a minute)
        does not count once newer ones are confirmed: publishing works again.
        """
        with self._lock:
            failing = self._failing
            unconfirmed = time.monotonic() - self._confirmed_at
        if failing:
            return f"{failing} publishes failed since the last success"
        stalled = self._publishes.oldest_seconds()
        if stalled > STALL_SECONDS and unconfirmed > STALL_SECONDS:
            return f"a publish has waited {stalled:.0f}s for Pub/Sub, none confirmed since"
        return ""

    def report(self) -> str:
        """``not_ready()``, with a line when a stall begins and one when it ends."""
        reason = self.not_ready()
        if reason and self._failing == 0:
            self._stall.failed(reason, f"{self._publishes.in_flight()} publishes waiting")
        elif not reason and self._stall.down:
            self._stall.succeeded()
        return reason

    def _on_done(self, future: futures.Future[str], message: Outgoing) -> None:
        try:
            message_id = future.result()
        except Exception as exc:  # the future carries the client's final error
            if isinstance(exc, exceptions.NotFound):
                self.topic_missing.set()
            self._failed(message.description, message.sequence, error_text(exc))
            return
        with self._lock:
            failed, since, self._failing = self._failing, self._failing_since, 0
            self._confirmed_at = time.monotonic()
            self.published += 1
        if failed:
            seconds = time.monotonic() - since
            log.info(
                "publishing again after %.1fs; %d publish(es) failed meanwhile",
                seconds,
                failed,
                extra=fields(event="publishing again", failed=failed, seconds=round(seconds, 3)),
            )
        log.info(
            "published message_id=%s %s sequence=%s",
            message_id,
            message.description,
            message.sequence,
            extra=fields(event="published", message_id=message_id, sequence=message.sequence),
        )

    def _failed(self, what: str, sequence: int, error: str) -> None:
        """One line for the first failure of a run of them; the rest are counted."""
        with self._lock:
            self.failed += 1
            self._failing += 1
            first = self._failing == 1
            if first:
                self._failing_since = time.monotonic()
        level = logging.ERROR if first else logging.DEBUG
        log.log(
            level,
            "publish failed: %s sequence=%s: %s%s",
            what,
            sequence,
            error,
            "; further failures are counted until a publish succeeds" if first else "",
            extra=fields(event="publish failed", sequence=sequence, reason=error),
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
    pubsub_client = client(config.pubsub)
    heartbeat = Heartbeat()
    topic = config.pubsub.topic_path
    declared = declared_topic(topic, config.topic_retention)

    def beat(reason: str) -> None:
        heartbeat.beat(not_ready=reason)

    provisioner = Provisioner(pubsub_client, None, stop)
    try:
        provisioner.ensure_topic(declared, beat)
    except ShutdownRequested:
        log.info("stopped before the topic was ready")
        return 0

    publisher = Publisher(pubsub_client, topic, publisher_id, config.source, config.source_name)
    log.info(
        "publishing %s to %s every %gs",
        config.source_name,
        topic,
        config.publish_interval_seconds,
        extra=fields(event="publishing", source=config.source_name, topic=topic),
    )
    due = time.monotonic()
    try:
        while True:
            if publisher.topic_missing.is_set():
                log.warning(
                    "topic %s is gone; creating it again",
                    topic,
                    extra=fields(event="topic gone", topic=topic),
                )
                provisioner.ensure_topic(declared, beat)
                publisher.topic_missing.clear()
            now = time.monotonic()
            if now >= due:
                publisher.publish_next()
                due = next_due(due, config.publish_interval_seconds, now)
            heartbeat.beat(not_ready=publisher.report())
            wait = min(due - time.monotonic(), HEARTBEAT_INTERVAL_SECONDS)
            if stop.wait(max(wait, 0.0)):
                break
    except ShutdownRequested:
        log.info("stopped while waiting to create the topic again")
    finally:
        heartbeat.clear()
        flushed = publisher.flush(config.flush_timeout_seconds)
    log.info(
        "publisher stopped%s",
        "" if flushed else " with unflushed publishes",
        extra=fields(
            event="stopped",
            flushed=flushed,
            published=publisher.published,
            failed=publisher.failed,
        ),
    )
    return 0 if flushed else 1
