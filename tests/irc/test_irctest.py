"""irctest, the IRC server conformance suite, run against our IRC listener.

It runs as a subprocess (irctest is run, not copied) with our controller
(lanchat_controller.py). The suites that apply to what we map are run; the tests that
fail because our model differs from IRC's are deselected, each listed with its reason
in docs/irc.md. The test is skipped when irctest is not next to the project.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
IRCTEST = Path(os.environ.get("IRCTEST_DIR", HERE.parents[2] / "shared" / "irctest"))

SUITES = [
    "connection_registration.py", "pingpong.py", "quit.py", "join.py", "part.py",
    "messages.py", "names.py", "topic.py", "kick.py", "cap.py", "echo_message.py", "who.py",
    "message_tags.py", "chmodes/moderated.py", "chmodes/ban.py", "chmodes/operator.py",
]

# Deselected: our model differs from IRC's here (docs/irc.md says why, group by group).
KNOWN_DIFFERENCES = [
    "connection_registration.py::ConnectionRegistrationTestCase::testConnectionRegistration",
    "connection_registration.py::ConnectionRegistrationTestCase::testEmptyRealname",
    "connection_registration.py::ConnectionRegistrationTestCase::testNonutf8Realname",
    "connection_registration.py::ConnectionRegistrationTestCase::testNonutf8Username",
    "pingpong.py::PingPongTestCase::testPing",
    "pingpong.py::PingPongTestCase::testPingEmptyToken",
    "quit.py::ChannelQuitTestCase::testQuit",
    "messages.py::NoticeTestCase::testNotice",
    "messages.py::NoticeTestCase::testNoticeNonexistentChannel",
    "messages.py::TagsTestCase::testLineTooLong",
    "names.py::NamesTestCase::testNames2812",
    "names.py::NamesTestCase::testNamesModern",
    "names.py::NamesTestCase::testNames2812Secret",
    "topic.py::TopicTestCase::testTopicMode",
    "topic.py::TopicTestCase::testTopicNonexistentChannel",
    "topic.py::TopicPrivilegesTestCase::testTopicPrivileges",
    "kick.py::KickTestCase::testKickPrivileges",
    "kick.py::KickTestCase::testKickNonexistentChannel",
    "cap.py::CapTestCase::testReqOne",
    "cap.py::CapTestCase::testReqTwo",
    "cap.py::CapTestCase::testReqOneThenOne",
    "cap.py::CapTestCase::testReqPostRegistration",
    "cap.py::CapTestCase::testCapRemovalByClient",
    "echo_message.py::EchoMessageTestCase::testEchoMessage[NOTICE-False-True]",
    "who.py::WhoTestCase",
    "who.py::WhoInvisibleTestCase",
    "message_tags.py::MessageTagsTestCase::testBasic",
    "message_tags.py::MessageTagsTestCase::testLengthLimits",
    "message_tags.py::MessageTagsTestCase::testRecipientCapability",
    "chmodes/moderated.py::ModeratedModeTestCase::testModeratedMode",
    "chmodes/ban.py::BanModeTestCase::testBan",
    "chmodes/ban.py::BanModeTestCase::testBanList",
    "chmodes/operator.py::ChannelOperatorModeTestCase",
]


@pytest.mark.irctest
@pytest.mark.timeout(1500)  # irctest starts a server per test: minutes
@pytest.mark.skipif(not (IRCTEST / "irctest").is_dir(), reason="irctest is not here")
def test_irctest_suites_that_apply_pass() -> None:
    tests = "irctest/server_tests"  # node ids as pytest names them, from irctest's folder
    command = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--tb=line",
        "--controller=lanchat_controller",
        "-m", "not Ergo and not deprecated and not strict and not services", "-k", "not Ergo",
        *(f"{tests}/{suite}" for suite in SUITES),
        *(arg for known in KNOWN_DIFFERENCES for arg in ("--deselect", f"{tests}/{known}")),
    ]
    env = {**os.environ, "PYTHONPATH": str(HERE), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(command, cwd=IRCTEST, env=env, capture_output=True, text=True,
                            timeout=1200)
    summary = result.stdout.strip().splitlines()[-1:]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "passed" in summary[0], summary
