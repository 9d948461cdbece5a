"""What the fuzz tests (test_fuzz.py, test_fuzz_web.py) share: the seed and scale they
read from the environment, and failures that name the seed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

FUZZ_SEED = int(os.environ.get("CHAT_FUZZ_SEED", "20240611"))
"""The seed every fuzz run starts from (`CHAT_FUZZ_SEED=123` tries another)."""
FUZZ_SCALE = float(os.environ.get("CHAT_FUZZ_SCALE", "1"))
"""Shrinks a run's duration and hostile count for development (`CHAT_FUZZ_SCALE=0.3`);
the tests as committed run at 1."""


@contextmanager
def seed_in_failures(seed: int, label: str = "fuzz") -> Iterator[None]:
    """Name the seed in any failure, so the run can be replayed (`label`: which fuzzer)."""
    print(f"{label} seed {seed} (replay with CHAT_FUZZ_SEED={seed})")
    try:
        yield
    except Exception as error:
        raise AssertionError(f"[{label} seed {seed}] {type(error).__name__}: {error}") from error
