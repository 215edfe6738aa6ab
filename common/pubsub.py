"""Pub/Sub clients and admin calls: create the topics and subscriptions a service needs,
tolerating that they exist, and delete a process's own subscription on its way out.

Admin calls pass ``retry=None`` and a short timeout: ``call_until_ready`` owns the
retrying, so a service waiting for the emulator still answers SIGTERM at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport
from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

from common.config import PubSubConfig
from common.retry import ADMIN_CALL_TIMEOUT_SECONDS, UNAVAILABLE, call_until_ready
from common.subscriptions import SUBSCRIPTION_TTL

# A delete on the way out gets one short try: shutdown has a budget (3 s, well inside the
# 10 s grace period), and the TTL is there. 1 s timed out once with a whole stack stopping
# at once on 2 CPUs.
DELETE_TIMEOUT_SECONDS = 2.0
# Channel options beyond the client library's own. A channel that lost its peer retries
# with exponential backoff up to 2 minutes by default, so a replica cut off for a while
# could take that long to notice Pub/Sub is back; 5 s keeps recovery prompt.
RECONNECT_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 1_000),
    ("grpc.max_reconnect_backoff_ms", 5_000),
]
# Towards the emulator the library opens a plain channel of its own, with gRPC's
# defaults: a 4 MiB cap on what it receives, though the emulator, like Pub/Sub, takes
# messages up to 10 MB. Such a message could never be pulled ("larger than max") and its
# subscriber would go silent (measured: ../shared/README.md). These are the options the
# library gives its channel to Google Cloud.
EMULATOR_OPTIONS = [
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
    ("grpc.keepalive_time_ms", 30_000),
    *RECONNECT_OPTIONS,
]
Transport = TypeVar("Transport", SubscriberGrpcTransport, PublisherGrpcTransport)


def _transport(pubsub: PubSubConfig, kind: type[Transport]) -> Transport:
    if pubsub.emulator_host is not None:
        return kind(channel=grpc.insecure_channel(pubsub.emulator_host, options=EMULATOR_OPTIONS))

    def channel(host: str, **settings: Any) -> grpc.Channel:
        # The library's own channel (its credentials, its options), plus ours.
        options = [*settings.pop("options", []), *RECONNECT_OPTIONS]
        created: grpc.Channel = kind.create_channel(host, options=options, **settings)
        return created

    return kind(channel=channel)


def subscriber_client(pubsub: PubSubConfig) -> pubsub_v1.SubscriberClient:
    """A SubscriberClient for ``pubsub`` (real Pub/Sub, or the emulator), its channel
    set up as above. Raises ``DefaultCredentialsError`` without usable credentials."""
    return pubsub_v1.SubscriberClient(transport=_transport(pubsub, SubscriberGrpcTransport))


def publisher_client(pubsub: PubSubConfig, **options: Any) -> pubsub_v1.PublisherClient:
    """A PublisherClient for ``pubsub``, like ``subscriber_client``; ``options`` go to the
    client (``publisher_options=...``)."""
    transport = _transport(pubsub, PublisherGrpcTransport)
    return pubsub_v1.PublisherClient(transport=transport, **options)


def ensure_topic(
    publisher: pubsub_v1.PublisherClient,
    topic_path: str,
    *,
    stop: threading.Event,
    logger: logging.Logger,
    beat: Callable[[str], None] | None = None,
) -> None:
    """Create the topic unless it exists, waiting while Pub/Sub is unreachable (calling
    ``beat`` meanwhile, see ``call_until_ready``); raises ``ShutdownRequested`` if
    ``stop`` is set first.

    It looks before it creates: where Terraform made the topic, the service's account
    needs no permission to create one (deploy/terraform).
    """

    def create() -> None:
        try:
            publisher.get_topic(topic=topic_path, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS)
        except exceptions.NotFound:
            pass
        else:
            logger.info("topic %s already exists", topic_path)
            return
        try:
            publisher.create_topic(name=topic_path, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS)
            logger.info("created topic %s", topic_path)
        except exceptions.AlreadyExists:
            logger.info("topic %s already exists", topic_path)

    call_until_ready(
        create, what=f"Pub/Sub to create topic {topic_path}", stop=stop, logger=logger, beat=beat
    )


def ensure_subscription(
    subscriber: pubsub_v1.SubscriberClient,
    request: dict[str, Any],
    *,
    stop: threading.Event,
    logger: logging.Logger,
    wait_for_topic: bool = False,
    beat: Callable[[str], None] | None = None,
) -> bool:
    """Create the subscription described by ``request`` unless one of that name exists;
    True if it was created.

    An existing subscription is kept as it is: its settings are not compared. It looks
    before it creates, so that a subscription Terraform made needs no permission to create
    one. With ``wait_for_topic``, a missing topic is waited for (another service creates
    it). Raises ``ShutdownRequested`` if ``stop`` is set while waiting.
    """

    def create() -> bool:
        try:
            subscriber.get_subscription(
                subscription=request["name"], retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
            )
        except exceptions.NotFound:
            pass
        else:
            logger.info("subscription %s already exists", request["name"])
            return False
        try:
            subscriber.create_subscription(
                request=request, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
            )
        except exceptions.AlreadyExists:
            logger.info("subscription %s already exists", request["name"])
            return False
        logger.info("created subscription %s", request["name"])
        return True

    retry_on: tuple[type[Exception], ...] = UNAVAILABLE
    what = f"Pub/Sub to create subscription {request['name']}"
    if wait_for_topic:
        retry_on = (*UNAVAILABLE, exceptions.NotFound)
        what = f"topic {request['topic']} before creating subscription {request['name']}"
    return call_until_ready(
        create, what=what, stop=stop, logger=logger, retry_on=retry_on, beat=beat
    )


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
