"""Pub/Sub clients, for Google Cloud or the emulator, their channels set up alike."""

from __future__ import annotations

from typing import Any, TypeVar

import grpc
from google.cloud import pubsub_v1
from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport
from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

from common.config import PubSubConfig

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
