import sys

from common.service import main
from publisher.config import PublisherConfig
from publisher.loop import run

if __name__ == "__main__":
    sys.exit(main("publisher", PublisherConfig.from_env, run))
