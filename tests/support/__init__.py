"""Machinery the tests and the benchmarks share: real peers, run for real.

- ``emulator``: Google's Pub/Sub emulator on a loopback port;
- ``postgres``: a private PostgreSQL server from Debian's binaries;
- ``processes``: a service run as its container runs it (``python -m <service>``);
- ``compose``: the compose stack in a Docker Engine;
- ``held_pulls``: a gRPC proxy before the emulator that holds idle unary pulls to their
  deadline, as Google Cloud does;
- ``environment``, ``waiting``, ``logs``: a clean environment, polling with a deadline,
  reading the services' logs.

Nothing here imports pytest: a missing machine raises its own ``...Unavailable`` error,
which the tests turn into a skip (or a failure in CI) and the benchmarks into an exit.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
