"""Grading a class folder with ``gradstep test-engine``: total and per-engine wall time.

``python -m bench.grading`` copies the engines of tests/engines/ (the correct one and every
broken one) round-robin into ``--engines`` submission folders (100 by default), each a
``sNNN/engine.py`` as a student hands it in, and runs ``gradstep test-engine FOLDER`` on
them once with the class defaults, ``--jobs`` at a time.  The engines that build on
tests/engines/good.py import it as ``_base.Base`` (a file that defines no ``Value``, so
it is not graded itself).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINES = Path(__file__).resolve().parents[1] / "tests" / "engines"


def build_class(folder: Path, count: int) -> list[str]:
    """Write ``count`` submissions into ``folder``; return the engine each one copies."""
    base = (ENGINES / "good.py").read_text(encoding="utf-8")
    base = base.replace("class Value:", "class Base:").replace(
        "isinstance(other, Value)", "isinstance(other, Base)"
    )
    sources = sorted(ENGINES.glob("*.py"))
    copied = []
    for k in range(count):
        source = sources[k % len(sources)]
        student = folder / f"s{k:03d}"
        student.mkdir(parents=True)
        text = source.read_text(encoding="utf-8").replace(
            "from good import Value as Good", "from _base import Base as Good"
        )
        (student / "engine.py").write_text(text, encoding="utf-8")
        (student / "_base.py").write_text(base, encoding="utf-8")
        copied.append(source.stem)
    return copied


def main(argv: list[str] | None = None) -> int:
    """Build the class, grade it, print the total, the per-engine times and the slowest."""
    parser = argparse.ArgumentParser(prog="python -m bench.grading", description=__doc__)
    parser.add_argument("--engines", type=int, default=100, help="submissions (default 100)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="default: CPUs")
    args, extra = parser.parse_known_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        copied = build_class(folder, args.engines)
        out = Path(tmp) / "report"
        command = [sys.executable, "-m", "gradstep", "test-engine", str(folder),
                   "--jobs", str(args.jobs), "--out", str(out), *extra]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        total = time.perf_counter() - start
        if done.returncode not in (0, 1):
            print(done.stderr, file=sys.stderr)
            return 1
        with (out / "grades.csv").open(encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
    seconds = [float(row["seconds"]) for row in rows]
    by_engine: dict[str, list[float]] = {}
    for row, name in zip(rows, copied, strict=True):
        by_engine.setdefault(name, []).append(float(row["seconds"]))
    statuses = {s: sum(row["status"] == s for row in rows) for s in ("pass", "fail", "error")}
    print(f"{len(rows)} engines, --jobs {args.jobs} on {os.cpu_count()} CPUs: {total:.1f} s")
    print(f"  {total / len(rows):.2f} s of wall time per engine")
    print(
        f"  each engine's own run: median {statistics.median(seconds):.2f} s, "
        f"mean {statistics.fmean(seconds):.2f} s, max {max(seconds):.1f} s"
    )
    print(f"  {statuses['pass']} pass, {statuses['fail']} fail, {statuses['error']} errors")
    print("  slowest engines (seconds per copy):")
    ranked = sorted(by_engine.items(), key=lambda item: -statistics.fmean(item[1]))
    for name, times in ranked[:6]:
        print(f"    {name:<28} {statistics.fmean(times):6.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
