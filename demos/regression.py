"""Regression: an MLP fits a noisy 1-D curve, y = sin(x), by minimising the squared error.

python demos/regression.py                  # 40 points on [-3, 3], MLP(1, [16, 16, 1]) tanh
python demos/regression.py --epochs 400 --noise 0.05

The loss is the mean squared error (1/n) Σ (ŷᵢ - yᵢ)², minimised by Adam.
Writes the fitted curve and a loss curve (PNG) and the trained model (JSON).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Sequence

from gradstep.demos._cli import demo_parser, output_folder, run_script
from gradstep.demos._training import (
    Progress,
    have_matplotlib,
    print_written,
    save_curve_fit,
    save_loss_curve,
)
from gradstep.nn import MLP
from gradstep.nn.losses import mse_loss
from gradstep.nn.optim import Adam, Optimizer

__all__ = ["main", "make_curve", "train_step"]


def make_curve(
    n_samples: int = 40, noise: float = 0.1, seed: int | None = 0
) -> tuple[list[float], list[float]]:
    """``n_samples`` points x evenly spaced on [-3, 3] with y = sin x + N(0, noise²)."""
    if n_samples < 2:
        raise ValueError(f"make_curve needs at least 2 samples, got {n_samples}")
    if noise < 0:
        raise ValueError(f"noise must be non-negative, got {noise}")
    rng = random.Random(seed)
    X = [-3.0 + 6.0 * i / (n_samples - 1) for i in range(n_samples)]
    y = [math.sin(x) + rng.gauss(0.0, noise) for x in X]
    return X, y


def train_step(model: MLP, optimizer: Optimizer, X: Sequence[float], y: Sequence[float]) -> float:
    """One full-batch step; returns the loss before the update."""
    # forward: a prediction per point, the mean squared error
    predictions = [model.output([x]) for x in X]
    loss = mse_loss(predictions, list(y))
    # backward
    optimizer.zero_grad()
    loss.backward()
    # update
    optimizer.step()
    return loss.data


def _parser() -> argparse.ArgumentParser:
    parser = demo_parser(
        __name__,
        "Fit y = sin(x) + noise with MLP(1, [16, 16, 1]) (tanh), squared error and Adam; "
        "write the fitted curve, a loss curve and the model. Each epoch's line shows the "
        "loss of its forward pass, before its update; the summary, that of the trained model.",
        seed_default=0,
        seed_help="seed for data and weights (0)",
        out_default="out/regression",
        out_help="output folder (out/regression)",
    )
    parser.add_argument("--samples", type=int, default=40, help="number of points (40)")
    parser.add_argument("--noise", type=float, default=0.1, help="noise std of y (0.1)")
    parser.add_argument("--epochs", type=int, default=200, help="full-batch Adam steps (200)")
    parser.add_argument("--lr", type=float, default=0.02, help="Adam learning rate (0.02)")
    parser.add_argument(
        "--no-progress", action="store_true", help="print a line every 10%% instead of a bar"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.samples < 2 or args.epochs < 1:
        parser.error("--samples must be at least 2 and --epochs at least 1")
    if not (math.isfinite(args.lr) and args.lr > 0.0):
        parser.error(f"--lr must be a positive finite number, got {args.lr}")
    if not (math.isfinite(args.noise) and args.noise >= 0.0):
        parser.error(f"--noise must be a finite number >= 0, got {args.noise}")
    out = output_folder(parser, args.out)

    X, y = make_curve(args.samples, noise=args.noise, seed=args.seed)
    model = MLP(1, [16, 16, 1], activation="tanh", init="xavier", seed=args.seed)
    print(f"model: {model} — {model.num_parameters()} parameters")
    optimizer = Adam(model.parameters(), lr=args.lr)

    losses: list[float] = []
    start = time.perf_counter()
    with Progress(args.epochs, "regression", enabled=not args.no_progress) as bar:
        for _ in range(args.epochs):
            loss = train_step(model, optimizer, X, y)
            losses.append(loss)
            bar.update(mse=loss)
    elapsed = time.perf_counter() - start
    fit = [model.output([x]).data for x in X]
    data_mse = sum((f - t) ** 2 for f, t in zip(fit, y, strict=True)) / len(X)
    curve_mse = sum((f - math.sin(x)) ** 2 for f, x in zip(fit, X, strict=True)) / len(X)
    print(
        f"trained {args.epochs} epochs in {elapsed:.1f} s; the trained model (after the last "
        f"update): MSE {data_mse:.4f} on the data (noise variance {args.noise**2:.4f}), "
        f"{curve_mse:.4f} against sin(x)"
    )

    written = [model.save(out / "model.json")]
    if have_matplotlib():
        fitted = out / "fit.png"
        save_curve_fit(
            fitted,
            X,
            y,
            lambda x: model.output([x]).data,
            math.sin,
            f"MLP(1, [16, 16, 1]) fit, MSE {data_mse:.4f}",
        )
        curve = out / "loss_curve.png"
        save_loss_curve(curve, losses, None, "regression")
        written += [fitted, curve]
    print_written(written)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
