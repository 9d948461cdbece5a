"""The web client in a real headless Chromium, chatting with a v2 line client over TCP.

Each test waits for what the page shows (Selenium's WebDriverWait, bounded by WAIT), never
for a fixed time.
"""

from __future__ import annotations

import os
import socket
import tempfile
import shutil

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from chat_testing import LineClient, start_server
from conftest import WAIT, announced_web_port

XSS_IMAGE = '<img src=x onerror="window.__xss = 1">'
XSS_SCRIPT = "<script>window.__xss = 2</script>"


def _v2_client(port: int, nick: str) -> LineClient:
    client = LineClient(port)
    client.send_line("/hello tests 2", f"/nick {nick}")
    client.read_until("CURRENT #lobby")
    return client


def _wait(driver, condition, message: str):  # type: ignore[no-untyped-def]
    return WebDriverWait(driver, WAIT).until(lambda _: condition(), message)


def _messages(driver) -> str:  # type: ignore[no-untyped-def]
    return driver.find_element(By.ID, "messages").text


def _rooms(driver) -> str:  # type: ignore[no-untyped-def]
    return driver.find_element(By.ID, "room-list").text


def _join(driver, url: str, nick: str) -> None:  # type: ignore[no-untyped-def]
    driver.get(url)
    field = driver.find_element(By.ID, "nick-input")
    field.send_keys(nick, Keys.ENTER)
    _wait(driver, lambda: driver.find_element(By.ID, "chat").is_displayed(), "joined")
    _wait(driver, lambda: "#lobby" in _rooms(driver), "in #lobby")


def _say(driver, line: str) -> None:  # type: ignore[no-untyped-def]
    driver.find_element(By.ID, "say-input").send_keys(line, Keys.ENTER)


def _click_room(driver, name: str) -> None:  # type: ignore[no-untyped-def]
    for item in driver.find_elements(By.CSS_SELECTOR, "#room-list li"):
        if item.find_element(By.CLASS_NAME, "room-name").text == name:
            item.click()
            return
    raise AssertionError(f"no room {name} in {_rooms(driver)!r}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_browser_and_a_line_client_chat_in_two_rooms(server_factory, browser) -> None:
    server = server_factory("--flood", "off")
    url = f"http://127.0.0.1:{announced_web_port(server)}/"
    _join(browser, url, "chromey")
    line = _v2_client(server.port, "liner")
    _say(browser, "hello from chromium")
    assert line.read_until("MSG").pop().endswith("chromey hello from chromium")
    line.send_line("hi chromey, from the terminal")
    _wait(browser, lambda: "hi chromey, from the terminal" in _messages(browser), "line shown")
    # Two rooms: both join #games; the browser looks at #lobby while #games talks.
    line.send_line("/join #games")
    _say(browser, "/join games")
    _wait(browser, lambda: "#games" in _rooms(browser), "#games listed")
    _say(browser, "/me is in games")
    assert line.read_until("ACTION #games").pop().endswith("chromey is in games")
    _click_room(browser, "#lobby")
    line.send_line("/in #games chromey: a mention")
    _wait(browser, lambda: browser.title == "(1) lanchat", "the title counts mentions")
    badge = browser.find_element(By.CSS_SELECTOR, "#room-list .unread.mention")
    assert badge.text == "1" and "#games" in badge.find_element(By.XPATH, "..").text
    _click_room(browser, "#games")
    _wait(browser, lambda: "a mention" in _messages(browser), "#games shows the line")
    mention = browser.find_element(By.CSS_SELECTOR, "#messages li.mention")
    assert "a mention" in mention.text
    _wait(browser, lambda: browser.title == "lanchat", "read: the title is plain again")
    line.close()


def test_a_reload_shows_the_history(server_factory, browser) -> None:
    server = server_factory("--flood", "off")
    url = f"http://127.0.0.1:{announced_web_port(server)}/"
    _join(browser, url, "reloader")
    line = _v2_client(server.port, "teller")
    line.send_line("something to remember")
    _wait(browser, lambda: "something to remember" in _messages(browser), "live line")
    browser.refresh()
    _wait(browser, lambda: "something to remember" in _messages(browser), "history shown")
    replayed = browser.find_elements(By.CSS_SELECTOR, "#messages li.history")
    assert any("something to remember" in item.text for item in replayed)
    line.close()


def test_after_a_server_restart_the_page_reconnects_and_catches_up(browser) -> None:
    folder = tempfile.mkdtemp(prefix="lanchat-restart-")
    store = os.path.join(folder, "history.sqlite3")
    port, web_port = _free_port(), _free_port()
    common = ("--store", store, "--flood", "off", "--web-port", str(web_port))
    server = start_server(*common, port=port)
    try:
        _join(browser, f"http://127.0.0.1:{web_port}/", "patient")
        assert server.stop() == 0
        # Said while the page is away: the web listener is off for this run.
        between = start_server("--store", store, "--web-port", "off", port=port)
        try:
            missed = _v2_client(port, "talker")
            missed.send_line("said while you were away")
            missed.read_until("MSG")
            missed.close()
        finally:
            between.stop()
        # Back, replaying nothing on join: the line can only come from the catch-up.
        server = start_server(*common, "--history-on-join", "0", port=port)
        _wait(browser, lambda: "said while you were away" in _messages(browser), "caught up")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_scrolling_to_the_top_loads_older_lines(server_factory, browser) -> None:
    server = server_factory("--flood", "off", "--history-on-join", "20")
    talker = _v2_client(server.port, "talker")
    talker.send_line(*[f"old line {number}" for number in range(120)])
    talker.read_until("MSG #lobby", timeout=20)
    talker.send_line("/ping all said")
    talker.read_until("PONG all said")
    _join(browser, f"http://127.0.0.1:{announced_web_port(server)}/", "reader")
    _wait(browser, lambda: "old line 119" in _messages(browser), "the replay on join")
    assert "old line 60" not in _messages(browser)  # only the last 20 came with the join
    for _ in range(10):  # each scroll to the top fetches 50 more, until the first line
        if "old line 0\n" in _messages(browser) + "\n":
            break
        oldest = _first_line(browser)
        browser.execute_script("document.getElementById('messages').scrollTop = 0;")
        _wait(browser, lambda: _first_line(browser) != oldest, "older lines")
    assert "old line 0" in _messages(browser) and "old line 60" in _messages(browser)
    shown = [line for line in _messages(browser).splitlines() if "old line" in line]
    numbers = [int(line.rsplit(" ", 1)[1]) for line in shown]
    assert numbers == sorted(numbers) and len(numbers) == len(set(numbers))  # in order, once
    talker.close()


def _first_line(driver) -> str:  # type: ignore[no-untyped-def]
    """The text of the oldest line the page shows in the room on screen."""
    return driver.execute_script(
        "const item = document.querySelector('#messages li'); return item ? item.textContent : '';")


def test_hostile_text_is_shown_as_text_and_runs_nothing(server_factory, browser) -> None:
    server = server_factory("--flood", "off")
    url = f"http://127.0.0.1:{announced_web_port(server)}/"
    browser.get(url)
    browser.find_element(By.ID, "nick-input").send_keys(XSS_IMAGE, Keys.ENTER)
    error = browser.find_element(By.ID, "login-error")
    _wait(browser, lambda: error.text != "", "the nickname is refused, in words")
    field = browser.find_element(By.ID, "nick-input")
    field.clear()
    field.send_keys("victim", Keys.ENTER)
    _wait(browser, lambda: "#lobby" in _rooms(browser), "joined")
    line = _v2_client(server.port, "mallory")
    line.send_line(XSS_IMAGE, XSS_SCRIPT, f"/topic {XSS_IMAGE}")
    _wait(browser, lambda: XSS_SCRIPT in _messages(browser), "shown as text")
    assert XSS_IMAGE in _messages(browser)
    assert XSS_IMAGE in browser.find_element(By.ID, "room-topic").text
    assert browser.find_elements(By.CSS_SELECTOR, "#chat img, #chat script") == []
    assert browser.execute_script("return window.__xss") is None
    line.close()


@pytest.mark.parametrize("width", [360])
def test_the_page_fits_a_phone_screen(server_factory, browser, width: int) -> None:
    server = server_factory("--flood", "off")
    browser.set_window_size(width, 740)
    _join(browser, f"http://127.0.0.1:{announced_web_port(server)}/", "phone")
    scroll_width = browser.execute_script("return document.documentElement.scrollWidth")
    assert scroll_width <= browser.execute_script("return window.innerWidth")
    assert browser.find_element(By.ID, "say-input").is_displayed()
