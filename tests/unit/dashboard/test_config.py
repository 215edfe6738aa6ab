import pytest

from common.config import ConfigError
from dashboard.config import DashboardConfig

EMULATOR = {"PUBSUB_EMULATOR_HOST": "localhost:8085"}


def test_defaults() -> None:
    config = DashboardConfig.from_env(EMULATOR)
    assert config.receipts_topic_id == "channel-receipts"
    assert config.dead_letter_topic_id == "channel-dead-letter"
    assert config.listen_port == 8080
    assert config.allowed_origins == (), "same-origin only by default"
    assert (config.max_clients, config.history) == (20, 50)
    assert (config.frames_per_second, config.client_stall_seconds) == (10, 10.0)


def test_origins_are_listed_or_any() -> None:
    env = {**EMULATOR, "DASHBOARD_ALLOWED_ORIGINS": "http://a.example:8080/, https://b.example"}
    config = DashboardConfig.from_env(env)
    assert config.allowed_origins == ("http://a.example:8080", "https://b.example")
    any_origin = DashboardConfig.from_env({**EMULATOR, "DASHBOARD_ALLOWED_ORIGINS": "*"})
    assert any_origin.allowed_origins == ("*",)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DASHBOARD_ALLOWED_ORIGINS", "a.example"),
        ("DASHBOARD_ALLOWED_ORIGINS", "ftp://a.example"),
        ("DASHBOARD_ALLOWED_ORIGINS", "http://a.example/path"),
        ("DASHBOARD_MAX_CLIENTS", "0"),
        ("DASHBOARD_FRAMES_PER_SECOND", "many"),
        ("DASHBOARD_FRAMES_PER_SECOND", "100"),
        ("DASHBOARD_CLIENT_STALL_SECONDS", "0"),
        ("DASHBOARD_HISTORY", "100000"),
        ("DASHBOARD_LISTEN_PORT", "70000"),
        ("RECEIPTS_TOPIC", "goog-receipts"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        DashboardConfig.from_env({**EMULATOR, name: value})


def test_security_defaults() -> None:
    config = DashboardConfig.from_env(EMULATOR)
    assert config.allowed_hosts == ("localhost", "127.0.0.1", "[::1]"), "loopback names only"
    assert (config.max_replicas, config.max_connections_per_address) == (32, 16)
    assert config.idle_timeout_seconds == 10


def test_allowed_hosts_are_names_patterns_or_any() -> None:
    env = {**EMULATOR, "DASHBOARD_ALLOWED_HOSTS": "Dash.Example.com, *.corp.example,10.0.0.5,[::1]"}
    config = DashboardConfig.from_env(env)
    assert config.allowed_hosts == ("dash.example.com", "*.corp.example", "10.0.0.5", "[::1]")
    any_host = DashboardConfig.from_env({**EMULATOR, "DASHBOARD_ALLOWED_HOSTS": "*"})
    assert any_host.allowed_hosts == ("*",)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DASHBOARD_ALLOWED_HOSTS", "http://dash.example"),
        ("DASHBOARD_ALLOWED_HOSTS", "dash.example:8080"),
        ("DASHBOARD_ALLOWED_HOSTS", "*dash.example"),
        ("DASHBOARD_ALLOWED_HOSTS", "dash.example/path"),
        ("DASHBOARD_MAX_REPLICAS", "0"),
        ("DASHBOARD_MAX_CONNECTIONS_PER_ADDRESS", "0"),
        ("DASHBOARD_IDLE_TIMEOUT_SECONDS", "0.5"),
        ("DASHBOARD_IDLE_TIMEOUT_SECONDS", "601"),
    ],
)
def test_bad_security_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        DashboardConfig.from_env({**EMULATOR, name: value})


def test_metrics_and_the_live_view_cannot_share_a_port() -> None:
    env = {"PUBSUB_EMULATOR_HOST": "localhost:8085", "METRICS_PORT": "8080"}
    with pytest.raises(ConfigError, match="METRICS_PORT and DASHBOARD_LISTEN_PORT"):
        DashboardConfig.from_env(env)
    assert DashboardConfig.from_env({**env, "METRICS": "off"}).listen_port == 8080
