"""The input line: it grows to a few rows for a long line, and the prompt never goes away.

A one-row input scrolled sideways to follow the cursor, and stayed scrolled by the
prompt's width once the line was short again (after Ctrl-U or Enter, or a narrow window
made wide again): `[alice]` was never seen again. Now the input wraps, grows up to
`MAX_INPUT_ROWS` rows, and scrolls only beyond that, like WeeChat's input bar.
"""

from __future__ import annotations

import pytest

from chat_testing import ServerProcess
from client_harness import ENTER, RecordingOutput, RunningClient, run, running_client

from chat_client.app import MAX_INPUT_ROWS

CTRL_U = "\x15"
PROMPT = "[alice] "


def input_rows(alice: RunningClient) -> list[str]:
    """The rows of the input area, at the bottom of the screen, as last drawn."""
    drawn = alice.client.input_window.render_info
    return alice.screen[-drawn.window_height:] if drawn is not None else []


async def wait_for_input_rows(alice: RunningClient, expected: list[str]) -> None:
    await alice.wait_for_screen(lambda _: input_rows(alice) == expected,
                                f"the input area to be {expected}")


@pytest.mark.parametrize("columns", [20, 37, 80, 131])
def test_a_long_line_wraps_into_more_rows_and_the_prompt_comes_back(
        server: ServerProcess, columns: int) -> None:
    async def scenario() -> None:
        output = RecordingOutput(columns=columns, rows=20)
        async with running_client(server.port, "alice", output=output) as alice:
            await alice.wait_until_joined()
            await wait_for_input_rows(alice, [PROMPT.rstrip()])
            text = "".join(str(number % 10) for number in range(2 * columns))
            alice.type(text)
            whole = PROMPT + text
            expected = [whole[start:start + columns]
                        for start in range(0, len(whole), columns)]
            await wait_for_input_rows(alice, expected)
            assert len(expected) == 3
            alice.type(CTRL_U)
            await wait_for_input_rows(alice, [PROMPT.rstrip()])
            alice.type(text + ENTER)
            await alice.wait_for_pane(text[:8])
            await wait_for_input_rows(alice, [PROMPT.rstrip()])
    run(scenario)


def test_the_input_stops_growing_at_its_limit_and_keeps_the_cursor_in_view(
        server: ServerProcess) -> None:
    async def scenario() -> None:
        output = RecordingOutput(columns=30, rows=20)
        async with running_client(server.port, "alice", output=output) as alice:
            await alice.wait_until_joined()
            alice.type("x" * 30 * (MAX_INPUT_ROWS + 2) + "END")
            await alice.wait_for_screen(lambda _: input_rows(alice)[-1].endswith("END"),
                                        "the end of the line in view")
            assert len(input_rows(alice)) == MAX_INPUT_ROWS
            alice.type(CTRL_U)
            await wait_for_input_rows(alice, [PROMPT.rstrip()])
    run(scenario)


def test_the_prompt_survives_a_narrow_window_made_wide_again(server: ServerProcess) -> None:
    async def scenario() -> None:
        output = RecordingOutput(columns=60, rows=20)
        async with running_client(server.port, "alice", output=output) as alice:
            await alice.wait_until_joined()
            alice.type("hello there")
            await wait_for_input_rows(alice, [PROMPT + "hello there"])
            alice.resize(12)
            await wait_for_input_rows(alice, ["[alice] hell", "o there"])
            alice.resize(60)
            await wait_for_input_rows(alice, [PROMPT + "hello there"])
            alice.type(CTRL_U)
            await wait_for_input_rows(alice, [PROMPT.rstrip()])
    run(scenario)
