"""`chat-client`: the terminal client of the LAN chat room, built on prompt_toolkit.

- `cli`:        the command line (`chat-client [HOST[:PORT]] [--nick NAME]`)
- `app`:        the full-screen application: layout, keys, completion
- `connection`: the network side, on prompt_toolkit's own asyncio loop
- `state`:      what the client knows (nick, users, scrollback), without any UI
- `view`:       events -> formatted text (pure functions)
- `scrollback`: the message pane, which only ever renders what is visible
- `commands`:   what the user types -> client commands or lines for the server
- `nicks`:      default nicknames and the variants tried when one is taken
"""

__version__ = "0.1.0"
