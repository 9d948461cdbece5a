"""The keys of the application: quitting, scrolling, windows, Tab, the people list, paste.

One function builds them for a running `ChatClient`; what each key does is the client's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from prompt_toolkit.filters import Condition
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys

if TYPE_CHECKING:
    from chat_client.app import ChatClient


def key_bindings(client: ChatClient) -> KeyBindings:
    """The client's keys: quit, scroll, windows, Tab, the people list, paste."""
    bindings = KeyBindings()
    input_is_empty = Condition(lambda: not client.input_buffer.text)

    @bindings.add("c-c")
    def _clear_or_quit(event: KeyPressEvent) -> None:
        # As in a shell: a half-typed line is thrown away first; an empty one quits.
        if client.input_buffer.text:
            client.input_buffer.reset()
        else:
            client.quit("quit")

    @bindings.add(Keys.SIGINT)  # a real signal (kill -INT) means it: quit at once
    @bindings.add("c-d", filter=input_is_empty)
    def _quit(event: KeyPressEvent) -> None:
        client.quit("quit")

    @bindings.add("pageup")
    def _page_up(event: KeyPressEvent) -> None:
        if not client.scrollback.page_up():
            client.load_older()

    @bindings.add("f7")
    def _toggle_nicklist(event: KeyPressEvent) -> None:
        client.nicklist_wanted = not client.nicklist_wanted

    for digit in "1234567890":
        bindings.add("escape", digit)(_window_key(client, int(digit) or 10))

    @bindings.add("pagedown")
    def _page_down(event: KeyPressEvent) -> None:
        client.scrollback.page_down()

    @bindings.add("c-end")
    def _bottom(event: KeyPressEvent) -> None:
        client.state.scroll_to_bottom()

    @bindings.add("tab")
    def _complete(event: KeyPressEvent) -> None:
        client.tab.complete(client.input_buffer)

    @bindings.add("s-tab")
    def _complete_back(event: KeyPressEvent) -> None:
        client.tab.complete(client.input_buffer, step=-1)

    @bindings.add(Keys.BracketedPaste)
    def _paste(event: KeyPressEvent) -> None:
        client.paste(event.data)

    return bindings


def _window_key(client: ChatClient, number: int) -> Callable[[KeyPressEvent], None]:
    def show(event: KeyPressEvent) -> None:
        client.show_window(number)
    return show
