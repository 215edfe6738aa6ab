"""`docker compose build` names, tags and labels the project's images: one image per
Dockerfile, pubsub-fanout-<image>:$VERSION, whatever services run it (the publisher's
three share one), each with the OCI labels of where it came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import stack_for_test
from tests.support.compose import IMAGE_TAG, docker

pytestmark = pytest.mark.e2e
REVISION = "0123456789abcdef0123456789abcdef01234567"
SOURCE_URL = "https://example.test/you/your-fork"


def test_compose_build_names_tags_and_labels_one_image_per_dockerfile(
    project_copy: Path,
) -> None:
    stack = stack_for_test(
        project_copy,
        "pubsub-images-e2e",
        {"REVISION": REVISION, "SOURCE_URL": SOURCE_URL},
        ("workqueue", "sink"),
    )
    stack("build")
    services = stack("config", "--format", "json").stdout
    images = {name: service["image"] for name, service in json.loads(services)["services"].items()}
    ours = {
        f"pubsub-fanout-{kind}:{IMAGE_TAG}" for kind in ("publisher", "subscriber", "dashboard")
    }
    assert ours <= set(images.values()), images
    for name in ("publisher", "task-publisher", "readings-publisher"):
        assert images[name] == f"pubsub-fanout-publisher:{IMAGE_TAG}", name
    for image in sorted(ours):
        labels = json.loads(
            docker("image", "inspect", "--format", "{{json .Config.Labels}}", image)
        )
        assert labels["org.opencontainers.image.version"] == IMAGE_TAG, image
        assert labels["org.opencontainers.image.revision"] == REVISION, image
        assert labels["org.opencontainers.image.source"] == SOURCE_URL, image
        assert labels["org.opencontainers.image.title"] == image.split(":")[0], image
