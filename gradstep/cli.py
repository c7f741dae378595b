"""The ``gradstep`` command: explain, check (gradcheck), practice, demo and test-engine (your own
Value).

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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import gradstep
from gradstep.anomaly import AnomalyError, detect_anomaly
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
    from gradstep.testing.grader.card import EngineReport
    from gradstep.testing.grader.classroom import Graded, Submission
    from gradstep.viz.exercise import Exercise
    from gradstep.viz.explain import Walkthrough

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
    """The ``gradstep`` argument parser: ``explain``, ``check``, ``demo`` and ``test-engine``."""
    parser = _Parser(
        prog=_PROG,
        description="See every number of backprop: walk through an expression's backward\n"
        "pass, practise it by hand, check its gradients, run the demos, test your own\n"
        "micrograd-style engine.",
        epilog="examples:\n"
        '  gradstep explain "tanh(w*x + b)" x=0.5 w=-1.5 b=0.2 --svg graph.svg\n'
        '  gradstep check "x*log(x) + sqrt(y)" x=2 y=3\n'
        "  gradstep practice --level 4 --seed 7\n"
        "  gradstep demo neuron\n"
        "  gradstep test-engine my_engine.py:Value\n\n"
        "exit status: 0 ok, 1 gradient check failed or output not written, 2 bad input\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{_PROG} {gradstep.__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="{explain,check,practice,demo,test-engine}", required=True
    )
    _add_explain(commands)
    _add_check(commands)
    _add_practice(commands)
    _add_demo(commands)
    _add_test_engine(commands)
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
        help="print the forward and backward tables of an expression; draw its graph, "
        "write its step-by-step page or a worksheet",
        description="Build the expression, run backward() once and print what it did: the\n"
        "forward pass (every value), the backward pass (every edge in visit order:\n"
        "local gradient × upstream gradient = product, added into the child's\n"
        "gradient) and the gradient of every input. Optionally draw the graph\n"
        "(needs Graphviz's 'dot' program, except --dot).",
        epilog=_GRAMMAR + "\nexamples:\n"
        '  gradstep explain "tanh(w*x + b)" x=0.5 w=-1.5 b=0.2\n'
        '  gradstep explain "x*x + x" x=3 --markdown\n'
        '  gradstep explain "sigmoid(w0*x0 + w1*x1 + w2)" w0=2 x0=-1 w1=-3 x1=-2 w2=-3 \\\n'
        "      --svg neuron.svg --html neuron.html\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_expression_arguments(command)
    command.add_argument(
        "--markdown", action="store_true", help="print the tables as Markdown instead of text"
    )
    command.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first gradient that is not finite (inf or nan) with an error naming "
        "the op, the node and its inputs (anomaly mode), instead of printing it with a warning",
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
        "--html",
        metavar="PAGE",
        help="write the interactive page: the graph drawn once beside the forward and "
        "backward tables; arrow keys, Home/End or a click on a row step through backprop "
        "(one self-contained HTML file, no network)",
    )
    drawing.add_argument(
        "--frames",
        metavar="DIR",
        help="write one SVG per backward step into DIR (step_001.svg, ...), the current "
        "edge in red, every grad as it stood then; all from one layout",
    )
    drawing.add_argument(
        "--reveal",
        choices=("step", "all"),
        default="step",
        help="what the page's backward table shows: each step's numbers once it is reached "
        "(step, the default: a learner never sees an answer early) or every number from the "
        "start (all, for teachers); a button on the page switches",
    )
    drawing.add_argument(
        "--max-steps",
        type=_positive,
        metavar="N",
        help="the most backward steps --html (default 500) or --frames (default 200) will "
        "write",  # gradstep.viz.stepper's MAX_PAGE_STEPS and MAX_FRAMES (a test keeps them equal)
    )
    teaching = command.add_argument_group("worksheets")
    teaching.add_argument(
        "--worksheet",
        metavar="PATH.md|PATH.html",
        help="write a worksheet: the drawing and the tables with the numbers a learner "
        "works out left blank, and the answer key on a page of its own (.md writes the "
        "drawing beside it as .svg; .html is one printable page)",
    )
    teaching.add_argument(
        "--blank",
        type=_blank_columns,
        default=("local", "upstream", "product", "grad"),
        metavar="COLUMNS",
        help="which columns the worksheet leaves blank, comma-separated from "
        "local,upstream,product,grad (default: all four)",
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


_LEVELS_SLOT = "<the practice levels>"


class _PracticeHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Fills in the practice levels when the help is shown (importing gradstep.viz only then,
    so that building the parser needs no graphviz package)."""

    def add_text(self, text: str | None) -> None:
        """The text, with the levels in their slot."""
        if text and _LEVELS_SLOT in text:
            from gradstep.viz.levels import LEVELS

            levels = "\n".join(f"  {n}  {level.what}" for n, level in LEVELS.items())
            text = text.replace(_LEVELS_SLOT, levels)
        super().add_text(text)


def _add_practice(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser(
        "practice",
        help="do a backward pass by hand: gradstep asks every number and names each mistake",
        description="Show an expression's forward pass and the seed, then ask the backward\n"
        "pass edge by edge in the walk-through's order: the local derivative\n"
        "∂node/∂child, then ∂L/∂child so far. Every number is checked (3 significant\n"
        "digits are enough; fractions, arithmetic, e and pi are read too); a wrong one\n"
        "is answered with the mistake it looks like, else a hint from the formula.\n"
        "Type ? for a hint, ! to see the answer. Answers may be piped, one a line.\n"
        "Exit status 0 when every number was given right in the end, 1 when one was\n"
        "revealed or the input ended, 2 on bad input.",
        epilog=_GRAMMAR + "\nlevels (--level N):\n" + _LEVELS_SLOT + "\n\nexamples:\n"
        '  gradstep practice "(a + b) * a" a=2 b=-1\n'
        "  gradstep practice --level 4 --seed 7\n"
        "  gradstep practice --level 2 --count 5 --worksheet sheet.html\n"
        "  gradstep practice --level 5 --html neuron_practice.html\n"
        "  printf '2\\n2\\n1\\n1\\n' | gradstep practice \"x*y\" x=1 y=2   # exit status 0\n",
        formatter_class=_PracticeHelpFormatter,
    )
    command.add_argument(
        "expression", nargs="?", help='the expression, e.g. "(a + b) * a" (or use --level)'
    )
    command.add_argument(
        "values", nargs="*", metavar="NAME=NUMBER", help="a value for each variable, e.g. a=2"
    )
    command.add_argument(
        "--level",
        type=_level,
        metavar="N",
        help="a fresh exercise at level N (the levels are below) instead of an expression",
    )
    command.add_argument(
        "--seed",
        type=_non_negative,
        metavar="S",
        help="which exercise of the level (the same seed gives the same one; default: random)",
    )
    command.add_argument(
        "--count",
        type=_exercise_count,
        default=1,
        metavar="K",
        help=f"K exercises of the level, seeds S, S+1, ... (one after another, or on the "
        f"worksheet; at most {_MAX_EXERCISES})",
    )
    command.add_argument(
        "--worksheet",
        metavar="PATH.md|PATH.html",
        help="write the exercises as a worksheet with its answer key instead of asking them",
    )
    command.add_argument(
        "--html",
        metavar="PAGE",
        help="write the practice page instead of asking: answer fields checked on Enter, "
        "the same feedback, progress kept on reload (one self-contained HTML file)",
    )
    command.set_defaults(run=_practice)


#: the most exercises one --count asks for or puts on a worksheet
_MAX_EXERCISES = 100


def _exercise_count(text: str) -> int:
    """An argparse type: how many exercises, 1 to `_MAX_EXERCISES`."""
    n = _positive(text)
    if n > _MAX_EXERCISES:
        raise argparse.ArgumentTypeError(f"expected at most {_MAX_EXERCISES} exercises, got {n}")
    return n


def _level(text: str) -> int:
    """An argparse type: a practice level."""
    from gradstep.viz.levels import LEVELS

    try:
        n = int(text)
    except ValueError:
        n = -1
    if n not in LEVELS:
        raise argparse.ArgumentTypeError(
            f"expected a level from {min(LEVELS)} to {max(LEVELS)}, got {text!r}"
        )
    return n


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


def _add_test_engine(commands: argparse._SubParsersAction[_Parser]) -> None:
    from gradstep.testing.grader import runner as engines
    from gradstep.testing.grader.ops import op_names

    command = commands.add_parser(
        "test-engine",
        help="check your own micrograd-style Value class and name what is wrong",
        description="Import a micrograd-style Value class (in a separate process, with a time\n"
        "limit per check) and check every op it has against gradstep and central\n"
        "differences, random expression DAGs (shrunk to a minimal failing one), node\n"
        "reuse, sum(), ints, repeated backward() and the deepest chain it can\n"
        "backpropagate. Prints a report card: PASS, FAIL, UNSUPPORTED (no such op), SKIP\n"
        "(something it needs fails) or INFO (behaviour, not judged) per row, and Python\n"
        "code that reproduces each failure. Exit status 0 when every supported check\n"
        "passes, 1 when one fails, 2 when the class cannot be loaded.\n\n"
        "Given a folder (or several targets) it grades every engine found, --jobs at a\n"
        "time, and writes a class report (a table here; grades.csv and grades.html in\n"
        "--out; exit status 0 when every engine passes, 1 otherwise). For one engine,\n"
        "--gradescope writes Gradescope's results.json.",
        epilog="examples:\n"
        "  gradstep test-engine engine.py            # the class Value in engine.py\n"
        "  gradstep test-engine micrograd.engine:Value\n"
        "  gradstep test-engine engine.py:Scalar --ops tanh,exp --examples 500\n"
        "  gradstep test-engine submissions/ --class Value --out report/\n"
        "  gradstep test-engine engine.py --gradescope /autograder/results/results.json\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument(
        "targets",
        nargs="+",
        metavar="TARGET",
        help="path/to/file.py:ClassName or package.module:ClassName (ClassName: Value if "
        "omitted), or a folder: every .py file in it that defines the class",
    )
    command.add_argument(
        "--class",
        dest="class_name",
        metavar="NAME",
        help="the class to check (default: Value; in a folder, the files that define it)",
    )
    command.add_argument(
        "--jobs",
        type=_positive,
        metavar="N",
        help="engines checked at once, each in its own process (default: the CPU count)",
    )
    command.add_argument(
        "--out",
        metavar="DIR",
        help="with several engines: write grades.csv and grades.html here "
        "(default: test-engine-report)",
    )
    command.add_argument(
        "--gradescope",
        metavar="FILE",
        help="one engine: also write Gradescope's results.json to FILE",
    )
    command.add_argument(
        "--weights",
        metavar="FILE",
        help='points per check for --gradescope, as JSON: {"tanh": 2, "sigmoid": 0, "*": 1} '
        "(default: 1 per row, 0 for INFO rows)",
    )
    command.add_argument(
        "--budget",
        type=_seconds,
        metavar="S",
        help="time limit of one engine's whole run; rows not reached are SKIP (default: none "
        f"for one engine, {engines.CLASS_BUDGET:g} s each for several)",
    )
    command.add_argument(
        "--ops",
        type=_op_list,
        metavar="OPS",
        help="only these ops' rows and random DAGs, comma-separated, e.g. tanh,+; the ops: "
        f"{', '.join(op_names(None))}, or the operators + - * / **",
    )
    command.add_argument(
        "--examples",
        type=_non_negative,
        metavar="N",
        help=f"random DAGs to try (default: {engines.DEFAULT_EXAMPLES}; "
        f"{engines.CLASS_EXAMPLES} for several engines; 0 skips them)",
    )
    command.add_argument(
        "--max-depth",
        type=_positive,
        metavar="N",
        help=f"the deepest chain to try (default: {engines.DEFAULT_MAX_DEPTH:,}; "
        f"{engines.CLASS_MAX_DEPTH:,} for several engines)",
    )
    command.add_argument(
        "--depth-seconds",
        type=_seconds,
        metavar="S",
        help=f"CPU-time bound of the chain search (default: {engines.DEFAULT_DEPTH_SECONDS:g} s; "
        f"{engines.CLASS_DEPTH_SECONDS:g} s for several engines)",
    )
    command.add_argument(
        "--timeout",
        type=_seconds,
        metavar="S",
        help=f"time limit of each check (default: {engines.DEFAULT_TIMEOUT:g} s; "
        f"{engines.CLASS_TIMEOUT:g} s for several engines; the random DAGs get 6x, the "
        "import 3x)",
    )
    command.add_argument("--json", action="store_true", help="print the report as JSON")
    command.add_argument(
        "--traceback",
        action="store_true",
        help="when the class cannot be loaded, print the traceback from importing it",
    )
    command.set_defaults(run=_test_engine)


def _op_list(text: str) -> list[str]:
    """An argparse type: comma-separated op names or symbols, each known."""
    from gradstep.testing.grader.ops import op_names

    ops = [item.strip() for item in text.split(",") if item.strip()]
    try:
        op_names(ops)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not ops:
        raise argparse.ArgumentTypeError("give at least one op")
    return ops


def _non_negative(text: str) -> int:
    """An argparse type: an integer ≥ 0."""
    try:
        n = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 0, got {n}")
    return n


def _seconds(text: str) -> float:
    """An argparse type: a positive number of seconds."""
    try:
        s = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(s) and s > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return s


def _blank_columns(text: str) -> tuple[str, ...]:
    """An argparse type: worksheet columns to leave blank, e.g. ``local,grad``."""
    from gradstep.viz.worksheet import parse_blank

    try:
        return parse_blank(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(text: str) -> int:
    """An argparse type: a positive integer."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def _progress(what: str) -> Callable[[int, int], None]:
    """Report ``k/n what`` on one terminal line of stderr (long work shows it is moving)."""

    def report(k: int, n: int) -> None:
        end = "\n" if k == n else ""
        print(f"\r{_PROG} explain: {k}/{n} {what}", end=end, file=sys.stderr, flush=True)

    return report


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


@contextmanager
def _status_line(message: str, show: bool = True) -> Iterator[None]:
    """Show ``message`` on stderr while the block runs, if stderr is a terminal; erase it after.

    One status line, not a bar: the long work (a Graphviz layout) is one opaque call.
    """
    shown = show and sys.stderr.isatty()
    if shown:
        print(f"{_PROG}: {message}", end="", file=sys.stderr, flush=True)
    try:
        yield
    finally:
        if shown:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)


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
    from gradstep.viz.explain import walkthrough  # imports graphviz: only when needed

    outputs = _requested_drawings(args)
    expression, values = _expression_and_values(args)
    root, leaves = expression.build(values)  # refuses a value that is not finite
    f = _name_root(root, expression)
    header = f"{f} = {expression.source.strip()}"
    try:
        with detect_anomaly() if args.strict else nullcontext():
            walk = walkthrough(root)
    except AnomalyError as error:
        raise _Failure(f"{error} (in {header}; --strict)", EXIT_USAGE) from None

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
            "e.g. sqrt at 0); --strict stops at the first and says where",
            file=sys.stderr,
        )
    title = header + (f" at {at}" if at else "")
    return _write_drawings(walk, outputs, args, title)


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


def _write_drawings(
    walk: Walkthrough, outputs: Sequence[Path], args: argparse.Namespace, header: str
) -> int:
    """Render the graph to each path, the page and the frames, if asked; report each file on
    stderr."""
    from gradstep.viz.drawing import GraphvizNotFoundError, draw_dot, render
    from gradstep.viz.stepper import TooManyStepsError

    if not outputs and args.frames is None and args.html is None and args.worksheet is None:
        return EXIT_OK
    try:
        if outputs:
            dot = draw_dot(
                walk.root, rankdir=args.rankdir, names=walk.short_names, digits=args.digits
            )
            for path in sorted(outputs, key=lambda p: p.suffix != ".dot"):  # no Graphviz first
                with _status_line(
                    f"drawing {path} ({len(walk.nodes)} values; Graphviz lays out large graphs "
                    "for seconds)…",
                    show=path.suffix != ".dot",
                ):
                    written = render(dot, path)
                print(f"wrote {written}", file=sys.stderr)
        frames = Path(args.frames) if args.frames is not None else None
        page = Path(args.html) if args.html is not None else None
        if frames is not None and frames.suffix.lower() in (".html", ".htm"):
            print(
                f"{_PROG} explain: note: --frames {frames} writes the interactive page, "
                "now made by --html PAGE; --frames DIR writes SVG files",
                file=sys.stderr,
            )
            page, frames = page or frames, None
        limit = {} if args.max_steps is None else {"max_steps": args.max_steps}
        if page is not None:
            title = f"backward pass of {header}"
            written = walk.write_html(
                page,
                rankdir=args.rankdir,
                digits=args.digits,
                title=title,
                reveal=args.reveal,
                **limit,
            )
            print(f"wrote {written}", file=sys.stderr)
        if args.worksheet is not None:
            sheet = Path(args.worksheet)
            if sheet.suffix.lower() not in (".md", ".html", ".htm"):
                raise _Failure(
                    f"--worksheet writes a .md or .html file, but the path {args.worksheet!r} "
                    f"ends in {sheet.suffix or 'nothing'!r}",
                    EXIT_USAGE,
                )
            for path in walk.write_worksheet(
                sheet, blank=args.blank, digits=args.digits, rankdir=args.rankdir, title=header
            ):
                print(f"wrote {path}", file=sys.stderr)
        if frames is not None:
            max_frames = {} if args.max_steps is None else {"max_frames": args.max_steps}
            paths = walk.write_frames(
                frames,
                rankdir=args.rankdir,
                digits=args.digits,
                progress=_progress("frames") if sys.stderr.isatty() else None,
                **max_frames,
            )
            print(f"wrote {len(paths)} frames to {frames}", file=sys.stderr)
    except TooManyStepsError as error:
        raise _Failure(
            f"{error.steps} backward steps is more than the {error.limit} allowed for "
            f"{error.what}; walk through a smaller expression, or raise the limit with "
            f"--max-steps {error.steps}",
            EXIT_USAGE,
        ) from None
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
    from gradstep.viz.explain import text_table  # (graphviz is imported only when needed)

    print(text_table(headers, rows, numeric=set(range(1, len(headers)))))
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


# ---------------------------------------------------------------------------------------
# gradstep practice


def _practice(args: argparse.Namespace) -> int:
    """Ask the exercise's numbers on stdin (or write its page or a worksheet); 0 when every
    number was given right in the end."""
    from gradstep.viz.practice_text import run_session

    exercises = _exercises(args)
    if args.html is not None:
        if len(exercises) > 1:
            raise _Failure("--html writes one exercise's page: leave out --count", EXIT_USAGE)
        return _write_practice_page(exercises[0], Path(args.html))
    if args.worksheet is not None:
        return _write_practice_worksheet(exercises, Path(args.worksheet), args)
    result = run_session(exercises, sys.stdin, sys.stdout, echo=not sys.stdin.isatty())
    return EXIT_OK if result.ok else EXIT_FAILED


def _exercises(args: argparse.Namespace) -> list[Exercise]:
    """The exercise of the expression, or ``--count`` of ``--level``."""
    import random

    from gradstep.viz.exercise import Exercise
    from gradstep.viz.explain import walkthrough
    from gradstep.viz.levels import make_exercises

    if args.level is not None:
        if args.expression is not None:
            raise _Failure("give an expression or --level N, not both", EXIT_USAGE)
        seed = args.seed if args.seed is not None else random.randrange(10_000)
        if args.seed is None:
            again = f"gradstep practice --level {args.level} --seed {seed}"
            print(f"level {args.level}, seed {seed} (the same again: {again})\n")
        return make_exercises(args.level, seed, args.count)
    if args.expression is None:
        raise _Failure(
            'give an expression and its values (gradstep practice "x*y" x=2 y=3) or --level N',
            EXIT_USAGE,
        )
    if args.seed is not None or args.count != 1:
        raise _Failure("--seed and --count choose exercises of a --level", EXIT_USAGE)
    expression, values = _expression_and_values(args)
    root, _ = expression.build(values)
    if not root._prev:
        raise _Failure(
            "the expression has no operation: there is no backward pass to practise", EXIT_USAGE
        )
    f = _name_root(root, expression)
    at = ", ".join(f"{name} = {_number(values[name])}" for name in expression.variables)
    title = f"{f} = {expression.source.strip()}" + (f"   at {at}" if at else "")
    try:
        return [Exercise(walkthrough(root), title)]
    except ValueError as error:  # an infinite or undefined gradient
        raise _Failure(str(error), EXIT_USAGE) from None


def _write_practice_page(exercise: Exercise, path: Path) -> int:
    """Write the practice page (without Graphviz, without its drawing); 1 if it cannot be
    written."""
    try:
        written = exercise.write_html(path)
    except OSError as error:
        raise _Failure(f"could not write the page: {error}", EXIT_FAILED) from None
    print(f"wrote {written}", file=sys.stderr)
    return EXIT_OK


def _write_practice_worksheet(
    exercises: Sequence[Exercise], path: Path, args: argparse.Namespace
) -> int:
    """Write the exercises as one worksheet with its answer key."""
    from gradstep.viz.practice_sheet import write_practice_worksheet

    if path.suffix.lower() not in (".md", ".html", ".htm"):
        raise _Failure(
            f"--worksheet writes a .md or .html file, but the path {args.worksheet!r} ends in "
            f"{path.suffix or 'nothing'!r}",
            EXIT_USAGE,
        )
    try:
        written = write_practice_worksheet(exercises, path)
    except OSError as error:
        raise _Failure(f"could not write the worksheet: {error}", EXIT_FAILED) from None
    for file in written:
        print(f"wrote {file}", file=sys.stderr)
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# gradstep demo


def _demo(args: argparse.Namespace) -> int:
    """Run ``gradstep.demos.NAME.main(args)``; without a name, list the demos."""
    _demos_package()
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


def _demos_package() -> ModuleType:
    """``gradstep.demos``: as installed, or in a source checkout the ``demos/`` folder beside
    the package (pyproject.toml installs that folder as ``gradstep.demos``)."""
    try:
        return importlib.import_module("gradstep.demos")
    except ModuleNotFoundError as error:
        if error.name != "gradstep.demos":
            raise
    folder = Path(gradstep.__file__).resolve().parent.parent / "demos"
    spec = importlib.util.spec_from_file_location(
        "gradstep.demos", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None or not (folder / "__init__.py").is_file():
        raise _Failure(
            "the demos are not installed: no gradstep.demos package, and no demos/ folder "
            f"beside {Path(gradstep.__file__).parent}",
            EXIT_FAILED,
        )
    package = importlib.util.module_from_spec(spec)
    sys.modules["gradstep.demos"] = package
    try:
        spec.loader.exec_module(package)
    except BaseException:
        del sys.modules["gradstep.demos"]
        raise
    gradstep.demos = package  # type: ignore[attr-defined]
    return package


def _available_demos() -> dict[str, str]:
    """Each demo module's name and the first line of its docstring (read, not imported)."""
    package = _demos_package()
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
# gradstep test-engine


def _test_engine(args: argparse.Namespace) -> int:
    """Check a foreign Value class; print its report card (or JSON); 1 if a check fails.
    A folder or several targets: grade them all and write the class report."""
    import json

    from gradstep.testing.grader.classroom import find_submissions
    from gradstep.testing.grader.runner import EngineTargetError, check_engine

    try:
        submissions = find_submissions(args.targets, args.class_name)
    except (EngineTargetError, OSError) as error:
        message = str(error) if isinstance(error, EngineTargetError) else _os_error(error)
        raise _Failure(message, EXIT_USAGE) from None
    several = len(args.targets) > 1 or any(Path(t).is_dir() for t in args.targets)
    if several and args.gradescope:
        raise _Failure("--gradescope takes one engine (results.json is per student)", EXIT_USAGE)
    weights = _weights(args)
    if several:
        return _grade_class(args, submissions)
    target = submissions[0].target
    options = _engine_options(args, several=False)
    try:
        report = check_engine(target, **options)
    except (EngineTargetError, OSError) as error:
        message = str(error) if isinstance(error, EngineTargetError) else _os_error(error)
        if args.gradescope:
            _gradescope(args, None, weights, message)
        if isinstance(error, EngineTargetError) and args.traceback and error.details:
            print(error.details.rstrip(), file=sys.stderr)
        if args.json:
            print(json.dumps({"target": target, "error": message}, indent=2))
        raise _Failure(message, EXIT_USAGE) from None
    if args.gradescope:
        _gradescope(args, report, weights, "")
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, allow_nan=False))
    else:
        print(report.format())
    return EXIT_OK if report.ok else EXIT_FAILED


def _os_error(error: OSError) -> str:
    """An OSError about a file as one line: the reason and the (shortened) name."""
    name = str(error.filename) if error.filename is not None else ""
    shown = name if len(name) <= 60 else f"{name[:40]}…{name[-15:]} ({len(name)} characters)"
    reason = error.strerror or type(error).__name__
    return f"cannot read {shown}: {reason}" if shown else reason


def _engine_options(args: argparse.Namespace, several: bool) -> dict[str, Any]:
    """`check_engine`'s options from the command line, with the defaults of the mode."""
    from gradstep.testing.grader import runner

    depth = runner.CLASS_MAX_DEPTH if several else runner.DEFAULT_MAX_DEPTH
    seconds = runner.CLASS_DEPTH_SECONDS if several else runner.DEFAULT_DEPTH_SECONDS
    timeout = runner.CLASS_TIMEOUT if several else runner.DEFAULT_TIMEOUT
    examples = runner.CLASS_EXAMPLES if several else runner.DEFAULT_EXAMPLES
    return {
        "ops": args.ops,
        "examples": args.examples if args.examples is not None else examples,
        "max_depth": args.max_depth if args.max_depth is not None else depth,
        "depth_seconds": args.depth_seconds if args.depth_seconds is not None else seconds,
        "timeout": args.timeout if args.timeout is not None else timeout,
        "budget": args.budget if args.budget is not None or not several else runner.CLASS_BUDGET,
        "memory_mb": runner.CLASS_MEMORY_MB if several else None,
    }


def _weights(args: argparse.Namespace) -> dict[str, float]:
    """The --weights file, checked against the plan (a bad one is a usage error)."""
    from gradstep.testing.grader.checks import plan
    from gradstep.testing.grader.gradescope import read_weights

    if args.weights is None:
        return {}
    try:
        return read_weights(args.weights, plan(args.ops))
    except ValueError as error:
        raise _Failure(str(error), EXIT_USAGE) from None


def _gradescope(
    args: argparse.Namespace, report: EngineReport | None, weights: dict[str, float], error: str
) -> None:
    """Write results.json for Gradescope."""
    from gradstep.testing.grader.checks import plan
    from gradstep.testing.grader.gradescope import results_json, write_results

    data = results_json(report, plan(args.ops), weights, error)
    path = write_results(data, args.gradescope)
    print(f"wrote {path} ({data['score']:g} points)", file=sys.stderr)


def _grade_class(args: argparse.Namespace, submissions: list[Submission]) -> int:
    """Grade every submission, print the table, write grades.csv and grades.html."""
    import json

    from gradstep.testing.grader.class_report import format_table, write_csv, write_html
    from gradstep.testing.grader.classroom import grade_all

    out = Path(args.out or "test-engine-report")
    out.mkdir(parents=True, exist_ok=True)
    total = len(submissions)
    done: list[Graded] = []

    def heard(graded: Graded) -> None:
        done.append(graded)
        score = "error" if graded.report is None else f"{graded.score[0]}/{graded.score[1]}"
        print(
            f"[{len(done)}/{total}] {graded.submission.name}: {score} ({graded.seconds:.1f} s)",
            file=sys.stderr,
            flush=True,
        )

    report = grade_all(
        submissions, jobs=args.jobs, on_done=heard, **_engine_options(args, several=True)
    )
    if args.json:
        print(
            json.dumps(
                [
                    {"submission": g.submission.name, "error": g.error}
                    if g.report is None
                    else {"submission": g.submission.name, **g.report.to_dict()}
                    for g in report.graded
                ],
                indent=2,
                allow_nan=False,
            )
        )
    else:
        print(format_table(report))
    csv_path = write_csv(report, out / "grades.csv")
    html_path = write_html(report, out / "grades.html")
    print(f"wrote {csv_path} and {html_path}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


# ---------------------------------------------------------------------------------------
# shared


def _expression_and_values(args: argparse.Namespace) -> tuple[Expression, dict[str, float]]:
    """Parse the expression and the NAME=NUMBER arguments."""
    return parse(args.expression), parse_assignments(args.values)


def _number(x: float) -> str:
    """A number as people write it, to 10 significant digits: 0.5, -1.124219277, 1e-12."""
    text = f"{x:.10g}"
    return "0" if text == "-0" else text
