import sys

from common.service import run_service
from subscriber.config import SubscriberConfig
from subscriber.lifecycle import run

# Guarded: worker processes started with "spawn" import this module too.
if __name__ == "__main__":
    sys.exit(run_service("subscriber", SubscriberConfig.from_env, run))
