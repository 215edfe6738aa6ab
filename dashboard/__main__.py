import sys

from common.service import main
from dashboard.config import DashboardConfig
from dashboard.server import run

if __name__ == "__main__":
    # The dashboard makes no spans (its image carries no exporter): it ignores TRACING.
    sys.exit(main("dashboard", DashboardConfig.from_env, run, traces=False))
