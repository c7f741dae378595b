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

from gradstep.demos._cli import demo_parser, output_folder, run_script
from gradstep.demos._training import (
    Progress,
    have_matplotlib,
    print_written,
    save_decision_regions,
    save_loss_curve,
)
from gradstep.engine import Value
from gradstep.nn import MLP
from gradstep.nn.datasets import make_spiral
from gradstep.nn.losses import softmax_cross_entropy
from gradstep.nn.optim import Adam, Optimizer

__all__ = ["main", "forward", "train_step", "evaluate", "predict", "accuracy"]


def predict(logits: Sequence[float]) -> int:
    """The class with the largest logit (the first one on a tie)."""
    return max(range(len(logits)), key=logits.__getitem__)


def accuracy(logits: Sequence[Sequence[float]], labels: Sequence[int]) -> float:
    """The fraction of points whose largest logit is their class."""
    hits = sum(predict(row) == k for row, k in zip(logits, labels, strict=True))
    return hits / len(labels)


def forward(
    model: MLP, X: Sequence[list[float]], y: Sequence[int]
) -> tuple[Value, list[list[Value]]]:
    """The mean softmax cross-entropy and the logits zᵢ of every point, from one forward pass."""
    logits = [model.outputs(x) for x in X]
    return softmax_cross_entropy(logits, y), logits


def train_step(
    model: MLP, optimizer: Optimizer, X: Sequence[list[float]], y: Sequence[int]
) -> tuple[float, float]:
    """One full-batch step; returns (loss, accuracy) of its forward pass, before the update."""
    # forward: logits per point, softmax cross-entropy
    loss, logits = forward(model, X, y)
    # backward
    optimizer.zero_grad()
    loss.backward()
    # update
    optimizer.step()
    return loss.data, accuracy([[z.data for z in row] for row in logits], y)


def evaluate(model: MLP, X: Sequence[list[float]], y: Sequence[int]) -> tuple[float, float]:
    """(loss, accuracy) of the model as it is now: one forward pass, no update."""
    loss, logits = forward(model, X, y)
    return loss.data, accuracy([[z.data for z in row] for row in logits], y)


def _parser() -> argparse.ArgumentParser:
    parser = demo_parser(
        __name__,
        "Train MLP(2, [16, 16, K]) on a K-arm spiral with softmax cross-entropy and Adam; "
        "write a decision-region plot, a loss curve and the model. Each epoch's line shows "
        "the loss and accuracy of its forward pass, before its update; the summary, those "
        "of the trained model.",
        seed_default=0,
        seed_help="seed for data and weights (0)",
        out_default="out/spiral",
        out_help="output folder (out/spiral)",
    )
    parser.add_argument("--classes", type=int, default=3, help="number of arms K (3)")
    parser.add_argument("--per-class", type=int, default=30, help="points per arm (30)")
    parser.add_argument("--noise", type=float, default=0.2, help="angular noise (0.2)")
    parser.add_argument("--epochs", type=int, default=100, help="full-batch Adam steps (100)")
    parser.add_argument("--lr", type=float, default=0.03, help="Adam learning rate (0.03)")
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
    out = output_folder(parser, args.out)

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
    final_loss, final = evaluate(model, X, y)
    print(
        f"trained {args.epochs} epochs in {elapsed:.1f} s; the trained model (after the last "
        f"update): loss {final_loss:.4f}, training accuracy {final:.1%}"
    )

    written = [model.save(out / "model.json")]
    if have_matplotlib():
        regions = out / "decision_regions.png"
        save_decision_regions(
            regions,
            lambda p: [z.data for z in model.outputs(p)],
            X,
            y,
            range(args.classes),
            [f"arm {k}" for k in range(args.classes)],
            f"{args.classes}-arm spiral, MLP(2, [16, 16, {args.classes}]): softmax "
            f"cross-entropy + Adam\ntraining accuracy {final:.0%}",
        )
        curve = out / "loss_curve.png"
        save_loss_curve(curve, losses, accuracies, "spiral")
        written += [regions, curve]
    print_written(written)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
