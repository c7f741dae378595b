"""The ``gradstep`` command: explain an expression's backprop, gradcheck it, run the demos.

Exit status: 0 success; 1 a gradient check failed, or a requested file (drawing, frames)
could not be written — e.g. Graphviz's ``dot`` is missing, in which case the tables are
still printed; 2 bad input (a refused expression, a missing or malformed value, a domain
error such as log of a negative number, a bad option).  Every error is one line on
stderr, ``gradstep explain: error: <what> at column <n>``, never a traceback.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import io
import math
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

import gradstep
from gradstep.engine import Value
from gradstep.expr import (
    FUNCTIONS,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_TERMS,
    Expression,
    ExpressionError,
    parse,
    parse_assignments,
)

if TYPE_CHECKING:
    from gradstep.explain import Walkthrough

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE"]

#: success
EXIT_OK = 0
#: a gradient check failed, or a requested output file could not be written
EXIT_FAILED = 1
#: bad input: expression, values, options
EXIT_USAGE = 2

_PROG = "gradstep"
_DRAWING_FORMATS = ("svg", "png", "pdf", "dot")
_ROOT_NAMES = ("L", "f", "out", "result")  # the first that is not a variable names the root
_MAX_FRAMES = 200  # --frames: one Graphviz drawing per step gets slow and unreadable beyond

_GRAMMAR = f"""\
expressions:
  numbers, variable names, + - * / ** (power), unary -, parentheses and the
  functions {", ".join(FUNCTIONS)}
  (leaky_relu(x, slope) takes a number as its slope). Give every variable a value
  as NAME=NUMBER. Limits: {MAX_LENGTH} characters, {MAX_TERMS} terms, |n| <= {MAX_EXPONENT} in x**n.
  The expression is parsed, never run as Python code. One that starts with '-'
  goes after '--', options before it:  gradstep explain --digits 3 -- "-x*y" x=2 y=3
"""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` (with a hint) and exit with status 2."""
        hint = f" (see '{self.prog} --help')"
        if "unrecognized arguments: -" in message:
            hint = (
                "; an expression that starts with '-' goes after '--', as in "
                f'{_PROG} explain -- "-x*y" x=2 y=3'
            )
        self.exit(EXIT_USAGE, f"{self.prog}: error: {' '.join(message.split())}{hint}\n")


class _Failure(Exception):
    """A command failed: ``message`` for stderr, and the exit ``status``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------------------------
# the parser


def build_parser() -> argparse.ArgumentParser:
    """The ``gradstep`` argument parser, with its ``explain``, ``check`` and ``demo`` commands."""
    parser = _Parser(
        prog=_PROG,
        description="See every number of backprop: walk through an expression's backward\n"
        "pass, check its gradients, run the demos.",
        epilog="examples:\n"
        '  gradstep explain "tanh(w*x + b)" x=0.5 w=-1.5 b=0.2 --svg graph.svg\n'
        '  gradstep check "x*log(x) + sqrt(y)" x=2 y=3\n'
        "  gradstep demo neuron\n\n"
        "exit status: 0 ok, 1 gradient check failed or output not written, 2 bad input\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{_PROG} {gradstep.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{explain,check,demo}", required=True)
    _add_explain(commands)
    _add_check(commands)
    _add_demo(commands)
    return parser


def _add_expression_arguments(command: argparse.ArgumentParser) -> None:
    """The expression and its NAME=NUMBER values."""
    command.add_argument("expression", help='the expression, e.g. "tanh(w*x + b)"')
    command.add_argument(
        "values", nargs="*", metavar="NAME=NUMBER", help="a value for each variable, e.g. x=0.5"
    )


def _add_explain(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser(
        "explain",
        help="print the forward and backward tables of an expression, and draw its graph",
        description="Build the expression, run backward() once and print what it did: the\n"
        "forward pass (every value), the backward pass (every edge in visit order:\n"
        "local gradient × upstream gradient = product, added into the child's\n"
        "gradient) and the gradient of every input. Optionally draw the graph\n"
        "(needs Graphviz's 'dot' program, except --dot).",
        epilog=_GRAMMAR + "\nexamples:\n"
        '  gradstep explain "tanh(w*x + b)" x=0.5 w=-1.5 b=0.2\n'
        '  gradstep explain "x*x + x" x=3 --markdown\n'
        '  gradstep explain "sigmoid(w0*x0 + w1*x1 + w2)" w0=2 x0=-1 w1=-3 x1=-2 w2=-3 \\\n'
        "      --svg neuron.svg --frames neuron.html\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_expression_arguments(command)
    command.add_argument(
        "--markdown", action="store_true", help="print the tables as Markdown instead of text"
    )
    command.add_argument(
        "--digits",
        type=_digits,
        default=4,
        metavar="N",
        help="significant digits in the tables (default: 4)",
    )
    drawing = command.add_argument_group("drawing the graph")
    for fmt in _DRAWING_FORMATS:
        what = "the DOT source (no Graphviz needed)" if fmt == "dot" else f"{fmt.upper()}"
        drawing.add_argument(
            f"--{fmt}",
            metavar="PATH",
            help=f"write the graph as {what}; .{fmt} is added if missing",
        )
    drawing.add_argument(
        "--frames",
        metavar="DIR|PAGE.html",
        help="write one drawing per backward step, the current edge in red: numbered SVG "
        "files in DIR, or one self-contained HTML page if the path ends in .html",
    )
    drawing.add_argument(
        "--max-frames",
        type=_positive_int,
        default=_MAX_FRAMES,
        metavar="N",
        help=f"--frames refuses more than N backward steps (default: {_MAX_FRAMES})",
    )
    drawing.add_argument(
        "--rankdir",
        choices=("LR", "TB", "RL", "BT"),
        default="LR",
        help="direction of the drawing (default: LR, left to right)",
    )
    command.set_defaults(run=_explain)


def _add_check(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser(
        "check",
        help="compare each input's gradient from backward() with central differences",
        description="Run gradstep.testing.gradcheck on the expression: for every input,\n"
        "the gradient backward() computes (analytic) against the central difference\n"
        "(f(x+h) - f(x-h)) / 2h (numeric), and every op's local derivatives the same\n"
        "way. Exit status 0 when all agree, 1 when one does not.",
        epilog=_GRAMMAR + "\nexamples:\n"
        '  gradstep check "tanh(w*x + b)" x=0.5 w=-1.5 b=0.2\n'
        '  gradstep check "relu(x)" x=0     # at the kink: FAIL, exit status 1\n',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_expression_arguments(command)
    command.add_argument(
        "--eps", type=float, default=1e-6, help="step h = eps·max(1, |x|) (default: 1e-6)"
    )
    command.add_argument(
        "--atol", type=float, default=1e-5, help="absolute tolerance (default: 1e-5)"
    )
    command.add_argument(
        "--rtol", type=float, default=1e-3, help="relative tolerance (default: 1e-3)"
    )
    command.set_defaults(run=_check)


def _add_demo(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser(
        "demo",
        help="run a demo (without a name: list them)",
        description="Run one of the demos that ship with gradstep; everything after the\n"
        "name is passed to it (try: gradstep demo NAME --help). Without a name,\n"
        "list them.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("name", nargs="?", help="the demo to run")
    command.add_argument(
        "demo_args", nargs=argparse.REMAINDER, metavar="...", help="arguments for the demo"
    )
    command.set_defaults(run=_demo)


def _positive_int(text: str) -> int:
    """An argparse type: an integer ≥ 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def _digits(text: str) -> int:
    """An argparse type: an integer from 1 to 17."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer from 1 to 17, got {text!r}"
        ) from None
    if not 1 <= n <= 17:
        raise argparse.ArgumentTypeError(f"expected an integer from 1 to 17, got {n}")
    return n


# ---------------------------------------------------------------------------------------
# entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gradstep`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit
    status."""
    _tolerate_narrow_consoles()
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):  # plain `gradstep`: what can it do?
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, usage errors
        return _status(exit_.code)
    prog = f"{_PROG} {args.command}"
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except ExpressionError as error:
        _error(prog, str(error))
        return EXIT_USAGE
    except _Failure as failure:
        _error(prog, str(failure))
        return failure.status
    except KeyboardInterrupt:
        _error(prog, "interrupted")
        return 130
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        _silence_stdout()
        return EXIT_FAILED


def _status(code: object) -> int:
    """A SystemExit code as an exit status."""
    if code is None:
        return EXIT_OK
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return EXIT_FAILED


def _error(prog: str, message: str) -> None:
    """One line on stderr: ``prog: error: message``."""
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def _tolerate_narrow_consoles() -> None:
    """On a console that cannot print ∂ or ×, print a replacement rather than crash."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding != "utf8" and isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


# ---------------------------------------------------------------------------------------
# gradstep explain


def _explain(args: argparse.Namespace) -> int:
    """Print the walk-through tables and the input gradients; write the requested drawings."""
    from gradstep.explain import walkthrough  # imports graphviz: only when needed

    outputs = _requested_drawings(args)
    expression, values = _expression_and_values(args)
    root, leaves = expression.build(values)
    f = _name_root(root, expression)
    walk = walkthrough(root)

    header = f"{f} = {expression.source.strip()}"
    at = ", ".join(f"{name} = {_number(values[name])}" for name in expression.variables)
    if args.markdown:
        print(f"**`{header}`**" + (f" at {at}" if at else "") + "\n")
        print(walk.format_markdown(args.digits))
        print("\n**Input gradients**\n")
        for name in expression.variables:
            print(f"- ∂{f}/∂{name} = {_number(leaves[name].grad)}")
    else:
        print(header + (f"   at {at}" if at else ""))
        print(f"{f} = {_number(root.data)}\n")
        print(walk.format_text(args.digits))
        print("\ninput gradients")
        for name in expression.variables:
            print(f"  ∂{f}/∂{name} = {_number(leaves[name].grad)}")
    sys.stdout.flush()
    if not all(math.isfinite(v.grad) for v in walk.nodes):
        print(
            f"{_PROG} explain: warning: some gradients are not finite (an infinite slope, "
            "e.g. sqrt at 0)",
            file=sys.stderr,
        )
    return _write_drawings(walk, outputs, args)


def _name_root(root: Value, expression: Expression) -> str:
    """Label the root L (or f, out, … if L is a variable) for the tables; return the name."""
    if not root._prev:  # a single variable or number: keep its label, call it L as the tables do
        return "L"
    for name in _ROOT_NAMES:
        if name not in expression.variables:
            root.label = name
            return name
    return "f"


def _requested_drawings(args: argparse.Namespace) -> list[Path]:
    """The drawing paths asked for, each with its format's suffix (added if missing)."""
    paths = []
    for fmt in _DRAWING_FORMATS:
        given: str | None = getattr(args, fmt)
        if given is None:
            continue
        path = Path(given)
        if path.suffix == "":
            path = path.with_name(path.name + f".{fmt}")
        elif path.suffix.lower() != f".{fmt}":
            raise _Failure(
                f"--{fmt} writes a .{fmt} file, but the path {given!r} ends in {path.suffix!r}",
                EXIT_USAGE,
            )
        paths.append(path)
    return paths


def _write_drawings(walk: Walkthrough, outputs: Sequence[Path], args: argparse.Namespace) -> int:
    """Render the graph to each path and the frames, if asked; report each file on stderr."""
    from gradstep.viz import GraphvizNotFoundError, draw_dot, render

    if not outputs and args.frames is None:
        return EXIT_OK
    steps = len(walk.backward)
    if args.frames is not None and steps > args.max_frames:  # before writing anything
        raise _Failure(
            f"--frames: {steps} backward steps is more than --max-frames {args.max_frames} "
            f"(one drawing per step); explain a smaller expression, or raise the limit "
            f"with --max-frames {steps}",
            EXIT_FAILED,
        )
    try:
        if outputs:
            dot = draw_dot(walk.root, rankdir=args.rankdir, names=walk.names, digits=args.digits)
            for path in sorted(outputs, key=lambda p: p.suffix != ".dot"):  # no Graphviz first
                written = render(dot, path)
                print(f"wrote {written}", file=sys.stderr)
        if args.frames is not None:
            options = {"rankdir": args.rankdir, "digits": args.digits, "max_frames": steps}
            frames = Path(args.frames)
            if frames.suffix.lower() in (".html", ".htm"):
                print(f"wrote {walk.write_html(frames, **options)}", file=sys.stderr)
            else:
                written_frames = walk.write_frames(frames, **options)
                print(f"wrote {len(written_frames)} frames to {frames}", file=sys.stderr)
    except GraphvizNotFoundError as error:
        message = str(error)
        cut = message.find(" The DOT source")  # the library's advice: ours is --dot
        if cut > 0:
            message = message[:cut]
        message += " (--dot PATH writes the DOT source without Graphviz)"
        raise _Failure(message, EXIT_FAILED) from None
    except (OSError, ValueError) as error:
        raise _Failure(f"could not write the drawing: {error}", EXIT_FAILED) from None
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# gradstep check


def _check(args: argparse.Namespace) -> int:
    """gradcheck the expression at the given values; print every input's two gradients."""
    from gradstep.testing import gradcheck

    expression, values = _expression_and_values(args)
    if not expression.variables:
        raise _Failure("the expression has no variables: there is no gradient to check", EXIT_USAGE)
    root = expression.build(values)[0]  # a domain error is reported before checking
    f = "L" if "L" not in expression.variables else "f"
    inputs = [Value(values[name], label=name) for name in expression.variables]
    try:
        report = gradcheck(
            expression,
            inputs,
            eps=args.eps,
            atol=args.atol,
            rtol=args.rtol,
            raise_on_failure=False,
        )
    except ExpressionError:
        raise
    except ValueError as error:  # bad tolerances, or f fails at x ± h
        raise _Failure(str(error), EXIT_USAGE) from None

    at = ", ".join(f"{name} = {_number(values[name])}" for name in expression.variables)
    print(f"{f} = {expression.source.strip()}   at {at}")
    print(f"{f} = {_number(root.data)}")
    print(f"central differences: h = eps·max(1, |x|), eps = {args.eps:g}")
    print(
        f"pass if |analytic - numeric| <= atol + rtol·|numeric|, "
        f"atol = {args.atol:g}, rtol = {args.rtol:g}\n"
    )
    rows = [
        [
            c.label,
            _number(c.value),
            _number(c.analytic),
            _number(c.numeric),
            f"{c.difference:.3g}",
            "PASS" if c.ok else "FAIL",
        ]
        for c in report.inputs
    ]
    headers = ["input", "value", f"analytic ∂{f}/∂input", "numeric", "difference", "result"]
    print(_table(headers, rows))
    for check in report.inputs:
        if check.note:  # the step crosses a pole or kink, or the gradient is infinite
            print(f"  note on {check.label}: {check.note}")
    checked = sum(c.status != "skipped" for c in report.local)
    print(
        f"\nlocal derivatives of each op: {checked} checked, {len(report.failed_local)} "
        f"failed, {len(report.skipped_local)} skipped"
    )
    for c in report.failed_local:
        print(f"  FAIL  {c.describe()}")
    for c in report.skipped_local:
        print(f"  skip  {c.describe()}")
    print("\nPASS" if report.ok else "\nFAIL: the gradients above disagree")
    return EXIT_OK if report.ok else EXIT_FAILED


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns: the first left-aligned, the rest right-aligned."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))])

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


# ---------------------------------------------------------------------------------------
# gradstep demo


def _demo(args: argparse.Namespace) -> int:
    """Run ``gradstep.demos.NAME.main(args)``; without a name, list the demos."""
    demos = _available_demos()
    if args.name is None:
        _list_demos(demos, sys.stdout)
        return EXIT_OK
    if args.name not in demos:
        known = ", ".join(demos) or "none installed"
        raise _Failure(f"unknown demo {args.name!r}; the demos are: {known}", EXIT_USAGE)
    module = importlib.import_module(f"gradstep.demos.{args.name}")
    demo_main: Callable[[list[str]], int | None] = module.main
    demo_args = list(args.demo_args)
    if demo_args[:1] == ["--"]:
        demo_args = demo_args[1:]
    try:
        status = demo_main(demo_args)
    except SystemExit as exit_:  # the demo's own --help or usage error
        return _status(exit_.code)
    return _status(status)


def _available_demos() -> dict[str, str]:
    """Each demo module's name and the first line of its docstring (read, not imported)."""
    package = importlib.import_module("gradstep.demos")
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_") and not info.ispkg
    )
    return {name: _summary(f"gradstep.demos.{name}") for name in names}


def _summary(module: str) -> str:
    """The first line of a module's docstring, read from its file (it is not imported)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return ""
    try:
        doc = ast.get_docstring(ast.parse(Path(spec.origin).read_text(encoding="utf-8")))
    except (OSError, SyntaxError, ValueError):
        return ""
    return doc.strip().splitlines()[0] if doc else ""


def _list_demos(demos: dict[str, str], stream: TextIO) -> None:
    """Print the demos, one a line, with what each shows."""
    print(
        "demos (run one with: gradstep demo NAME [ARGS...]; NAME --help for its options):",
        file=stream,
    )
    width = max((len(name) for name in demos), default=0)
    for name, summary in demos.items():
        print(f"  {name.ljust(width)}  {summary}".rstrip(), file=stream)


# ---------------------------------------------------------------------------------------
# shared


def _expression_and_values(args: argparse.Namespace) -> tuple[Expression, dict[str, float]]:
    """Parse the expression and the NAME=NUMBER arguments."""
    return parse(args.expression), parse_assignments(args.values)


def _number(x: float) -> str:
    """A number as people write it, to 10 significant digits: 0.5, -1.124219277, 1e-12."""
    text = f"{x:.10g}"
    return "0" if text == "-0" else text
