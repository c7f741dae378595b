"""A/B of two gradstep source trees in one process: ``python -m bench.ab OLD_TREE [NEW_TREE]``.

Each tree's ``gradstep`` package is imported under its own name (the modules keep their
own globals, so both engines live side by side), then every repeat times the eager moons
step, the ``chain`` workload and the ``wide`` workload on each tree in turn (A B A B ...);
the figure reported is the median over repeats of t(new) / t(old) from the same repeat, as
`bench.run` does, so load from other processes mostly cancels (and the times are CPU time).
``OLD_TREE`` is a checkout of the "before" commit, e.g. ``git archive 13a87e3 | tar -x -C
/tmp/old``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.backends import GradstepEager
from bench.workloads import moons_problem


def load_tree(path: str) -> dict[str, ModuleType]:
    """Import ``gradstep`` and ``gradstep.nn`` from the tree at ``path``; forget the names."""
    for name in [m for m in sys.modules if m == "gradstep" or m.startswith("gradstep.")]:
        del sys.modules[name]
    sys.path.insert(0, path)
    try:
        modules = {"gradstep": importlib.import_module("gradstep")}
        modules["nn"] = importlib.import_module("gradstep.nn")
    finally:
        sys.path.remove(path)
    for name in [m for m in sys.modules if m == "gradstep" or m.startswith("gradstep.")]:
        del sys.modules[name]
    return modules


def in_tree(tree: dict[str, ModuleType], make: Callable[[], Any]) -> Any:
    """``make()`` with this tree's modules importable as ``gradstep`` and ``gradstep.nn`` (the
    benchmark's backends import them when they set a workload up)."""
    sys.modules["gradstep"], sys.modules["gradstep.nn"] = tree["gradstep"], tree["nn"]
    try:
        return make()
    finally:
        del sys.modules["gradstep"], sys.modules["gradstep.nn"]


def timed(fn: Callable[[], Any]) -> float:
    """CPU seconds of one call (process time: on a shared machine, other processes' load
    does not count; wall time would)."""
    gc.collect()
    start = time.process_time()
    fn()
    return time.process_time() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new", nargs="?", default=os.getcwd())
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    trees = {"old": load_tree(args.old), "new": load_tree(args.new)}
    eager = GradstepEager()
    workloads: dict[str, Callable[[], Callable[[], Any]]] = {
        "moons_step": lambda: eager.moons(moons_problem()),
        "chain 2e4": lambda: eager.chain(20_000),
        "wide 2e4": lambda: eager.wide(20_000),
    }
    gc.freeze()
    for name, make in workloads.items():
        runs = {label: in_tree(tree, make) for label, tree in trees.items()}
        for run in runs.values():  # warm-up
            run()
        times: dict[str, list[float]] = {"old": [], "new": []}
        for r in range(args.repeats):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for label in order:
                times[label].append(timed(runs[label]))
        ratio = statistics.median(n / o for n, o in zip(times["new"], times["old"], strict=True))
        print(
            f"{name:11s} old {statistics.median(times['old']) * 1e3:7.1f} ms   "
            f"new {statistics.median(times['new']) * 1e3:7.1f} ms   new/old {ratio:.3f}"
        )


if __name__ == "__main__":
    main()
