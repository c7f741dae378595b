"""Run a measurement in a fresh interpreter: no other test's threads or garbage.

tracemalloc and ``gc.collect()`` see the whole process.  Garbage another test leaves is not
gone after one collection: after a training demo (matplotlib figures) successive
``gc.collect()`` calls return 2888, then 4858, then 0 — so "the second collection finds
nothing" failed right after tests/test_demos.py.  And a thread another test leaves running
(tqdm's monitor, which wakes every 10 s) allocates inside any tracemalloc window, more
often the longer the window takes under load.  So the memory tests measure in a process of
their own, where only gradstep runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent


def run_fresh(source: str) -> Any:
    """Run ``source`` (which prints one JSON value last) in a new interpreter; return it."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        cwd=TESTS,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"the measurement failed:\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])
