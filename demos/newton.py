"""Newton's method with exact Hessians: minimise Rosenbrock's function in a few steps.

python demos/newton.py                   # a seeded random start in [-2, 2]²
python demos/newton.py --start -1.2 1    # the classic start
gradstep demo newton --steps 50

f(x, y) = (1 − x)² + 100·(y − x²)², minimum 0 at (1, 1), in a long curved valley where
gradient descent crawls.  Each Newton step solves H·d = −∇f with the exact gradient and
Hessian from gradstep.grad(..., create_graph=True) (a gradient of a gradient), adds λ·I when
H is not positive definite, and halves the step until f decreases.  Gradient descent gets
the same number of steps, for comparison.  Writes the iterates (CSV) and, with matplotlib,
both paths over the contours of f (PNG).
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import gradstep
from gradstep import Value
from gradstep.demos._cli import demo_parser, output_folder, run_script
from gradstep.demos._training import figure, have_matplotlib, print_written

__all__ = ["main", "rosenbrock", "gradient_and_hessian", "newton_step", "newton"]

Objective = Callable[[Sequence[Value]], Value]


def rosenbrock(v: Sequence[Value]) -> Value:
    """f(x, y) = (1 − x)² + 100·(y − x²)²."""
    x, y = v
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def gradient_and_hessian(
    f: Objective, point: Sequence[float]
) -> tuple[float, list[float], list[list[float]]]:
    """f, ∇f and the Hessian ∂²f/∂xᵢ∂xⱼ at ``point``: a grad with create_graph, one per row."""
    xs = [Value(p, label=f"x{i}") for i, p in enumerate(point)]
    out = f(xs)
    first = gradstep.grad(out, xs, create_graph=True)  # ∂f/∂xᵢ as Values, differentiable again
    hessian = [gradstep.grad(g, xs) for g in first]  # ∂(∂f/∂xᵢ)/∂xⱼ
    return out.data, [g.data for g in first], hessian


def _solve(a: list[list[float]], b: list[float]) -> list[float] | None:
    """x with A·x = b for a symmetric positive definite A (Cholesky), or None if A is not."""
    n = len(b)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = a[i][j] - sum(low[i][k] * low[j][k] for k in range(j))
            if i == j:
                if not s > 0.0:
                    return None
                low[i][i] = math.sqrt(s)
            else:
                low[i][j] = s / low[j][j]
    z = [0.0] * n
    for i in range(n):
        z[i] = (b[i] - sum(low[i][k] * z[k] for k in range(i))) / low[i][i]
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (z[i] - sum(low[k][i] * x[k] for k in range(i + 1, n))) / low[i][i]
    return x


def newton_step(f: Objective, point: list[float]) -> tuple[list[float], float, float]:
    """One damped Newton step: (new point, f before, |∇f| before)."""
    value, gradient, hessian = gradient_and_hessian(f, point)
    shift = 0.0
    while True:  # (H + λI)·d = −∇f, λ raised until H + λI is positive definite
        shifted = [
            [h + (shift if i == j else 0.0) for j, h in enumerate(row)]
            for i, row in enumerate(hessian)
        ]
        direction = _solve(shifted, [-g for g in gradient])
        if direction is not None:
            break
        shift = max(2.0 * shift, 1e-3 * max(abs(h) for row in hessian for h in row) or 1e-3)
    step = 1.0
    for _ in range(60):  # halve the step until f decreases
        trial = [p + step * d for p, d in zip(point, direction, strict=True)]
        if f([Value(t) for t in trial]).data <= value:
            break
        step *= 0.5
    return trial, value, math.hypot(*gradient)


def newton(
    f: Objective, start: Sequence[float], steps: int, tol: float = 1e-12
) -> list[list[float]]:
    """The iterates of damped Newton from ``start``, until |∇f| < tol or ``steps`` steps."""
    path = [list(start)]
    for _ in range(steps):
        point, _, gradient_norm = newton_step(f, path[-1])
        if gradient_norm < tol:
            break
        path.append(point)
    return path


def gradient_descent(
    f: Objective, start: Sequence[float], steps: int, lr: float
) -> list[list[float]]:
    """The iterates of plain gradient descent, x ← x − lr·∇f (backward() for the gradient)."""
    path = [list(start)]
    for _ in range(steps):
        xs = [Value(p) for p in path[-1]]
        # forward
        out = f(xs)
        # backward
        out.backward()
        # update
        path.append([x.data - lr * x.grad for x in xs])
    return path


def _value(f: Objective, point: Sequence[float]) -> float:
    return f([Value(p) for p in point]).data


def _save_paths(
    path: Path, f: Objective, newton_path: list[list[float]], gd_path: list[list[float]]
) -> None:
    """Both paths over log-spaced contours of f, as a PNG."""
    import numpy as np

    fig = figure(6.0, 5.0)
    ax = fig.subplots()
    points = newton_path + gd_path
    x_low = min(-2.0, *(p[0] for p in points)) - 0.2
    x_high = max(2.0, *(p[0] for p in points)) + 0.2
    y_low = min(-1.0, *(p[1] for p in points)) - 0.2
    y_high = max(3.0, *(p[1] for p in points)) + 0.2
    gx, gy = np.meshgrid(np.linspace(x_low, x_high, 300), np.linspace(y_low, y_high, 300))
    gz = (1 - gx) ** 2 + 100 * (gy - gx**2) ** 2
    ax.contour(gx, gy, np.log10(gz + 1e-3), levels=25, cmap="Greys", linewidths=0.6)
    ax.plot(*zip(*gd_path, strict=True), ".-", color="tab:blue", ms=2, lw=0.8,
            label=f"gradient descent ({len(gd_path) - 1} steps)")  # fmt: skip
    ax.plot(*zip(*newton_path, strict=True), "o-", color="tab:red", ms=4, lw=1.2,
            label=f"Newton, exact Hessian ({len(newton_path) - 1} steps)")  # fmt: skip
    ax.plot([1.0], [1.0], "*", color="gold", ms=14, mec="black", label="minimum (1, 1)")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Rosenbrock: (1 − x)² + 100·(y − x²)²")
    ax.legend(loc="lower right", fontsize=8)
    fig.savefig(path)


def _parser() -> argparse.ArgumentParser:
    parser = demo_parser(
        __name__,
        "Minimise Rosenbrock's function by Newton's method with exact Hessians (gradients "
        "of gradients), beside gradient descent; write the iterates and a plot.",
        seed_default=0,
        seed_help="seed of the random start (0)",
        out_default="out/newton",
        out_help="output folder (out/newton)",
    )
    parser.add_argument(
        "--start", type=float, nargs=2, metavar=("X", "Y"), help="start here instead"
    )
    parser.add_argument("--steps", type=int, default=100, help="most Newton steps (100)")
    parser.add_argument(
        "--lr", type=float, default=1e-3, help="gradient descent's learning rate (0.001)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    if not (math.isfinite(args.lr) and args.lr > 0.0):
        parser.error(f"--lr must be a positive finite number, got {args.lr}")
    if args.start is not None and not all(math.isfinite(s) for s in args.start):
        parser.error("--start needs two finite numbers")
    out = output_folder(parser, args.out)

    rng = random.Random(args.seed)
    start = list(args.start) if args.start else [rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0)]
    f = rosenbrock
    newton_path = newton(f, start, args.steps)
    gd_path = gradient_descent(f, start, len(newton_path) - 1, args.lr)

    print(f"minimising f(x, y) = (1 − x)² + 100·(y − x²)² from ({start[0]:.4f}, {start[1]:.4f})")
    print(" step            x            y             f(x, y)")
    for k, point in enumerate(newton_path):
        print(f"{k:5d}  {point[0]:11.8f}  {point[1]:11.8f}  {_value(f, point):18.10e}")
    last, gd_last = newton_path[-1], gd_path[-1]
    print(
        f"Newton: {len(newton_path) - 1} steps to ({last[0]:.10f}, {last[1]:.10f}), "
        f"f = {_value(f, last):.3e}"
    )
    print(
        f"gradient descent (lr {args.lr:g}), the same {len(gd_path) - 1} steps: "
        f"({gd_last[0]:.4f}, {gd_last[1]:.4f}), f = {_value(f, gd_last):.3e}"
    )

    iterates = out / "iterates.csv"
    rows = ["method,step,x,y,f"]
    for name, path in (("newton", newton_path), ("gradient_descent", gd_path)):
        rows += [f"{name},{k},{p[0]!r},{p[1]!r},{_value(f, p)!r}" for k, p in enumerate(path)]
    iterates.write_text("\n".join(rows) + "\n", encoding="utf-8")
    written = [iterates]
    if have_matplotlib():
        picture = out / "paths.png"
        _save_paths(picture, f, newton_path, gd_path)
        written.append(picture)
    print_written(written)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
