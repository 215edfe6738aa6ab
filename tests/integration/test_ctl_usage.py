"""``python -m ctl``'s bad usage, as a newcomer typed it: each exits 2 naming what is
wrong, never a traceback, and never a flag that was not given."""

from __future__ import annotations

import pytest

from tests.integration.ctl_runs import ctl

pytestmark = pytest.mark.integration


def test_a_bad_snapshot_name_is_named_before_any_replica_is_looked_for(
    emulator_host: str, topic: str
) -> None:
    done = ctl(emulator_host, topic, "snapshot", "create", "bad name")
    assert done.returncode == 2, done.stderr
    assert "the snapshot name must be a Pub/Sub resource ID" in done.stderr


def test_a_snapshot_with_no_replica_running_says_so_without_a_flag_not_given(
    emulator_host: str, topic: str
) -> None:
    done = ctl(emulator_host, topic, "snapshot", "create", "before-deploy")
    assert done.returncode == 2, done.stderr
    assert f"no replica subscription on projects/local-project/topics/{topic}" in done.stderr
    assert "--all" not in done.stderr


@pytest.mark.parametrize("since", ["800000d", "9" * 25])
def test_a_duration_past_what_pubsub_retains_is_refused_naming_since(
    emulator_host: str, topic: str, since: str
) -> None:
    done = ctl(emulator_host, topic, "replay", "--since", since, "--all")
    assert done.returncode == 2, done.stderr
    assert "argument --since" in done.stderr
    assert "at most 31d" in done.stderr
    assert "Traceback" not in done.stderr
