import sys

from common.service import run_service
from publisher.config import PublisherConfig
from publisher.loop import run

if __name__ == "__main__":
    sys.exit(run_service("publisher", PublisherConfig.from_env, run))
