"""The chat server: a chat room on a generator-based task scheduler, in one thread.

- `scheduler`, `traps`: the run loop and the requests tasks make of it
- `tasks`: the accept, reader, writer, broadcaster and signal tasks
- `room`: the chat logic (who is here, what each command does), testable without sockets
- `audience`, `outbox`, `session`, `flood`: fan-out, per-client queues, connection state
- `server`, `cli`: wiring, lifecycle and the command line
"""
