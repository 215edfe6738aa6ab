"""The subscriber's settings: one complete settings object per mode, chosen once.

``SUBSCRIPTION_MODE`` picks the mode; the result is a tagged union whose tag is the
class, so code given a ``SinkConfig`` has every sink setting and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from common.config import read_choice
from subscriber.fanout.config import FanoutConfig
from subscriber.sink.config import SinkConfig
from subscriber.workqueue.config import WorkQueueConfig

SubscriberConfig = FanoutConfig | WorkQueueConfig | SinkConfig

# SUBSCRIPTION_MODE values: a subscription per replica (fan-out), one shared by
# competing workers (work queue), one shared by sinks storing into PostgreSQL.
MODES: dict[str, Callable[[Mapping[str, str]], SubscriberConfig]] = {
    "per-replica": FanoutConfig.from_env,
    "shared": WorkQueueConfig.from_env,
    "sink": SinkConfig.from_env,
}


def load(env: Mapping[str, str]) -> SubscriberConfig:
    """The chosen mode's settings; raises ``ConfigError`` naming the first bad variable."""
    return MODES[read_choice(env, "SUBSCRIPTION_MODE", "per-replica", MODES)](env)
