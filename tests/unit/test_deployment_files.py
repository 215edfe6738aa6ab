"""The compose files, Dockerfiles and ignore files keep the promises the README makes.

These read the files; tests/e2e runs them for real.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("publisher", "subscriber", "dashboard", "ctl")
# Build argument -> the OCI annotation it fills.
LABEL_ARGS = {"VERSION": "version", "REVISION": "revision", "SOURCE_URL": "source"}
IMAGES = {"Dockerfile-Pub": "publisher", "Dockerfile-Sub": "subscriber",
          "Dockerfile-Dashboard": "dashboard"}  # fmt: skip


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load("docker-compose.yml")


@pytest.fixture(scope="module")
def compose_gcp() -> dict[str, Any]:
    return load("docker-compose.gcp.yml")


def test_compose_files_follow_the_compose_specification(
    compose: dict[str, Any], compose_gcp: dict[str, Any]
) -> None:
    for data in (compose, compose_gcp):
        assert "version" not in data, "the Compose Specification has no version key"
        for name, service in data["services"].items():
            assert "stop_grace_period" in service, f"{name}: set stop_grace_period on purpose"
            assert not service.get("tty"), f"{name}: no tty tricks"
            assert not service.get("stdin_open"), f"{name}: no stdin tricks"
            assert "container_name" not in service, f"{name}: a fixed name prevents --scale"


def test_emulator_is_official_pinned_and_health_checked(compose: dict[str, Any]) -> None:
    emulator = compose["services"]["emulator"]
    assert re.fullmatch(
        r"gcr\.io/google\.com/cloudsdktool/google-cloud-cli:\d+\.\d+\.\d+-emulators",
        emulator["image"],
    )
    assert emulator["healthcheck"]["test"][0] == "CMD"
    assert "--host-port=0.0.0.0:8085" in emulator["command"][-1]
    # Its log settings are mounted where its JVM options say.
    (mount,) = emulator["volumes"]
    source, target, mode = mount.split(":")
    assert (ROOT / source).is_file()
    assert mode == "ro"
    assert f"config.file={target}" in emulator["environment"]["CLOUD_PUBSUB_EMULATOR_OPTS"]


def test_apps_wait_for_a_healthy_emulator(compose: dict[str, Any]) -> None:
    apps = set(compose["services"]) - {"emulator", "postgres", "prometheus", "grafana"}
    assert apps == {*APP_SERVICES, "task-publisher", "worker", "readings-publisher", "sink"}
    for name in apps:
        assert compose["services"][name]["environment"]["PUBSUB_EMULATOR_HOST"] == "emulator:8085"
    for name in apps - {"task-publisher", "readings-publisher", "sink"}:
        service = compose["services"][name]
        assert service["depends_on"] == {"emulator": {"condition": "service_healthy"}}
    assert compose["services"]["subscriber"]["deploy"]["replicas"] >= 2
    assert compose["services"]["worker"]["deploy"]["replicas"] == 3
    assert compose["services"]["worker"]["environment"]["SUBSCRIPTION_MODE"] == "shared"
    # Tasks are published once the workers have created the queue.
    task_publisher = compose["services"]["task-publisher"]
    assert task_publisher["depends_on"] == {"worker": {"condition": "service_healthy"}}
    for demo in ("task-publisher", "worker"):
        assert compose["services"][demo]["profiles"] == ["workqueue"], "not started by default"


def test_observability_runs_pinned_official_images_in_profiles_of_their_own(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert services["prometheus"]["image"].startswith("prom/prometheus:v")
    assert services["prometheus"]["profiles"] == ["observability"]
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    assert services["grafana"]["profiles"] == ["grafana"]
    for name in ("prometheus", "grafana"):
        assert services[name]["image"].split(":")[1] != "latest", name
        assert "healthcheck" in services[name], name


def test_sink_demo_stores_in_a_pinned_health_checked_postgres(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for demo in ("readings-publisher", "sink", "postgres"):
        assert services[demo]["profiles"] == ["sink"], "not started by default"
    postgres, sink = services["postgres"], services["sink"]
    assert re.fullmatch(r"postgres:\d+\.\d+-\w+", postgres["image"]), "official, pinned"
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    volume = postgres["volumes"][0]
    name, mount = volume.split(":")
    assert name in compose["volumes"], "data in a named volume"
    assert mount == "/var/lib/postgresql/data"
    assert sink["environment"]["SUBSCRIPTION_MODE"] == "sink"
    assert sink["depends_on"] == {
        "emulator": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    # Readings are published once the sink has created the durable subscription.
    publisher = services["readings-publisher"]
    assert publisher["depends_on"] == {"sink": {"condition": "service_healthy"}}
    assert publisher["environment"]["PUBLISHER_MODE"] == "readings"
    assert publisher["environment"]["PUBSUB_TOPIC"] == sink["environment"]["PUBSUB_TOPIC"]
    # Three roles, each password a secret file, never a plain variable: the superuser's for
    # the database alone; the sink writes as the runtime role and migrates as the owner,
    # both made by the project's roles script on an empty volume.
    db, env = postgres["environment"], sink["environment"]
    assert (db["POSTGRES_USER"], db["POSTGRES_DB"]) == ("postgres", env["POSTGRES_DB"])
    assert db["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres-admin-password"
    assert (env["POSTGRES_USER"], env["POSTGRES_MIGRATION_USER"]) == (
        db["SINK_USER"],
        db["SINK_MIGRATION_USER"],
    )
    assert env["POSTGRES_PASSWORD_FILE"] == db["SINK_PASSWORD_FILE"]
    assert env["POSTGRES_MIGRATION_PASSWORD_FILE"] == db["SINK_MIGRATION_PASSWORD_FILE"]
    assert "postgres-admin-password" not in sink["secrets"], "never the superuser's"
    for service in (postgres, sink):
        assert "POSTGRES_PASSWORD" not in service["environment"]
        for secret in service["secrets"]:
            files = [v for k, v in service["environment"].items() if k.endswith("_FILE")]
            assert f"/run/secrets/{secret}" in files
    assert "./deploy/postgres/initdb.d:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    for secret in compose["secrets"].values():
        assert (ROOT / secret["file"]).read_text().strip(), "the demo password files"
    assert env["POSTGRES_SSLMODE"] == "${POSTGRES_SSLMODE:-prefer}"


def test_gcp_file_runs_the_same_services_without_the_emulator(
    compose: dict[str, Any], compose_gcp: dict[str, Any]
) -> None:
    assert set(compose_gcp["services"]) == set(APP_SERVICES)
    for name in APP_SERVICES:
        local, gcp = compose["services"][name], compose_gcp["services"][name]
        for key in ("build", "deploy", "restart", "stop_grace_period", "read_only", "cap_drop"):
            assert local.get(key) == gcp.get(key), f"{name}.{key} differs between the files"
        assert "depends_on" not in gcp
        assert "PUBSUB_EMULATOR_HOST" not in gcp["environment"]
        assert set(local["environment"]) - {"PUBSUB_EMULATOR_HOST"} == set(gcp["environment"]) - {
            "GOOGLE_APPLICATION_CREDENTIALS",
            "REPLICA_SUBSCRIPTIONS_PROJECT_ID",
        }
        assert gcp["environment"]["LOG_FORMAT"] == "${LOG_FORMAT:-json}", "Cloud Logging's"
        (secret,) = gcp["secrets"]
        target = f"/run/secrets/{secret['target']}"
        assert gcp["environment"]["GOOGLE_APPLICATION_CREDENTIALS"] == target
        assert compose_gcp["secrets"][secret["source"]] == {"file": f"./sa-{name}.json"}
    # The subscriptions a process owns, each account's in a project of its own.
    services = compose_gcp["services"]
    assert services["subscriber"]["environment"]["REPLICA_SUBSCRIPTIONS_PROJECT_ID"] == (
        "${REPLICA_SUBSCRIPTIONS_PROJECT_ID:-}"
    )
    assert services["dashboard"]["environment"]["REPLICA_SUBSCRIPTIONS_PROJECT_ID"] == (
        "${DASHBOARD_SUBSCRIPTIONS_PROJECT_ID:-}"
    )


def dockerfile(name: str) -> str:
    return (ROOT / name).read_text()


def test_dockerfiles_are_twins() -> None:
    def body(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.startswith("#")]

    publisher = body(dockerfile("Dockerfile-Pub"))
    # Only the subscriber's image carries the operator command (python -m ctl).
    subscriber = [
        line.replace("subscriber", "publisher")
        for line in body(dockerfile("Dockerfile-Sub"))
        if line != "COPY ctl/ ctl/"
    ]
    assert publisher == subscriber


@pytest.mark.parametrize("name", ["Dockerfile-Pub", "Dockerfile-Sub", "Dockerfile-Dashboard"])
def test_dockerfile_practices(name: str) -> None:
    text = dockerfile(name)
    (base,) = re.findall(r"(?m)^FROM\s+(\S+)", text)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base), (
        "pin a slim base to a patch release"
    )
    (user,) = re.findall(r"(?m)^USER\s+(\S+)", text)
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), "a numeric non-root user"
    (cmd,) = re.findall(r"(?m)^CMD\s+(.+)$", text)
    assert json.loads(cmd)[0] == "python", "exec-form CMD: the service is PID 1 and gets SIGTERM"
    assert "HEALTHCHECK" in text
    # Runtime settings come from the environment; build arguments only label the image.
    (args,) = re.findall(r"(?m)^ARG\s+(.+)$", text)
    names = {arg.split("=")[0] for arg in args.split()}
    assert names == set(LABEL_ARGS)
    labels = dict(re.findall(r'(org\.opencontainers\.image\.\w+)="([^"]*)"', text))
    assert {labels[f"org.opencontainers.image.{k}"] for k in LABEL_ARGS.values()} == {
        f"${name}" for name in LABEL_ARGS
    }, labels
    assert text.index("ARG") > text.index("CMD"), "labels last: a new commit rebuilds one layer"
    lock_install = text.index("pip install")
    assert lock_install < text.index("COPY common/"), "dependencies in a layer before the code"
    assert "--require-hashes" in text


def test_credentials_never_reach_an_image_or_git() -> None:
    dockerignore = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line.strip() for line in dockerignore if line.strip() and not line.startswith("#")]
    assert rules[0] == "*", ".dockerignore is an allow-list"
    assert "**/sa.json" in rules
    assert not [rule for rule in rules if rule.startswith("!secrets")], "no secrets in images"
    assert "sa.json" in (ROOT / ".gitignore").read_text().splitlines()
    example = json.loads((ROOT / "sa.json.example").read_text())
    assert example["type"] == "service_account"


def test_dashboard_is_on_by_default_with_its_own_lock(compose: dict[str, Any]) -> None:
    dashboard = compose["services"]["dashboard"]
    assert "profiles" not in dashboard, "the live view starts with `docker compose up`"
    assert dashboard["ports"] == ["${HOST_BIND_ADDRESS:-127.0.0.1}:${DASHBOARD_PORT:-8080}:8080"]
    assert "requirements-dashboard.lock" in dockerfile("Dockerfile-Dashboard")
    # The web server stays out of the publisher's and subscriber's images.
    for image in ("publisher", "subscriber"):
        lock = (ROOT / f"requirements-{image}.lock").read_text()
        assert "starlette" not in lock
        assert "uvicorn" not in lock
    rules = (ROOT / ".dockerignore").read_text().splitlines()
    assert {"!dashboard/", "!requirements-dashboard.lock"} <= set(rules)


def test_only_the_subscriber_image_carries_the_database_driver() -> None:
    """The subscriber image runs the sink too; the other two never touch PostgreSQL."""
    assert "psycopg-binary==" in (ROOT / "requirements-subscriber.lock").read_text()
    for image in ("publisher", "dashboard"):
        assert "psycopg" not in (ROOT / f"requirements-{image}.lock").read_text()
    for name, image in (("Dockerfile-Pub", "publisher"), ("Dockerfile-Sub", "subscriber")):
        assert f"requirements-{image}.lock" in dockerfile(name)


def test_images_are_named_and_tagged_one_per_dockerfile(
    compose: dict[str, Any], compose_gcp: dict[str, Any]
) -> None:
    """`docker compose build` makes pubsub-fanout-<image>:$VERSION, one image per
    Dockerfile whatever service builds it (the publisher's three services share one), with
    the build arguments that label it; VERSION's default is the project's version."""
    version = re.search(r'(?m)^version = "(.+)"', (ROOT / "pyproject.toml").read_text())
    assert version
    for data in (compose, compose_gcp):
        for name, service in data["services"].items():
            if "build" not in service:
                assert "pubsub-fanout" not in service["image"], name
                continue
            image = IMAGES[service["build"].get("dockerfile", "Dockerfile")]
            assert service["image"] == f"pubsub-fanout-{image}:${{VERSION:-{version[1]}}}", name
            assert service["build"]["args"] == {
                arg: f"${{{arg}:-{version[1] if arg == 'VERSION' else 'unknown'}}}"
                for arg in LABEL_ARGS
            }, name
    publishers = [n for n, s in compose["services"].items() if s.get("image", "").startswith(
        "pubsub-fanout-publisher:")]  # fmt: skip
    assert sorted(publishers) == ["publisher", "readings-publisher", "task-publisher"]


@pytest.mark.parametrize(
    ("service", "setting"),
    [
        ("publisher", "PUBLISHER_SOURCE"),
        ("subscriber", "HANDLER"),
        ("worker", "TASK_FUNCTION"),
        ("sink", "SINK_ROW_MAPPER"),
        ("sink", "SINK_MIGRATIONS"),
    ],
)
def test_each_seam_passes_through_to_its_service(
    compose: dict[str, Any], service: str, setting: str
) -> None:
    """`HANDLER=... docker compose up` reaches the service (blank, the default, is unset:
    the demo's code)."""
    assert compose["services"][service]["environment"][setting] == f"${{{setting}:-}}"
