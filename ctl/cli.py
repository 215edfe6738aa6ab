"""The command line: subcommands, their options, and help that reads like the docs."""

from __future__ import annotations

import argparse
from datetime import timedelta

from common.config import MAX_REPLAY_SECONDS
from ctl.durations import parse_duration
from ctl.listening import LISTEN_SECONDS

DESCRIPTION = """\
Operate the fan-out stack: its replicas, their leftovers, the dead letters, replay.

Reads the services' own settings from the environment (PUBSUB_TOPIC, GCP_PROJECT_ID,
PUBSUB_EMULATOR_HOST or GOOGLE_APPLICATION_CREDENTIALS, DEAD_LETTER_TOPIC, RECEIPTS_TOPIC,
REPLICA_SUBSCRIPTIONS_PROJECT_ID, REPLAY_SECONDS), so it works on whatever they run on:
the emulator or Google Cloud. In compose: docker compose run --rm ctl <command>."""

EPILOG = """\
exit status: 0 done; 1 a check failed or some work was not done (the output says what);
2 bad usage or a bad setting (named).

recipes (docs/operations.md):
  who is running?               python -m ctl replicas
  clean up after lost replicas  python -m ctl leftovers --delete
  what failed?                  python -m ctl dead-letters list
  send it again after a fix     python -m ctl dead-letters republish --all
  undo a bad deploy             python -m ctl snapshot create before-deploy   (before)
                                python -m ctl replay --snapshot before-deploy --all
  replay the last half hour     python -m ctl replay --since 30m --all
  is everything in place?       python -m ctl doctor"""


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r:.40} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r:.40}: must be more than 0")
    return value


def _listen(text: str) -> float:
    value = float(text) if text.replace(".", "", 1).isdigit() else -1.0
    if not 0 <= value <= 300:
        raise argparse.ArgumentTypeError(f"{text!r:.40}: seconds from 0 to 300")
    return value


def _since(text: str) -> object:
    # Pub/Sub retains messages 31 days at most: a seek further back reaches nothing more.
    try:
        return parse_duration(text, timedelta(seconds=MAX_REPLAY_SECONDS))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m ctl",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--json", action="store_true", help="print JSON, for scripts")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listen = argparse.ArgumentParser(add_help=False)
    listen.add_argument(
        "--listen",
        type=_listen,
        default=LISTEN_SECONDS,
        metavar="SECONDS",
        help=f"how long to hear the replicas' receipts (default {LISTEN_SECONDS:g}: "
        "three announcements; 0: not at all)",
    )
    commands.add_parser(
        "replicas",
        parents=[listen],
        help="the replicas: claims, subscriptions, last receipts",
        description="Every replica Pub/Sub knows of: its identity claim (on <topic>-replicas), "
        "its subscription (<topic>-<replica>) and its last receipt heard. live: heard; "
        "silent: not heard (gone, or cut off); left: it said goodbye.",
    )
    left = commands.add_parser(
        "leftovers",
        parents=[listen],
        help="claims and subscriptions of replicas that are gone",
        description="The claims and subscriptions of replicas not heard while listening, "
        "and this command's own temporary subscriptions an interrupted run left. Claims "
        "never expire: they stay until deleted here.",
    )
    left.add_argument("--delete", action="store_true", help="delete them")
    left.add_argument(
        "--force", action="store_true", help="delete even when no receipt at all was heard"
    )

    letters = commands.add_parser(
        "dead-letters", help="list, show or republish dead letters"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    letters.add_parser(
        "list", help="every dead letter, with where it failed and after how many attempts"
    )
    show = letters.add_parser("show", help="one dead letter in full: attributes and data")
    show.add_argument("id", metavar="ID", help="its ID, as listed")
    again = letters.add_parser(
        "republish",
        help="publish dead letters again, each acked once its republish is confirmed",
        description="Publish dead letters to the topic again (or --to another), with the "
        "attribute republished_from=<dead letter ID>. Each is acked only after Pub/Sub "
        "confirmed its republish: an interrupted run loses nothing, and a rerun does the "
        "rest. Fan-out copies of one message (one per replica) are republished once.",
    )
    which = again.add_mutually_exclusive_group()
    which.add_argument("ids", nargs="*", default=[], metavar="ID", help="dead letters by ID")
    which.add_argument("--all", action="store_true", help="every dead letter")
    again.add_argument("--to", metavar="TOPIC", help="another topic ID (default: PUBSUB_TOPIC)")
    again.add_argument(
        "--rate", type=_positive, metavar="N", help="at most N a second (default: no limit)"
    )
    again.add_argument(
        "--wait",
        type=_listen,
        metavar="SECONDS",
        help="with --all, stop once none came for this long (default: the subscription's "
        "ack deadline, so dead letters an interrupted run held come back in time)",
    )

    replay = commands.add_parser(
        "replay",
        help="seek replicas' subscriptions back: to a time or a snapshot",
        description="Seek subscriptions back: what the topic retains from then on is "
        "delivered again (handlers see redeliveries). On Google Cloud, acked messages come "
        "back only within the topic's retention (REPLAY_SECONDS on the publisher).",
    )
    point = replay.add_mutually_exclusive_group(required=True)
    point.add_argument(
        "--since", type=_since, metavar="DURATION", help="e.g. 30m, 2h, 1d (at most 31d)"
    )
    point.add_argument("--snapshot", metavar="NAME", help="a snapshot made by `snapshot create`")
    whose = replay.add_mutually_exclusive_group(required=True)
    whose.add_argument("--replica", metavar="ID", help="one replica's subscription")
    whose.add_argument("--all", action="store_true", help="every replica's subscription")

    snapshot = commands.add_parser("snapshot", help="create a snapshot to replay to later")
    create = snapshot.add_subparsers(dest="action", required=True, metavar="ACTION").add_parser(
        "create",
        help="a snapshot of a replica's subscription (kept up to 7 days)",
        description="Record a replica's acknowledgement state, e.g. before a deploy; "
        "`replay --snapshot NAME --all` brings every replica back to it.",
    )
    create.add_argument("name", metavar="NAME", help="the snapshot's name")
    create.add_argument("--replica", metavar="ID", help="whose subscription (default: the first)")

    commands.add_parser(
        "doctor",
        parents=[listen],
        help="check Pub/Sub, the topics and subscriptions, the key, permissions, clocks",
        description="Pub/Sub reachable; every topic and subscription the stack owns present "
        "with the settings its service declares; the key file readable by its owner only; "
        "on Google Cloud, each service's permissions (testIamPermissions, with these "
        "credentials); the clocks against Pub/Sub's publish times.",
    )
    return top
