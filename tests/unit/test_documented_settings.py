"""The documented-settings test (tests/support/settings.py) knows every setting
docs/configuration.md documents, and nothing else."""

from tests.support.settings import PER_RUN, documented, runs, values


def test_every_documented_setting_has_a_value_to_run_with() -> None:
    given = set(values("/files", "/tmp/heartbeat")) | PER_RUN
    assert documented() - given == set(), "documented, but no run sets it"
    assert given - documented() == set(), "set by the runs, but documented nowhere"


def test_every_service_and_mode_and_exporter_is_run() -> None:
    names = {run.name for run in runs()}
    for service in ("publisher-mode", "publisher-source", "dashboard"):
        assert {f"{service}-otlp", f"{service}-cloud-trace"} <= names
    for mode in ("per-replica", "shared", "sink"):
        assert f"subscriber-{mode}-otlp" in names
