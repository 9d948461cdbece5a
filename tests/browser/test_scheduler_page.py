"""The /scheduler page in a real headless Chromium: the loop's figures move as a client stalls.

A TCP client joins and stops reading while another talks; the page must show it: a
writer in send_wait, or that client's outbox bar growing. Every wait is for a condition
(WebDriverWait, bounded by WAIT), with the talking bounded in lines.
"""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from chat_testing import LineClient
from conftest import WAIT, announced_web_port

MAX_LINES = 5000  # the talker's bound: far more than it takes to fill a stalled socket


def _joined(port: int, nick: str, **kwargs) -> LineClient:  # type: ignore[no-untyped-def]
    client = LineClient(port, **kwargs)
    client.send_line("/hello tests 2", f"/nick {nick}")
    client.read_until("CURRENT #lobby")
    return client


def _count(driver, state: str) -> int:  # type: ignore[no-untyped-def]
    row = driver.find_element(By.CSS_SELECTOR, f'#states li[data-state="{state}"] .count')
    return int(row.text or 0)


def _owed_to(driver, name: str) -> int:  # type: ignore[no-untyped-def]
    """The bytes on `name`'s outbox bar (read in one go: the rows are redrawn often)."""
    owed = driver.execute_script(
        "const rows = [...document.querySelectorAll('#outboxes li')];"
        "const row = rows.find((each) => each.querySelector('.label').textContent"
        " === arguments[0]);"
        "return row ? Number(row.dataset.bytes) : 0;", name)
    return int(owed)


def test_the_scheduler_page_shows_a_client_that_stopped_reading(server_factory,
                                                                 browser) -> None:
    server = server_factory("--flood", "off", "--outbox-limit", str(64 << 20))
    browser.get(f"http://127.0.0.1:{announced_web_port(server)}/scheduler")
    WebDriverWait(browser, WAIT).until(lambda _: _count(browser, "recv_wait") > 0,
                                       "no task counts on the page")
    assert _count(browser, "send_wait") == 0
    slow = _joined(server.port, "slow", receive_buffer=4096)  # and it never reads again
    talker = _joined(server.port, "talker")
    stalled = False
    for number in range(MAX_LINES):
        talker.send_line(f"{number} " + "x" * 1000)
        talker.read_line()  # the talker keeps up with its own lines
        if number % 50 == 49 and (_count(browser, "send_wait") > 0
                                  or _owed_to(browser, "slow") > 0):
            stalled = True
            break
    assert stalled, "the page never showed the stalled client"
    WebDriverWait(browser, WAIT).until(lambda _: _owed_to(browser, "slow") > 0,
                                       "slow's outbox bar never grew")
    decisions = browser.find_element(By.ID, "decisions").text
    assert "writer(slow)" in decisions
    slow.close()
    talker.close()
