#!/usr/bin/env python3
"""The fan-out benchmark: one command that runs every scenario and prints a table.

    python bench/run.py                      # every server, scenarios a-j (about 10 minutes)
    python bench/run.py --quick              # a smoke run of the harness (under a minute)
    python bench/run.py --scenario b --servers ours --profile

For each scenario and each server it starts a fresh server on 127.0.0.1, runs the C load
generator (`loadgen.c`, compiled here with the system compiler) against it, and stops the
server by its process id. Server and load generator are pinned to different cores when
there are two or more. The load generator checks that nothing is lost or reordered and
measures everything (deliveries, latency, the server's CPU and memory from /proc); a run
that loses or reorders anything fails, and the exit status says so.

The table compares our server with `asyncio_server.py` and with `c_server.c` (a minimal
epoll server in C, the physical limit of the work; compiled here like the load generator)
in the same run, as ratios: the machines are noisy, so absolute numbers move between runs
and the ratios are the claims. The C server runs scenarios a-d only.
Scenarios e-g (rooms, the store's cost, the replay on joining) are of protocol version 2
and of our server's own options, so they run on ours only, and a second table sets ours
beside ours in another setting (one room, `--store none`, no replay). Our server keeps
its history in a SQLite file in a temporary directory made for the run and removed after
it, and replays nothing on joining except in (g): (a)-(d) measure what they always did.
Scenarios h-j are the other ways in: TLS (both servers), WebSocket and IRC (ours only),
each beside the same load over plain TCP, back to back, in a third table. TLS needs the
load generator built with OpenSSL (libssl-dev): without its headers those rows are
skipped, with a message saying so.
A full run writes `results/latest.md`, a dated copy, and the table in both READMEs; other
runs write `build/last-run.md` only, so a smoke run never replaces the published table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import selectors
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages come from the clone
BUILD = BENCH / "build"
RESULTS = BENCH / "results"
READMES = (BENCH / "README.md", ROOT / "README.md")  # both show the latest table
LOADGEN_SOURCE = BENCH / "loadgen.c"
LOADGEN = BUILD / "loadgen"
C_SERVER_SOURCE = BENCH / "c_server.c"
C_SERVER = BUILD / "c_server"

SERVER_OPTIONS = ("--host", "127.0.0.1", "--port", "0", "--flood", "off", "--name", "bench",
                  "--max-clients", "20000")
SERVERS: dict[str, tuple[str, ...]] = {
    "ours": (sys.executable, "-m", "chat_server"),
    "asyncio": (sys.executable, "bench/asyncio_server.py"),
    "c": (str(C_SERVER),),  # the physical limit: one room, version 1, plain TCP only
}
SCENARIOS = ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")
EVERY = ("ours", "asyncio", "c")  # the version-1 loads of one room: (a)-(d)
BOTH = ("ours", "asyncio")  # TLS: the C server has none
OURS = ("ours",)  # loads of protocol version 2, or of our server's options: no baseline
LOADGEN_BUSY = 80.0  # % of its core: above this the load generator may be what limits a run
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
README_START = "<!-- latest-results:start -->"
README_END = "<!-- latest-results:end -->"
# How a load's clients come in: the load generator's options for it.
TRANSPORT_ARGS = {"tcp": (), "tls": ("-e",), "ws": ("-d", "ws"), "irc": ("-d", "irc")}


# ------------------------------------------------------------------------------- the plan

@dataclass(frozen=True)
class Load:
    """One run of the load generator against a fresh server."""

    name: str  # the key the table reads results by: "a", "c10k", "d-stalled", ...
    args: tuple[str, ...]  # the load generator's arguments, without port and pid
    timeout: float  # seconds the whole run may take before it is stopped
    servers: tuple[str, ...] = EVERY  # the servers it runs against, in turn
    store: str = "sqlite"  # our server's history: "sqlite" (a file) or "none" (memory)
    history: int = 0  # our server's --history-on-join: 0 unless the load is about replays
    transport: str = "tcp"  # how the clients come in: "tcp", "tls", "ws" or "irc"
    turns: int = 1  # how many times it runs, the servers taking turns (see TURNS)

    def server_options(self, server: str, store_dir: Path,
                       certificate: tuple[Path, Path] | None = None) -> list[str]:
        """The options `server` is started with for this load (the store is ours only).

        Over TLS, `certificate` (made for this run) is served: by our server on its TLS
        listener, by the asyncio server on its one listener.
        """
        tls: list[str] = []
        if self.transport == "tls":
            if certificate is None:
                raise RuntimeError("a TLS load without a certificate")
            tls = ["--cert", str(certificate[0]), "--key", str(certificate[1])]
        if server != "ours":
            return [*SERVER_OPTIONS, *tls]
        store = str(store_dir / "history.sqlite") if self.store == "sqlite" else "none"
        if tls:
            tls = ["--tls-port", "0", *tls]
        return [*SERVER_OPTIONS, "--store", store, "--history-on-join", str(self.history),
                *tls, "--no-announce"]

    def port_line(self, server: str) -> bytes:
        """The pattern of the line naming the port this load's clients connect to."""
        if server != "ours" or self.transport == "tcp":  # asyncio, C: their one listener
            return rb"room '[^']*' listening on \S+:(\d+)"
        return PORT_LINES[self.transport]


def plan(scenario: str, quick: bool) -> list[Load]:
    """The loads of one scenario; `quick` shrinks every one of them to a smoke test."""
    seconds = "2" if quick else "10"
    turns = 1 if quick else TURNS
    if scenario == "a":
        return [Load("a", moderate_load(seconds), 90, turns=turns)]
    if scenario == "b":
        return [Load("b", saturating_load(seconds), 90, turns=turns)]
    if scenario == "c":  # everybody joins at once, then one broadcast
        if quick:
            return [Load("c", ("join", "-n", "500", "-T", "60"), 150)]
        return [Load("c", ("join", "-n", "5000", "-T", "120"), 260, turns=turns),
                Load("c10k", ("join", "-n", "10000", "-T", "240"), 500)]
    if scenario == "d":  # 20 paced senders, then the same with one client that never reads
        # Messages of about 1.5 KB fill the stalled client's kernel buffers (up to 4 MiB
        # on a default Linux) and then its 1 MiB outbox within the first half of the run.
        rate, seconds = ("100", "4") if quick else ("20", "15")
        alone = ("load", "-n", "20", "-s", "20", "-r", rate, "-t", seconds, "-z", "1500")
        return [Load("d-alone", alone, 90, turns=turns),
                Load("d-stalled", (*alone, "-x"), 90, turns=turns)]
    if scenario == "e":
        return [Load("e", rooms_load(seconds, quick), 120, OURS)]
    if scenario == "f":  # the same load with and without the file, taking turns
        return [Load(f"f-{base}-{store}", args(seconds), 90, OURS, store, turns=turns)
                for base, args in (("a", moderate_load), ("b", saturating_load))
                for store in ("sqlite", "none")]
    if scenario in ("h", "i", "j"):
        return other_ways_in(scenario, quick)
    if scenario == "g":  # a join storm into a room with a past, replayed or not
        return [Load(f"g-{history}", join_storm(replay, quick), 150 if quick else 260,
                     OURS, history=replay)
                for history, replay in (("none", 0), ("replay", HISTORY_ON_JOIN))]
    raise ValueError(f"unknown scenario {scenario!r}")


HISTORY_ON_JOIN = 50  # g: the lines replayed to each joiner (the server's default)
# The loads whose figures carry the targets (a, b, c, d, f) run this many times, the
# servers (or the two stores) taking turns, and the tables give each figure's median. With
# one run each, the same code's p99 ratios at the light load swung from one run to the
# next: ours/asyncio from 0.89x to 1.94x, the file's over --store none from 0.57x to 1.28x.
TURNS = 3
TURNS_NOTE = (f"Loads a, b, c (5,000), d and f ran {TURNS} times each, the servers (in f, the "
              "two stores) taking turns: their figures are the medians of the turns (each "
              "turn is in the raw results, as `a#1`, `a#2`, ...). ")
# Where our server says its other listeners are (with --port 0 the IRC and web listeners
# take free ports too, and TLS is on with --tls-port 0).
PORT_LINES = {"tls": rb"TLS listening on \S+:(\d+)", "ws": rb"Browsers: http://\S+:(\d+)/",
              "irc": rb"IRC clients: irc://\S+:(\d+)"}


def other_ways_in(scenario: str, quick: bool) -> list[Load]:
    """h, i, j: a load over TLS, WebSocket or IRC, each after the same over plain TCP.

    Back to back, as (f), so that both see the same machine: the ratios are the claims.
    h (issue 12): (a) and (b) over TLS, both servers. i (issue 13): (b) with WebSocket
    clients, then 1,000 idle ones and one broadcast. j (issue 14): (b), then 5,000 idle
    clients joining, as IRC clients. The asyncio server speaks neither WebSocket nor IRC.
    """
    seconds = "2" if quick else "10"
    if scenario == "h":
        pairs = [("a", moderate_load(seconds), 90.0), ("b", saturating_load(seconds), 90.0)]
        way, servers = "tls", BOTH
    else:
        joiners = {"i": "200" if quick else "1000", "j": "500" if quick else "5000"}[scenario]
        pairs = [("b", saturating_load(seconds), 90.0),
                 ("c", ("join", "-n", joiners, "-T", "60" if quick else "120"),
                  150.0 if quick else 260.0)]
        way, servers = {"i": "ws", "j": "irc"}[scenario], OURS
    return [Load(f"{scenario}-{base}-{transport}", args, timeout, servers, transport=transport)
            for base, args, timeout in pairs for transport in ("tcp", way)]


def moderate_load(seconds: str) -> tuple[str, ...]:
    """a: 50 clients in one room, each says 20 messages a second (1,000 a second)."""
    return ("load", "-n", "50", "-s", "50", "-r", "20", "-t", seconds)


def saturating_load(seconds: str) -> tuple[str, ...]:
    """b: 100 senders in one room, each keeps 16 of its messages in flight."""
    return ("load", "-n", "100", "-s", "100", "-w", "16", "-t", seconds)


def rooms_load(seconds: str, quick: bool) -> tuple[str, ...]:
    """e: v2 clients dealt round rooms of 20, each saying one message a second.

    At full size that is 1,000 messages a second, as in (a): the same work for the
    store, spread over 50 rooms and 20 times the connections.
    """
    clients, rooms = ("200", "10") if quick else ("1000", "50")
    return ("load", "-V", "2", "-m", rooms, "-n", clients, "-s", clients, "-r", "1",
            "-t", seconds)


def join_storm(replay: int, quick: bool) -> tuple[str, ...]:
    """g: v2 clients join the default room at once, once it holds more than 50 lines.

    Both runs seed the room, so the replay is the only difference; -R makes the load
    generator check that every joiner was replayed exactly `replay` lines.
    """
    clients = "500" if quick else "5000"
    return ("join", "-V", "2", "-n", clients, "-S", str(HISTORY_ON_JOIN + 10),
            "-R", str(replay), "-T", "60" if quick else "120")


# ------------------------------------------------------------------------------- processes

@dataclass(frozen=True)
class Pinning:
    """Which core the server and the load generator run on (None: wherever)."""

    server: int | None
    loadgen: int | None

    @staticmethod
    def choose() -> Pinning:
        """Server and load generator on two different cores, when there are two."""
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 2 and shutil.which("taskset"):
            return Pinning(server=cpus[1], loadgen=cpus[0])
        return Pinning(None, None)

    @staticmethod
    def prefix(cpu: int | None) -> list[str]:
        """The command prefix that pins a program to `cpu`."""
        return [] if cpu is None else ["taskset", "-c", str(cpu)]

    def describe(self) -> str:
        """One line for the results file."""
        if self.server is None:
            return "not pinned (fewer than two cores, or no taskset)"
        return f"server on CPU {self.server}, load generator on CPU {self.loadgen} (taskset)"


@dataclass
class ServerProcess:
    """A server we started: its process, the port it listens on and its command."""

    process: subprocess.Popen[bytes]
    port: int
    command: list[str]
    stderr: IO[bytes]

    @property
    def pid(self) -> int:
        """The server's process id (taskset execs the server, so it keeps this pid)."""
        return self.process.pid

    def stderr_tail(self, lines: int = 5) -> str:
        """The last lines the server wrote to standard error."""
        self.stderr.seek(0)
        return "\n".join(self.stderr.read().decode(errors="replace").splitlines()[-lines:])


@contextmanager
def running_server(name: str, options: list[str], pinning: Pinning, state_dir: Path,
                   port_line: bytes) -> Iterator[ServerProcess]:
    """Start server `name`, wait for the line naming its port, and always stop it after.

    `port_line` is the pattern of that line (plain, TLS, WebSocket or IRC listener).
    XDG_STATE_HOME is the run's own directory: whatever a server keeps by default (a
    certificate, a store) never lands in the user's state directory.
    """
    command = [*Pinning.prefix(pinning.server), *SERVERS[name], *options]
    environment = {**os.environ, "XDG_STATE_HOME": str(state_dir)}
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr,
                                   stdin=subprocess.DEVNULL, env=environment)
        try:
            port = _wait_for_port(process, port_line)
            yield ServerProcess(process, port, command, stderr)
        finally:
            stop_process(process)


def _wait_for_port(process: subprocess.Popen[bytes], port_line: bytes) -> int:
    """Read the server's output until the line `port_line` matches; return its port."""
    assert process.stdout is not None
    deadline = time.monotonic() + STARTUP_TIMEOUT
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=0.2):
                if process.poll() is not None:
                    break
                continue
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            match = re.search(port_line, seen)
            if match:
                return int(match.group(1))
    raise RuntimeError(f"the server did not name its port ({port_line.decode()}) within "
                       f"{STARTUP_TIMEOUT:.0f} s: {seen.decode(errors='replace')!r}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a process we started, by its pid: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def compile_c_server() -> list[str]:
    """Compile the C server (the physical limit) as the load generator is; return the command."""
    BUILD.mkdir(exist_ok=True)
    command = [os.environ.get("CC", "cc"), "-O2", "-Wall", "-Wextra", "-o", str(C_SERVER),
               str(C_SERVER_SOURCE)]
    subprocess.run(command, check=True, cwd=ROOT)
    return command


def compile_loadgen() -> tuple[list[str], str]:
    """Compile the load generator; return the command used, and why TLS is off ('' if on).

    With OpenSSL's headers (Debian: libssl-dev) it is built with TLS; without them, it is
    built without, and the TLS loads are skipped with that reason.
    """
    BUILD.mkdir(exist_ok=True)
    compiler = os.environ.get("CC", "cc")
    command = [compiler, "-O2", "-Wall", "-Wextra", "-o", str(LOADGEN), str(LOADGEN_SOURCE)]
    with_tls = [*command[:-3], "-DLOADGEN_TLS", *command[-3:], "-lssl", "-lcrypto"]
    attempt = subprocess.run(with_tls, cwd=ROOT, capture_output=True, text=True)
    if attempt.returncode == 0:
        return with_tls, ""
    subprocess.run(command, check=True, cwd=ROOT)
    missing = "openssl/ssl.h" in attempt.stderr or "-lssl" in attempt.stderr
    why = ("OpenSSL's headers or library are missing (Debian: apt-get install libssl-dev)"
           if missing else f"the TLS build failed: {attempt.stderr.strip()[-300:]}")
    return command, why


def make_certificate(directory: Path) -> tuple[tuple[Path, Path] | None, str]:
    """A self-signed certificate and key for this run, in `directory` (removed after it).

    Returns them, or None and why not (the `cryptography` package is our server's TLS
    dependency: without it there is no TLS to measure).
    """
    try:
        from chat_server.tls import make_self_signed
        certificate, key = make_self_signed("localhost")
    except ImportError as error:
        return None, f"cannot make a certificate ({error})"
    paths = directory / "bench-cert.pem", directory / "bench-key.pem"
    paths[0].write_bytes(certificate)
    paths[1].write_bytes(key)
    paths[1].chmod(0o600)
    return paths, ""


# ------------------------------------------------------------------------------- running

@dataclass
class Run:
    """What one load against one server gave: the load generator's JSON, or why it failed."""

    server: str
    load: Load
    turn: int = 1  # which of the load's turns (see TURNS)
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    commands: list[str] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the load generator finished and found nothing lost or reordered."""
        return not self.error and bool(self.data.get("ok"))

    @property
    def name(self) -> str:
        """The load's name, and which turn this was if it ran more than once: `a#2`."""
        return turn_name(self.load, self.turn)


def turn_name(load: Load, turn: int) -> str:
    """`a` for a load that runs once, `a#2` for its second turn if it runs more."""
    return load.name if load.turns == 1 else f"{load.name}#{turn}"


def run_load(server: str, load: Load, pinning: Pinning, profile: bool, store_root: Path,
             certificate: tuple[Path, Path] | None = None, turn: int = 1) -> Run:
    """Start `server`, run `load` against it, stop the server; never raises for a bad run.

    Each run has a store of its own in a fresh directory under `store_root`, removed once
    the server has stopped: no run starts with another's history, and a saturating run's
    file (it can reach hundreds of megabytes) does not outlive it.
    """
    store_dir = Path(tempfile.mkdtemp(prefix=f"{server}-{load.name}-", dir=store_root))
    try:
        return _run_load(Run(server, load, turn), pinning, profile, store_dir, certificate)
    finally:
        shutil.rmtree(store_dir, ignore_errors=True)


def _run_load(run: Run, pinning: Pinning, profile: bool, store_dir: Path,
              certificate: tuple[Path, Path] | None) -> Run:
    server, load = run.server, run.load
    try:
        options = load.server_options(server, store_dir, certificate)
        with running_server(server, options, pinning, store_dir,
                            load.port_line(server)) as process:
            command = [*Pinning.prefix(pinning.loadgen), str(LOADGEN), *load.args,
                       *TRANSPORT_ARGS[load.transport], "-p", str(process.port),
                       "-P", str(process.pid)]
            run.commands = [display(process.command, store_dir, certificate),
                            display(command)]
            with maybe_profiling(process.pid, pinning, f"{server}-{run.name}",
                                 enabled=profile and server != "c") as profile_lines:
                completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                                           timeout=load.timeout)
            run.profile = profile_lines
            run.data = _last_json_line(completed.stdout)
            if not run.ok:
                run.error = run.data.get("error") or completed.stderr.strip()[-500:] \
                    or f"load generator exit status {completed.returncode}"
            if process.process.poll() is not None:  # it died under the load
                run.error = (f"the server exited with status {process.process.returncode}: "
                             f"{process.stderr_tail()}")
    except subprocess.TimeoutExpired:
        run.error = f"the run took longer than {load.timeout:.0f} s and was stopped"
    except (RuntimeError, OSError, ValueError) as error:  # ValueError: output not JSON
        run.error = str(error)
    return run


def _last_json_line(output: str) -> dict[str, Any]:
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {}


def display(command: list[str], store_dir: Path | None = None,
            certificate: tuple[Path, Path] | None = None) -> str:
    """A command as it would be typed in the repository: `python`, relative paths.

    The run's store directory and certificate are named for what they are: their paths
    are of this machine only.
    """
    words = ["python" if word == sys.executable else word for word in command]
    words = [os.path.relpath(word, ROOT) if word.startswith(str(ROOT) + os.sep) else word
             for word in words]
    if store_dir is not None:
        words = [word.replace(str(store_dir), "TEMPORARY_DIR") for word in words]
    if certificate is not None:
        words = [{str(certificate[0]): "CERT.pem", str(certificate[1]): "KEY.pem"}.get(word, word)
                 for word in words]
    return shlex.join(words)


@contextmanager
def maybe_profiling(pid: int, pinning: Pinning, label: str,
                    enabled: bool) -> Iterator[list[str]]:
    """With `enabled`, sample the server with py-spy while the load runs.

    Yields a list that is filled, once the load is over, with the top functions by their
    own time (the raw samples are kept in build/profile-LABEL.txt).
    """
    top: list[str] = []
    if not enabled:
        yield top
        return
    if not shutil.which("py-spy"):
        top.append("py-spy not found (pip install py-spy)")
        yield top
        return
    raw = BUILD / f"profile-{label}.txt"
    command = [*Pinning.prefix(pinning.loadgen), "py-spy", "record", "--nonblocking",
               "--function", "--format", "raw", "--rate", "250", "-o", str(raw),
               "-p", str(pid)]
    profiler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield top
    finally:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            profiler.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            profiler.kill()
            profiler.wait()
    top.extend(summarise_profile(raw) if raw.exists() else ["py-spy wrote no samples"])


def summarise_profile(raw: Path, count: int = 15) -> list[str]:
    """The top functions by own samples, from py-spy's raw (collapsed stacks) output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        frames = stack.split(";")
        total += int(samples)
        own[frames[-1]] += int(samples)
        for frame in set(frames):
            inclusive[frame] += int(samples)
    lines = [f"{total} samples of the server while busy; own% (with callees%)  function"]
    for frame, own_samples in own.most_common(count):
        lines.append(f"{100 * own_samples / total:5.1f}% "
                     f"({100 * inclusive[frame] / total:5.1f}%)  {_short_frame(frame)}")
    return lines


def _short_frame(frame: str) -> str:
    """`send (/a/b/chat_server/tasks.py:12)` -> `send (chat_server/tasks.py:12)`."""
    return re.sub(r"\((?:[^()]*/)?([^/()]+/[^/()]+)\)", r"(\1)", frame)


# ------------------------------------------------------------------------------- the table

Results = dict[str, dict[str, list[Run]]]  # server -> load name -> its runs, in turn


@dataclass(frozen=True)
class Target:
    """What a metric must reach: `ours OP bound`, or `ours/asyncio OP bound` if `ratio`."""

    op: str  # "<", "<=", ">=", or "ok" (the run worked)
    bound: float = 0.0
    ratio: bool = False

    def describe(self, unit: str, ratio_name: str = "ratio") -> str:
        """The target as the table shows it (`ratio_name`: what the ratio is of)."""
        if self.op == "ok":
            return "works"
        if self.ratio:
            return f"{ratio_name} {self.op} {self.bound:g}"
        return f"ours {self.op} {self.bound:,g} {unit}".rstrip()

    def holds(self, value: float) -> bool:
        """True if `value` (a ratio or our value) meets the target."""
        return {"<": value < self.bound, "<=": value <= self.bound,
                ">=": value >= self.bound}[self.op]


@dataclass(frozen=True)
class Metric:
    """One row of the table: a value read from one server's runs.

    The row is shown when load `needs` ran; `compare` says whether ours/asyncio and ours/C
    mean anything for it (a CPU share of the load generator, say, does not). `target` is
    issue 5's, on ours/asyncio or on ours alone; `c_target` issue 15's, on ours/C.
    """

    needs: str
    label: str
    read: Callable[[dict[str, list[Run]]], float | None]
    unit: str = ""
    target: Target | None = None
    compare: bool = True
    c_target: Target | None = None

    @property
    def scenario(self) -> str:
        """The scenario's letter, as the table shows it."""
        return self.needs[0]


Reader = Callable[[dict[str, list[Run]]], float | None]  # a value from one server's runs


@dataclass(frozen=True)
class Versus:
    """One row of the second table: our server in one setting beside another.

    Both values come from our own runs (these loads have no asyncio baseline): the rooms
    load beside the single room, the SQLite file beside `--store none`, the replay beside
    none. `ratio` says whether value/baseline is a claim; the rooms load and (a) are
    different loads, shown side by side only.
    """

    needs: str
    label: str
    read: Reader
    baseline: Reader
    baseline_name: str
    unit: str = ""
    target: Target | None = None
    ratio: bool = True

    @property
    def scenario(self) -> str:
        """The scenario's letter, as the table shows it."""
        return self.needs[0]


def field_of(load: str, key: str, scale: float = 1.0) -> Reader:
    """Read `key` from the load generator's results of `load`: the median over its turns
    that completed, or None if none did."""
    def read(runs: dict[str, list[Run]]) -> float | None:
        values = [float(run.data[key]) * scale for run in runs.get(load, ())
                  if run.ok and run.data.get(key) is not None]
        return statistics.median(values) if values else None
    return read


def p99_change(runs: dict[str, list[Run]]) -> float | None:
    """How much a stalled client raised the others' p99 latency, in percent.

    Only an increase counts against the target: a stalled client cannot make the others
    faster, so a decrease is the noise of the machine.
    """
    alone = field_of("d-alone", "latency_p99_us")(runs)
    stalled = field_of("d-stalled", "latency_p99_us")(runs)
    if alone is None or stalled is None or alone == 0:
        return None
    return 100.0 * (stalled / alone - 1.0)


def cut_off_after(runs: dict[str, list[Run]]) -> float | None:
    """When the stalled client was cut off as too slow, the median over the turns (None
    if in any turn it never was)."""
    stalled = runs.get("d-stalled", [])
    if not stalled or not all(run.ok and run.data.get("stalled_cut_off") for run in stalled):
        return None
    return statistics.median(float(run.data["stalled_cut_off_after_s"]) for run in stalled)


def metrics(quick: bool) -> list[Metric]:
    """The rows of the table, with the issues' targets (the latest issue's where two set
    one: issue 15 raised saturation to 4x asyncio and the join storm to 0.25x, 8 KB)."""
    joiners = "500" if quick else "5,000"
    return [
        Metric("a", "deliveries/s", field_of("a", "deliveries_per_s")),
        Metric("a", "latency p50", field_of("a", "latency_p50_us", 1e-3), "ms"),
        Metric("a", "latency p99", field_of("a", "latency_p99_us", 1e-3), "ms",
               Target("<=", 1.0, ratio=True)),
        Metric("a", "server CPU", field_of("a", "server_cpu_pct"), "%",
               Target("<=", 0.5, ratio=True), c_target=Target("<=", 2.0, ratio=True)),
        Metric("a", "load generator CPU", field_of("a", "loadgen_cpu_pct"), "%",
               compare=False),
        Metric("b", "deliveries/s at saturation", field_of("b", "deliveries_per_s"), "",
               Target(">=", 4.0, ratio=True), c_target=Target(">=", 0.5, ratio=True)),
        Metric("b", "latency p99", field_of("b", "latency_p99_us", 1e-3), "ms"),
        Metric("b", "server CPU", field_of("b", "server_cpu_pct"), "%"),
        Metric("b", "load generator CPU", field_of("b", "loadgen_cpu_pct"), "%",
               compare=False),
        Metric("c", f"{joiners} joined", field_of("c", "join_all_s"), "s",
               Target("<=", 0.25, ratio=True)),
        Metric("c", "server CPU time for the joins", field_of("c", "server_join_cpu_s"), "s"),
        Metric("c", "listen queue overflows (kernel)", field_of("c", "listen_overflows"),
               compare=False),
        Metric("c", "one broadcast reaches all", field_of("c", "broadcast_all_ms"), "ms",
               Target("<", 1.0, ratio=True)),
        Metric("c", "server memory per connection", field_of("c", "bytes_per_conn"), "B",
               Target("<", 8192)),
        Metric("c10k", "10,000 joined", field_of("c10k", "join_all_s"), "s", Target("ok")),
        Metric("c10k", "10,000: one broadcast reaches all",
               field_of("c10k", "broadcast_all_ms"), "ms"),
        Metric("d-stalled", "others' p99 alone", field_of("d-alone", "latency_p99_us", 1e-3),
               "ms"),
        Metric("d-stalled", "others' p99 with a stalled client",
               field_of("d-stalled", "latency_p99_us", 1e-3), "ms"),
        Metric("d-stalled", "p99 increase", p99_change, "%", Target("<", 20.0),
               compare=False),
        Metric("d-stalled", "stalled client cut off (too slow) after", cut_off_after, "s",
               Target("ok"), compare=False),
    ]


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "%":
        text = f"{value:+.1f}" if value < 0 else f"{value:.1f}"
    elif abs(value) >= 1000:
        text = f"{value:,.0f}"
    else:
        text = f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return f"{text} {unit}".strip()


def verdict(target: Target | None, ours: float | None, ratio: float | None,
            ran: bool) -> str:
    """PASS or FAIL for a row with a target ('' without one, 'n/a' if it cannot be told)."""
    if target is None or not ran:
        return ""
    if target.op == "ok":
        return "PASS" if ours is not None else "FAIL"
    value = ratio if target.ratio else ours
    if value is None:
        return "n/a" if ours is not None else "FAIL"
    return "PASS" if target.holds(value) else "FAIL"


def table(results: Results, quick: bool) -> str:
    """The results as a Markdown table: one row per metric, ratios ours/asyncio and ours/C.

    A row with a target on each ratio shows both, and a verdict for each, in that order.
    """
    empty: dict[str, list[Run]] = {}
    ours_runs, asyncio_runs, c_runs = (results.get(name, empty) for name in EVERY)
    ran = {name for runs in results.values() for name in runs}
    all_ok = all(run.ok for runs in results.values() for turns in runs.values()
                 for run in turns)
    rows = ["| scenario | metric | ours | asyncio | C server | ours/asyncio | ours/C | target "
            "| verdict |",
            "|---|---|---:|---:|---:|---:|---:|---|---|",
            f"| all | every run completed, nothing lost or reordered | {_checked(ours_runs)} "
            f"| {_checked(asyncio_runs)} | {_checked(c_runs)} | | | every run "
            f"| {'PASS' if all_ok else 'FAIL'} |"]
    for metric in metrics(quick):
        if metric.needs not in ran:
            continue
        ours = metric.read(ours_runs)
        theirs, c_value = metric.read(asyncio_runs), metric.read(c_runs)
        ratio, c_ratio = (ours / other if metric.compare and ours is not None and other
                          else None for other in (theirs, c_value))
        judged = [(target, name, value) for target, name, value in (
            (metric.target, "ours/asyncio", ratio), (metric.c_target, "ours/C", c_ratio))
            if target is not None]
        targets = "; ".join(target.describe(metric.unit, name) for target, name, _ in judged)
        verdicts = [verdict(target, ours, value, bool(ours_runs)) for target, _, value in judged]
        rows.append(
            f"| {metric.scenario} | {metric.label} | {_format(ours, metric.unit)} "
            f"| {_format(theirs, metric.unit)} | {_format(c_value, metric.unit)} "
            f"| {_ratio(ratio)} | {_ratio(c_ratio)} | {targets} "
            f"| {'; '.join(verdicts) if any(verdicts) else ''} |")
    return "\n".join(rows)


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}×"


def versus_rows(quick: bool) -> list[Versus]:
    """The rows of the second table: rooms, the store's cost, the replay on joining."""
    joiners = "500" if quick else "5,000"
    one_room, no_store, no_replay = "a: 50 clients, one room", "--store none", "no replay"
    rows = [Versus("e", f"{label}, {'200 clients in 10' if quick else '1,000 clients in 50'} "
                        "rooms", field_of("e", key, scale), field_of("a", key, scale),
                   one_room, unit, ratio=False)
            for label, key, scale, unit in (
                ("deliveries/s", "deliveries_per_s", 1.0, ""),
                ("latency p50", "latency_p50_us", 1e-3, "ms"),
                ("latency p99", "latency_p99_us", 1e-3, "ms"),
                ("server CPU", "server_cpu_pct", 1.0, "%"),
                ("load generator CPU", "loadgen_cpu_pct", 1.0, "%"))]
    rows += [Versus(f"f-{base}-sqlite", f"{base}: {label}, SQLite file",
                    field_of(f"f-{base}-sqlite", key, scale),
                    field_of(f"f-{base}-none", key, scale), no_store, unit, target)
             for base, label, key, scale, unit, target in (
                 ("a", "latency p99", "latency_p99_us", 1e-3, "ms", Target("<=", 1.2, ratio=True)),
                 ("a", "server CPU", "server_cpu_pct", 1.0, "%", None),
                 ("b", "deliveries/s at saturation", "deliveries_per_s", 1.0, "",
                  Target(">=", 0.9, ratio=True)),
                 ("b", "latency p99", "latency_p99_us", 1e-3, "ms", None))]
    rows += [Versus("g-replay", f"{joiners} {label}", field_of("g-replay", key),
                    field_of("g-none", key), no_replay, unit, ratio=ratio)
             for label, key, unit, ratio in (
                 (f"joined, each replayed {HISTORY_ON_JOIN} lines", "join_all_s", "s", True),
                 ("joining: server CPU time", "server_join_cpu_s", "s", True),
                 ("joining: listen queue overflows (kernel)", "listen_overflows", "", False),
                 ("joining: server memory per connection", "bytes_per_conn", "B", True))]
    return rows


def versus_table(results: Results, quick: bool) -> str:
    """Our server beside itself in another setting (empty when none of those loads ran)."""
    ours_runs = results.get("ours", {})
    rows = ["| scenario | metric | ours | beside it | ratio | target | verdict |",
            "|---|---|---:|---:|---:|---|---|"]
    for row in versus_rows(quick):
        if row.needs not in ours_runs:
            continue
        ours, baseline = row.read(ours_runs), row.baseline(ours_runs)
        ratio = ours / baseline if row.ratio and ours is not None and baseline else None
        rows.append(
            f"| {row.scenario} | {row.label} | {_format(ours, row.unit)} "
            f"| {_format(baseline, row.unit)} ({row.baseline_name}) "
            f"| {'' if ratio is None else f'{ratio:.2f}×'} "
            f"| {row.target.describe(row.unit) if row.target else ''} "
            f"| {verdict(row.target, ours, ratio, True)} |")
    return "\n".join(rows) if len(rows) > 2 else ""


@dataclass(frozen=True)
class WayIn:
    """One row of the third table: a figure over TLS, WebSocket or IRC beside plain TCP.

    `needs` is the load over the other way; its name with `tcp` in place of the way is
    the same load over plain TCP, run just before it. Each server is set beside itself.
    """

    needs: str
    label: str
    key: str
    unit: str = ""
    scale: float = 1.0

    @property
    def scenario(self) -> str:
        """The scenario's letter, as the table shows it."""
        return self.needs[0]

    @property
    def baseline(self) -> str:
        """The same load over plain TCP."""
        return self.needs.rsplit("-", 1)[0] + "-tcp"

    def values(self, runs: dict[str, list[Run]]) -> tuple[float | None, float | None]:
        """This way's value and plain TCP's, from one server's runs."""
        return (field_of(self.needs, self.key, self.scale)(runs),
                field_of(self.baseline, self.key, self.scale)(runs))


def ways_in_rows(quick: bool) -> list[WayIn]:
    """The rows of the third table: TLS (issue 12), WebSocket (13), IRC (14)."""
    idle = {"i": "200" if quick else "1,000", "j": "500" if quick else "5,000"}
    rows = [WayIn("h-a-tls", "a over TLS: latency p99", "latency_p99_us", "ms", 1e-3),
            WayIn("h-a-tls", "a over TLS: server CPU", "server_cpu_pct", "%"),
            WayIn("h-b-tls", "b over TLS: deliveries/s at saturation", "deliveries_per_s"),
            WayIn("h-b-tls", "b over TLS: latency p99", "latency_p99_us", "ms", 1e-3)]
    for scenario, way, name in (("i", "ws", "WebSocket"), ("j", "irc", "IRC")):
        rows += [WayIn(f"{scenario}-b-{way}", f"b, 100 {name} clients: deliveries/s at "
                       "saturation", "deliveries_per_s"),
                 WayIn(f"{scenario}-b-{way}", f"b, {name}: latency p99", "latency_p99_us",
                       "ms", 1e-3),
                 WayIn(f"{scenario}-c-{way}", f"{idle[scenario]} idle {name} clients joined",
                       "join_all_s", "s"),
                 WayIn(f"{scenario}-c-{way}", f"{idle[scenario]} {name}: one broadcast "
                       "reaches all", "broadcast_all_ms", "ms"),
                 WayIn(f"{scenario}-c-{way}", f"{idle[scenario]} {name}: server memory per "
                       "connection", "bytes_per_conn", "B")]
    return rows


def ways_in_table(results: Results, quick: bool) -> str:
    """Each server over TLS, WebSocket or IRC beside itself over plain TCP, in one run."""
    empty: dict[str, list[Run]] = {}
    ours_runs, asyncio_runs = results.get("ours", empty), results.get("asyncio", empty)
    rows = ["| scenario | metric | ours | ours over TCP | ratio | asyncio | asyncio over TCP "
            "| ratio |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in ways_in_rows(quick):
        if row.needs not in ours_runs and row.needs not in asyncio_runs:
            continue
        cells = []
        for runs in (ours_runs, asyncio_runs):
            if row.needs not in runs:  # the asyncio server speaks neither WebSocket nor IRC
                cells += ["", "", ""]
                continue
            value, baseline = row.values(runs)
            ratio = value / baseline if value is not None and baseline else None
            cells += [_format(value, row.unit), _format(baseline, row.unit),
                      "" if ratio is None else f"{ratio:.2f}×"]
        rows.append(f"| {row.scenario} | {row.label} | " + " | ".join(cells) + " |")
    return "\n".join(rows) if len(rows) > 2 else ""


def tables(results: Results, quick: bool) -> str:
    """The tables: ours against asyncio, ours beside itself, and the other ways in."""
    more = [versus_table(results, quick), ways_in_table(results, quick)]
    return "\n\n".join([table(results, quick), *[each for each in more if each]])


def _checked(runs: dict[str, list[Run]]) -> str:
    """How many deliveries a server's runs checked, or which runs failed."""
    if not runs:
        return "—"
    every = [run for turns in runs.values() for run in turns]
    failed = [run.name for run in every if not run.ok]
    if failed:
        return "FAILED: " + ", ".join(failed)
    checked = sum(int(run.data.get("deliveries", 0)) for run in every)
    return f"ok ({checked:,} checked)"


# ------------------------------------------------------------------------------- reporting

def store_description(store_root: Path) -> str:
    """Where our server's SQLite files are, for the results: the file system matters.

    A commit costs more on a disk than on tmpfs; set TMPDIR to choose where they go.
    """
    mounts = []
    try:
        for line in Path("/proc/self/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3:
                mounts.append((fields[1], fields[2]))
    except OSError:
        pass
    resolved = str(store_root.resolve())
    under = [(point, kind) for point, kind in mounts
             if resolved == point or resolved.startswith(point.rstrip("/") + "/")]
    kind = max(under, key=lambda mount: len(mount[0]))[1] if under else "an unknown file system"
    return (f"a fresh SQLite file per run, in a temporary directory on {kind} "
            f"(removed after the run; `--store none` where the table says so)")


def machine() -> str:
    """The machine, in one line: CPU model, cores, kernel, Python, compiler."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    compiler = subprocess.run([os.environ.get("CC", "cc"), "--version"], capture_output=True,
                              text=True).stdout.splitlines()[:1]
    return (f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, {compiler[0] if compiler else 'cc'}")


MEASURED_PATHS = ("chat_server", "protocol", "bench", ":!bench/results", ":!bench/README.md")


def git_commit() -> str:
    """The commit the run measured, marked when what it measures has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", *MEASURED_PATHS)
    return commit + (" (with uncommitted changes)" if dirty else "")


def report(runs: list[Run], args: argparse.Namespace, started: datetime.datetime,
           compile_commands: list[list[str]], pinning: Pinning, store: str) -> str:
    """The whole results file: when, where, what, the table, the exact commands.

    `runs` are in the order they ran.
    """
    results = by_server(runs)
    lines = [
        "# Fan-out benchmark: results",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        f"- Commit: {git_commit()}",
        f"- Machine: {machine()}",
        f"- Pinning: {pinning.describe()}",
        f"- Our server's store: {store}",
        f"- Command: `{display([sys.executable, *sys.argv])}`",
        "",
    ]
    if args.quick:
        lines += ["**A quick run: a smoke test of the harness, not a measurement.**", ""]
    lines += [tables(results, args.quick), "",
              "Ratios are ours / asyncio and ours / the C server, measured in this one run "
              "(the C server runs a-d only); in the second table, "
              "ours / ours in the setting named beside it; in the third, each server over "
              "TLS, WebSocket or IRC / the same server over plain TCP, run just before. "
              f"{'' if args.quick else TURNS_NOTE}Latency is from the moment a "
              "sender writes a message until a receiver reads it.", ""]
    for warning in warnings(runs):
        lines += [f"**Warning:** {warning}", ""]
    failures = [run for run in runs if not run.ok]
    if failures:
        lines += ["## Failed runs", ""]
        lines += [f"- {run.server} {run.name}: {run.error}" for run in failures]
        lines.append("")
    profiled = [run for run in runs if run.profile]
    for run in profiled:
        lines += [f"## Profile: {run.server}, load {run.name} (py-spy)", "", "```",
                  *run.profile, "```", ""]
    lines += ["## Commands", "", "```", *[display(command) for command in compile_commands]]
    for run in runs:
        lines += [f"# {run.server}, load {run.name}", *run.commands]
    lines += ["```", "", "## Raw results (the load generator's output)", "", "```"]
    lines += [f"{run.server} {run.name}: {json.dumps(run.data) if run.data else run.error}"
              for run in runs]
    lines += ["```", ""]
    return "\n".join(lines)


def by_server(runs: list[Run]) -> Results:
    """The runs, by server and then by load."""
    results: Results = {}
    for run in runs:
        results.setdefault(run.server, {}).setdefault(run.load.name, []).append(run)
    return results


def warnings(runs: list[Run]) -> list[str]:
    """Runs whose numbers may say more about the load generator than about the server."""
    return [f"the load generator used {run.data['loadgen_cpu_pct']:.0f}% of its core in "
            f"{run.server} {run.name}; it may have been the bottleneck."
            for run in runs
            if run.ok and float(run.data.get("loadgen_cpu_pct", 0)) > LOADGEN_BUSY]


def publish(text: str, summary: str, started: datetime.datetime) -> list[Path]:
    """A full run: results/latest.md, a dated copy, and the table in both READMEs."""
    RESULTS.mkdir(exist_ok=True)
    latest = RESULTS / "latest.md"
    dated = RESULTS / f"{started:%Y-%m-%d-%H%M%S}.md"
    latest.write_text(text)
    dated.write_text(text)
    for readme_path in READMES:
        readme = readme_path.read_text()
        start, end = readme.find(README_START), readme.find(README_END)
        if start >= 0 and end > start:
            # The summary's links are relative to bench/: make them right for this file.
            prefix = os.path.relpath(BENCH, readme_path.parent)
            table = summary if prefix == "." else summary.replace("results/",
                                                                  f"{prefix}/results/")
            readme_path.write_text(readme[:start + len(README_START)] + "\n" + table
                                   + "\n" + readme[end:])
    return [latest, dated, *READMES]


# ------------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny loads: checks the harness works, measures nothing")
    parser.add_argument("--scenario", default=",".join(SCENARIOS),
                        help=f"comma-separated, from {','.join(SCENARIOS)} (default: all)")
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help="comma-separated, from ours,asyncio,c (default: all three)")
    parser.add_argument("--profile", action="store_true",
                        help="sample each server with py-spy during each load")
    parser.add_argument("--output", type=Path,
                        help="write the results here (default: results/latest.md for a "
                             "full run, build/last-run.md otherwise)")
    args = parser.parse_args(argv)
    args.scenarios = _choices(parser, args.scenario, SCENARIOS, "--scenario")
    args.server_names = _choices(parser, args.servers, tuple(SERVERS), "--servers")
    return args


def _choices(parser: argparse.ArgumentParser, text: str, allowed: tuple[str, ...],
             option: str) -> list[str]:
    chosen = [word.strip() for word in text.split(",") if word.strip()]
    unknown = [word for word in chosen if word not in allowed]
    if unknown or not chosen:
        parser.error(f"{option}: choose from {','.join(allowed)}")
    return chosen


def run_all(args: argparse.Namespace, pinning: Pinning, store_root: Path,
            certificate: tuple[Path, Path] | None, no_tls: str) -> list[Run]:
    """Every load of the chosen scenarios against each chosen server it is for.

    TLS loads are skipped, and said to be, when `no_tls` says why there is no TLS.
    """
    runs: list[Run] = []
    for scenario in args.scenarios:
        loads = plan(scenario, args.quick)
        if no_tls and any(load.transport == "tls" for load in loads):
            print(f"skipping scenario {scenario} (TLS): {no_tls}", flush=True)
            continue
        for turn in range(1, max(load.turns for load in loads) + 1):
            for load in [load for load in loads if turn <= load.turns]:
                for server in [name for name in args.server_names if name in load.servers]:
                    # servers (and loads) take turns, so drift hits them all
                    runs.append(_run_and_say(server, load, turn, args, pinning, store_root,
                                             certificate))
    return runs


def _run_and_say(server: str, load: Load, turn: int, args: argparse.Namespace,
                 pinning: Pinning, store_root: Path,
                 certificate: tuple[Path, Path] | None) -> Run:
    """One run, with a line of progress (and its profile, when sampled)."""
    print(f"{server:>8} {turn_name(load, turn):<14} ...", end=" ", flush=True)
    run = run_load(server, load, pinning, args.profile, store_root, certificate, turn)
    print("ok" if run.ok else f"FAILED: {run.error}", flush=True)
    for line in run.profile:
        print(f"           {line}")
    return run


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if any run failed (lost, reordered, crashed)."""
    args = parse_args(argv)
    # Stopped from outside, still stop what we started: SystemExit runs every `finally`.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    started = datetime.datetime.now(datetime.timezone.utc)
    compile_command, no_tls = compile_loadgen()
    compile_commands = [compile_command, compile_c_server()]
    pinning = Pinning.choose()
    print(f"machine: {machine()}\npinning: {pinning.describe()}", flush=True)
    # Our server's stores live here, never in the user's state directory; removed at the
    # end, also when we are stopped (SystemExit unwinds through the `with`).
    with tempfile.TemporaryDirectory(prefix="lanchat-bench-") as store_root:
        store = store_description(Path(store_root))
        print(f"store: {store}", flush=True)
        certificate = None
        if "h" in args.scenarios and not no_tls:  # made for this run, removed with it
            certificate, no_tls = make_certificate(Path(store_root))
        runs = run_all(args, pinning, Path(store_root), certificate, no_tls)
    text = report(runs, args, started, compile_commands, pinning, store)
    summary = tables(by_server(runs), args.quick)
    print("\n" + summary + "\n")
    for warning in warnings(runs):
        print(f"warning: {warning}")
    full = not args.quick and len(args.scenarios) == len(SCENARIOS) \
        and len(args.server_names) == len(SERVERS)
    if args.output:
        args.output.write_text(text)
        written = [args.output]
    elif full:
        written = publish(text, f"{summary}\n\nMachine: {machine()}; {started:%Y-%m-%d}. "
                                f"Details and commands: [results/latest.md](results/latest.md).",
                          started)
    else:
        (BUILD / "last-run.md").write_text(text)
        written = [BUILD / "last-run.md"]
    print("written: " + ", ".join(display([str(path)]) for path in written))
    failed = [run for run in runs if not run.ok]
    if failed:
        print(f"\n{len(failed)} run(s) FAILED; see above.", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
