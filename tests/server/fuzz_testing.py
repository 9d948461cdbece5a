"""What the fuzz tests (test_fuzz.py, test_fuzz_web.py) share: a failure names its seed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def seed_in_failures(seed: int, label: str = "fuzz") -> Iterator[None]:
    """Name the seed in any failure, so the run can be replayed (`label`: which fuzzer)."""
    print(f"{label} seed {seed} (replay with CHAT_FUZZ_SEED={seed})")
    try:
        yield
    except Exception as error:
        raise AssertionError(f"[{label} seed {seed}] {type(error).__name__}: {error}") from error
