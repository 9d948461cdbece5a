"""The documents stay true to the code: docs/how-it-works.md above all.

The classroom walk-through names real code as `file:name` in backticks, for example
`chat_server/scheduler.py:Scheduler.run`: a path from the repository's root, then a
module-level function, class or constant, or `Class.member`. Every such reference must
name a file that exists and a name defined in it, found with `ast` (nothing is imported
or started). A bare backticked `path/to/file.py` must exist too. So renaming a function
the document teaches fails here, and says which reference broke.

Also checked: the step 0 run loop printed in the document really runs; the trace excerpts
use the tracer's own words, and a replay of the journey against a real server prints them
line for line; the command-line options the document and the README tell a class to type
exist; the `/stats` tables (here and in docs/protocol.md) explain every figure a real
server reports; the options in the README's and the protocol document's tables, and the
commands in the protocol document's tables, exist; and relative links between the
Markdown documents lead to files (and headings) that exist.
"""

from __future__ import annotations

import ast
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from chat_server.cli import build_parser
from chat_server.trace import _COLOURS, _WAITING_FOR, _WHY_READY, describe_moved
from chat_testing import LineClient, close_all, machine_client

ROOT = Path(__file__).resolve().parent.parent
HOW_IT_WORKS = ROOT / "docs" / "how-it-works.md"
PROTOCOL = ROOT / "docs" / "protocol.md"
README = ROOT / "README.md"
CI_SCRIPT = ROOT / ".ci" / "run"

_FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_REFERENCE = re.compile(r"`([\w./-]+\.py)(?::([A-Za-z_][\w.]*))?`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")
_TRACE_LINE = re.compile(r"^ *\d+\.\d{3}  (\w+) *")


# Reading the documents

def _prose(markdown: str) -> str:
    """The text outside fenced code blocks (code blocks hold examples, not references)."""
    return _FENCE.sub("", markdown)


def _code_blocks(markdown: str, language: str) -> list[str]:
    return [body for lang, body in _FENCE.findall(markdown) if lang == language]


def _section(markdown: str, heading_start: str) -> str:
    """From the heading that starts with `heading_start` to the next heading of the same
    level or above (lines inside code blocks are never headings)."""
    lines = markdown.splitlines(keepends=True)
    headings: list[tuple[int, int, str]] = []  # (line index, level, title)
    in_code = False
    for index, line in enumerate(lines):
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"#+ ", line):
            level = len(line) - len(line.lstrip("#"))
            headings.append((index, level, line[level:].strip()))
    for position, (index, level, title) in enumerate(headings):
        if title.startswith(heading_start):
            end = next((later for later, later_level, _ in headings[position + 1:]
                        if later_level <= level), len(lines))
            return "".join(lines[index:end])
    raise AssertionError(f"no heading starting with {heading_start!r}")


def references(markdown: str) -> list[tuple[str, str | None]]:
    """Every `file.py` or `file.py:name` reference in the prose, in order."""
    return [(path, name or None) for path, name in _REFERENCE.findall(_prose(markdown))]


# Finding names in source files, without importing them

@cache
def defined_names(path: Path) -> frozenset[str]:
    """Names defined in a module: `name` at module level, `Class.member` in a class.

    A class's members are its methods, class attributes, `__slots__` entries and the
    attributes its methods assign on `self`.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in tree.body:
        names.update(_bound_names(node))
        if isinstance(node, ast.ClassDef):
            names.update(f"{node.name}.{member}" for member in _class_members(node))
    return frozenset(names)


def _bound_names(node: ast.stmt) -> Iterator[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name
    elif isinstance(node, ast.Assign):
        for target in node.targets:
            yield from (name.id for name in ast.walk(target) if isinstance(name, ast.Name))
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        yield node.target.id
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        yield from ((alias.asname or alias.name).split(".")[0] for alias in node.names)


def _class_members(cls: ast.ClassDef) -> Iterator[str]:
    for node in cls.body:
        yield from _bound_names(node)
        if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "__slots__"
                for target in node.targets):
            yield from (item.value for item in ast.walk(node.value)
                        if isinstance(item, ast.Constant) and isinstance(item.value, str))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                targets = (inner.targets if isinstance(inner, ast.Assign)
                           else [inner.target] if isinstance(inner, ast.AnnAssign) else [])
                for target in targets:
                    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                            and target.value.id == "self":
                        yield target.attr


def reference_problems(markdown: str, root: Path = ROOT) -> list[str]:
    """What is wrong with the document's references: one sentence per broken one."""
    problems = []
    for path, name in references(markdown):
        file = root / path
        if not file.is_file():
            problems.append(f"`{path}` does not exist")
        elif name is not None and name not in defined_names(file):
            problems.append(f"`{path}:{name}`: {path} defines no {name}")
    return problems


# The references

def test_every_file_and_name_the_walk_through_names_exists() -> None:
    problems = reference_problems(HOW_IT_WORKS.read_text(encoding="utf-8"))
    assert not problems, "docs/how-it-works.md names code that is not there:\n" + \
        "\n".join(problems)


def test_the_walk_through_ties_each_step_to_the_code() -> None:
    markdown = HOW_IT_WORKS.read_text(encoding="utf-8")
    named = {f"{path}:{name}" for path, name in references(markdown) if name}
    # The places the issue asks the document to show; the test above checks they exist.
    for expected in (
        "chat_server/scheduler.py:Scheduler.run",
        "chat_server/scheduler.py:Scheduler._step",
        "chat_server/scheduler.py:Scheduler._wait_for_io",
        "chat_server/scheduler.py:Scheduler._wake_io_waiters",
        "chat_server/parking.py:Parking.wake_all",
        "chat_server/traps.py:recv_wait",
        "chat_server/server.py:_signals_as_bytes",
        "chat_server/scheduler.py:SchedulerObserver",
        "chat_server/trace.py:Tracer",
        "chat_server/trace.py:TracingScheduler",
        "protocol/connection.py:LineConnection.receive_data",
        "protocol/connection.py:LineConnection.next_command",
        "protocol/framing.py:LineFramer.next_framed",
        "chat_server/server.py:Listener",
        "chat_server/directory.py:Directory.handle",
        "chat_server/audience.py:Audience.flush",
        "chat_server/history.py:History.keep",
        "chat_server/flood.py:TokenBucket.delay_for_next_line",
        "chat_server/audience.py:Audience.deliver_all",
        "chat_server/outbox.py:Outbox.put",
        "chat_server/tasks.py:client_writer",
    ):
        assert expected in named, f"the walk-through no longer names {expected}"
    for step in range(1, 13):  # step 0 is the toy loop; every later one names its code
        assert references(_section(markdown, f"Step {step}:")), f"step {step} names no code"


def test_every_exercise_names_a_test_that_exists() -> None:
    markdown = HOW_IT_WORKS.read_text(encoding="utf-8")
    exercises = re.findall(r"^### (Exercise \d+.*)$", markdown, re.MULTILINE)
    assert len(exercises) >= 3
    for title in exercises:
        checks = [path for path, _ in references(_section(markdown, title))
                  if path.startswith("tests/exercises/test_exercise_")]
        assert checks, f"{title!r} names no test in tests/exercises/"
        assert all((ROOT / path).is_file() for path in checks)


def test_the_checker_catches_a_renamed_function(tmp_path: Path) -> None:
    module = tmp_path / "pkg" / "mod.py"
    module.parent.mkdir()
    module.write_text(
        "LIMIT = 3\n"
        "def helper():\n    pass\n"
        "class Box:\n"
        "    __slots__ = ('lid',)\n"
        "    size: int = 0\n"
        "    def __init__(self):\n        self.items = []\n"
        "    def put(self):\n        pass\n",
        encoding="utf-8")
    good = ("`pkg/mod.py` `pkg/mod.py:LIMIT` `pkg/mod.py:helper` `pkg/mod.py:Box.put` "
            "`pkg/mod.py:Box.items` `pkg/mod.py:Box.lid` `pkg/mod.py:Box.size`")
    assert reference_problems(good, tmp_path) == []
    assert reference_problems("`pkg/mod.py:Box.take` and `pkg/mod.py:helpers`", tmp_path) == [
        "`pkg/mod.py:Box.take`: pkg/mod.py defines no Box.take",
        "`pkg/mod.py:helpers`: pkg/mod.py defines no helpers",
    ]
    assert reference_problems("see `pkg/gone.py:helper`", tmp_path) == [
        "`pkg/gone.py` does not exist"]
    # Code blocks are examples, not references.
    assert reference_problems("```python\n`pkg/gone.py:x`\n```\n", tmp_path) == []


# Step 0 runs

@pytest.mark.timeout(20)
def test_the_step_0_run_loop_in_the_document_really_runs() -> None:
    """Run the document's own loop and echo task; a client task splits `hello` in two."""
    step0 = _section(HOW_IT_WORKS.read_text(encoding="utf-8"), "Step 0:")
    namespace: dict[str, object] = {}
    for block in _code_blocks(step0, "python"):
        tree = ast.parse(block)
        if all(isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.Assign))
               for node in tree.body):  # definitions only: the "try it" lines start a server
            exec(compile(tree, "docs/how-it-works.md (step 0)", "exec"), namespace)
    assert {"run", "echo", "accept", "ready", "recv_wait", "send_wait"} <= set(namespace)

    received: list[bytes] = []

    def client(sock: socket.socket):  # type: ignore[no-untyped-def]
        yield "send", sock
        sock.send(b"he")
        yield "send", sock
        sock.send(b"llo\n")
        data = b""
        while not data.endswith(b"\n"):
            yield "recv", sock
            data += sock.recv(100)
        received.append(data)
        sock.close()

    server_side, client_side = socket.socketpair()
    ready = namespace["ready"]
    ready.append(namespace["echo"](server_side))  # type: ignore[attr-defined,operator]
    ready.append(client(client_side))  # type: ignore[attr-defined]
    namespace["run"]()  # type: ignore[operator]  # returns once both tasks have finished
    assert received == [b"hello\n"]
    assert server_side.fileno() == -1  # the echo task saw the end and closed its socket


# Traces, options, figures

def _trace_lines(markdown: str) -> Iterator[tuple[str, str, str, str]]:
    """(line, verb, task, detail) for each trace line in the document's text blocks.

    The tracer prints `{seconds:11.3f}  {verb:<8} {task:<20} {detail}`.
    """
    for block in _code_blocks(markdown, "text"):
        for line in block.splitlines():
            match = _TRACE_LINE.match(line)
            if match:
                verb = match.group(1)
                rest = line[match.end():]
                task, _, detail = ("", "", rest) if verb == "select" else rest.partition(" ")
                yield line, verb, task, detail.strip()


def test_trace_excerpts_use_the_tracers_own_words() -> None:
    lines = list(_trace_lines(HOW_IT_WORKS.read_text(encoding="utf-8")))
    assert len(lines) >= 20, "the trace excerpts were not found"
    for line, verb, task, detail in lines:
        assert verb in {"spawn", "run", "wait", "wake", "select", "done", "recv", "send"}, line
        if verb == "select":
            assert re.fullmatch(r"\d+ sockets? ready after waiting \d+\.\d{3}s", detail), line
            continue
        assert task, line
        if verb == "wake":
            assert detail in _WHY_READY.values(), line
        elif verb == "wait":
            template = _WAITING_FOR.get(detail.split(":")[0], "")
            pattern = re.escape(template).replace(r"\{0:\.3f\}", r"\d+\.\d{3}")
            assert template and re.fullmatch(pattern, detail), line
        elif verb == "done":
            assert detail == "finished", line
        elif verb in ("recv", "send"):
            moved, _, by = detail.partition(", sent at once by ")  # (the broadcaster's)
            assert moved == describe_moved(verb, int(moved.split()[0])), line
            assert verb == "send" or not by, line


def test_the_trace_words_table_explains_every_word_the_tracer_prints() -> None:
    table = _section(HOW_IT_WORKS.read_text(encoding="utf-8"), "Step 9:")
    explained = set(re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE))
    assert explained == set(_COLOURS), "the words the tracer prints (each has its colour)"


def _normalised(lines: list[tuple[str, str, str, str]]) -> list[tuple[str, str, str]]:
    """(verb, task, detail) with every number replaced by N: times differ from run to run.

    A `select` that found no socket ready is left out: whether one is printed depends on
    how long the poll took (a busy machine makes even a zero timeout last 1 ms), and it
    decides nothing.
    """
    return [(verb, task, re.sub(r"\d+(\.\d+)?", "N", detail))
            for _, verb, task, detail in lines
            if not (verb == "select" and detail.startswith("0 sockets "))]


def _wait_for_new_trace(trace_file: Path, start: int, *needles: str,
                        timeout: float = 30.0) -> None:
    """Until each of `needles`, in order, is in what the trace file got after `start`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = trace_file.read_bytes()[start:].decode(errors="replace")
        position = 0
        for needle in needles:
            position = text.find(needle, position)
            if position < 0:
                break
        else:
            return
        time.sleep(0.05)
    raise AssertionError(f"the trace did not show {needles} in time")


@pytest.mark.timeout(60)
def test_the_traces_in_the_document_are_what_the_server_does_today(tmp_path: Path) -> None:
    """Replay the journey (alice's `he` + `llo` reaching alice and bob) and find each of
    the document's trace excerpts, line for line, in the real server's trace."""
    markdown = HOW_IT_WORKS.read_text(encoding="utf-8")
    excerpts = {heading: _normalised(list(_trace_lines(_section(markdown, heading))))
                for heading in ("Step 9:", "The journey of one message")}
    assert all(len(excerpt) >= 10 for excerpt in excerpts.values())
    trace_file = tmp_path / "trace.txt"
    with trace_file.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "chat_server", "--host", "127.0.0.1", "--port", "0",
             "--name", "lab", "--trace", "--store", str(tmp_path / "history.sqlite3"),
             "--web-port", "off", "--irc-port", "off"],  # the line protocol's tasks only
            stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            port = int(process.stdout.readline().rsplit(":", 1)[1])  # type: ignore[union-attr]
            alice = LineClient(port)
            alice.read_line()  # the greeting
            alice.send_line("alice")
            alice.read_until("*** alice joined")
            bob = machine_client(port, "bob")
            alice.read_until("*** bob joined")
            time.sleep(0.3)
            sent_he = trace_file.stat().st_size
            alice.send(b"he")
            # `he` must be read on its own, as in the document, however slow the machine.
            _wait_for_new_trace(trace_file, sent_he, "run      reader(alice)",
                                "wait     reader(alice)")
            alice.send(b"llo\n")
            assert alice.read_line() == "<alice> hello"
            assert bob.read_line() == "MSG alice hello"
            time.sleep(0.3)
            close_all([alice, bob])
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)
    real = _normalised(list(_trace_lines("```text\n" + trace_file.read_text() + "```\n")))
    for heading, excerpt in excerpts.items():
        windows = (real[start:start + len(excerpt)] for start in range(len(real)))
        assert excerpt in windows, (
            f"the trace in {heading!r} of docs/how-it-works.md is not what the server does "
            "now; the server's trace:\n" + trace_file.read_text())


def _commands_to_type(markdown: str) -> list[str]:
    """Inline code and shell lines: what a reader is told to type."""
    return re.findall(r"`([^`\n]+)`", _prose(markdown)) + [
        line for block in _code_blocks(markdown, "sh") for line in block.splitlines()]


def test_the_options_the_documents_tell_a_class_to_type_exist() -> None:
    known = {option for action in build_parser()._actions for option in action.option_strings}
    texts = [HOW_IT_WORKS.read_text(encoding="utf-8"),
             _section(README.read_text(encoding="utf-8"), "Thirty-second classroom demo")]
    typed = [command for text in texts for command in _commands_to_type(text)]
    options = {option for command in typed for option in _OPTION.findall(command)}
    assert {"--bots", "--trace", "--trace-delay", "--outbox-limit"} <= options
    assert options - known == set(), "options that chat-server does not have"


def test_the_stats_tables_explain_every_figure_a_server_reports(server) -> None:
    client = machine_client(server.port)
    client.send_line("/stats")
    reported = [pair.split("=")[0] for pair in client.read_until("STATS ")[-1].split()[1:]]
    client.close()
    for document, heading in ((HOW_IT_WORKS, "What /stats tells you"),
                              (PROTOCOL, "The figures in STATS")):
        table = _section(document.read_text(encoding="utf-8"), heading)
        explained = set(re.findall(r"^\| `(\w+)`(?:, `(\w+)`)? \|", table, re.MULTILINE))
        explained_keys = {key for pair in explained for key in pair if key}
        missing = [key for key in reported if key not in explained_keys]
        assert missing == [], f"docs/{document.name} does not explain {missing}"
        assert explained_keys <= set(reported), \
            f"docs/{document.name} explains a figure the server lacks"


def _table_options(section: str) -> set[str]:
    """The options named in the first column of a Markdown table."""
    first_cells = re.findall(r"^\| ([^|]*) \|", section, re.MULTILINE)
    return {option for cell in first_cells for option in _OPTION.findall(cell)}


def test_every_option_in_the_option_tables_is_one_chat_server_has() -> None:
    known = {option for action in build_parser()._actions for option in action.option_strings}
    for document, heading in ((README, "Server options"), (PROTOCOL, "Server command line")):
        options = _table_options(_section(document.read_text(encoding="utf-8"), heading))
        assert {"--host", "--port", "--room", "--store"} <= options, document.name
        assert options - known == set(), f"{document.name}: options chat-server lacks"


def test_every_command_the_protocol_document_lists_is_one_the_server_has() -> None:
    from protocol import COMMANDS

    typed = re.findall(r"^\| `/(\w+)", PROTOCOL.read_text(encoding="utf-8"), re.MULTILINE)
    assert {"nick", "join", "part", "rooms", "topic", "who", "in", "history"} <= set(typed)
    assert set(typed) - set(COMMANDS) == set(), "commands the server does not have"


def test_every_error_code_the_protocol_document_names_exists() -> None:
    from protocol import ErrorCode

    codes = {name for name in vars(ErrorCode) if name.isupper()}
    text = PROTOCOL.read_text(encoding="utf-8")
    named = set(re.findall(r"\bERROR ([A-Z][A-Z_]*[A-Z])\b", text)) - {"CODE"}
    assert {"BAD_ROOM", "NOT_IN_ROOM", "TOO_MANY_ROOMS"} <= named, \
        "the new error codes of version 2 are not all documented"
    assert named - codes == set(), "error codes the server does not have"


# Links between the documents

def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings: lower case, punctuation gone, spaces to dashes."""
    headings = re.findall(r"^#+ (.+)$", _prose(markdown), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in headings}


@pytest.mark.parametrize("document", [README, *sorted((ROOT / "docs").glob("*.md"))],
                         ids=lambda path: str(path.relative_to(ROOT)))
def test_links_between_documents_lead_somewhere(document: Path) -> None:
    for target in _LINK.findall(_prose(document.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue  # a web address: not checked here
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        assert linked.is_file(), f"{document.name} links to {target}, which does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked.read_text(encoding="utf-8")), \
                f"{document.name} links to {target}: no such heading"


def test_what_the_documents_say_of_the_clients_stats_switch_is_so() -> None:
    from chat_client.commands import CLIENT_COMMANDS

    for text in (HOW_IT_WORKS.read_text(encoding="utf-8"), README.read_text(encoding="utf-8")):
        if "`/stats on`" in text:
            assert "on" in CLIENT_COMMANDS["stats"][0], "chat-client has no /stats on"


# The test command: the README's, CI's, and what it runs

def _readme_test_command() -> str:
    section = _section(README.read_text(encoding="utf-8"), "Two commands")
    commands = [line for block in _code_blocks(section, "sh") for line in block.splitlines()
                if " pytest" in line]
    assert len(commands) == 1, f"the README's test command is not one line: {commands}"
    return commands[0]


def test_ci_runs_exactly_the_test_command_the_readme_gives() -> None:
    script = [line for line in CI_SCRIPT.read_text(encoding="utf-8").splitlines()
              if not line.lstrip().startswith("#")]
    assert any(line.startswith(_readme_test_command()) for line in script), \
        ".ci/run does not run the README's test command"


def _collected(*args: str) -> set[str]:
    """The test ids `pytest ARGS` would run from the slow-test modules (collected only)."""
    modules = ["tests/server/test_soak.py", "tests/server/test_fuzz.py",
               "tests/server/test_memory.py"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         *args, *modules], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return {line.split("::", 1)[1] for line in result.stdout.splitlines() if "::" in line}


@pytest.mark.timeout(120)
def test_the_readme_test_command_runs_everything_and_a_bare_pytest_is_the_fast_run() -> None:
    long_runs = {"test_churn_soak_leaves_one_transcript_and_no_leaks",  # soak
                 "test_fuzz_without_flood_control", "test_fuzz_with_flood_control",  # fuzz
                 "test_memory_per_idle_connection_with_two_thousand"}  # slow
    readme_arguments = shlex.split(_readme_test_command().split(" -m pytest", 1)[1])
    everything = _collected(*readme_arguments)
    fast = _collected()
    assert long_runs <= everything
    assert not long_runs & fast
    assert "test_plans_are_reproducible_from_the_seed" in fast  # the quick ones still run
    assert fast < everything


_ACTIVATE = ". .venv/bin/activate"
_FROM_THE_ENVIRONMENT = re.compile(r"(?:chat-server|chat-client|python|pytest)(?: |$)")


def _commands_with_positions(markdown: str) -> Iterator[tuple[int, str]]:
    """(offset, command) for each shell line, and each inline code with an argument."""
    for block in _FENCE.finditer(markdown):
        if block.group(1) == "sh":
            for line in block.group(2).splitlines():
                yield block.start(2), line
    prose_only = _FENCE.sub(lambda block: " " * len(block.group(0)), markdown)
    for code in re.finditer(r"`([^`\n]+ [^`\n]*)`", prose_only):
        yield code.start(), code.group(1)


@pytest.mark.parametrize("document", [README, HOW_IT_WORKS],
                         ids=lambda path: str(path.relative_to(ROOT)))
def test_commands_from_the_environment_come_after_saying_how_to_activate_it(
    document: Path
) -> None:
    """`chat-server`, `chat-client`, `python` and `pytest` are the project's only in an
    active environment (the README's two commands do not put them on the PATH)."""
    text = document.read_text(encoding="utf-8")
    activate = text.find(_ACTIVATE)
    bare = sorted((offset, command) for offset, command in _commands_with_positions(text)
                  if _FROM_THE_ENVIRONMENT.match(command))
    assert bare, f"{document.name}: no command found to check"
    assert 0 <= activate < bare[0][0], (
        f"{document.name} says to type {bare[0][1]!r} before it says how to activate "
        f"the environment ({_ACTIVATE})")


def test_the_readme_points_a_class_at_the_walk_through() -> None:
    demo = _section(README.read_text(encoding="utf-8"), "Thirty-second classroom demo")
    assert "(docs/how-it-works.md)" in demo
    assert "--trace" in demo and "/stats" in demo
