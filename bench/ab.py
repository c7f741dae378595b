"""A/B of two gradstep source trees in one process: ``python -m bench.ab OLD_TREE [NEW_TREE]``.

Each tree's ``gradstep`` package is imported under its own name (the modules keep their
own globals, so both engines live side by side), then every repeat times the eager moons
step, the ``chain`` workload and the ``wide`` workload on each tree in turn (A B A B ...);
the figure reported is the median over repeats of t(new) / t(old) from the same repeat, as
`bench.run` does, so load from other processes mostly cancels.  ``OLD_TREE`` is a checkout
of the "before" commit, e.g. ``git archive 13a87e3 | tar -x -C /tmp/old``.
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

from bench.backends import scalar_moons_loss, sgd_update
from bench.workloads import CHAIN_SCALE, CHAIN_SHIFT, moons_problem, wide_data


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


def moons_step(tree: dict[str, ModuleType]) -> Callable[[], float]:
    """One eager training step on the benchmark's moons problem with this tree's MLP."""
    problem = moons_problem()
    value = tree["gradstep"].Value
    model = tree["nn"].MLP(problem.sizes[0], problem.sizes[1:])
    params = model.parameters()
    for p, v in zip(params, problem.flat_params(), strict=True):
        p.data = v
    loss_fn = scalar_moons_loss(model, value, problem)

    def step() -> float:
        loss = loss_fn()
        for p in params:
            p.grad = 0.0
        loss.backward()
        sgd_update(params, problem.lr)
        return float(loss.data)

    return step


def chain(tree: dict[str, ModuleType], n: int = 20_000) -> Callable[[], Any]:
    value = tree["gradstep"].Value

    def run() -> float:
        x = value(1.0)
        y = x
        for _ in range(n):
            y = y * CHAIN_SCALE + CHAIN_SHIFT
        y.backward()
        return float(x.grad)

    return run


def wide(tree: dict[str, ModuleType], n: int = 20_000) -> Callable[[], Any]:
    value = tree["gradstep"].Value
    w_data, x_data = wide_data(n)
    ws, xs = [value(v) for v in w_data], [value(v) for v in x_data]

    def run() -> float:
        s = sum(w * x for w, x in zip(ws, xs, strict=True))
        s.backward()
        return float(s.data)

    return run


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new", nargs="?", default=os.getcwd())
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    trees = {"old": load_tree(args.old), "new": load_tree(args.new)}
    workloads = {"moons_step": moons_step, "chain 2e4": chain, "wide 2e4": wide}
    gc.freeze()
    for name, make in workloads.items():
        runs = {label: make(tree) for label, tree in trees.items()}
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
