"""Tests for `chat_server.flood`: parsing `--flood`, and the token bucket's arithmetic.

The bucket is pure arithmetic with the time passed in, so these tests drive it with plain
numbers: a burst passes at once, then lines are spaced 1/rate apart, idle time refills it
but never past the burst. A property checks the promise as a reader keeps it (sleeping the
delay it is told before handling each line): nothing is dropped, and no stretch of time
of length T handles more than `burst + rate * T` lines.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat_server.flood import FloodPolicy, TokenBucket


# Parsing


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("10/5", FloodPolicy(10, 5.0)),
        ("1/0.5", FloodPolicy(1, 0.5)),
        (" 3 / 2 ", FloodPolicy(3, 2.0)),
        ("200/1000", FloodPolicy(200, 1000.0)),
    ],
)
def test_parse_reads_burst_slash_rate(text: str, policy: FloodPolicy) -> None:
    assert FloodPolicy.parse(text) == policy


@pytest.mark.parametrize("text", ["off", "OFF", " Off "])
def test_parse_off_means_no_flood_control(text: str) -> None:
    assert FloodPolicy.parse(text) is None


@pytest.mark.parametrize(
    "text",
    ["", "10", "10/", "/5", "ten/5", "10/five", "1.5/2", "0/5", "-1/5", "10/0", "10/-1",
     "10/5/2", "10/nan", "10/inf", "of"],
)
def test_parse_rejects_anything_else_with_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        FloodPolicy.parse(text)


# The bucket


def test_a_full_burst_passes_with_no_delay() -> None:
    bucket = TokenBucket(FloodPolicy(burst=10, rate=5), now=100.0)
    assert [bucket.delay_for_next_line(100.0) for _ in range(10)] == [0.0] * 10


def test_lines_past_the_burst_at_one_instant_are_delayed_a_further_one_over_rate_each() -> None:
    bucket = TokenBucket(FloodPolicy(burst=3, rate=4), now=0.0)
    delays = [bucket.delay_for_next_line(0.0) for _ in range(6)]
    assert delays[:3] == [0.0, 0.0, 0.0]
    assert delays[3:] == pytest.approx([0.25, 0.5, 0.75])


def test_a_reader_that_sleeps_its_delay_handles_lines_one_over_rate_apart() -> None:
    bucket = TokenBucket(FloodPolicy(burst=2, rate=5), now=0.0)
    now = 0.0
    handled = []
    for _ in range(7):
        now += bucket.delay_for_next_line(now)
        handled.append(now)
    assert handled[:2] == [0.0, 0.0]
    gaps = [later - earlier for earlier, later in zip(handled[2:], handled[3:])]
    assert handled[2] == pytest.approx(0.2)
    assert gaps == pytest.approx([0.2] * 4)


def test_idle_time_refills_the_bucket_at_rate() -> None:
    bucket = TokenBucket(FloodPolicy(burst=10, rate=5), now=0.0)
    for _ in range(10):
        bucket.delay_for_next_line(0.0)
    # One second later five tokens are back: five lines free, the sixth waits.
    delays = [bucket.delay_for_next_line(1.0) for _ in range(6)]
    assert delays[:5] == [0.0] * 5
    assert delays[5] == pytest.approx(0.2)


def test_a_long_idle_refills_no_more_than_the_burst() -> None:
    bucket = TokenBucket(FloodPolicy(burst=4, rate=10), now=0.0)
    bucket.delay_for_next_line(0.0)
    delays = [bucket.delay_for_next_line(3600.0) for _ in range(5)]
    assert delays[:4] == [0.0] * 4
    assert delays[4] == pytest.approx(0.1)


def test_a_clock_that_goes_backwards_grants_no_tokens() -> None:
    bucket = TokenBucket(FloodPolicy(burst=1, rate=1), now=50.0)
    assert bucket.delay_for_next_line(50.0) == 0.0
    assert bucket.delay_for_next_line(10.0) == pytest.approx(1.0)
    assert bucket.delay_for_next_line(10.0) == pytest.approx(2.0)


@settings(max_examples=200, deadline=None)
@given(
    burst=st.integers(min_value=1, max_value=20),
    rate=st.floats(min_value=0.5, max_value=50),
    gaps=st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=60),
)
def test_an_obedient_reader_loses_no_line_and_never_exceeds_burst_plus_rate_times_t(
    burst: int, rate: float, gaps: list[float],
) -> None:
    bucket = TokenBucket(FloodPolicy(burst, rate), now=0.0)
    arrival = 0.0
    now = 0.0
    handled: list[float] = []
    for gap in gaps:
        arrival += gap
        now = max(now, arrival)  # the reader reaches the line when it has arrived
        now += bucket.delay_for_next_line(now)
        handled.append(now)

    assert len(handled) == len(gaps)
    assert handled == sorted(handled)
    for first in range(len(handled)):
        for last in range(first, len(handled)):
            lines = last - first + 1
            window = handled[last] - handled[first]
            assert lines <= burst + rate * window + 1e-6
