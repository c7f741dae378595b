"""Quickstart: build an expression, run backward(), read every gradient.

python demos/quickstart.py              # f = tanh(a*b + c) at a = 2, b = -3, c = 10
python demos/quickstart.py --seed 1     # at a, b, c drawn at random
python demos/quickstart.py --out out    # also draw the graph: out/quickstart.svg
"""

from __future__ import annotations

import argparse
import random
import sys

from gradstep import Value
from gradstep.demos._cli import demo_parser, output_folder, run_script

__all__ = ["main", "quickstart"]


def quickstart(a0: float = 2.0, b0: float = -3.0, c0: float = 10.0) -> tuple[Value, list[Value]]:
    """f = tanh(a·b + c) and its inputs, after ``f.backward()``; prints every number."""
    # forward: f = (a * b + c).tanh()
    a = Value(a0, label="a")
    b = Value(b0, label="b")
    c = Value(c0, label="c")
    f = (a * b + c).tanh()
    f.label = "f"
    print(f"f = tanh(a*b + c) = {f.data:.4f}   at a = {a0:g}, b = {b0:g}, c = {c0:g}")

    # backward: ∂f/∂v for every node
    f.backward()
    for v in (a, b, c):
        print(f"∂f/∂{v.label} = {v.grad:.4f}")
    return f, [a, b, c]


def _parser() -> argparse.ArgumentParser:
    return demo_parser(
        __name__,
        "Build f = tanh(a*b + c), run backward() and print f and every input's gradient.",
        seed_default=None,
        seed_help="draw a, b, c at random (one decimal, in [-3, 3]) from seed N instead "
        "of a = 2, b = -3, c = 10",
        out_default=None,
        out_help="also draw the graph into DIR as quickstart.svg (needs Graphviz's dot)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    out = output_folder(parser, args.out) if args.out else None
    if args.seed is None:
        f, inputs = quickstart()
    else:
        rng = random.Random(args.seed)
        f, inputs = quickstart(*(round(rng.uniform(-3.0, 3.0), 1) for _ in range(3)))
    if out is not None:
        from gradstep.viz.drawing import GraphvizNotFoundError, draw_dot, render

        try:
            written = render(draw_dot(f, highlight=inputs), out / "quickstart.svg")
        except (OSError, GraphvizNotFoundError) as error:
            print(f"{parser.prog}: error: could not draw the graph: {error}", file=sys.stderr)
            return 1
        print(f"drawing written to {written}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
