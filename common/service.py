"""The entry point every service shares: settings, logging, signals, exit status."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

from google.api_core import exceptions
from google.auth.exceptions import DefaultCredentialsError

from common import logs, metrics, tracing
from common.config import ConfigError, PubSubConfig
from common.provision import ProvisioningConflict
from common.shutdown import exit_now_if_stuck, stop_on_signals

log = logging.getLogger(__name__)

# Exit status for a bad setting or key; a restart cannot fix it, unlike a crash's 1.
EXIT_CONFIG_ERROR = 2


class ServiceConfig(Protocol):
    @property
    def pubsub(self) -> PubSubConfig: ...


C = TypeVar("C", bound=ServiceConfig)


def main(
    name: str,
    load_config: Callable[[Mapping[str, str]], C],
    run: Callable[[C, threading.Event, str], int],
    *,
    traces: bool = True,
) -> int:
    """``run_service``, then out as every service leaves: with its exit status, without
    waiting for a thread it does not own (your code's, a stuck call:
    ``common.shutdown.exit_now_if_stuck``). An error nothing in the service handled is
    logged with its traceback, exit status 1: a crash, for the restart policy to see."""
    try:
        status = run_service(name, load_config, run, traces=traces)
    except Exception:
        logging.getLogger(name).critical("%s crashed", name, exc_info=True)
        status = 1
    return exit_now_if_stuck(status)


def run_service(
    name: str,
    load_config: Callable[[Mapping[str, str]], C],
    run: Callable[[C, threading.Event, str], int],
    *,
    traces: bool = True,
) -> int:
    """Run service ``name``: its settings (exit 2 naming a bad one), logging, tracing
    (``traces=False``: a service that makes no spans ignores TRACING, saying so), then
    ``run`` until it returns its exit status."""
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        # The format asked for, if it is one, so that even this line is machine-readable.
        wanted = os.environ.get("LOG_FORMAT", "").strip().lower()
        logs.configure("INFO", wanted if wanted in logs.LOG_FORMATS else "text")
        log.critical("configuration error: %s", exc, extra=logs.fields(event="configuration error"))
        return EXIT_CONFIG_ERROR
    logs.configure(config.pubsub.log_level, config.pubsub.log_format)
    logs.set_context(service=name)
    stop = stop_on_signals()
    host = socket.gethostname()
    log.info(
        "%s starting on host %s, talking to %s",
        name,
        host,
        config.pubsub.target,
        extra=logs.fields(event="starting", host=host, target=config.pubsub.target),
    )
    try:
        if traces:
            tracing.configure(config.pubsub.tracing, name, config.pubsub.project_id)
        elif config.pubsub.tracing != "off":
            log.info(
                "TRACING=%s does not apply to the %s: it makes no spans",
                config.pubsub.tracing,
                name,
            )
        metrics.configure(config.pubsub.metrics, name, config.pubsub.metrics_port, host)
    except DefaultCredentialsError as exc:
        log.critical("TRACING=cloud-trace needs Google Cloud credentials: %s", exc)
        return EXIT_CONFIG_ERROR
    except (ConfigError, metrics.MetricsPortError) as exc:
        log.critical("configuration error: %s", exc)
        return EXIT_CONFIG_ERROR
    try:
        return run(config, stop, host)
    except (
        ConfigError,
        DefaultCredentialsError,
        ProvisioningConflict,
        exceptions.GoogleAPICallError,
    ) as exc:
        return _refused(config.pubsub, exc)
    finally:
        tracing.shutdown()
        metrics.shutdown()


def _refused(pubsub: PubSubConfig, exc: Exception) -> int:
    """The line and exit status for what stopped a service that a restart cannot mend (2),
    or may (1): a final answer from Pub/Sub."""
    if isinstance(exc, DefaultCredentialsError):
        # Only without the emulator: a malformed key, or no credentials to be found.
        source = pubsub.key_file or "the environment (GOOGLE_APPLICATION_CREDENTIALS unset)"
        log.critical(
            "cannot load Google Cloud credentials from %s: %s",
            source,
            exc,
            extra=logs.fields(event="credentials unreadable", source=source),
        )
    elif isinstance(exc, exceptions.PermissionDenied | exceptions.Unauthenticated):
        log.critical(
            "Pub/Sub refused the service's credentials: %s "
            "(docs/google-cloud.md lists the roles each service needs)",
            exc,
        )
    elif isinstance(exc, ConfigError):  # a setting found wrong only once used
        log.critical("configuration error: %s", exc, extra=logs.fields(event="configuration error"))
    elif isinstance(exc, ProvisioningConflict):
        conflict = logs.fields(
            event="provisioning conflict", subscription=exc.subscription, field=exc.field
        )
        log.critical("%s", exc, extra=conflict)
    else:
        log.critical("Pub/Sub refused for good: %s: %s", type(exc).__name__, exc)
        return 1
    return EXIT_CONFIG_ERROR
