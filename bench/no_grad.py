"""What `gradstep.no_grad` saves on the moons model's accuracy pass (``python -m bench.no_grad``).

The moons demo's model, MLP(2, [16, 16, 1]) (seed 0), scores its 100 training points
(two moons, noise 0.1, seed 0) two ways, each recording the graph and under ``no_grad``:

- ``scores → floats``: ``accuracy([model(x).data for x in X], y)``, as the demo does; each
  point's graph is dropped as soon as its score is read;
- ``scores kept``: ``scores = [model(x) for x in X]`` first, then the accuracy; the 100
  graphs stay alive as long as the scores do.

Time: one process, the four variants in turn in each repeat, medians; a ratio is the
median of the per-repeat ratios.  Memory: tracemalloc's peak during one pass, and what is
still held after it while its result is alive.  Last, the price of the grad-mode check in
`engine._node` while recording: a training step (forward, backward) with the engine's
`_node`, and with a copy of it without the check (the engine before ``no_grad``).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence

if __package__ in (None, ""):  # run as a script: python bench/no_grad.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gradstep import Value, engine, no_grad
from gradstep.demos.moons import accuracy
from gradstep.nn import MLP
from gradstep.nn.datasets import make_moons
from gradstep.nn.losses import hinge_loss, l2_penalty
from gradstep.ops import OpSpec

__all__ = ["main"]

X, Y = make_moons(100, noise=0.1, seed=0)
MODEL = MLP(2, [16, 16, 1], seed=0)


def scores_to_floats() -> float:
    """The demo's accuracy pass: each score read as a float at once."""
    return accuracy([MODEL(x).data for x in X], Y)  # type: ignore[union-attr]


def scores_kept() -> tuple[float, list[Value]]:
    """Scores kept as Values (their graphs with them), then the accuracy."""
    scores: list[Value] = [MODEL(x) for x in X]  # type: ignore[misc]
    return accuracy([s.data for s in scores], Y), scores


def under_no_grad(f: Callable[[], object]) -> Callable[[], object]:
    """``f`` run inside ``with no_grad():``."""

    def g() -> object:
        with no_grad():
            return f()

    return g


def train_step() -> float:
    """Forward (hinge + L2), backward: the moons step without the update."""
    loss = hinge_loss([MODEL.output(x) for x in X], Y) + l2_penalty(MODEL.parameters(), 1e-4)
    MODEL.zero_grad()
    loss.backward()
    return loss.data


def _node_without_check(
    data: float,
    a: Value | None,
    b: Value | tuple[Value, ...] | None,
    spec: OpSpec | None,
    ctx: float | None = None,
) -> Value:
    """`engine._node` without the grad-mode check (the engine before ``no_grad``)."""
    out = engine._new_object(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    out._a = a
    out._b = b
    out._spec = spec
    out._ctx = ctx
    out._scope = ""
    return out


def _with_node(node: Callable[..., Value], f: Callable[[], object]) -> Callable[[], object]:
    """``f`` run with ``engine._node`` replaced by ``node``."""

    def g() -> object:
        saved = engine._node
        engine._node = node
        try:
            return f()
        finally:
            engine._node = saved

    return g


def time_variants(
    variants: dict[str, Callable[[], object]], repeats: int
) -> dict[str, list[float]]:
    """Seconds per call of each variant, the variants in turn within each repeat."""
    for f in variants.values():  # warm-up
        f()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, f in variants.items():
            gc.collect()
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
    return times


def memory(f: Callable[[], object]) -> tuple[int, int]:
    """(peak bytes during ``f()``, bytes still held after it while its result is alive)."""
    gc.collect()
    tracemalloc.start()
    try:
        result = f()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak, held


def _ratio(times: dict[str, list[float]], name: str, reference: str) -> float:
    """Median over repeats of t(name) / t(reference) in the same repeat."""
    return statistics.median(a / b for a, b in zip(times[name], times[reference], strict=True))


def _kib(n: int) -> str:
    return f"{n / 1024:,.0f} KiB" if n >= 10 * 1024 else f"{n / 1024:.1f} KiB"


def _ms(seconds: Sequence[float]) -> str:
    return f"{statistics.median(seconds) * 1e3:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.no_grad", description=__doc__)
    parser.add_argument("--repeats", type=int, default=21, help="timed repeats (21)")
    args = parser.parse_args(argv)

    passes = {
        "scores → floats": scores_to_floats,
        "scores kept": scores_kept,
    }
    variants: dict[str, Callable[[], object]] = {}
    for name, f in passes.items():
        variants[f"{name}, recording"] = f
        variants[f"{name}, no_grad"] = under_no_grad(f)
    times = time_variants(variants, args.repeats)
    print(f"moons accuracy pass, MLP(2, [16, 16, 1]), 100 points; medians of {args.repeats}")
    print()
    print("| pass | mode | time | time vs recording | peak memory | held after |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name in passes:
        for mode in ("recording", "no_grad"):
            key = f"{name}, {mode}"
            peak, held = memory(variants[key])
            ratio = _ratio(times, key, f"{name}, recording")
            print(
                f"| {name} | {mode} | {_ms(times[key])} | {ratio:.2f}× | {_kib(peak)} | "
                f"{_kib(held)} |"
            )

    check = time_variants(
        {
            "with the check": train_step,
            "without": _with_node(_node_without_check, train_step),
        },
        args.repeats,
    )
    print()
    print(
        f"training step (forward + backward) while recording: {_ms(check['with the check'])} "
        f"with the grad-mode check in _node, {_ms(check['without'])} without; "
        f"ratio {_ratio(check, 'with the check', 'without'):.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
