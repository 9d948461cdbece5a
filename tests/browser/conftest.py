"""A real headless Chromium, driven with Selenium, for the web client's tests.

Debian's `chromium` and `chromium-driver` (.ci/run installs them): the browser people
use, with its real CSP, WebSocket and DOM, not an imitation. When they are missing, the
tests are skipped with that reason. Every browser gets a fresh profile in a temporary
folder, and its chromedriver and Chromium are stopped at the end, by process id if
quitting did not end them.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator

import pytest

from chat_testing import ServerProcess

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 15.0  # seconds any one condition in the page may take
MAX_ANNOUNCEMENT_LINES = 50



def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a browser test (selectable with -m browser)."""
    for item in items:
        if "tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def announced_web_port(server: ServerProcess) -> int:
    """The port of the `Browsers: http://...:PORT/` line (already in the pipe: read on)."""
    assert server.process.stdout is not None
    for index in range(MAX_ANNOUNCEMENT_LINES):
        if index >= len(server.startup_output):
            server.startup_output.append(server.process.stdout.readline())
        line = server.startup_output[index]
        if line.startswith("Browsers: http://"):
            return int(line.rstrip().rstrip("/").rsplit(":", 1)[1])
    raise AssertionError(f"no Browsers line in {server.startup_output!r}")


@pytest.fixture
def browser_factory() -> Iterator[Callable[[], object]]:
    """`browser_factory()` opens a new headless Chromium; all are stopped at the end."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("needs Debian's chromium and chromium-driver "
                    "(apt-get install -y chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    opened: list[tuple[object, str]] = []

    def open_browser() -> object:
        profile = tempfile.mkdtemp(prefix="lanchat-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-background-networking", "--disable-component-update",
                         "--no-first-run", "--disable-dev-shm-usage",
                         "--window-size=1000,700", f"--user-data-dir={profile}"):
            options.add_argument(argument)
        service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
        driver = webdriver.Chrome(options=options, service=service)
        opened.append((driver, profile))
        return driver

    yield open_browser
    for driver, profile in opened:
        _stop(driver)
        shutil.rmtree(profile, ignore_errors=True)


def _stop(driver) -> None:  # type: ignore[no-untyped-def]
    """Quit the browser, then make sure chromedriver is gone (by its process id)."""
    process = driver.service.process
    try:
        driver.quit()
    finally:
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture
def browser(browser_factory):  # type: ignore[no-untyped-def]
    """One headless Chromium."""
    return browser_factory()
