"""A headless Chromium driven by Selenium, for the live view's end-to-end test: this
machine's chromium and chromedriver where it has them, else the browser image of
``browser-image/`` as a container (``tests.support.containers``), driven through its
chromedriver's port. The container shares the host's network, so the page opens at
http://localhost:<port> in both cases, as a user on this machine opens it."""

from __future__ import annotations

import contextlib
import json
import shutil
import urllib.request
from collections.abc import Iterator

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.support import ROOT
from tests.support.containers import ContainersUnavailable, loopback_container, project_image
from tests.support.emulator import free_port
from tests.support.waiting import wait_for

ARGUMENTS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900")


class BrowserUnavailable(RuntimeError):
    pass


def options(binary: str) -> webdriver.ChromeOptions:
    chosen = webdriver.ChromeOptions()
    chosen.binary_location = binary
    for argument in ARGUMENTS:
        chosen.add_argument(argument)
    return chosen


def driver_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/status", timeout=2) as response:
            return bool(json.load(response)["value"]["ready"])
    except OSError:
        return False


@contextlib.contextmanager
def browser() -> Iterator[webdriver.Remote]:
    """A browser session, quit afterwards (its container removed)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is not None and driver_path is not None:
        local = webdriver.Chrome(options(chromium), Service(executable_path=driver_path))
        try:
            yield local
        finally:
            local.quit()
        return
    port = free_port()
    try:
        image = project_image(ROOT / "tests/support/browser-image")
        container = loopback_container(image, "browser", {}, network="host", shm_size="512m")
    except ContainersUnavailable as exc:
        raise BrowserUnavailable(
            "the live view's browser test needs Chromium and chromedriver (Debian: apt-get "
            f"install chromium chromium-driver), or Docker for a browser image: {exc}"
        ) from None
    started = container.with_command([f"--port={port}"]).start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: driver_ready(url), timeout=60, what="chromedriver in its container")
        remote = webdriver.Remote(url, options=options("/usr/bin/chromium"))
        try:
            yield remote
        finally:
            remote.quit()
    finally:
        started.stop()
