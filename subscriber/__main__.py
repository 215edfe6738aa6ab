"""``python -m subscriber``: read the mode's settings once, then run that mode."""

import sys
import threading

from common.service import main
from subscriber.config import SubscriberConfig, load
from subscriber.fanout.config import FanoutConfig
from subscriber.workqueue.config import WorkQueueConfig


def run(config: SubscriberConfig, stop: threading.Event, host: str) -> int:
    """Run the mode ``config`` is for; the exit status. Each mode's code is imported only
    when chosen: a fan-out replica never loads the sink's database driver."""
    if isinstance(config, FanoutConfig):
        from subscriber.fanout import replica  # noqa: PLC0415

        return replica.run(config, stop)
    if isinstance(config, WorkQueueConfig):
        from subscriber.workqueue import worker  # noqa: PLC0415

        return worker.run(config, stop)
    from subscriber.sink import sink  # noqa: PLC0415

    return sink.run(config, stop)


# Guarded: worker processes started with "spawn" import this module too.
if __name__ == "__main__":
    # A handler past its drain budget must not hold the exit (common.service.main).
    sys.exit(main("subscriber", load, run))
