"""One moons training point, backpropagated neuron by neuron through MLP(2, [4, 4, 1]).

python demos/moons_step.py                   # the walk-through's summary, out/moons_step/
python demos/moons_step.py --point 7 --seed 2
python demos/moons_step.py --view edges      # the page steps edge by edge instead

The network scores the point; its SVM max-margin loss  max(0, 1 - y·s)  is backpropagated
once.  The page (moons_step.html) steps the 9 neurons one at a time, each showing the
gradient it receives and the vector it passes back; a click (or Enter) opens a neuron into
its edges.  The worksheet (moons_step_worksheet.html) leaves the numbers blank.
"""

from __future__ import annotations

import argparse

from gradstep.demos._cli import demo_parser, output_folder, run_script
from gradstep.engine import Value
from gradstep.nn import MLP
from gradstep.nn.datasets import make_moons
from gradstep.nn.losses import hinge_loss
from gradstep.viz.explain import Walkthrough, walkthrough
from gradstep.viz.naming import format_number

__all__ = ["main", "one_point"]


def one_point(point: int = 0, seed: int = 1) -> tuple[MLP, Value, list[float], int]:
    """An MLP(2, [4, 4, 1]) (tanh hidden layers), moons point ``point`` and its loss."""
    xs, ys = make_moons(20, noise=0.1, seed=seed)
    if not 0 <= point < len(xs):
        raise ValueError(f"point must be 0 to {len(xs) - 1}, got {point}")
    model = MLP(2, [4, 4, 1], activation="tanh", seed=seed)
    x, y = xs[point], ys[point]
    # forward: score the point, then its max-margin loss
    loss = hinge_loss(model.output(x), y)
    return model, loss, x, y


def _summary(walk: Walkthrough, digits: int = 4) -> list[str]:
    """The neurons in the order the backward pass reaches them, with what each passes back."""
    lines = []
    for neuron in walk.neurons():
        back = ", ".join(f"{name} {format_number(g, digits)}" for name, g in neuron.passes)
        lines.append(
            f"{neuron.scope}: ∂L/∂{neuron.output.rpartition('.')[2]} = "
            f"{format_number(neuron.upstream, digits)}; passes back {back}"
        )
    return lines


def _parser() -> argparse.ArgumentParser:
    parser = demo_parser(
        __name__,
        "Backpropagate one moons training point through MLP(2, [4, 4, 1]), neuron by neuron.",
        seed_default=1,
        seed_help="the seed of the data and the weights (default: 1)",
        out_default="out/moons_step",
        out_help="where the page and the worksheet go (default: out/moons_step)",
    )
    parser.add_argument("--point", type=int, default=0, metavar="K", help="which point (0-19)")
    parser.add_argument(
        "--view",
        choices=("neurons", "layers", "edges"),
        default="neurons",
        help="step the page neuron by neuron (default), layer by layer or edge by edge",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _, loss, x, y = one_point(args.point, args.seed)
    except ValueError as error:
        parser.error(str(error))
    # backward, recorded edge by edge
    walk = walkthrough(loss, name="loss")
    print(f"point {args.point}: x = ({x[0]:.3f}, {x[1]:.3f}), y = {y:+d}")
    print(f"loss = max(0, 1 - y·s) = {format_number(loss.data)}")
    print(f"{len(walk.backward)} backward steps in {len(walk.neurons())} neurons:")
    for line in _summary(walk):
        print("  " + line)
    out = output_folder(parser, args.out)
    page = walk.write_html(out / "moons_step.html", view=args.view)
    sheet = walk.write_worksheet(out / "moons_step_worksheet.html")
    print(f"wrote {page} and {sheet[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
