"""The stress harness (issue 17): random graphs against PyTorch, replays, model files, threads.

    python -m bench.stress                 # full size (a few minutes on 2 cores)
    python -m bench.stress --quick         # CI size (seconds; tests/test_stress.py runs it)
    python -m bench.stress --sections dags,hessians --dags 50000 --seed 3

Sections (``--sections``, all by default):

- ``dags``: random expression DAGs (1–4 inputs, up to 12 ops from the op records, inputs from
  a mix of ordinary numbers and edge values: ±0, 5e-324, ±1e-300, ±1e300, ±700…), their
  value and first-order gradients by gradstep's ``backward()`` against PyTorch float64.
- ``hessians``: the same kind of DAGs, every second derivative by
  ``gradstep.grad(create_graph=True)`` twice against ``torch.autograd.grad`` twice.
- ``replays``: each DAG compiled (`gradstep.compile`) and replayed after random updates of
  its inputs: the replay must equal eager mode to the last bit (or raise eager mode's error).
- ``files``: mutated model files (single-bit flips of a valid file, random bytes after a
  valid header) through `bench.hostile_inputs`, each batch in a memory-capped process:
  ``ModelFileError`` or the same weights, nothing else; and saving processes killed
  mid-save (one per 20 files): the file is the old or the new one, never half of one.
- ``cli``: hostile command lines for ``gradstep explain`` and ``gradstep check`` (numbers past
  the float limits, deep nesting, code, odd spellings): an exit status, never a traceback.
- ``threads``: threads running ``backward()`` on separate graphs at once: the same numbers as
  one thread, and the garbage collector enabled after.

How a number is judged against PyTorch: equal bits (or both nan) are "exact"; ±0 apart,
"signed zero" (gradstep sums a leaf from +0.0); finite and at most 4 units in the last place
apart, "close"; farther apart, a 60-digit reference (mpmath, central differences for
gradients) decides whether gradstep is as close to the truth as PyTorch is.  A finite
gradstep number where PyTorch has nan is gradstep's 0·∞ = 0 rule when the reference agrees
with gradstep.  Domain errors (gradstep raises where PyTorch gives nan) are counted, not
compared.  A *finding* is a crash, a replay that differs from eager mode, a gradstep number
clearly worse than PyTorch's against the reference, a non-finite mismatch that is none of
the documented differences, a loader outcome other than the two allowed, or a thread
mismatch; the command exits 1 if there is one and prints the first few with their DAG.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import math
import random
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gradstep
from gradstep import Value
from gradstep.testing.strategies import (
    BINARY_FORMS,
    BINARY_OPS,
    DAG_OPS,
    DAGStep,
    ExpressionDAG,
    torch_functions,
)

#: inputs that sit on an edge: zeros, the tiniest, the huge, where exp overflows
EDGE_INPUTS = (0.0, -0.0, 5e-324, 1e-300, -1e-300, 1e300, -1e300, 1.0, -1.0, 0.5, 700.0, -700.0)
EXPONENTS = (0.0, 0.5, -0.5, 1.0, 2.0, 3.0, -1.0, -2.0, 1.5, 0.25)
CONSTANTS = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0)
SLOPES = (0.01, 0.1, 0.2, -0.5, 0.0)
DOMAIN_ERRORS = (ValueError, ZeroDivisionError)
SECTIONS = ("dags", "hessians", "replays", "files", "cli", "threads")


# ---------------------------------------------------------------------------------------
# random DAGs (seeded; no Hypothesis, so any size runs at the same cost per graph)


def random_input(rng: random.Random) -> float:
    r = rng.random()
    if r < 0.2:
        return rng.choice(EDGE_INPUTS)
    if r < 0.3:
        return rng.uniform(-1e3, 1e3)
    return rng.gauss(0.0, 2.0)


def random_dag(rng: random.Random, max_steps: int = 12) -> ExpressionDAG:
    """1–4 inputs and 1–max_steps ops, each on earlier slots (recent ones more often)."""
    inputs = tuple(random_input(rng) for _ in range(rng.randint(1, 4)))
    steps: list[DAGStep] = []

    def pick() -> int:
        slots = len(inputs) + len(steps)
        return (
            rng.randrange(slots) if rng.random() < 0.5 else slots - 1 - rng.randrange(min(3, slots))
        )

    for _ in range(rng.randint(1, max_steps)):
        op = rng.choice(DAG_OPS)
        if op in BINARY_OPS:
            form = rng.choice(BINARY_FORMS)
            if form == "value-value":
                steps.append(DAGStep(op, (pick(), pick())))
                continue
            first = form == "number-value"
            pool = EXPONENTS if op == "**" and not first else CONSTANTS
            const = rng.choice(pool) if rng.random() < 0.8 else rng.gauss(0.0, 3.0)
            steps.append(DAGStep(op, (pick(),), const=const, const_first=first))
        elif op == "leaky_relu":
            steps.append(DAGStep(op, (pick(),), const=rng.choice(SLOPES)))
        else:
            steps.append(DAGStep(op, (pick(),)))
    return ExpressionDAG(inputs, tuple(steps))


def pruned(dag: ExpressionDAG) -> ExpressionDAG:
    """The DAG without the steps the root does not depend on (a replay replays the graph
    ``loss_fn`` returns, not the work it did beside it, such as a dead node that raises)."""
    n = len(dag.inputs)
    live = {n + len(dag.steps) - 1}
    for k in range(len(dag.steps) - 1, -1, -1):
        if n + k in live:
            live.update(dag.steps[k].args)
    slot = {i: i for i in range(n)}
    steps: list[DAGStep] = []
    for k, step in enumerate(dag.steps):
        if n + k in live:
            slot[n + k] = n + len(steps)
            steps.append(
                DAGStep(step.op, tuple(slot[a] for a in step.args), step.const, step.const_first)
            )
    return ExpressionDAG(dag.inputs, tuple(steps))


def used_inputs(dag: ExpressionDAG) -> list[int]:
    """The inputs the root depends on."""
    n = len(dag.inputs)
    reach = {n + len(dag.steps) - 1}
    for k in range(len(dag.steps) - 1, -1, -1):
        if n + k in reach:
            reach.update(dag.steps[k].args)
    return [i for i in range(n) if i in reach]


# ---------------------------------------------------------------------------------------
# judging numbers


def bits(x: float) -> str:
    return "nan" if math.isnan(x) else struct.pack("<d", x).hex()


def ulps(a: float, b: float) -> int:
    ia, ib = (int(struct.unpack("<q", struct.pack("<d", x))[0]) for x in (a, b))
    if (ia < 0) != (ib < 0):
        return abs(ia) + abs(ib)
    return abs(ia - ib)


@dataclass
class Tally:
    """Counts by class, and the findings (with what is needed to reproduce them)."""

    counts: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)

    def finding(self, kind: str, detail: str) -> None:
        self.counts[f"FINDING: {kind}"] += 1
        if len(self.findings) < 200:
            self.findings.append(f"{kind}: {detail}")


def excuse(out: Value) -> str:
    """A documented reason for gradstep's non-finite numbers to differ from PyTorch's in this
    graph, or "": a local derivative that overflowed at finite, non-zero operands (1/x for a
    subnormal x: PyTorch divides the upstream gradient by x instead), or ``x ** ±0.5`` at -0.0
    (gradstep's pow is IEEE pow; PyTorch's is sqrt)."""
    from gradstep.engine import topological_order
    from gradstep.ops import POW, POW_VALUE

    for node in topological_order(out):
        if not node._prev:
            continue
        if (
            node._spec is POW
            and node._ctx in (0.5, -0.5)
            and bits(node._prev[0].data) == bits(-0.0)
        ):
            return "x ** ±0.5 at -0.0 (IEEE pow, PyTorch sqrt)"
        at_zero = node._spec is POW_VALUE and node._prev[1].data == 0.0
        if at_zero and not all(math.isfinite(g) for g in node.local_grads()):
            return "∂(xʸ)/∂x at y = 0 is 0·x⁻¹ (PyTorch masks it to 0)"
        finite = all(math.isfinite(c.data) and c.data != 0.0 for c in node._prev)
        if finite and not all(math.isfinite(g) for g in node.local_grads()):
            return "a local derivative overflowed (PyTorch divides instead)"
    return ""


def rounding_bound(root: Callable[[], Value]) -> float:
    """64·ε·M, M the largest magnitude among the graph's values and backward products: what
    rounding alone can leave when terms of size M cancel (x/x − 1e300 + 1e300…)."""
    largest = [0.0]

    def record(node: Value, child: Value, k: int, *numbers: float) -> None:
        finite = [abs(x) for x in (node.data, *numbers) if math.isfinite(x)]
        largest[0] = max(largest[0], *finite)

    try:
        root().backward(record)
    except DOMAIN_ERRORS:
        return 0.0
    return 64 * sys.float_info.epsilon * largest[0]


def judge(
    ours: float,
    theirs: float,
    reference: Callable[[], float | None],
    excused: str = "",
    bound: Callable[[], float] = lambda: 0.0,
) -> tuple[str, bool]:
    """(class, is_finding) for gradstep's number against PyTorch's."""
    if bits(ours) == bits(theirs):
        return "exact", False
    if ours == theirs:
        return "signed zero (a leaf is summed from +0.0)", False
    if math.isfinite(ours) and math.isfinite(theirs):
        if ulps(ours, theirs) <= 4:
            return "close (≤ 4 ulp)", False
        ref = reference()
        if ref is None or not math.isfinite(ref):
            return "differ, no 60-digit reference", False
        scale = max(abs(ref), 1e-300)
        err_ours, err_theirs = abs(ours - ref) / scale, abs(theirs - ref) / scale
        if err_ours <= max(1e-9, 16.0 * err_theirs):
            return "differ, gradstep as close to the 60-digit value", False
        if abs(ours - ref) <= bound():
            return "differ, within the rounding of cancelling terms (order of sums)", False
        return "differ, PyTorch closer to the 60-digit value", True
    if math.isnan(theirs) and not math.isnan(ours):
        ref = reference()
        if ref is not None and math.isfinite(ref) and abs(ours - ref) <= 1e-6 * max(1.0, abs(ref)):
            return "PyTorch nan, gradstep the true slope (0·∞ = 0)", False
        return "PyTorch nan, gradstep a number (0·∞ = 0 at a non-smooth point)", False
    if excused:
        return f"non-finite mismatch, documented: {excused}", False
    return "non-finite mismatch", True


# ---------------------------------------------------------------------------------------
# the 60-digit reference (mpmath, when installed)


def _mp_functions() -> dict[str, Callable[..., Any]] | None:
    try:
        import mpmath
    except ImportError:
        return None
    mp = mpmath.mp
    return {
        "tanh": mp.tanh,
        "sigmoid": lambda x: 1 / (1 + mp.exp(-x)),
        "relu": lambda x: x if x > 0 else mp.mpf(0),
        "leaky_relu": lambda x, s: x if x > 0 else s * x,
        "exp": mp.exp,
        "log": lambda x: mp.log(x) if x > 0 else _raise(),
        "sqrt": lambda x: mp.sqrt(x) if x >= 0 else _raise(),
        "abs": abs,
    }


def _raise() -> Any:
    raise ValueError("outside the domain")


class Reference:
    """f and its derivatives at 60 digits (derivatives by central differences)."""

    def __init__(self) -> None:
        self.functions = _mp_functions()

    def value(self, dag: ExpressionDAG, xs: Sequence[Any]) -> Any:
        import mpmath

        mp = mpmath.mp
        slots = [mp.mpf(x) for x in xs]
        for step in dag.steps:
            args = [slots[i] for i in step.args]
            op = step.op
            if op in BINARY_OPS:
                if len(args) == 2:
                    a, b = args
                elif step.const_first:
                    a, b = mp.mpf(step.const), args[0]
                else:
                    a, b = args[0], mp.mpf(step.const)
                if op == "/" and b == 0:
                    raise ValueError("division by 0")
                if op == "**" and ((a < 0 and b != int(b)) or (a == 0 and b < 0)):
                    raise ValueError("outside the domain")
                r = {"+": a + b, "-": a - b, "*": a * b}.get(op)
                slots.append(r if r is not None else (a / b if op == "/" else mp.power(a, b)))
            elif op == "neg":
                slots.append(-args[0])
            elif op == "leaky_relu":
                slots.append(self.functions["leaky_relu"](args[0], mp.mpf(step.const)))  # type: ignore[index]
            else:
                slots.append(self.functions[op](args[0]))  # type: ignore[index]
        return slots[-1]

    def derivative(self, dag: ExpressionDAG, i: int, j: int | None = None) -> float | None:
        """∂f/∂xᵢ (or ∂²f/∂xᵢ∂xⱼ) at the DAG's inputs, or None where f is not defined."""
        if self.functions is None:
            return None
        import mpmath

        mp = mpmath.mp
        with mp.workdps(80):
            xs = [mp.mpf(x) for x in dag.inputs]

            def at(*moves: tuple[int, Any]) -> Any:
                ys = list(xs)
                for k, d in moves:
                    ys[k] += d
                return self.value(dag, ys)

            try:
                if j is None:
                    h = mp.mpf(10) ** -30 * max(1, abs(xs[i]))
                    d = (at((i, h)) - at((i, -h))) / (2 * h)
                else:
                    h = mp.mpf(10) ** -20 * max(1, abs(xs[i]), abs(xs[j]))
                    d = (
                        at((i, h), (j, h))
                        - at((i, h), (j, -h))
                        - at((i, -h), (j, h))
                        + at((i, -h), (j, -h))
                    ) / (4 * h * h)
                return float(d)
            except (ValueError, ZeroDivisionError, OverflowError, TypeError):
                return None

    def root(self, dag: ExpressionDAG) -> float | None:
        if self.functions is None:
            return None
        import mpmath

        with mpmath.mp.workdps(60):
            try:
                return float(self.value(dag, dag.inputs))
            except (ValueError, ZeroDivisionError, OverflowError, TypeError):
                return None


# ---------------------------------------------------------------------------------------
# sections


def run_dags(n: int, rng: random.Random, tally: Tally, reference: Reference) -> None:
    """First order: value and ∂f/∂xᵢ, gradstep against PyTorch."""
    import torch

    functions = torch_functions()
    for _ in range(n):
        dag = random_dag(rng)
        leaves = [Value(x) for x in dag.inputs]
        try:
            out = dag(*leaves)
            out.backward()
        except DOMAIN_ERRORS:
            tally.counts["refused (domain error; PyTorch gives nan or inf)"] += 1
            continue
        except Exception as error:
            tally.finding("crash", f"{error!r}\n{dag.source()}")
            continue
        ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in dag.inputs]
        t_out = dag.evaluate(ts, functions)
        if t_out.requires_grad:
            t_out.backward()
        pairs: list[tuple[float, float, Callable[[], float | None], str]] = [
            (out.data, float(t_out.item()), functools.partial(reference.root, dag), "value")
        ]
        for i, (v, t) in enumerate(zip(leaves, ts, strict=True)):
            theirs = 0.0 if t.grad is None else float(t.grad.item())
            derivative = functools.partial(reference.derivative, dag, i)
            pairs.append((v.grad, theirs, derivative, f"∂/∂x{i}"))
        excused = excuse(out)
        bound = functools.partial(rounding_bound, functools.partial(dag, *map(Value, dag.inputs)))
        for ours, theirs, ref, what in pairs:
            kind, bad = judge(ours, theirs, ref, excused, bound)
            tally.counts[kind] += 1
            if bad:
                tally.finding(
                    kind, f"{what}: gradstep {ours!r}, PyTorch {theirs!r}\n{dag.source()}"
                )
        tally.counts["graphs"] += 1


def run_hessians(n: int, rng: random.Random, tally: Tally, reference: Reference) -> None:
    """Second order: every ∂²f/∂xᵢ∂xⱼ by grad(create_graph=True) twice, against PyTorch."""
    import torch

    functions = torch_functions()
    for _ in range(n):
        dag = random_dag(rng, max_steps=8)
        leaves = [Value(x) for x in dag.inputs]
        try:
            out = dag(*leaves)
            firsts = gradstep.grad(out, leaves, create_graph=True)
            ours = [gradstep.grad(g, leaves) for g in firsts]
            excused = excuse(out) or next(filter(None, map(excuse, firsts)), "")
        except DOMAIN_ERRORS:
            tally.counts["refused (domain error; PyTorch gives nan or inf)"] += 1
            continue
        except Exception as error:
            tally.finding("crash", f"{error!r}\n{dag.source()}")
            continue
        ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in dag.inputs]
        t_out = dag.evaluate(ts, functions)
        theirs = [[0.0] * len(ts) for _ in ts]
        if t_out.requires_grad:
            t_firsts = torch.autograd.grad(t_out, ts, create_graph=True, allow_unused=True)
            for i, g in enumerate(t_firsts):
                if g is None or not g.requires_grad:
                    continue
                row = torch.autograd.grad(g, ts, allow_unused=True, retain_graph=True)
                theirs[i] = [0.0 if r is None else float(r.item()) for r in row]
        for i in range(len(ts)):
            for j in range(len(ts)):
                kind, bad = judge(
                    ours[i][j],
                    theirs[i][j],
                    functools.partial(reference.derivative, dag, i, j),
                    excused,
                    functools.partial(rounding_bound, functools.partial(_first, dag, i)),
                )
                tally.counts[kind] += 1
                if bad:
                    tally.finding(
                        kind,
                        f"∂²/∂x{i}∂x{j}: gradstep {ours[i][j]!r}, PyTorch {theirs[i][j]!r}\n"
                        + dag.source(),
                    )
        tally.counts["graphs"] += 1


def _first(dag: ExpressionDAG, i: int) -> Value:
    """∂f/∂xᵢ as a Value (its graph is what the second derivatives walk)."""
    leaves = [Value(x) for x in dag.inputs]
    first: Value = gradstep.grad(dag(*leaves), leaves, create_graph=True)[i]
    return first


def _eager(dag: ExpressionDAG, leaves: list[Value], params: list[Value]) -> tuple[Any, ...]:
    for p in params:
        p.grad = 0.0
    try:
        out = dag(*leaves)
        out.backward()
    except DOMAIN_ERRORS as error:
        return (type(error).__name__,)
    return (bits(out.data), *(bits(p.grad) for p in params))


def _replayed(step: Callable[[], float], params: list[Value]) -> tuple[Any, ...]:
    for p in params:
        p.grad = 0.0
    try:
        loss = step()
    except DOMAIN_ERRORS as error:
        return (type(error).__name__,)
    return (bits(loss), *(bits(p.grad) for p in params))


def run_replays(n: int, rng: random.Random, tally: Tally, updates: int = 3) -> None:
    """Compiled replay after random updates of the inputs equals eager mode, bit for bit."""
    for _ in range(n):
        dag = pruned(random_dag(rng))
        leaves = [Value(x) for x in dag.inputs]
        params = [leaves[i] for i in used_inputs(dag)]
        try:
            step = gradstep.compile(functools.partial(dag, *leaves), params)
        except DOMAIN_ERRORS:
            tally.counts["refused at compile (domain error, as eager)"] += 1
            continue
        except Exception as error:
            tally.finding("compile failed", f"{error!r}\n{dag.source()}")
            continue
        for k in range(updates + 1):
            if k:
                for p in params:
                    p.data = random_input(rng) if rng.random() < 0.3 else p.data * rng.gauss(1, 0.5)
            expected, got = _eager(dag, leaves, params), _replayed(step, params)
            if got == expected:
                tally.counts["replay == eager"] += 1
            else:
                data = [p.data for p in params]
                tally.finding(
                    "replay differs from eager",
                    f"at {data}: eager {expected}, replay {got}\n{dag.source()}",
                )
        tally.counts["graphs"] += 1


def run_files(n: int, seed: int, tally: Tally) -> None:
    """Mutated model files, each batch in a memory-capped child, and n/20 saving processes
    killed with SIGKILL mid-save (bench.hostile_inputs): the file is always the old or the
    new one, and the next save removes the temporary files the kills left."""
    from bench.hostile_inputs import _run_child, sigkill_saves

    kills = sigkill_saves(max(1, n // 20), seed)
    tally.counts["kills during save"] += kills["kills"]
    tally.counts["kills: file old or new"] += kills["file old or new"]
    if kills["file bad"]:
        tally.finding("a kill during save left a bad file", f"{kills['file bad']} times")
    if kills["temp files after it"]:
        tally.finding("temporary files left after the next save", str(kills))

    for batch in ("flips", "random"):
        result = _run_child("batch", batch, n, seed, timeout=600)
        outcomes = result["result"]
        if not isinstance(outcomes, dict):
            tally.finding(f"{batch} batch", str(outcomes))
            continue
        for outcome, count in outcomes.items():
            allowed = outcome in ("ModelFileError", "loaded, same weights", "loaded")
            label = f"{batch}: {outcome}"
            if allowed:
                tally.counts[label] += count
            else:
                tally.finding(label, f"{count} files")


#: pieces of hostile command lines: numbers at and past the float limits, odd spellings
_ATOMS = (
    "x",
    "y",
    "0",
    "-0.0",
    "1e308",
    "1e309",
    "1" + "0" * 310,
    "9" * 5000,
    "1e-400",
    "5e-324",
    "nan",
    "inf",
    "0x10",
    "1_000",
    "٣",
    "x.data",
    "__import__('os')",
    "'s'",
    "None",
    "True",
    "lambda: 1",
    "x if y else 1",
    "[x]",
    "x[0]",
    "𝑥",
    "\x00",
    "",
    " ",
    "((((((((",
    "))",
)
_FUNCTIONS = ("tanh", "sigmoid", "relu", "exp", "log", "sqrt", "abs", "leaky_relu")
_OPERATORS = ("+", "-", "*", "/", "**", "//", "%", "@", "==", ",")
_VALUES = ("1e400", "nan", "inf", "-inf", "1" + "0" * 400, "", "a", "٣", "1e100", "-1e101")
_PLAIN = ("x", "y", "x", "y", "2", "0.5", "-1", "3", "1e-300", "1e300", "0")
_NUMBERS = ("0", "-0.0", "1", "-1", "0.5", "2", "1e-300", "1e300", "5e-324", "700", "-3.25")


def hostile_line(rng: random.Random) -> list[str]:
    """A random command line for ``gradstep explain`` or ``gradstep check``."""

    def atom() -> str:
        return rng.choice(_ATOMS if rng.random() < 0.15 else _PLAIN)

    def expr(depth: int) -> str:
        r = rng.random()
        if depth > 4 or r < 0.35:
            return atom()
        if r < 0.6:
            f = rng.choice(_FUNCTIONS)
            extra = f", {atom()}" if f == "leaky_relu" or rng.random() < 0.05 else ""
            return f"{f}({expr(depth + 1)}{extra})"
        if r < 0.7:
            deep = rng.choice((1, 1, 1, 40, 200))
            return "(" * deep + expr(depth + 1) + ")" * (deep + rng.choice((0, 0, 0, -1, 1)))
        operator = rng.choice(_OPERATORS[:5] if rng.random() < 0.9 else _OPERATORS)
        return f"{expr(depth + 1)} {operator} {expr(depth + 1)}"

    command = rng.choice(("explain", "check"))
    expression = expr(0)
    values = [
        f"{name}={rng.choice(_VALUES if rng.random() < 0.1 else _NUMBERS)}"
        for name in "xy"
        if name in expression
    ]
    if rng.random() < 0.1:
        values.append(rng.choice(("x", "=1", "x==1", "x=1=2", "for=1", "tanh=1")))
    options = []
    if rng.random() < 0.1:
        options = [rng.choice(("--digits", "--eps")), rng.choice((*_VALUES, *_NUMBERS))]
    return [command, expression, *values, *options]


def run_cli(n: int, rng: random.Random, tally: Tally) -> None:
    """Hostile command lines, in-process: an exit status (0, 1, 2) and never a traceback."""
    import contextlib
    import io

    from gradstep.cli import main as cli_main

    for _ in range(n):
        argv = hostile_line(rng)
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = cli_main(argv)
        except SystemExit as exit_:  # argparse's usage errors
            status = exit_.code if isinstance(exit_.code, int) else 2
        except Exception as error:
            tally.finding("traceback", f"{error!r} from gradstep {' '.join(map(repr, argv))[:300]}")
            continue
        if status not in (0, 1, 2):
            tally.finding("odd exit status", f"{status} from {argv!r}"[:300])
            continue
        tally.counts[f"exit {status}"] += 1


def run_threads(rounds: int, rng: random.Random, tally: Tally, threads: int = 4) -> None:
    """Separate graphs in several threads at once give one thread's numbers; gc stays on."""
    dags: list[ExpressionDAG] = []
    while len(dags) < 20:
        dag = random_dag(rng)
        try:
            _gradients(dag)
        except DOMAIN_ERRORS:
            continue
        dags.append(dag)
    expected = [_gradients(dag) for dag in dags]
    was_enabled = gc.isenabled()
    gc.enable()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(rounds):
            results: dict[int, list[tuple[str, ...]]] = {}
            pool = [threading.Thread(target=_work, args=(dags, results, k)) for k in range(threads)]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            for k in range(threads):
                if results.get(k) != expected:
                    tally.finding("thread result differs", f"thread {k}")
            if not gc.isenabled():
                tally.finding("collector left disabled", "after a round of threads")
                gc.enable()
            tally.counts["thread rounds"] += 1
    finally:
        sys.setswitchinterval(interval)
        if not was_enabled:
            gc.disable()


def _work(dags: list[ExpressionDAG], results: dict[int, list[tuple[str, ...]]], k: int) -> None:
    results[k] = [_gradients(dag) for dag in dags]


def _gradients(dag: ExpressionDAG) -> tuple[str, ...]:
    leaves = [Value(x) for x in dag.inputs]
    out = dag(*leaves)
    out.backward()
    return (bits(out.data), *(bits(v.grad) for v in leaves))


# ---------------------------------------------------------------------------------------


SIZES = {
    "full": {
        "dags": 200000,
        "hessians": 20000,
        "replays": 10000,
        "files": 2000,
        "cli": 5000,
        "threads": 500,
    },
    "quick": {"dags": 300, "hessians": 40, "replays": 40, "files": 60, "cli": 100, "threads": 5},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stress", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="CI size: seconds")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="also write the counts as JSON")
    for name in SECTIONS:
        parser.add_argument(f"--{name}", type=int, help=f"how many ({name})")
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    size = dict(SIZES["quick" if args.quick else "full"])
    for name in SECTIONS:
        if getattr(args, name) is not None:
            size[name] = getattr(args, name)

    try:
        import torch

        torch_version: str | None = torch.__version__
    except ImportError:
        torch_version = None
    reference = Reference()
    print(
        f"# gradstep stress, seed {args.seed}; PyTorch {torch_version or 'not installed'}; "
        f"60-digit reference {'mpmath' if reference.functions else 'not installed'}"
    )
    report: dict[str, Any] = {}
    findings: list[str] = []
    for k, name in enumerate(sections):
        tally = Tally()
        rng = random.Random(args.seed * 1000 + k)
        start = time.perf_counter()
        if name in ("dags", "hessians") and torch_version is None:
            print(f"\n## {name}: skipped (PyTorch is not installed)")
            continue
        if name == "dags":
            run_dags(size[name], rng, tally, reference)
        elif name == "hessians":
            run_hessians(size[name], rng, tally, reference)
        elif name == "replays":
            run_replays(size[name], rng, tally)
        elif name == "files":
            run_files(size[name], args.seed, tally)
        elif name == "cli":
            run_cli(size[name], rng, tally)
        else:
            run_threads(size[name], rng, tally)
        seconds = time.perf_counter() - start
        print(f"\n## {name}: {size[name]} ({seconds:.1f} s)")
        for kind, count in sorted(tally.counts.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {count:>8}  {kind}")
        report[name] = {"size": size[name], "seconds": seconds, "counts": dict(tally.counts)}
        findings += [f"[{name}] {f}" for f in tally.findings]
    print(f"\n{len(findings)} findings")
    for f in findings[:5]:
        print("\n" + f)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"seed": args.seed, "sections": report, "findings": findings}, out, indent=2)
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
