"""What the /scheduler page costs the server: CPU and loop iterations, watched and not.

    python bench/live_view_cost.py [SECONDS]

Starts a server with five bots talking, then measures three equal periods: nobody
watching, one viewer of /scheduler/live reading its snapshots, nobody again (after the
viewer left). Prints the server's CPU seconds (from /proc, Linux) and loop iterations
(from /stats) for each. The figure in docs/web.md comes from here.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "server")]

from chat_testing import machine_client, start_server  # noqa: E402
from web_testing import WebSocketClient, announced_web_port  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loop_iterations(port: int) -> int:
    client = machine_client(port)
    client.send_line("/stats")
    line = client.read_until(lambda text: text.startswith("STATS "))[-1]
    client.close()
    return int(dict(pair.split("=") for pair in line.split()[1:])["loop_iterations"])


def measure(pid: int, port: int, seconds: float, viewer: WebSocketClient | None) -> tuple:
    cpu, loops, end = cpu_seconds(pid), loop_iterations(port), time.monotonic() + seconds
    while time.monotonic() < end:
        if viewer is not None:
            viewer.read_line()
        else:
            time.sleep(0.05)
    return cpu_seconds(pid) - cpu, loop_iterations(port) - loops


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    server = start_server("--bots", "5", "--bot-interval", "0.5")
    try:
        port, web = server.port, announced_web_port(server)
        time.sleep(2)  # the bots join
        rows = [("nobody watching", *measure(server.pid, port, seconds, None))]
        viewer = WebSocketClient(web, path="/scheduler/live")
        rows.append(("one viewer", *measure(server.pid, port, seconds, viewer)))
        viewer.close()
        time.sleep(1)  # the live-view task ends at its next wake-up
        rows.append(("nobody, after the viewer", *measure(server.pid, port, seconds, None)))
    finally:
        server.stop()
    print(f"{seconds:g} s each, 5 bots talking every 0.5 s on average")
    for name, cpu, loops in rows:
        print(f"{name:26} CPU {cpu:6.2f} s ({100 * cpu / seconds:4.1f} %)"
              f"   loop iterations {loops:6d} ({loops / seconds:6.1f}/s)")


if __name__ == "__main__":
    main()
