"""Pub/Sub admin calls: create the topics and subscriptions a service needs, tolerating
that they exist, and delete a process's own subscription on its way out.

Admin calls pass ``retry=None`` and a short timeout: ``call_until_ready`` owns the
retrying, so a service waiting for the emulator still answers SIGTERM at once.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from google.api_core import exceptions
from google.cloud import pubsub_v1

from common.retry import ADMIN_CALL_TIMEOUT_SECONDS, UNAVAILABLE, call_until_ready
from common.subscriptions import SUBSCRIPTION_TTL

# A delete on the way out gets one short try: shutdown has a budget, and the TTL is there.
DELETE_TIMEOUT_SECONDS = 1.0


def ensure_topic(
    publisher: pubsub_v1.PublisherClient,
    topic_path: str,
    *,
    stop: threading.Event,
    logger: logging.Logger,
) -> None:
    """Create the topic unless it exists, waiting while Pub/Sub is unreachable; raises
    ``ShutdownRequested`` if ``stop`` is set first."""

    def create() -> None:
        try:
            publisher.create_topic(name=topic_path, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS)
            logger.info("created topic %s", topic_path)
        except exceptions.AlreadyExists:
            logger.info("topic %s already exists", topic_path)

    call_until_ready(create, what=f"Pub/Sub to create topic {topic_path}", stop=stop, logger=logger)


def ensure_subscription(
    subscriber: pubsub_v1.SubscriberClient,
    request: dict[str, Any],
    *,
    stop: threading.Event,
    logger: logging.Logger,
    wait_for_topic: bool = False,
) -> None:
    """Create the subscription described by ``request`` unless one of that name exists.

    An existing subscription is kept as it is: its settings are not compared. With
    ``wait_for_topic``, a missing topic is waited for (another service creates it).
    Raises ``ShutdownRequested`` if ``stop`` is set while waiting.
    """

    def create() -> None:
        try:
            subscriber.create_subscription(
                request=request, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
            )
            logger.info("created subscription %s", request["name"])
        except exceptions.AlreadyExists:
            logger.info("subscription %s already exists", request["name"])

    retry_on: tuple[type[Exception], ...] = UNAVAILABLE
    what = f"Pub/Sub to create subscription {request['name']}"
    if wait_for_topic:
        retry_on = (*UNAVAILABLE, exceptions.NotFound)
        what = f"topic {request['topic']} before creating subscription {request['name']}"
    call_until_ready(create, what=what, stop=stop, logger=logger, retry_on=retry_on)


def delete_subscription(
    subscriber: pubsub_v1.SubscriberClient, path: str, *, logger: logging.Logger
) -> None:
    """Delete a process's own subscription on its way out; a failure is logged, not raised."""
    try:
        subscriber.delete_subscription(
            subscription=path, retry=None, timeout=DELETE_TIMEOUT_SECONDS
        )
        logger.info("deleted subscription %s", path)
    except exceptions.NotFound:
        logger.info("subscription %s was already gone", path)
    except exceptions.GoogleAPICallError as exc:
        logger.error(
            "could not delete subscription %s (%s); it expires after %s without subscribers",
            path,
            exc,
            SUBSCRIPTION_TTL,
        )
