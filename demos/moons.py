"""Two moons: micrograd's demo done properly — an MLP learns a curved boundary, to 100%.

python demos/moons.py                       # 100 points, MLP(2, [16, 16, 1]), 100 epochs
python demos/moons.py --seed 3 --out out/m3
python demos/moons.py --compiled            # record the step once, replay it (gradstep.compile)

The network scores each point; the SVM max-margin loss  (1/n) Σ max(0, 1 - yᵢ·sᵢ)  plus
α·Σθ² is minimised by SGD with a learning rate decaying from 1.0 to 0.1 (micrograd's).
Writes a decision-boundary plot, a loss curve (PNG) and the trained model (JSON).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import gradstep
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
from gradstep.nn.datasets import make_moons
from gradstep.nn.losses import hinge_loss, l2_penalty
from gradstep.nn.optim import SGD, Optimizer

__all__ = ["main", "forward", "train_step", "evaluate", "accuracy"]


def accuracy(scores: Sequence[float], labels: Sequence[int]) -> float:
    """The fraction of points whose score has the sign of their label (±1)."""
    hits = sum((s > 0) == (y > 0) for s, y in zip(scores, labels, strict=True))
    return hits / len(labels)


def forward(
    model: MLP, X: Sequence[list[float]], y: Sequence[int], alpha: float
) -> tuple[Value, list[Value]]:
    """The loss (1/n) Σ max(0, 1 - yᵢ·sᵢ) + α·Σθ² and the scores sᵢ, from one forward pass."""
    scores = [model.output(x) for x in X]
    return hinge_loss(scores, y) + l2_penalty(model.parameters(), alpha), scores


def train_step(
    model: MLP, optimizer: Optimizer, X: Sequence[list[float]], y: Sequence[int], alpha: float
) -> tuple[float, float]:
    """One full-batch step; returns (loss, accuracy) of its forward pass, before the update."""
    # forward: a score per point, the max-margin loss and the L2 penalty
    loss, scores = forward(model, X, y, alpha)
    # backward
    optimizer.zero_grad()
    loss.backward()
    # update
    optimizer.step()
    return loss.data, accuracy([s.data for s in scores], y)


def evaluate(
    model: MLP, X: Sequence[list[float]], y: Sequence[int], alpha: float
) -> tuple[float, float]:
    """(loss, accuracy) of the model as it is now: one forward pass, no update."""
    loss, scores = forward(model, X, y, alpha)
    return loss.data, accuracy([s.data for s in scores], y)


def _class_scores(score: float) -> tuple[float, float]:
    """The scores of classes -1 and +1: -s and s (the sign of s is the class)."""
    return -score, score


def _parser() -> argparse.ArgumentParser:
    parser = demo_parser(
        __name__,
        "Train MLP(2, [16, 16, 1]) on two moons with the SVM loss and SGD; write a "
        "decision-boundary plot, a loss curve and the model. Each epoch's line shows the "
        "loss and accuracy of its forward pass, before its update; the summary, those of "
        "the trained model.",
        seed_default=0,
        seed_help="seed for data and weights (0)",
        out_default="out/moons",
        out_help="output folder (out/moons)",
    )
    parser.add_argument("--samples", type=int, default=100, help="number of points (100)")
    parser.add_argument("--noise", type=float, default=0.1, help="noise of the moons (0.1)")
    parser.add_argument("--epochs", type=int, default=100, help="full-batch SGD steps (100)")
    parser.add_argument("--alpha", type=float, default=1e-4, help="L2 strength α (1e-4)")
    parser.add_argument(
        "--no-progress", action="store_true", help="print a line every 10%% instead of a bar"
    )
    parser.add_argument(
        "--compiled",
        action="store_true",
        help="record the step's graph once and replay it as generated code (gradstep.compile): "
        "the same numbers, several times faster; per-epoch accuracy is not tracked",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.samples < 2 or args.epochs < 1:
        parser.error("--samples must be at least 2 and --epochs at least 1")
    out = output_folder(parser, args.out)

    X, y = make_moons(args.samples, noise=args.noise, seed=args.seed)
    model = MLP(2, [16, 16, 1], seed=args.seed)
    print(f"model: {model} — {model.num_parameters()} parameters")
    epochs = args.epochs
    optimizer = SGD(model.parameters(), lr=lambda t: 1.0 - 0.9 * t / epochs)

    losses: list[float] = []
    accuracies: list[float] = []
    start = time.perf_counter()
    if args.compiled:
        # the graph is the same every epoch (fixed batch, no data-dependent branches), so
        # record it once; each step() recomputes loss and gradients without building nodes
        params = model.parameters()
        step = gradstep.compile(lambda: forward(model, X, y, args.alpha)[0], params)
    with Progress(epochs, "moons", enabled=not args.no_progress) as bar:
        for _ in range(epochs):
            if args.compiled:
                optimizer.zero_grad()
                loss = step()
                optimizer.step()
                losses.append(loss)
                bar.update(loss=loss)
                continue
            loss, acc = train_step(model, optimizer, X, y, args.alpha)
            losses.append(loss)
            accuracies.append(acc)
            bar.update(loss=loss, acc=acc)
    elapsed = time.perf_counter() - start
    with gradstep.no_grad():  # evaluating only: no graph needed
        final_loss, final = evaluate(model, X, y, args.alpha)
    print(
        f"trained {epochs} epochs in {elapsed:.1f} s; the trained model (after the last "
        f"update): loss {final_loss:.4f}, training accuracy {final:.1%}"
    )

    written = [model.save(out / "model.json")]
    if have_matplotlib():
        boundary = out / "decision_boundary.png"
        with gradstep.no_grad():
            save_decision_regions(
                boundary,
                lambda p: _class_scores(model.output(p).data),
                X,
                y,
                (-1, 1),
                ("class -1", "class +1"),
                f"two moons, MLP(2, [16, 16, 1]): SVM loss + SGD\ntraining accuracy {final:.0%}",
            )
        curve = out / "loss_curve.png"
        save_loss_curve(curve, losses, accuracies or None, "two moons")
        written += [boundary, curve]
    print_written(written)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
