"""Graduate to PyTorch: train on two moons in gradstep, export, go on training in PyTorch.

python demos/torch_handoff.py                  # 50 epochs in gradstep, then 50 more in both
python demos/torch_handoff.py --seed 3 --out out/h3

The moons demo's MLP(2, [16, 16, 1]) trains for --epochs steps in gradstep (SVM loss + L2,
SGD with micrograd's decaying learning rate).  Then `MLP.to_torch()` exports it, and the
same training goes on twice for --torch-epochs steps: in gradstep, and in PyTorch
(``torch.optim.SGD`` with the schedule continued by ``LambdaLR``).  Both copies see the
same data, loss and updates, so they stay the same network: the demo prints how far apart
their weights and their scores on a grid are, draws both decision boundaries side by side,
and imports the PyTorch copy back with `MLP.from_torch`.  Needs PyTorch
(``pip install 'gradstep[torch]'``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from gradstep import no_grad
from gradstep.demos._cli import demo_parser, output_folder, run_script
from gradstep.demos._training import (
    Progress,
    decision_grid,
    have_matplotlib,
    save_score_panels,
)
from gradstep.demos.moons import accuracy, train_step
from gradstep.nn import MLP
from gradstep.nn.datasets import make_moons
from gradstep.nn.optim import SGD
from gradstep.nn.torch_bridge import require_torch

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = demo_parser(
        __name__,
        "Train MLP(2, [16, 16, 1]) on two moons in gradstep, export it to PyTorch, continue "
        "training in both, and compare the two decision boundaries (needs PyTorch).",
        seed_default=0,
        seed_help="seed for data and weights (0)",
        out_default="out/torch_handoff",
        out_help="output folder (out/torch_handoff)",
    )
    parser.add_argument("--samples", type=int, default=100, help="number of points (100)")
    parser.add_argument("--noise", type=float, default=0.1, help="noise of the moons (0.1)")
    parser.add_argument("--epochs", type=int, default=50, help="steps in gradstep first (50)")
    parser.add_argument(
        "--torch-epochs", type=int, default=50, help="steps after the export, in both (50)"
    )
    parser.add_argument("--alpha", type=float, default=1e-4, help="L2 strength α (1e-4)")
    parser.add_argument(
        "--no-progress", action="store_true", help="print a line every 10%% instead of a bar"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.samples < 2 or args.epochs < 1 or args.torch_epochs < 1:
        parser.error("--samples must be at least 2, --epochs and --torch-epochs at least 1")
    try:
        require_torch("the torch_handoff demo")
    except ImportError as error:
        print(error, file=sys.stderr)
        return 1
    import torch

    out = output_folder(parser, args.out)
    X, y = make_moons(args.samples, noise=args.noise, seed=args.seed)
    total: int = args.epochs + args.torch_epochs

    def schedule(t: int) -> float:
        """micrograd's learning rate, decaying from 1.0 to 0.1 over all epochs."""
        return 1.0 - 0.9 * t / total

    # 1. gradstep
    model = MLP(2, [16, 16, 1], seed=args.seed)
    optimizer = SGD(model.parameters(), lr=schedule)
    with Progress(args.epochs, "gradstep", enabled=not args.no_progress) as bar:
        for _ in range(args.epochs):
            loss, acc = train_step(model, optimizer, X, y, args.alpha)
            bar.update(loss=loss, acc=acc)
    print(f"gradstep, {args.epochs} epochs: loss {loss:.4f}, training accuracy {acc:.1%}")

    # 2. export: the same network in PyTorch
    net = model.to_torch()
    tX = torch.tensor(X, dtype=torch.float64)
    ty = torch.tensor(y, dtype=torch.float64)
    with no_grad(), torch.no_grad():
        ours = [model.output(x).data for x in X]
        gap = _max_gap(ours, net(tX).squeeze(1).tolist())
    print(f"exported to PyTorch: max |gradstep − torch| over the {len(X)} scores {gap:.1e}")

    # 3. both go on training: gradstep in gradstep, the export in PyTorch
    torch_optimizer = torch.optim.SGD(net.parameters(), lr=1.0)
    lr_schedule = torch.optim.lr_scheduler.LambdaLR(
        torch_optimizer, lambda t: schedule(args.epochs + t)
    )
    start = time.perf_counter()
    with Progress(args.torch_epochs, "gradstep ∥ torch", enabled=not args.no_progress) as bar:
        for _ in range(args.torch_epochs):
            loss, acc = train_step(model, optimizer, X, y, args.alpha)
            # forward
            scores = net(tX).squeeze(1)
            torch_loss = torch.relu(1.0 - ty * scores).mean() + args.alpha * sum(
                (p * p).sum() for p in net.parameters()
            )
            # backward
            torch_optimizer.zero_grad()
            torch_loss.backward()
            # update
            torch_optimizer.step()
            lr_schedule.step()
            bar.update(loss=loss, torch_loss=torch_loss.item())
    elapsed = time.perf_counter() - start
    print(
        f"{args.torch_epochs} more epochs in each ({elapsed:.1f} s): loss gradstep {loss:.6f}, "
        f"torch {torch_loss.item():.6f}"
    )
    back = MLP.from_torch(net)  # PyTorch → gradstep, to compare weight by weight
    weight_gap = _max_gap([p.data for p in model.parameters()], [p.data for p in back.parameters()])
    print(
        f"max |Δ weight| between the two copies (torch's read back by MLP.from_torch): "
        f"{weight_gap:.1e}"
    )

    # 4. the decision boundaries on a grid, evaluated without building graphs
    gx, gy = decision_grid(X)
    points = [[px, py] for py in gy for px in gx]
    with no_grad():
        ours = [model.output(p).data for p in points]
    with torch.no_grad():
        theirs = net(torch.tensor(points, dtype=torch.float64)).squeeze(1).tolist()
        final = accuracy([model.output(x).data for x in X], y)
    same_side = sum((a > 0) == (b > 0) for a, b in zip(ours, theirs, strict=True))
    print(
        f"{len(gx)}×{len(gy)} grid: max |gradstep − torch| score {_max_gap(ours, theirs):.1e}, "
        f"the same class at {same_side}/{len(points)} points; training accuracy {final:.1%}"
    )

    written = [model.save(out / "model.json")]
    torch.save(net.state_dict(), out / "model.pt")
    written.append(out / "model.pt")
    if have_matplotlib():
        boundaries = out / "boundaries.png"
        rows = len(gy)
        panels = [
            (f"gradstep: {total} epochs in gradstep", _rows(ours, rows)),
            (
                f"PyTorch: {args.epochs} in gradstep + {args.torch_epochs} in torch",
                _rows(theirs, rows),
            ),
        ]
        save_score_panels(
            boundaries,
            panels,
            gx,
            gy,
            X,
            y,
            f"the same network: max |score difference| on the grid {_max_gap(ours, theirs):.1e}",
        )
        written.append(boundaries)
    print("wrote:")
    for path in written:
        print(f"  {path}")
    return 0


def _max_gap(a: Sequence[float], b: Sequence[float]) -> float:
    """max |aᵢ - bᵢ|."""
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def _rows(values: list[float], n: int) -> list[list[float]]:
    """A flat row-major grid as a list of ``n`` rows."""
    width = len(values) // n
    return [values[i * width : (i + 1) * width] for i in range(n)]


if __name__ == "__main__":
    raise SystemExit(run_script(main))
