"""Every documented setting, set on every service that reads the shared environment.

docs/configuration.md lists the settings; ``VALUES`` gives each a valid value other than
its default (so that it is really read), and a test that finds a documented setting
without one fails: the documentation and the test stay in step. Each run sets every
setting at once on one service (publisher, subscriber in each mode, dashboard), so each
also shows that a service ignores what does not apply to it; the runs differ only where
settings exclude each other (``PUBLISHER_MODE`` or ``PUBLISHER_SOURCE``, the
``SUBSCRIPTION_MODE``) and in ``TRACING`` (each exporter, as an image may lack one).

What a run must do: stop with exit status 2 and a line naming the setting it cannot
honour, or run (its main loop turning) and stop with 0 on SIGTERM; never a traceback.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.support import ROOT

CONFIGURATION = ROOT / "docs" / "configuration.md"
# Read by the compose files, not by the services.
COMPOSE_ONLY = "Compose only"
# What a service prints when it stops on a setting, and what it must never print.
CONFIG_ERROR = re.compile(r"configuration error: |needs Google Cloud credentials|cannot load")
TRACEBACK = "Traceback (most recent call last)"
PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUd2\n-----END CERTIFICATE-----\n"


def documented() -> set[str]:
    """The settings docs/configuration.md documents for the services."""
    found, section = set(), ""
    for line in CONFIGURATION.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:]
        elif section != COMPOSE_ONLY and (match := re.match(r"\| `([A-Z][A-Z0-9_]+)` \|", line)):
            found.add(match[1])
    return found


def make_files(folder: Path) -> None:
    """What the file settings point at, in ``folder`` (mounted read-only in Docker)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "password.txt").write_text("settings-test-password\n")
    (folder / "root.crt").write_text(PEM)
    shutil.copy(ROOT / "sa.json.example", folder / "sa.json")
    migrations = folder / "migrations"
    migrations.mkdir(exist_ok=True)
    (migrations / "0001_settings.sql").write_text("CREATE TABLE settings (message_id text);\n")
    for path in (folder, migrations):
        path.chmod(0o755)
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(0o644)


def values(files: str, heartbeat: str) -> dict[str, str]:
    """A valid, non-default value for every documented setting; ``files`` is where
    ``make_files`` put its files as the service sees them."""
    return {
        "GCP_PROJECT_ID": "settings-project",
        "PUBSUB_TOPIC": "settings-topic",
        "REPLICA_SUBSCRIPTIONS_PROJECT_ID": "settings-replicas",
        # PUBSUB_EMULATOR_HOST: the run's own (it decides what the service talks to).
        "GOOGLE_APPLICATION_CREDENTIALS": f"{files}/sa.json",
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
        "RETRY_MIN_BACKOFF_SECONDS": "1",
        "RETRY_MAX_BACKOFF_SECONDS": "5",
        # TRACING: the run's own.
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "HEARTBEAT_FILE": heartbeat,
        "METRICS": "prometheus",
        "METRICS_PORT": "0",
        # PUBLISHER_MODE or PUBLISHER_SOURCE: the run's own (they exclude each other).
        "PUBLISH_INTERVAL_SECONDS": "30",
        "PUBLISH_FLUSH_TIMEOUT_SECONDS": "2",
        # SUBSCRIPTION_MODE: the run's own.
        "DEAD_LETTER_TOPIC": "settings-dead-letter",
        "MAX_DELIVERY_ATTEMPTS": "7",
        "REPLICA_ID": "settings-replica",
        "SUBSCRIBER_MAX_MESSAGES": "50",
        "SUBSCRIBER_MAX_BYTES": "2097152",
        "MAX_LEASE_SECONDS": "120",
        "REPLAY_SECONDS": "900",
        "HANDLER": "subscriber.fanout.handler:log_channel",
        "HANDLER_THREADS": "2",
        "PULL_THREADS": "1",
        "RECEIPTS": "off",
        "RECEIPTS_TOPIC": "settings-receipts",
        "SUBSCRIPTION_ID": "settings-shared",
        "WORKER_PROCESSES": "1",
        "TASK_DEADLINE_SECONDS": "30",
        "ACK_DEADLINE_SECONDS": "20",
        "DRAIN_SECONDS": "1",
        "TASK_FUNCTION": "subscriber.workqueue.work:run_task",
        # A database nobody answers on: the sink holds on and retries, as in an outage.
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": "9",
        "POSTGRES_DB": "settings",
        "POSTGRES_USER": "settings_sink",
        "POSTGRES_PASSWORD_FILE": f"{files}/password.txt",
        "POSTGRES_MIGRATION_USER": "settings_owner",
        "POSTGRES_MIGRATION_PASSWORD_FILE": f"{files}/password.txt",
        "POSTGRES_SSLMODE": "verify-full",
        "POSTGRES_SSLROOTCERT": f"{files}/root.crt",
        "POSTGRES_CONNECT_TIMEOUT_SECONDS": "2",
        "SINK_BATCH_SIZE": "10",
        "DB_RETRY_MAX_SECONDS": "2",
        "SINK_ROW_MAPPER": "subscriber.sink.rows:reading_row",
        "SINK_MIGRATIONS": f"{files}/migrations",
        "DASHBOARD_ALLOWED_HOSTS": "localhost,127.0.0.1,dash.example",
        "DASHBOARD_ALLOWED_ORIGINS": "https://ops.example",
        "DASHBOARD_MAX_CLIENTS": "5",
        "DASHBOARD_MAX_CONNECTIONS_PER_ADDRESS": "8",
        "DASHBOARD_IDLE_TIMEOUT_SECONDS": "5",
        "DASHBOARD_MAX_REPLICAS": "8",
        "DASHBOARD_FRAMES_PER_SECOND": "5",
        "DASHBOARD_CLIENT_STALL_SECONDS": "5",
        "DASHBOARD_HISTORY": "20",
        "DASHBOARD_LISTEN_PORT": "8081",
    }


# Set by each run, not by ``values``.
PER_RUN = {
    "PUBSUB_EMULATOR_HOST",
    "TRACING",
    "PUBLISHER_MODE",
    "PUBLISHER_SOURCE",
    "SUBSCRIPTION_MODE",
}


@dataclass(frozen=True)
class Run:
    """One service started with every setting: ``image`` (publisher, subscriber or
    dashboard), its ``module`` and the run's own settings."""

    name: str
    image: str
    settings: dict[str, str]

    @property
    def module(self) -> str:
        return self.image


def runs() -> list[Run]:
    services = [
        ("publisher-mode", "publisher", {"PUBLISHER_MODE": "readings"}),
        ("publisher-source", "publisher", {"PUBLISHER_SOURCE": "publisher.sources:task_message"}),
        *(
            (f"subscriber-{mode}", "subscriber", {"SUBSCRIPTION_MODE": mode})
            for mode in ("per-replica", "shared", "sink")
        ),
        ("dashboard", "dashboard", {}),
    ]
    return [
        Run(f"{name}-{tracing}", image, {**settings, "TRACING": tracing})
        for name, image, settings in services
        for tracing in ("otlp", "cloud-trace")
    ]


def judge(run: Run, status: int, log: str, ran: bool) -> None:
    """The rule every run is held to: exit 0 after running, or 2 with a line naming
    what it cannot honour; no traceback either way."""
    assert TRACEBACK not in log, f"{run.name}: a traceback\n{log[-6000:]}"
    if ran:
        assert status == 0, f"{run.name}: exit {status} after SIGTERM\n{log[-6000:]}"
    else:
        assert status == 2, f"{run.name}: exit {status} before running\n{log[-6000:]}"
        assert CONFIG_ERROR.search(log), f"{run.name}: no line naming the setting\n{log[-3000:]}"
