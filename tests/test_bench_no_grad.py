"""bench/no_grad.py runs as documented, and the memory saving it reports holds (untimed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_no_grad_benchmark_runs_and_no_grad_holds_less_memory() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.no_grad", "--repeats", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows = re.findall(
        r"^\| (scores → floats|scores kept) \| (recording|no_grad) \| [0-9.]+ ms \| [0-9.]+× "
        r"\| ([0-9,.]+) KiB \| ([0-9,.]+) KiB \|$",
        proc.stdout,
        re.MULTILINE,
    )
    assert len(rows) == 4, proc.stdout
    kib = {
        (name, mode): (float(peak.replace(",", "")), float(held.replace(",", "")))
        for name, mode, peak, held in rows
    }
    # one point's graph (≈ 650 nodes) at the peak vs a few leaves at a time
    assert kib["scores → floats", "no_grad"][0] < kib["scores → floats", "recording"][0] / 5
    # 100 graphs kept alive vs 100 leaves
    assert kib["scores kept", "no_grad"][1] < kib["scores kept", "recording"][1] / 100
    assert "training step (forward + backward) while recording" in proc.stdout
