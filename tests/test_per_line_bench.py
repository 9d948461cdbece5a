"""bench/per_line.py replays load (b) through the server's own objects: it must keep
working as they change (a figure from it is quoted in bench/README.md)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "per_line.py"


@pytest.mark.parametrize("store", ["file", "none"])
def test_the_replay_of_load_b_prints_its_cost_per_line(store: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--store", store, "--rounds", "2"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    figure = re.fullmatch(rf"store {store}: (\d+\.\d\d) µs of Python per line said .*\n",
                          done.stdout)
    assert figure is not None, done.stdout
    assert 0 < float(figure.group(1)) < 10_000
    assert list(tmp_path.iterdir()) == []  # the store's temporary file is gone
