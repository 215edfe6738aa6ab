"""``python -m ctl``: read the settings, run one subcommand, print, exit with its status."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Mapping, Sequence

from google.api_core import exceptions
from google.auth.exceptions import DefaultCredentialsError
from google.cloud import pubsub_v1

from common import logs
from common.config import ConfigError, read_resource_id
from common.outage import ADMIN_CALL_TIMEOUT_SECONDS
from common.pubsub import publisher_client, subscriber_client
from common.shutdown import stop_on_signals
from ctl import dead_letters, doctor, replay, replicas
from ctl.cli import parser
from ctl.config import CtlConfig
from ctl.holding import Holder
from ctl.output import FAILED, USAGE, Result, UsageError, emit
from ctl.republish import republish


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    """The exit status: 0 done, 1 failed (said why), 2 bad usage or setting (named)."""
    args = parser().parse_args(argv)  # bad usage: argparse says so and exits 2
    try:
        config = CtlConfig.from_env(env)
    except ConfigError as exc:
        print(f"python -m ctl: configuration error: {exc}", file=sys.stderr)
        return USAGE
    # The log (events, for scripts and tests: LOG_FORMAT=json) on stderr; answers on stdout.
    logs.configure(config.pubsub.log_level, config.pubsub.log_format, stream=sys.stderr)
    stop = stop_on_signals()
    try:
        result = run(args, config, stop)
    except UsageError as exc:
        print(f"python -m ctl: {exc}", file=sys.stderr)
        return USAGE
    except DefaultCredentialsError as exc:
        print(f"python -m ctl: no usable Google Cloud credentials: {exc}", file=sys.stderr)
        return USAGE
    except exceptions.GoogleAPICallError as exc:
        result = refused(exc, config)
    return emit(result, args.json)


def run(args: argparse.Namespace, config: CtlConfig, stop: threading.Event) -> Result:
    subscriber = subscriber_client(config.pubsub)
    publisher = publisher_client(config.pubsub)
    try:
        command = args.command
        if command == "replicas":
            return replicas.replicas(subscriber, config, args.listen)
        if command == "leftovers":
            return replicas.leftovers(
                subscriber, config, args.listen, delete=args.delete, force=args.force
            )
        if command == "dead-letters":
            return letters(args, config, subscriber, publisher, stop)
        if command == "replay":
            return replaying(args, config, subscriber, publisher)
        if command == "snapshot":
            return replay.create_snapshot(subscriber, config, args.name, args.replica)
        return doctor.doctor(subscriber, publisher, config, args.listen)
    finally:
        publisher.stop()
        subscriber.close()


def replaying(
    args: argparse.Namespace,
    config: CtlConfig,
    subscriber: pubsub_v1.SubscriberClient,
    publisher: pubsub_v1.PublisherClient,
) -> Result:
    targets = replay.targets(subscriber, config, args.replica)
    if args.since is not None:
        return replay.since(subscriber, publisher, config, args.since, targets)
    return replay.to_snapshot(subscriber, config, args.snapshot, targets)


def letters(
    args: argparse.Namespace,
    config: CtlConfig,
    subscriber: pubsub_v1.SubscriberClient,
    publisher: pubsub_v1.PublisherClient,
    stop: threading.Event,
) -> Result:
    target = config.pubsub.topic_path
    if args.action == "republish":  # usage first, before any dead letter is taken in hand
        if not args.ids and not args.all:
            raise UsageError("dead-letters republish: give dead-letter IDs, or --all")
        if args.to is not None:
            try:
                target = config.pubsub.topic_path_of(read_resource_id({"TO": args.to}, "TO", ""))
            except ConfigError as exc:
                raise UsageError(str(exc).replace("TO ", "--to ", 1)) from None
        named = "PUBSUB_TOPIC" if args.to is None else "--to"
        if not topic_exists(publisher, target):
            raise UsageError(f"{named}: no topic {target} to republish to")
    path = config.dead_letter_subscription
    try:
        holder = Holder(subscriber, path)
    except exceptions.NotFound:
        text = f"no dead-letter subscription {path}: no replica has run on this topic yet"
        return Result({"error": text}, text, FAILED)
    if args.action == "list":
        return dead_letters.list_command(holder, stop)
    if args.action == "show":
        return dead_letters.show_command(holder, stop, args.id)
    idle = args.wait if args.wait is not None else holder.lease_seconds + 2.0
    return republish(
        holder,
        publisher,
        target,
        stop,
        ids=args.ids or None,
        idle_seconds=idle if args.all else dead_letters.LOOK_IDLE_SECONDS,
        rate=args.rate,
    )


def topic_exists(publisher: pubsub_v1.PublisherClient, path: str) -> bool:
    """False only when Pub/Sub says there is no such topic: credentials that may publish
    but not get a topic (``pubsub.topics.get``) leave it to the publish to say."""
    try:
        publisher.get_topic(topic=path, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS)
    except exceptions.NotFound:
        return False
    except exceptions.PermissionDenied:
        pass
    return True


def refused(exc: exceptions.GoogleAPICallError, config: CtlConfig) -> Result:
    """A final answer from Pub/Sub, said plainly (exit 1)."""
    if isinstance(exc, exceptions.PermissionDenied | exceptions.Unauthenticated):
        text = f"Pub/Sub refused these credentials: {exc.message} (docs/operations.md, ctl)"
    elif isinstance(exc, exceptions.ServiceUnavailable | exceptions.DeadlineExceeded):
        text = f"Pub/Sub is not reachable ({config.pubsub.target}): {exc.message}"
    else:
        text = f"Pub/Sub refused: {type(exc).__name__}: {exc.message}"
    return Result({"error": text}, text, FAILED)


if __name__ == "__main__":
    sys.exit(main())
