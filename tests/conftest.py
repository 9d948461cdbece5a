"""Fixtures shared by the whole suite: real servers that are always stopped afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from chat_testing import ServerProcess, start_server


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
