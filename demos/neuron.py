"""The cs231n neuron f = σ(w0·x0 + w1·x1 + w2), backpropagated gate by gate as on the slide.

python demos/neuron.py                  # walk-through tables (sigmoid as one gate)
python demos/neuron.py --gates          # the slide's elementary gates: neg, exp, +1, 1/x
python demos/neuron.py --out pictures   # pictures/neuron.svg and pictures/neuron_steps.html
python demos/neuron.py --seed 1         # new numbers to practise on
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Mapping
from pathlib import Path

from gradstep import Value
from gradstep.demos._cli import demo_parser, run_script
from gradstep.naming import format_number
from gradstep.viz.drawing import RENDER_FORMATS, draw_dot, render
from gradstep.viz.explain import Walkthrough, walkthrough

__all__ = ["build_neuron", "random_inputs", "SLIDE_INPUTS", "SLIDE_GRADS", "main"]

#: the slide's inputs and weights
SLIDE_INPUTS = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
#: the gradients printed on the slide (two decimals)
SLIDE_GRADS = {"w0": -0.20, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.20}


def build_neuron(
    gates: bool = False, inputs: Mapping[str, float] = SLIDE_INPUTS
) -> tuple[Value, dict[str, Value]]:
    """f = σ(w0·x0 + w1·x1 + w2); with ``gates``, σ(z) = 1/(1 + e^-z) built from neg, exp, +1, 1/x.

    ``inputs`` gives w0, x0, w1, x1, w2 (the slide's by default).  Returns the output and
    every named value (inputs and intermediates).
    """
    v = {name: Value(inputs[name], label=name) for name in SLIDE_INPUTS}
    # forward: the two multiply gates, the two add gates
    v["w0x0"] = v["w0"] * v["x0"]
    v["w1x1"] = v["w1"] * v["x1"]
    v["s"] = v["w0x0"] + v["w1x1"]
    v["z"] = v["s"] + v["w2"]
    if gates:
        v["-z"] = -v["z"]  # *-1 gate:  ∂/∂z = -1
        v["e"] = v["-z"].exp()  # exp gate:  ∂/∂x = e^x
        v["d"] = v["e"] + Value(1.0, label="1")  # +1 gate: ∂/∂x = 1 (a constant, drawn as 1)
        v["f"] = v["d"] ** -1  # 1/x gate:  ∂/∂x = -1/x²
    else:
        v["f"] = v["z"].sigmoid()  # sigmoid gate: ∂/∂z = σ(z)·(1 - σ(z))
    for name, value in v.items():
        value.label = name
    return v["f"], v


def _multiply_gate_lines(wt: Walkthrough, digits: int) -> list[str]:
    """The slide's [local gradient] x [upstream gradient] for the gate w0·x0, from the records."""
    lines = ["the multiply gate w0·x0: [local gradient] × [upstream gradient]"]
    slide = {"x0": "[2] x [0.2] = 0.4", "w0": "[-1] x [0.2] = -0.2"}
    for r in wt.backward:
        if r.node == "w0x0":
            local, up, prod = (format_number(x, digits) for x in (r.local, r.upstream, r.product))
            ours = f"{r.child}: [{local}] × [{up}] = {prod}"
            lines.append(f"  {ours:<34}  slide: {r.child}: {slide[r.child]}")
    return lines


def _sigmoid_line(z: float, digits: int, slide: bool = True) -> str:
    """σ'(z) = σ(z)·(1 - σ(z)) with the numbers (and how the slide rounds it)."""
    s = 1.0 / (1.0 + math.exp(-z))
    fmt = [format_number(x, digits) for x in (z, s, 1.0 - s, s * (1.0 - s))]
    line = f"σ'({fmt[0]}) = σ·(1 - σ) = {fmt[1]} × {fmt[2]} = {fmt[3]}"
    return line + ("  (the slide rounds it to 0.2)" if slide else "")


def _gradient_lines(values: dict[str, Value], digits: int) -> list[str]:
    """Each input's gradient next to the slide's, and whether they agree to two decimals."""
    lines = ["input   ∂f/∂input   slide   agree (2 d.p.)"]
    for name, slide in SLIDE_GRADS.items():
        grad = values[name].grad
        agree = "yes" if round(grad, 2) == slide else "NO"
        lines.append(f"{name:<6}  {format_number(grad, digits):>10}  {slide:>6.2f}   {agree}")
    return lines


def _parser() -> argparse.ArgumentParser:
    parser = demo_parser(
        __name__,
        "Backpropagate the cs231n neuron f = σ(w0·x0 + w1·x1 + w2) with the slide's "
        "w0=2, x0=-1, w1=-3, x1=-2, w2=-3 (or numbers drawn with --seed) and print every "
        "number.",
        seed_default=None,
        seed_help="draw w0, x0, w1, x1, w2 at random from seed N (one decimal, in [-3, 3]) "
        "instead of the slide's: new numbers to practise on, the tables are the answers",
        out_default=None,
        out_help="write the drawing (neuron.svg) and the backward pass step by step "
        "(neuron_steps.html) into DIR; with --gates, neuron_gates.svg and "
        "neuron_gates_steps.html",
    )
    parser.add_argument(
        "--gates",
        action="store_true",
        help="build σ from the slide's elementary gates (neg, exp, +1, 1/x)",
    )
    parser.add_argument(
        "--html",
        metavar="PATH",
        help="write the interactive page: step through backprop edge by edge",
    )
    parser.add_argument(
        "--frames", metavar="DIR", help="write step_001.svg, step_002.svg, ... into DIR"
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the tables as Markdown instead of aligned text",
    )
    parser.add_argument(
        "--digits",
        type=int,
        default=4,
        help="significant digits in tables and drawings (default 4)",
    )
    return parser


def random_inputs(seed: int) -> dict[str, float]:
    """w0, x0, w1, x1, w2 uniform on [-3, 3] to one decimal, drawn until |z| ≤ 3.

    One decimal keeps the products easy by hand; |z| ≤ 3 keeps σ'(z) ≥ 0.045, so the
    gradients do not all round to 0.
    """
    rng = random.Random(seed)
    while True:
        v = {name: round(rng.uniform(-3.0, 3.0), 1) for name in SLIDE_INPUTS}
        if abs(v["w0"] * v["x0"] + v["w1"] * v["x1"] + v["w2"]) <= 3.0:
            return v


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 1 <= args.digits <= 17:  # 17 significant digits identify any float
        parser.error("--digits must be between 1 and 17")
    if args.out and Path(args.out).suffix.lower().lstrip(".") in RENDER_FORMATS:
        folder = str(Path(args.out).parent)
        parser.error(
            f"--out takes a folder, got {args.out!r}: the drawing goes into it as neuron.svg, "
            f"so write --out {folder}"
        )
    slide = args.seed is None
    inputs = SLIDE_INPUTS if slide else random_inputs(args.seed)

    # forward, then backward, recorded edge by edge
    f, values = build_neuron(gates=args.gates, inputs=inputs)
    wt = walkthrough(f)
    kind = "elementary gates" if args.gates else "sigmoid as one gate"
    print(f"f = σ(w0·x0 + w1·x1 + w2) = {format_number(f.data, args.digits)}  ({kind})")
    if not slide:
        drawn = ", ".join(f"{name}={format_number(x)}" for name, x in inputs.items())
        print(f"inputs and weights drawn with --seed {args.seed}: {drawn}")
    print()
    print(wt.format_markdown(args.digits) if args.markdown else wt.format_text(args.digits))
    print()
    notes = [_sigmoid_line(values["z"].data, args.digits, slide)]
    if slide:  # the slide's own numbers to compare with
        notes = [
            *_multiply_gate_lines(wt, args.digits),
            "",
            *notes,
            "",
            *_gradient_lines(values, args.digits),
        ]
    print("\n".join(["```", *notes, "```"] if args.markdown else notes))
    try:
        title = f"backward pass of f = σ(w0·x0 + w1·x1 + w2)  ({kind})"
        _write_pictures(args, f, wt, [values[n] for n in SLIDE_INPUTS], title)
    except (OSError, RuntimeError) as error:  # RuntimeError: Graphviz's dot missing or failing
        detail = error.strerror if isinstance(error, OSError) and error.strerror else error
        where = getattr(error, "filename", None) or "the output"
        print(f"{parser.prog}: error: could not write {where}: {detail}", file=sys.stderr)
        return 1
    return 0


def _write_pictures(
    args: argparse.Namespace, f: Value, wt: Walkthrough, inputs: list[Value], title: str
) -> None:
    """The drawing and the pages asked for by --out, --html and --frames."""
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        stem = "neuron_gates" if args.gates else "neuron"
        drawing = draw_dot(f, highlight=inputs, digits=args.digits)
        print(f"\ndrawing written to {render(drawing, out / f'{stem}.svg')}")
        page = wt.write_html(out / f"{stem}_steps.html", digits=args.digits, title=title)
        print(f"interactive page written to {page}")
    if args.html:
        page = wt.write_html(args.html, digits=args.digits, title=title)
        print(f"interactive page written to {page}")
    if args.frames:
        paths = wt.write_frames(args.frames, digits=args.digits)
        print(f"{len(paths)} frames written to {args.frames}")


if __name__ == "__main__":
    raise SystemExit(run_script(main))
