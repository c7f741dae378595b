"""Three-arm spiral: a multi-class MLP trained with softmax cross-entropy and Adam.

python demos/spiral.py                      # 3 × 30 points, MLP(2, [16, 16, 3]), 100 epochs
python demos/spiral.py --classes 4 --epochs 150

The network gives one logit per class; the loss is the mean of
logsumexp(zᵢ) - zᵢ[kᵢ] (softmax cross-entropy, computed stably), minimised by Adam.
Writes a decision-region plot, a loss curve (PNG) and the trained model (JSON).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from pathlib import Path

from gradstep.datasets import make_spiral
from gradstep.demos._training import (
    Progress,
    have_matplotlib,
    print_written,
    save_decision_regions,
    save_loss_curve,
)
from gradstep.engine import Value
from gradstep.losses import softmax_cross_entropy
from gradstep.nn import MLP
from gradstep.optim import Adam, Optimizer

__all__ = ["main", "train_step", "predict", "accuracy"]


def predict(logits: Sequence[float]) -> int:
    """The class with the largest logit (the first one on a tie)."""
    return max(range(len(logits)), key=logits.__getitem__)


def accuracy(logits: Sequence[Sequence[float]], labels: Sequence[int]) -> float:
    """The fraction of points whose largest logit is their class."""
    hits = sum(predict(row) == k for row, k in zip(logits, labels, strict=True))
    return hits / len(labels)


def _logits(model: MLP, x: list[float]) -> list[Value]:
    out = model(x)
    return out if isinstance(out, list) else [out]


def train_step(
    model: MLP, optimizer: Optimizer, X: Sequence[list[float]], y: Sequence[int]
) -> tuple[float, float]:
    """One full-batch step; returns (loss, accuracy) before the update."""
    # forward: logits per point, softmax cross-entropy
    logits = [_logits(model, x) for x in X]
    loss = softmax_cross_entropy(logits, y)
    # backward
    optimizer.zero_grad()
    loss.backward()
    # update
    optimizer.step()
    return loss.data, accuracy([[z.data for z in row] for row in logits], y)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spiral",
        description="Train MLP(2, [16, 16, K]) on a K-arm spiral with softmax cross-entropy "
        "and Adam; write a decision-region plot, a loss curve and the model.",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for data and weights (0)")
    parser.add_argument("--classes", type=int, default=3, help="number of arms K (3)")
    parser.add_argument("--per-class", type=int, default=30, help="points per arm (30)")
    parser.add_argument("--noise", type=float, default=0.2, help="angular noise (0.2)")
    parser.add_argument("--epochs", type=int, default=100, help="full-batch Adam steps (100)")
    parser.add_argument("--lr", type=float, default=0.03, help="Adam learning rate (0.03)")
    parser.add_argument("--out", default="out/spiral", help="output folder (out/spiral)")
    parser.add_argument(
        "--no-progress", action="store_true", help="print a line every 10%% instead of a bar"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.classes < 2 or args.per_class < 1 or args.epochs < 1:
        parser.error("--classes must be at least 2, --per-class and --epochs at least 1")
    if not (math.isfinite(args.lr) and args.lr > 0.0):
        parser.error(f"--lr must be a positive finite number, got {args.lr}")
    if not (math.isfinite(args.noise) and args.noise >= 0.0):
        parser.error(f"--noise must be a finite number >= 0, got {args.noise}")
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(f"cannot create the output folder {out}: {error.strerror or error}")

    X, y = make_spiral(args.per_class, args.classes, noise=args.noise, seed=args.seed)
    model = MLP(2, [16, 16, args.classes], init="he", seed=args.seed)
    print(f"model: {model} — {model.num_parameters()} parameters")
    optimizer = Adam(model.parameters(), lr=args.lr)

    losses: list[float] = []
    accuracies: list[float] = []
    start = time.perf_counter()
    with Progress(args.epochs, "spiral", enabled=not args.no_progress) as bar:
        for _ in range(args.epochs):
            loss, acc = train_step(model, optimizer, X, y)
            losses.append(loss)
            accuracies.append(acc)
            bar.update(loss=loss, acc=acc)
    elapsed = time.perf_counter() - start
    final = accuracy([[z.data for z in _logits(model, x)] for x in X], y)
    print(
        f"trained {args.epochs} epochs in {elapsed:.1f} s: final loss {losses[-1]:.4f}, "
        f"training accuracy {final:.1%}"
    )

    written = [model.save(out / "model.json")]
    if have_matplotlib():
        regions = out / "decision_regions.png"
        save_decision_regions(
            regions,
            lambda p: predict([z.data for z in _logits(model, p)]),
            X,
            y,
            f"{args.classes}-arm spiral: softmax cross-entropy + Adam, accuracy {final:.0%}",
            resolution=80,
        )
        curve = out / "loss_curve.png"
        save_loss_curve(curve, losses, accuracies, "spiral")
        written += [regions, curve]
    print_written(written)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
