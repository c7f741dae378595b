"""The cs231n neuron f = σ(w0·x0 + w1·x1 + w2), backpropagated gate by gate as on the slide.

python demos/neuron.py                 # walk-through tables (sigmoid as one gate)
python demos/neuron.py --gates         # the slide's elementary gates: neg, exp, +1, 1/x
python demos/neuron.py --out neuron.svg --html neuron.html
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from gradstep import Value
from gradstep.explain import Walkthrough, walkthrough
from gradstep.viz import RENDER_FORMATS, draw_dot, format_number, render

__all__ = ["build_neuron", "SLIDE_INPUTS", "SLIDE_GRADS", "main"]

#: the slide's inputs and weights
SLIDE_INPUTS = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
#: the gradients printed on the slide (two decimals)
SLIDE_GRADS = {"w0": -0.20, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.20}


def build_neuron(gates: bool = False) -> tuple[Value, dict[str, Value]]:
    """f = σ(w0·x0 + w1·x1 + w2); with ``gates``, σ(z) = 1/(1 + e^-z) built from neg, exp, +1, 1/x.

    Returns the output and every named value (inputs and intermediates).
    """
    v = {name: Value(x, label=name) for name, x in SLIDE_INPUTS.items()}
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


def _sigmoid_line(z: float, digits: int) -> str:
    """σ'(z) = σ(z)·(1 - σ(z)) with the numbers, and how the slide rounds it."""
    s = 1.0 / (1.0 + math.exp(-z))
    fmt = [format_number(x, digits) for x in (z, s, 1.0 - s, s * (1.0 - s))]
    return (
        f"σ'({fmt[0]}) = σ·(1 - σ) = {fmt[1]} × {fmt[2]} = {fmt[3]}  (the slide rounds it to 0.2)"
    )


def _gradient_lines(values: dict[str, Value], digits: int) -> list[str]:
    """Each input's gradient next to the slide's, and whether they agree to two decimals."""
    lines = ["input   ∂f/∂input   slide   agree (2 d.p.)"]
    for name, slide in SLIDE_GRADS.items():
        grad = values[name].grad
        agree = "yes" if round(grad, 2) == slide else "NO"
        lines.append(f"{name:<6}  {format_number(grad, digits):>10}  {slide:>6.2f}   {agree}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gradstep demo neuron",
        description="Backpropagate the cs231n neuron f = σ(w0·x0 + w1·x1 + w2) with "
        "w0=2, x0=-1, w1=-3, x1=-2, w2=-3 and print every number.",
    )
    parser.add_argument(
        "--gates",
        action="store_true",
        help="build σ from the slide's elementary gates (neg, exp, +1, 1/x)",
    )
    parser.add_argument(
        "--out", metavar="PATH", help="draw the graph to PATH (.svg, .png, .pdf or .dot)"
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
    args = parser.parse_args(argv)
    if not 1 <= args.digits <= 17:  # 17 significant digits identify any float
        parser.error("--digits must be between 1 and 17")
    if args.out and Path(args.out).suffix.lower().lstrip(".") not in RENDER_FORMATS:
        parser.error(
            f"--out: cannot tell the format of {args.out!r} from its suffix: use one of "
            + ", ".join(f".{f}" for f in RENDER_FORMATS)
        )

    # forward, then backward, recorded edge by edge
    f, values = build_neuron(gates=args.gates)
    wt = walkthrough(f)
    kind = "elementary gates" if args.gates else "sigmoid as one gate"
    print(f"f = σ(w0·x0 + w1·x1 + w2) = {format_number(f.data, args.digits)}  ({kind})\n")
    print(wt.format_markdown(args.digits) if args.markdown else wt.format_text(args.digits))
    print()
    notes = [
        *_multiply_gate_lines(wt, args.digits),
        "",
        _sigmoid_line(values["z"].data, args.digits),
        "",
        *_gradient_lines(values, args.digits),
    ]
    print("\n".join(["```", *notes, "```"] if args.markdown else notes))

    try:
        if args.out:
            drawing = draw_dot(f, highlight=[values[n] for n in SLIDE_INPUTS], digits=args.digits)
            print(f"\ndrawing written to {render(drawing, args.out)}")
        if args.html:
            title = f"backward pass of f = σ(w0·x0 + w1·x1 + w2)  ({kind})"
            page = wt.write_html(args.html, digits=args.digits, title=title)
            print(f"interactive page written to {page}")
        if args.frames:
            paths = wt.write_frames(args.frames, digits=args.digits)
            print(f"{len(paths)} frames written to {args.frames}")
    except (OSError, RuntimeError) as error:  # RuntimeError: Graphviz's dot missing or failing
        detail = error.strerror if isinstance(error, OSError) and error.strerror else error
        where = getattr(error, "filename", None) or "the output"
        print(f"gradstep demo neuron: error: could not write {where}: {detail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
