"""Fixtures shared by the whole suite: real servers that are always stopped afterwards."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator

import pytest

from chat_testing import ServerProcess, start_server

# Nothing a test starts may write into the real per-user folders (a server's default
# history store, a client's input history): every process of the run, and every server
# and client it starts, gets folders of its own, removed at the end.
_PER_USER_FOLDERS = ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME")
_home_for_tests = tempfile.mkdtemp(prefix="lanchat-tests-home-")
for _variable in _PER_USER_FOLDERS:
    os.environ[_variable] = os.path.join(_home_for_tests, _variable.lower())


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_home_for_tests, ignore_errors=True)


@pytest.fixture
def server_factory() -> Iterator[Callable[..., ServerProcess]]:
    """Start servers with `server_factory(*cli_args, port=0)`; each is stopped at the end."""
    started: list[ServerProcess] = []

    def factory(*args: str, **kwargs) -> ServerProcess:  # type: ignore[no-untyped-def]
        server = start_server(*args, **kwargs)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """A server with flood control off, for tests that send quickly."""
    return server_factory("--flood", "off")
