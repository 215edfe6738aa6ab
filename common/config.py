"""Settings shared by every service, read once from the environment.

Every reader names the variable it rejects, so a bad deployment fails at start-up with a
message that says what to fix instead of failing later inside the client library.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from common.logs import LOG_FORMATS

# The project the emulator uses when none is given; the emulator accepts any ID.
EMULATOR_DEFAULT_PROJECT = "local-project"
DEFAULT_TOPIC = "channel"

# https://cloud.google.com/pubsub/docs/pubsub-basics#resource_names
_RESOURCE_ID = re.compile(r"[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}")
# https://cloud.google.com/resource-manager/docs/creating-managing-projects
_PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_HOST_PORT = re.compile(r"(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>[0-9]{1,5})")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# TRACING: off, or where spans go (common.tracing).
TRACING_MODES = ("off", "otlp", "cloud-trace")
# METRICS: how metrics leave the process (common.metrics): /metrics, OTLP, or not at all.
METRICS_MODES = ("prometheus", "otlp", "off")
# The port of /metrics: OpenTelemetry's Prometheus exporter's usual one. 0: any free port
# (several services on one host: the tests, the benchmarks).
DEFAULT_METRICS_PORT = 9464


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def read_str(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = env.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise ConfigError(f"{name} must be set")
    return default


N = TypeVar("N", int, float)


def _read_number(
    env: Mapping[str, str],
    name: str,
    default: N,
    *,
    parse: Callable[[str], N],
    kind: str,
    minimum: N,
    maximum: N,
) -> N:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from None
    if not minimum <= value <= maximum:  # also rejects nan
        raise ConfigError(
            f"{name} must be between {_exact(minimum)} and {_exact(maximum)}, got {raw!r}"
        )
    return value


def _exact(bound: float) -> str:
    """A bound as it may be typed: 2678400, not ``:g``'s 2.6784e+06 (nor its 6 digits)."""
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def read_float(
    env: Mapping[str, str], name: str, default: float, *, minimum: float, maximum: float
) -> float:
    return _read_number(
        env, name, default, parse=float, kind="a number", minimum=minimum, maximum=maximum
    )


def read_int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    return _read_number(
        env, name, default, parse=int, kind="a whole number", minimum=minimum, maximum=maximum
    )


def read_resource_id(env: Mapping[str, str], name: str, default: str) -> str:
    value = read_str(env, name, default)
    if not _RESOURCE_ID.fullmatch(value) or value.lower().startswith("goog"):
        raise ConfigError(
            f"{name} must be a Pub/Sub resource ID: 3-255 characters, starting with a letter, "
            f"of letters, digits and - _ . ~ + %, not starting with 'goog'; got {value!r}"
        )
    return value


def read_receipts_topic(env: Mapping[str, str], topic_id: str) -> str:
    """Where replicas publish receipts and the dashboard reads them: one setting for both."""
    return read_resource_id(env, "RECEIPTS_TOPIC", f"{topic_id}-receipts")


def read_dead_letter_topic(env: Mapping[str, str], topic_id: str) -> str:
    return read_resource_id(env, "DEAD_LETTER_TOPIC", f"{topic_id}-dead-letter")


# The longest a topic retains messages (31 days: common.resources), hence the furthest a
# replica can replay.
MAX_REPLAY_SECONDS = 31 * 86_400


def read_replay_seconds(env: Mapping[str, str]) -> int:
    """REPLAY_SECONDS: how far back a fan-out replica's new subscription is sought when
    it is created (0, the default: off), and so how long the topic must retain messages
    (``common.resources.retention_covering``). Raises ``ConfigError`` naming it."""
    return read_int(env, "REPLAY_SECONDS", 0, minimum=0, maximum=MAX_REPLAY_SECONDS)


def read_choice(env: Mapping[str, str], name: str, default: str, choices: Iterable[str]) -> str:
    """One of ``choices``, matched regardless of case and returned as spelled there."""
    by_lower = {choice.lower(): choice for choice in choices}
    value = read_str(env, name, default)
    if value.lower() not in by_lower:
        raise ConfigError(f"{name} must be one of {', '.join(by_lower.values())}, got {value!r}")
    return by_lower[value.lower()]


def read_key_file(env: Mapping[str, str]) -> str | None:
    """The service-account key's path, checked to be readable. Unset is fine: the client
    then finds credentials on its own (the metadata server, on Google Cloud)."""
    path = env.get("GOOGLE_APPLICATION_CREDENTIALS", "").strip()
    if not path:
        return None
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"GOOGLE_APPLICATION_CREDENTIALS={path} cannot be read ({exc.strerror}); "
            "a mounted key must be readable by the container's user (uid 10001)"
        ) from None
    return path


@dataclass(frozen=True)
class RetryPolicy:
    """How long Pub/Sub waits before redelivering a nacked message: exponential backoff
    from ``minimum_seconds`` to ``maximum_seconds`` (Pub/Sub allows 0 to 600), so a
    transient failure gets time to pass before the dead-letter topic takes the message.
    https://cloud.google.com/pubsub/docs/handling-failures#exponential_backoff
    """

    minimum_seconds: float = 10.0
    maximum_seconds: float = 600.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RetryPolicy:
        """Reads RETRY_MIN_BACKOFF_SECONDS and RETRY_MAX_BACKOFF_SECONDS."""
        minimum = read_float(env, "RETRY_MIN_BACKOFF_SECONDS", 10.0, minimum=0, maximum=600)
        maximum = read_float(env, "RETRY_MAX_BACKOFF_SECONDS", 600.0, minimum=0, maximum=600)
        if maximum < minimum:
            raise ConfigError(
                f"RETRY_MAX_BACKOFF_SECONDS must be at least RETRY_MIN_BACKOFF_SECONDS "
                f"({minimum:g}), got {maximum:g}"
            )
        return cls(minimum, maximum)


@dataclass(frozen=True)
class PubSubConfig:
    """Where the stack's topic lives: real Pub/Sub, or the emulator when its host is set."""

    project_id: str
    topic_id: str
    emulator_host: str | None
    # The key file the client library loads (it reads the variable itself); None with
    # the emulator, which needs no credentials.
    key_file: str | None
    log_level: str
    # "text" for people, "json" for Cloud Logging (common.logs).
    log_format: str = "text"
    # The retry policy of every subscription the service creates.
    retry_policy: RetryPolicy = RetryPolicy()
    # "off", or where the spans go: "otlp" (any collector) or "cloud-trace".
    tracing: str = "off"
    # "prometheus" (/metrics on metrics_port), "otlp" (to any collector) or "off".
    metrics: str = "prometheus"
    metrics_port: int = DEFAULT_METRICS_PORT
    # Where the subscriptions one process owns (a fan-out replica's, its identity claim,
    # the dashboard's) are created; None: project_id. A project of their own keeps their
    # wide grants away from the durable subscriptions (deploy/terraform).
    replica_subscriptions_project_id: str | None = None

    @property
    def topic_path(self) -> str:
        return self.topic_path_of(self.topic_id)

    def topic_path_of(self, topic_id: str) -> str:
        return f"projects/{self.project_id}/topics/{topic_id}"

    def subscription_path(self, subscription_id: str) -> str:
        return f"projects/{self.project_id}/subscriptions/{subscription_id}"

    def owned_subscription_path(self, subscription_id: str) -> str:
        """The path of a subscription one process owns, in the replicas' project."""
        project = self.replica_subscriptions_project_id or self.project_id
        return f"projects/{project}/subscriptions/{subscription_id}"

    @property
    def target(self) -> str:
        """Where requests go, for the start-up log line."""
        return f"emulator at {self.emulator_host}" if self.emulator_host else "Google Cloud Pub/Sub"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PubSubConfig:
        # The client library itself reads PUBSUB_EMULATOR_HOST; it is validated here so a
        # typo fails fast instead of sending the stack to real Google Cloud by surprise.
        emulator_host = env.get("PUBSUB_EMULATOR_HOST", "").strip() or None
        if emulator_host is not None:
            match = _HOST_PORT.fullmatch(emulator_host)
            if not match or not 0 < int(match["port"]) < 65536:
                raise ConfigError(
                    "PUBSUB_EMULATOR_HOST must be host:port (e.g. emulator:8085), "
                    f"got {emulator_host!r}"
                )
            project_id = read_str(env, "GCP_PROJECT_ID", EMULATOR_DEFAULT_PROJECT)
            key_file = None
        else:
            try:
                project_id = read_str(env, "GCP_PROJECT_ID")
            except ConfigError:
                raise ConfigError(
                    "GCP_PROJECT_ID must be set when PUBSUB_EMULATOR_HOST is not "
                    "(without the emulator, the stack talks to real Google Cloud Pub/Sub)"
                ) from None
            key_file = read_key_file(env)
        replica_project = env.get("REPLICA_SUBSCRIPTIONS_PROJECT_ID", "").strip() or None
        for name, value in (
            ("GCP_PROJECT_ID", project_id),
            ("REPLICA_SUBSCRIPTIONS_PROJECT_ID", replica_project),
        ):
            if value is not None and not _PROJECT_ID.fullmatch(value):
                raise ConfigError(
                    f"{name} must be a Google Cloud project ID: 6-30 lowercase letters, "
                    f"digits and hyphens, starting with a letter; got {value!r}"
                )
        return cls(
            project_id=project_id,
            topic_id=read_resource_id(env, "PUBSUB_TOPIC", DEFAULT_TOPIC),
            emulator_host=emulator_host,
            key_file=key_file,
            log_level=read_choice(env, "LOG_LEVEL", "INFO", _LOG_LEVELS),
            log_format=read_choice(env, "LOG_FORMAT", "text", LOG_FORMATS),
            retry_policy=RetryPolicy.from_env(env),
            tracing=read_choice(env, "TRACING", "off", TRACING_MODES),
            metrics=read_choice(env, "METRICS", "prometheus", METRICS_MODES),
            metrics_port=read_int(
                env, "METRICS_PORT", DEFAULT_METRICS_PORT, minimum=0, maximum=65535
            ),
            replica_subscriptions_project_id=replica_project,
        )
