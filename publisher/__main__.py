import sys

from common.service import run_service
from publisher.config import PublisherConfig
from publisher.loop import run

sys.exit(run_service("publisher", PublisherConfig.from_env, run))
