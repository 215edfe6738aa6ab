"""A clean environment for the processes the tests and benchmarks start."""

from __future__ import annotations

import os

# The stack's own settings: a developer's shell may hold any of them, and a test's
# service must see only what the test gives it.
STACK_PREFIXES = (
    "PUBSUB_",
    "GCP_",
    "GOOGLE_",
    "PUBLISH_",
    "COMPOSE_",
    "TASK_",
    "READINGS_",
    "POSTGRES_",
    "DASHBOARD_",
    "SUBSCRIPTION_",
    "RECEIPTS",
    "LOG_",
    "TRACING",
    "OTEL_",
    "METRICS",
    # The images' tag and labels (docker-compose.yml), and the seams' settings.
    "VERSION",
    "REVISION",
    "SOURCE_URL",
    "HANDLER",
    "TASK_FUNCTION",
    "SINK_",
)


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without the stack's settings, plus ``settings``; metrics
    on any free port unless ``settings`` say otherwise (several services share the host)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(STACK_PREFIXES)}
    env["METRICS_PORT"] = "0"
    env.update(settings)
    return env
