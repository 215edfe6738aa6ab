import sys

from common.service import run_service
from subscriber.config import SubscriberConfig
from subscriber.lifecycle import run

sys.exit(run_service("subscriber", SubscriberConfig.from_env, run))
