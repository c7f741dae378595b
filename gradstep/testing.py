"""Gradient testing: `gradcheck` (per input and per op) and Hypothesis strategies for tests.

`gradcheck(f, inputs)` compares the gradient that one ``backward()`` computes with central
differences, ∂f/∂xᵢ ≈ (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h, for every input; then it checks
every interior node's *local* derivatives ∂out/∂child the same way, by re-applying the
node's op to perturbed copies of its children, so a failure points at the op whose
derivative is wrong.

The strategies (`finite_floats`, `values`, `expression_dags`) need Hypothesis (a dev
dependency); it is imported when a strategy is built, never when this module is imported.
PyTorch is imported only by `torch_functions` / `ExpressionDAG.torch`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from gradstep.engine import Value, _stable_sigmoid, topological_order

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "gradcheck",
    "GradcheckError",
    "GradcheckReport",
    "InputCheck",
    "LocalCheck",
    "Reapply",
    "BUILTIN_REAPPLY",
    "finite_floats",
    "values",
    "expression_dags",
    "ExpressionDAG",
    "DAGStep",
    "DAG_OPS",
    "Backend",
    "VALUE_FUNCTIONS",
    "FLOAT_FUNCTIONS",
    "torch_functions",
]

#: How to re-apply an op to plain floats: ``fn(*children_data)``, or
#: ``fn(*children_data, ctx=node._ctx)`` when the node carries a constant in ``_ctx``.
Reapply: TypeAlias = Callable[..., float]
Status: TypeAlias = Literal["ok", "failed", "skipped"]


# =======================================================================================
# gradcheck: the report


@dataclass(frozen=True)
class InputCheck:
    """One input of a gradcheck: ∂f/∂xᵢ from ``backward()`` (analytic) and central differences."""

    index: int
    label: str
    value: float
    analytic: float
    numeric: float
    tolerance: float  # atol + rtol·|numeric| + the difference quotient's rounding error
    ok: bool
    #: why a failed check may say nothing about the gradient (the step crosses a pole or a
    #: kink, or the gradient is infinite) and what to do; "" otherwise
    note: str = ""

    @property
    def difference(self) -> float:
        """analytic − numeric."""
        return self.analytic - self.numeric

    def describe(self) -> str:
        """One line: the input, both derivatives and their difference."""
        return (
            f"input {self.index} ({self.label} = {self.value:.10g}): "
            f"analytic {self.analytic:.10g}, numeric {self.numeric:.10g}, "
            f"difference {self.difference:.3g} (tolerance {self.tolerance:.3g})"
            + (f"; {self.note}" if self.note else "")
        )


@dataclass(frozen=True)
class LocalCheck:
    """One edge node → child: the op's local derivative ∂node/∂child, analytic vs numeric.

    ``status`` is "ok", "failed" or "skipped" (``reason`` says why: a kink, the edge of the
    op's domain, an op with no re-apply rule...).  ``numeric`` is NaN when not computed.
    """

    node_index: int  # position in topological order, root = 0
    op: str
    node: str
    child_index: int
    child: str
    analytic: float
    numeric: float
    status: Status
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True unless the check failed (a skipped check is not a failure)."""
        return self.status != "failed"

    @property
    def difference(self) -> float:
        """analytic − numeric."""
        return self.analytic - self.numeric

    def describe(self) -> str:
        """One line naming the op, the node, the child and both local derivatives."""
        where = (
            f"op {self.op!r} at node #{self.node_index} {self.node}, "
            f"child {self.child_index} ({self.child})"
        )
        if self.status == "skipped":
            return f"{where}: skipped: {self.reason}"
        if math.isnan(self.numeric):
            return f"{where}: {self.reason}"
        text = (
            f"{where}: analytic local derivative {self.analytic:.10g}, "
            f"numeric {self.numeric:.10g}, difference {self.difference:.3g}"
        )
        return f"{text} ({self.reason})" if self.reason else text


@dataclass(frozen=True)
class GradcheckReport:
    """What `gradcheck` compared: the output, every input's gradient, every local derivative."""

    output: float
    inputs: tuple[InputCheck, ...]
    local: tuple[LocalCheck, ...]
    eps: float
    atol: float
    rtol: float

    @property
    def ok(self) -> bool:
        """True when every input gradient and every (non-skipped) local derivative agrees."""
        return all(c.ok for c in self.inputs) and all(c.ok for c in self.local)

    @property
    def failed_inputs(self) -> tuple[InputCheck, ...]:
        """The inputs whose analytic and numeric gradients disagree."""
        return tuple(c for c in self.inputs if not c.ok)

    @property
    def failed_local(self) -> tuple[LocalCheck, ...]:
        """The edges whose local derivative is wrong."""
        return tuple(c for c in self.local if c.status == "failed")

    @property
    def skipped_local(self) -> tuple[LocalCheck, ...]:
        """The edges whose local derivative could not be checked numerically (with reasons)."""
        return tuple(c for c in self.local if c.status == "skipped")

    def format(self) -> str:
        """A readable table: every input, then a summary of the local checks."""
        lines = [
            f"gradcheck of f = {self.output:.10g} (eps={self.eps:g}, atol={self.atol:g}, "
            f"rtol={self.rtol:g}): {'OK' if self.ok else 'FAILED'}"
        ]
        lines += [("  ok    " if c.ok else "  FAIL  ") + c.describe() for c in self.inputs]
        checked = sum(c.status != "skipped" for c in self.local)
        lines.append(
            f"  local derivatives: {checked} checked, {len(self.failed_local)} failed, "
            f"{len(self.skipped_local)} skipped"
        )
        lines += ["  FAIL  " + c.describe() for c in self.failed_local]
        lines += ["  skip  " + c.describe() for c in self.skipped_local]
        return "\n".join(lines)

    __str__ = format


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree; ``report`` holds every comparison."""

    def __init__(self, message: str, report: GradcheckReport) -> None:
        super().__init__(message)
        self.report = report


# =======================================================================================
# gradcheck: re-applying ops to floats, for the local-derivative check


def _pow_float(x: float, n: float) -> float:
    """x ** n on reals only: a fractional power of a negative base is a domain error."""
    if x < 0.0 and not float(n).is_integer():
        raise ValueError("fractional power of a negative base")
    return float(x**n)


def _leaky_relu_float(x: float, ctx: float) -> float:
    """x if x > 0 else ctx·x."""
    return x if x > 0.0 else ctx * x


#: The built-in ops re-applied to floats (the constant-exponent power ``"**n"`` is
#: matched by prefix: any op starting with "**" whose node has ``_ctx``).
BUILTIN_REAPPLY: Mapping[str, Reapply] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "neg": lambda a: -a,
    "**": _pow_float,  # Value exponent: x ** y
    "ReLU": lambda x: x if x > 0.0 else 0.0,
    "LeakyReLU": _leaky_relu_float,
    "tanh": math.tanh,
    "sigmoid": _stable_sigmoid,
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "abs": abs,
}


def _const_pow(x: float, ctx: float) -> float:
    """x ** n for the op "**n" (n in ``_ctx``)."""
    return _pow_float(x, ctx)


#: ops that are not differentiable at child value 0
_KINK_OPS = frozenset({"ReLU", "LeakyReLU", "abs"})
_MACHINE_EPSILON = sys.float_info.epsilon

_MISSING = object()


def _reapply_rule(node: Value, ops: Mapping[str, Reapply]) -> Reapply | None:
    """The float version of ``node``'s op: the user's table first, then the built-ins."""
    op = node._op
    if op in ops:
        return ops[op]
    if op in BUILTIN_REAPPLY and not (op == "**" and len(node._prev) != 2):
        return BUILTIN_REAPPLY[op]
    if op.startswith("**") and getattr(node, "_ctx", _MISSING) is not _MISSING:
        return _const_pow
    return None


def _call_rule(rule: Reapply, args: Sequence[float], ctx: object) -> float | None:
    """``rule(*args[, ctx=...])`` as a finite float, or None outside the op's domain."""
    try:
        y = rule(*args) if ctx is _MISSING else rule(*args, ctx=ctx)
    except (ArithmeticError, ValueError):
        return None
    if isinstance(y, bool) or not isinstance(y, Real):
        return None  # e.g. a complex number
    y = float(y)
    return y if math.isfinite(y) else None


def _describe(v: Value) -> str:
    """A node in a message: its label if any, and its value."""
    return f"{v.label}={v.data:.10g}" if v.label else f"data={v.data:.10g}"


def _step(x: float, eps: float) -> float:
    """The finite-difference step for a point x: h = eps·max(1, |x|)."""
    return eps * max(1.0, abs(x))


def _central_difference(plus: float, minus: float, h: float) -> tuple[float, float]:
    """(f(x+h) − f(x−h)) / 2h, and its rounding error ε·(|f(x+h)| + |f(x−h)|) / 2h.

    The second number is what float rounding alone can put into the quotient (large
    when f is large compared with the change a step h makes); it is added to the
    tolerance so that a correct derivative never fails on rounding.
    """
    two_h = 2.0 * h
    return (plus - minus) / two_h, _MACHINE_EPSILON * (abs(plus) + abs(minus)) / two_h


def _tolerance(numeric: float, rounding: float, atol: float, rtol: float) -> float:
    """atol + rtol·|numeric| + rounding."""
    return atol + rtol * abs(numeric) + rounding


def _close(analytic: float, numeric: float, tolerance: float) -> bool:
    """|analytic − numeric| ≤ tolerance (and both finite)."""
    if not (math.isfinite(analytic) and math.isfinite(numeric)):
        return False
    return abs(analytic - numeric) <= tolerance


def _check_node(
    node: Value,
    index: int,
    ops: Mapping[str, Reapply],
    eps: float,
    atol: float,
    rtol: float,
) -> list[LocalCheck]:
    """Check ∂node/∂child for every child of one interior node."""
    children = node._prev
    where = f"({_describe(node)})"
    names = [_describe(c) for c in children]
    nan = math.nan

    def result(i: int, analytic: float, numeric: float, status: Status, reason: str) -> LocalCheck:
        return LocalCheck(index, node._op, where, i, names[i], analytic, numeric, status, reason)

    try:
        analytic_all = tuple(float(g) for g in node.local_grads())
    except Exception as error:  # a user's rule may raise anything: report it on the node
        return [result(0, nan, nan, "failed", f"local_grads() raised {error!r}")]
    if len(analytic_all) != len(children):
        reason = (
            f"local_grads() returned {len(analytic_all)} derivatives for {len(children)} children"
        )
        return [result(i, nan, nan, "failed", reason) for i in range(len(children))]
    rule = _reapply_rule(node, ops)
    if rule is None:
        reason = f"no re-apply rule for op {node._op!r} (pass ops={{{node._op!r}: fn}})"
        return [result(i, a, nan, "skipped", reason) for i, a in enumerate(analytic_all)]

    if not math.isfinite(node.data):
        reason = f"the node's value {node.data!r} is not finite (an overflow or a NaN upstream)"
        return [result(i, a, nan, "skipped", reason) for i, a in enumerate(analytic_all)]
    ctx = getattr(node, "_ctx", _MISSING)
    point = [c.data for c in children]
    try:
        f0 = _call_rule(rule, point, ctx)
    except TypeError as error:
        reason = f"the re-apply rule for {node._op!r} could not be called: {error}"
        return [result(i, a, nan, "failed", reason) for i, a in enumerate(analytic_all)]
    if f0 is None or not math.isclose(f0, node.data, rel_tol=1e-9, abs_tol=1e-12):
        reason = (
            f"re-applying {node._op!r} to the children gives {f0!r}, but the node holds "
            f"{node.data!r}: the op's forward value or its re-apply rule is wrong"
        )
        return [result(i, a, nan, "failed", reason) for i, a in enumerate(analytic_all)]

    checks = []
    for i, analytic in enumerate(analytic_all):
        numeric, status, reason = _check_edge(
            node._op, rule, point, ctx, f0, i, analytic, eps, atol, rtol
        )
        checks.append(result(i, analytic, numeric, status, reason))
    return checks


def _check_edge(
    op: str,
    rule: Reapply,
    point: Sequence[float],
    ctx: object,
    f0: float,
    i: int,
    analytic: float,
    eps: float,
    atol: float,
    rtol: float,
) -> tuple[float, Status, str]:
    """∂out/∂childᵢ by a central difference on the re-applied op: (numeric, status, reason)."""
    nan = math.nan
    x = point[i]
    h = _step(x, eps)
    if not math.isfinite(analytic):
        return nan, "skipped", "the analytic local derivative is not finite (a domain edge)"
    if op in _KINK_OPS and abs(x) <= h:
        return nan, "skipped", f"{op} has a kink at 0"
    plus = _call_rule(rule, [*point[:i], x + h, *point[i + 1 :]], ctx)
    minus = _call_rule(rule, [*point[:i], x - h, *point[i + 1 :]], ctx)
    if plus is None or minus is None:
        return nan, "skipped", f"child ± {h:.3g} leaves the op's domain"
    numeric, rounding = _central_difference(plus, minus, h)
    forward, backward = (plus - f0) / h, (f0 - minus) / h
    if abs(forward - backward) > 0.5 * max(abs(forward), abs(backward)) + atol + 4 * rounding:
        reason = (
            f"not differentiable here: one-sided slopes {forward:.6g} and "
            f"{backward:.6g} differ (a kink, or too close to one)"
        )
        return numeric, "skipped", reason
    tolerance = _tolerance(numeric, rounding, atol, rtol)
    if _close(analytic, numeric, tolerance):
        return numeric, "ok", ""
    return numeric, "failed", f"tolerance {tolerance:.3g}"


# =======================================================================================
# gradcheck


def _as_input(x: object, index: int) -> tuple[float, str]:
    """An input as (float, label): a finite real number, or a Value (its data and label)."""
    if isinstance(x, Value):
        value, label = x.data, x.label or f"x{index}"
    elif isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(
            f"gradcheck input {index} must be a real number, got {type(x).__name__}: {x!r}"
        )
    else:
        value, label = float(x), f"x{index}"
    if not math.isfinite(value):
        raise ValueError(f"gradcheck input {index} ({label}) must be finite, got {value!r}")
    return value, label


def _evaluate(f: Callable[..., Value], point: Sequence[float], labels: Sequence[str]) -> Value:
    """f applied to fresh leaves holding ``point``, checking that it returns a Value."""
    out = f(*(Value(x, label=name) for x, name in zip(point, labels, strict=True)))
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}: {out!r}")
    return out


def _smaller_eps(x: float) -> float:
    """An eps whose step h = eps·max(1, |x|) is a thousandth of |x| (x ≠ 0)."""
    return 1e-3 * abs(x) / max(1.0, abs(x))


def _numeric_gradient(
    f: Callable[..., Value], point: list[float], labels: Sequence[str], i: int, h: float
) -> tuple[float, float, float, float]:
    """(f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h on fresh Values, its rounding error, f(x + h), f(x − h)."""
    x, label = point[i], labels[i]
    try:
        plus = _evaluate(f, [*point[:i], x + h, *point[i + 1 :]], labels).data
        minus = _evaluate(f, [*point[:i], x - h, *point[i + 1 :]], labels).data
    except (ArithmeticError, ValueError) as error:
        if 0.0 < abs(x) < h:
            advice = (
                f"the step h = {h:.3g} is larger than |{label}| = {abs(x):.3g}, so {label} − h "
                f"and {label} + h lie on both sides of 0: use a smaller eps, e.g. "
                f"eps={_smaller_eps(x):.1g}, or move the input away from the edge of the domain"
            )
        else:
            advice = "move the input away from the edge of the domain or use a smaller eps"
        raise ValueError(
            f"gradcheck: f fails at {label} = {x!r} ± {h:.3g} ({error}); {advice}"
        ) from error
    numeric, rounding = _central_difference(plus, minus, h)
    return numeric, rounding, plus, minus


def _input_note(
    label: str, x: float, h: float, f0: float, plus: float, minus: float, analytic: float
) -> str:
    """Why a failed input check may not mean a wrong gradient, and what to do ("" if no reason).

    f is not smooth within the step when its one-sided slopes (f(x+h) − f(x))/h and
    (f(x) − f(x−h))/h differ by more than half: a pole, kink or jump lies in [x − h, x + h].
    """
    parts = []
    forward, backward = (plus - f0) / h, (f0 - minus) / h
    rough = not (math.isfinite(forward) and math.isfinite(backward)) or abs(
        forward - backward
    ) > 0.5 * max(abs(forward), abs(backward))
    crosses = abs(x) < h  # x − h < 0 < x + h
    slopes = f"the one-sided slopes {forward:.3g} and {backward:.3g} differ"
    if rough and crosses:
        parts.append(
            f"{label} ± h = [{x - h:.3g}, {x + h:.3g}] crosses 0, and {slopes}: the step "
            "crosses a singularity, kink or jump of f"
        )
    elif rough:
        parts.append(f"{slopes}: f has a singularity, kink or jump within {label} ± {h:.3g}")
    if not math.isfinite(analytic):
        parts.append(
            f"the analytic gradient {analytic!r} is not finite (f's slope is infinite here or "
            "overflows a float)"
        )
    if not math.isfinite(analytic):
        parts.append(f"no step can check an infinite gradient: move {label} away from this point")
    elif rough and crosses and x != 0.0:
        parts.append(
            f"use a smaller eps, e.g. eps={_smaller_eps(x):.1g}, so that the step stays on "
            f"one side of 0, or move {label} away from 0"
        )
    elif rough and crosses:
        parts.append(f"move {label} away from 0 (no step can help at 0 itself)")
    elif rough:
        parts.append(f"use a smaller eps or move {label} away from it")
    return "; ".join(parts)


def _failure_message(report: GradcheckReport) -> str:
    """Name every failing input and, first, every op whose local derivative is wrong."""
    lines = [f"gradcheck failed (eps={report.eps:g}, atol={report.atol:g}, rtol={report.rtol:g})"]
    if not math.isfinite(report.output):
        lines.append(f"f = {report.output!r} is not finite (an overflow?): choose other inputs")
    if report.failed_local:
        lines.append("wrong local derivative (∂out/∂child) of an op:")
        lines += ["  " + c.describe() for c in report.failed_local]
    if report.failed_inputs:
        lines.append("gradient of the output with respect to an input:")
        lines += ["  " + c.describe() for c in report.failed_inputs]
    unchecked = sorted({c.op for c in report.skipped_local if c.reason.startswith("no re-apply")})
    if unchecked:
        table = ", ".join(f"{op!r}: fn" for op in unchecked)
        lines.append(
            f"local derivatives not checked for ops {unchecked} (no re-apply rule): "
            f"pass ops={{{table}}} to find out whether their derivatives are right"
        )
    return "\n".join(lines)


def _check_tolerances(eps: float, atol: float, rtol: float) -> None:
    """Refuse a step or tolerance that cannot work."""
    if not (math.isfinite(eps) and eps > 0.0):
        raise ValueError(f"gradcheck: eps must be a positive finite number, got {eps!r}")
    for name, tol in (("atol", atol), ("rtol", rtol)):
        if not (math.isfinite(tol) and tol >= 0.0):
            raise ValueError(f"gradcheck: {name} must be a finite number ≥ 0, got {tol!r}")


def gradcheck(
    f: Callable[..., Value],
    inputs: Sequence[float | Value],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    check_local: bool = True,
    ops: Mapping[str, Reapply] | None = None,
    *,
    raise_on_failure: bool = True,
) -> GradcheckReport:
    """Check ∂f/∂xᵢ from ``backward()`` against central differences (f(x+h·eᵢ) − f(x−h·eᵢ)) / 2h.

    ``f(*values)`` takes one `Value` per input and returns a `Value`; ``inputs`` are
    numbers (or Values, whose data and label are used; labels default to x0, x1, ...).
    The step is h = eps·max(1, |xᵢ|), so it scales with large inputs; for |xᵢ| < eps
    it reaches across 0, so near a pole or kink at 0 (1/x, log x, relu) a failing
    input's ``note`` says the step crosses it and suggests an eps below |xᵢ|.  (A step
    relative to |xᵢ| is not used: it vanishes at xᵢ = 0 and would change every check.)
    An input passes when |analytic − numeric| ≤ atol + rtol·|numeric| + r, where
    r = ε·(|f(x+h)| + |f(x−h)|)/2h is the rounding error of the difference quotient
    (ε = machine epsilon; r only matters when f is huge compared with f'·h).

    With ``check_local`` (the default) every interior node's local derivatives
    (``node.local_grads()``) are checked the same way, by re-applying the node's op to
    perturbed copies of its children's data: the built-in ops are known
    (`BUILTIN_REAPPLY`); register your own op as ``ops={"myop": fn}`` where
    ``fn(*children_data)`` recomputes it (``fn(*children_data, ctx=node._ctx)`` if the
    node keeps a constant in ``_ctx``).  Kinks (ReLU, LeakyReLU, abs at 0), points where
    a perturbation leaves the op's domain, and ops with no re-apply rule are skipped
    and listed in the report.

    ``f`` is called 2n + 1 times for n inputs; ``backward()`` runs once, on the first call.

    Returns a `GradcheckReport`.  On a disagreement raises `GradcheckError` (an
    AssertionError whose ``report`` attribute has everything) naming the input or the op,
    node and child, both values and the difference; pass ``raise_on_failure=False`` to
    get the report instead.
    """
    _check_tolerances(eps, atol, rtol)
    parsed = [_as_input(x, i) for i, x in enumerate(inputs)]
    if not parsed:
        raise ValueError("gradcheck needs at least one input")
    point = [x for x, _ in parsed]
    labels = [name for _, name in parsed]

    leaves = [Value(x, label=name) for x, name in parsed]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}: {out!r}")
    out.backward()

    input_checks = []
    for i, leaf in enumerate(leaves):
        h = _step(point[i], eps)
        numeric, rounding, plus, minus = _numeric_gradient(f, point, labels, i, h)
        tolerance = _tolerance(numeric, rounding, atol, rtol)
        ok = _close(leaf.grad, numeric, tolerance)
        note = "" if ok else _input_note(labels[i], point[i], h, out.data, plus, minus, leaf.grad)
        input_checks.append(
            InputCheck(i, labels[i], point[i], leaf.grad, numeric, tolerance, ok, note)
        )

    local_checks: list[LocalCheck] = []
    if check_local:
        table = dict(ops or {})
        for index, node in enumerate(topological_order(out)):
            if node._prev:
                local_checks += _check_node(node, index, table, eps, atol, rtol)

    report = GradcheckReport(out.data, tuple(input_checks), tuple(local_checks), eps, atol, rtol)
    if raise_on_failure and not report.ok:
        raise GradcheckError(_failure_message(report), report)
    return report


# =======================================================================================
# backends: the DAG evaluator's unary functions for Values, floats and torch tensors

#: name → function, for the unary ops of a DAG (``leaky_relu`` also takes the slope)
Backend: TypeAlias = Mapping[str, Callable[..., Any]]

VALUE_FUNCTIONS: Backend = {
    "relu": Value.relu,
    "leaky_relu": Value.leaky_relu,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "exp": Value.exp,
    "log": Value.log,
    "sqrt": Value.sqrt,
    "abs": Value.abs,
}

FLOAT_FUNCTIONS: Backend = {
    "relu": lambda x: x if x > 0.0 else 0.0,
    "leaky_relu": _leaky_relu_float,
    "tanh": math.tanh,
    "sigmoid": _stable_sigmoid,
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "abs": abs,
}


def torch_functions() -> Backend:
    """The DAG's unary functions on torch tensors (imports torch: call it only if installed)."""
    import torch
    import torch.nn.functional as F

    return {
        "relu": torch.relu,
        "leaky_relu": F.leaky_relu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "exp": torch.exp,
        "log": torch.log,
        "sqrt": torch.sqrt,
        "abs": torch.abs,
    }


# =======================================================================================
# random expression DAGs

#: every op a DAG can use (binary ops come as Value⊕Value, Value⊕c and c⊕Value)
DAG_OPS: tuple[str, ...] = (
    "+",
    "-",
    "*",
    "/",
    "neg",
    "**",
    "relu",
    "leaky_relu",
    "tanh",
    "sigmoid",
    "exp",
    "log",
    "sqrt",
    "abs",
)
_BINARY = frozenset({"+", "-", "*", "/", "**"})


@dataclass(frozen=True)
class DAGStep:
    """One instruction: apply ``op`` to the slots ``args`` (and the number ``const``).

    Binary ops: two args (a ⊕ b), or one arg and ``const`` (a ⊕ c, or c ⊕ a when
    ``const_first``).  ``leaky_relu`` keeps its slope in ``const``.  Slots 0..n-1 hold the
    inputs; step k writes slot n + k.
    """

    op: str
    args: tuple[int, ...]
    const: float | None = None
    const_first: bool = False


def _apply_step(step: DAGStep, slots: Sequence[Any], functions: Backend) -> Any:
    """Evaluate one step on any number-like backend (Values, floats, tensors)."""
    op, args = step.op, [slots[i] for i in step.args]
    if op in _BINARY:
        if len(args) == 2:
            a, b = args
        elif step.const_first:
            a, b = step.const, args[0]
        else:
            a, b = args[0], step.const
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b
        return a**b
    if op == "neg":
        return -args[0]
    if op == "leaky_relu":
        return functions[op](args[0], step.const)
    return functions[op](args[0])


@dataclass(frozen=True)
class ExpressionDAG:
    """A random expression DAG: its inputs and a straight-line program over slots.

    ``dag(*values)`` builds the gradstep graph (nodes labelled x0.., v3..), ``dag.evaluate_float``
    runs it on floats, ``dag.torch(*tensors)`` on torch tensors, ``str(dag)`` prints the
    program (one line per node, shared subexpressions appear once).  The root is the last step.
    """

    inputs: tuple[float, ...]
    steps: tuple[DAGStep, ...]

    def evaluate(self, inputs: Sequence[Any], functions: Backend) -> Any:
        """Run the program on ``inputs`` with ``functions`` for the unary ops; return the root."""
        if len(inputs) != len(self.inputs):
            raise ValueError(f"this DAG takes {len(self.inputs)} inputs, got {len(inputs)}")
        slots = list(inputs)
        for step in self.steps:
            slots.append(_apply_step(step, slots, functions))
        return slots[-1]

    def __call__(self, *xs: Value) -> Value:
        """Build the DAG from gradstep Values, labelling each node with its slot name."""
        slots: list[Value] = list(xs)
        if len(slots) != len(self.inputs):
            raise ValueError(f"this DAG takes {len(self.inputs)} inputs, got {len(slots)}")
        for step in self.steps:
            node: Value = _apply_step(step, slots, VALUE_FUNCTIONS)
            node.label = self.name(len(slots))
            slots.append(node)
        return slots[-1]

    def evaluate_float(self, xs: Sequence[float] | None = None) -> float:
        """The root's value on plain floats (the DAG's own inputs by default)."""
        return float(self.evaluate(list(self.inputs if xs is None else xs), FLOAT_FUNCTIONS))

    def torch(self, *tensors: Any) -> Any:
        """The same DAG on torch tensors (use float64 tensors with requires_grad)."""
        return self.evaluate(list(tensors), torch_functions())

    def name(self, slot: int) -> str:
        """x0, x1, ... for inputs, v3, v4, ... for steps."""
        return f"x{slot}" if slot < len(self.inputs) else f"v{slot}"

    @property
    def depth(self) -> int:
        """The longest path from an input to the root, counted in ops."""
        return _depths(len(self.inputs), self.steps)[-1]

    def source(self) -> str:
        """The program as Python lines using gradstep's API, e.g. ``v3 = (x0 * x1).tanh()``."""
        lines = [f"{self.name(i)} = Value({x!r})" for i, x in enumerate(self.inputs)]
        for k, step in enumerate(self.steps):
            lines.append(f"{self.name(len(self.inputs) + k)} = {self._format(step)}")
        return "\n".join(lines)

    __str__ = source

    def _format(self, step: DAGStep) -> str:
        """One step as an expression."""
        args = [self.name(i) for i in step.args]
        if step.op in _BINARY:
            if len(args) == 2:
                return f"{args[0]} {step.op} {args[1]}"
            c = repr(step.const)
            return f"{c} {step.op} {args[0]}" if step.const_first else f"{args[0]} {step.op} {c}"
        if step.op == "neg":
            return f"-{args[0]}"
        if step.op == "leaky_relu":
            return f"{args[0]}.leaky_relu({step.const!r})"
        return f"{args[0]}.{step.op}()"


def _depths(n_inputs: int, steps: Sequence[DAGStep]) -> list[int]:
    """The depth of every slot: 0 for inputs, 1 + the deepest argument for a step."""
    depths = [0] * n_inputs
    for step in steps:
        depths.append(1 + max(depths[i] for i in step.args))
    return depths


# --- the generator's domain rules ------------------------------------------------------
# Every rule is checked at the DAG's inputs *and* at probe points that move each input by
# ±1e-3·max(1, |x|) (1000× gradcheck's default step), so the central differences of a
# test never cross a kink or leave a domain.  Bounds keep the values and derivatives
# moderate, so central differences are accurate.

_VALUE_BOUND = 50.0  # |every node| ≤ this
_KINK_MARGIN = 0.1  # |argument of relu / leaky_relu / abs| ≥ this
_POSITIVE_MARGIN = 0.2  # argument of log / sqrt, base of a fractional or Value power ≥ this
_DENOMINATOR_MARGIN = 0.5  # |denominator|, |base of a negative power| ≥ this
_EXP_BOUND = 4.0  # |argument of exp| ≤ this
_EXPONENT_BOUND = 3.0  # |Value exponent| ≤ this
_PROBE_SCALE = 1e-3
_CONST_EXPONENTS = (2.0, 3.0, -1.0, -2.0, 0.5, 1.5, -0.5)
_CONST_BASES = (0.5, 2.0, math.e, 3.0)


def _same_side(xs: Sequence[float], margin: float) -> bool:
    """All xs at least ``margin`` from 0, on the same side."""
    return all(x >= margin for x in xs) or all(x <= -margin for x in xs)


def _domain_ok(step: DAGStep, probes: Sequence[Sequence[float]]) -> bool:
    """Whether ``step`` is well-conditioned at every probe point (each a list of slot values)."""
    op = step.op
    columns = [[p[i] for p in probes] for i in step.args]
    a = columns[0]
    if op in {"relu", "leaky_relu", "abs"}:
        return _same_side(a, _KINK_MARGIN)
    if op in {"log", "sqrt"}:
        return min(a) >= _POSITIVE_MARGIN
    if op == "exp":
        return max(abs(x) for x in a) <= _EXP_BOUND
    if op == "/":
        return _same_side(_denominator(step, columns), _DENOMINATOR_MARGIN)
    if op == "**":
        return _pow_domain_ok(step, columns)
    return True


def _denominator(step: DAGStep, columns: Sequence[Sequence[float]]) -> Sequence[float]:
    """The denominator of a division step at every probe: b in a / b, a in c / a, or c."""
    if len(columns) == 2:
        return columns[1]
    if step.const_first:
        return columns[0]
    return [float(step.const or 0.0)]


def _pow_domain_ok(step: DAGStep, columns: Sequence[Sequence[float]]) -> bool:
    """x ** y: Value exponents need base ≥ margin and |y| bounded; constant n needs a safe base."""
    if len(columns) == 2:
        base, exponent = columns
        return min(base) >= _POSITIVE_MARGIN and max(map(abs, exponent)) <= _EXPONENT_BOUND
    if step.const_first:  # c ** x with c > 0
        return max(map(abs, columns[0])) <= _EXPONENT_BOUND
    n = float(step.const or 0.0)
    base = columns[0]
    if not n.is_integer():
        return min(base) >= _POSITIVE_MARGIN
    return n >= 0.0 or _same_side(base, _DENOMINATOR_MARGIN)


def _float_step(step: DAGStep, slots: Sequence[float]) -> float | None:
    """The step on floats, or None if it fails or leaves the value bound."""
    try:
        y = _apply_step(step, slots, FLOAT_FUNCTIONS)
    except (ArithmeticError, ValueError):
        return None
    if isinstance(y, complex) or not math.isfinite(y) or abs(y) > _VALUE_BOUND:
        return None
    return float(y)


class _DagBuilder:
    """Draws a DAG step by step, keeping the float values at the inputs and probe points."""

    def __init__(
        self,
        draw: Callable[[SearchStrategy[Any]], Any],
        inputs: list[float],
        max_depth: int,
        ops: Sequence[str],
    ) -> None:
        from hypothesis import strategies as st

        self.st = st
        self.draw = draw
        self.n_inputs = len(inputs)
        self.max_depth = max_depth
        self.ops = list(ops)
        self.steps: list[DAGStep] = []
        self.depths = [0] * len(inputs)
        self.uses = [0] * len(inputs)
        self.probes = [list(inputs)]
        for i, x in enumerate(inputs):
            for sign in (1.0, -1.0):
                probe = list(inputs)
                probe[i] = x + sign * _PROBE_SCALE * max(1.0, abs(x))
                self.probes.append(probe)

    def add_step(self) -> None:
        """Draw one well-conditioned step (up to 4 tries, then tanh of an argument)."""
        for _ in range(4):
            step = self._draw_step()
            if self._try(step):
                return
        fallback = DAGStep("tanh", (self._draw_arg(),))
        if not self._try(fallback):  # pragma: no cover (tanh of a bounded value never fails)
            raise RuntimeError("expression_dags: could not extend the DAG")

    def _try(self, step: DAGStep) -> bool:
        """Append ``step`` if its domain holds and its value stays bounded at every probe."""
        if not _domain_ok(step, self.probes):
            return False
        results = [_float_step(step, probe) for probe in self.probes]
        if any(y is None for y in results):
            return False
        for probe, y in zip(self.probes, results, strict=True):
            probe.append(float(y or 0.0))
        self.steps.append(step)
        self.depths.append(1 + max(self.depths[i] for i in step.args))
        self.uses.append(0)
        for i in step.args:
            self.uses[i] += 1
        return True

    def _draw_arg(self) -> int:
        """A slot shallow enough to take one more op: the deepest, an unused one, or any."""
        candidates = [i for i, d in enumerate(self.depths) if d < self.max_depth]
        preference = self.draw(self.st.sampled_from(("any", "deepest", "unused")))
        if preference == "deepest":
            return max(candidates, key=lambda i: (self.depths[i], i))
        unused = [i for i in candidates if self.uses[i] == 0]
        pool = unused if preference == "unused" and unused else candidates
        return int(self.draw(self.st.sampled_from(pool)))

    def _draw_step(self) -> DAGStep:
        """Draw an op, its argument slots and its constant, if any."""
        st = self.st
        op: str = self.draw(st.sampled_from(self.ops))
        if op == "leaky_relu":
            slope = self.draw(st.floats(0.01, 0.5))
            return DAGStep(op, (self._draw_arg(),), slope)
        if op not in _BINARY:
            return DAGStep(op, (self._draw_arg(),))
        form = self.draw(st.sampled_from(("value-value", "value-number", "number-value")))
        if form == "value-value":
            return DAGStep(op, (self._draw_arg(), self._draw_arg()))
        const_first = form == "number-value"
        if op == "**":
            pool = _CONST_BASES if const_first else _CONST_EXPONENTS
            const = float(self.draw(st.sampled_from(pool)))
        elif op == "/" and not const_first:
            magnitude = self.draw(st.floats(_DENOMINATOR_MARGIN, 3.0))
            const = magnitude if self.draw(st.booleans()) else -magnitude
        else:
            const = self.draw(finite_floats(-3.0, 3.0))
        return DAGStep(op, (self._draw_arg(),), const, const_first)


def _check_range(name: str, low: float, high: float) -> None:
    """Refuse an empty or non-finite range."""
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ValueError(f"{name}: need finite min_value ≤ max_value, got [{low!r}, {high!r}]")


# =======================================================================================
# Hypothesis strategies


def finite_floats(
    min_value: float = -100.0, max_value: float = 100.0, *, min_magnitude: float = 0.0
) -> SearchStrategy[float]:
    """Floats x with min_value ≤ x ≤ max_value and |x| ≥ min_magnitude: no NaN, no ±inf.

    ``min_magnitude`` keeps x away from 0 (for kinks like relu/abs, or a denominator).
    """
    from hypothesis import strategies as st

    _check_range("finite_floats", min_value, max_value)
    if not (math.isfinite(min_magnitude) and min_magnitude >= 0.0):
        raise ValueError(f"finite_floats: min_magnitude must be ≥ 0, got {min_magnitude!r}")

    def plain(low: float, high: float) -> SearchStrategy[float]:
        return st.floats(low, high, allow_nan=False, allow_infinity=False)

    if min_magnitude == 0.0:
        return plain(min_value, max_value)
    parts = []
    if min_value <= -min_magnitude:
        parts.append(plain(min_value, min(max_value, -min_magnitude)))
    if max_value >= min_magnitude:
        parts.append(plain(max(min_value, min_magnitude), max_value))
    if not parts:
        raise ValueError(
            f"finite_floats: no x in [{min_value!r}, {max_value!r}] has |x| ≥ {min_magnitude!r}"
        )
    return st.one_of(parts)


def values(
    min_value: float = -100.0,
    max_value: float = 100.0,
    *,
    min_magnitude: float = 0.0,
    label: str = "",
) -> SearchStrategy[Value]:
    """Leaf `Value`s whose data is drawn by `finite_floats` (same arguments)."""
    return finite_floats(min_value, max_value, min_magnitude=min_magnitude).map(
        lambda x: Value(x, label=label)
    )


def expression_dags(
    *,
    min_inputs: int = 1,
    max_inputs: int = 4,
    max_steps: int = 12,
    max_depth: int = 6,
    input_range: tuple[float, float] = (-3.0, 3.0),
    ops: Sequence[str] = DAG_OPS,
) -> SearchStrategy[ExpressionDAG]:
    """Random `ExpressionDAG`s: 1–4 inputs, up to 12 ops, depth ≤ 6, shared subexpressions.

    Each step applies an op from ``ops`` (all of `DAG_OPS` by default; binary ops as
    Value⊕Value, Value⊕number or number⊕Value) to earlier slots, so nodes are reused.  Domains
    are respected with margins that hold at every point a gradient check perturbs:
    log/sqrt of x ≥ 0.2, |denominator| ≥ 0.5, relu/leaky_relu/abs of |x| ≥ 0.1, exp of |x| ≤ 4,
    powers with safe bases and exponents, every value |v| ≤ 50.
    """
    from hypothesis import strategies as st

    if not 1 <= min_inputs <= max_inputs:
        raise ValueError(
            f"expression_dags: need 1 ≤ min_inputs ≤ max_inputs, got {min_inputs}, {max_inputs}"
        )
    if max_steps < 1 or max_depth < 1:
        raise ValueError("expression_dags: max_steps and max_depth must be ≥ 1")
    unknown = sorted(set(ops) - set(DAG_OPS))
    if unknown or not ops:
        raise ValueError(
            f"expression_dags: ops must be a non-empty subset of {DAG_OPS}, got unknown {unknown}"
        )
    low, high = input_range
    _check_range("expression_dags input_range", low, high)

    @st.composite
    def dags(draw: st.DrawFn) -> ExpressionDAG:
        inputs = draw(st.lists(finite_floats(low, high), min_size=min_inputs, max_size=max_inputs))
        builder = _DagBuilder(draw, inputs, max_depth, ops)
        for _ in range(draw(st.integers(1, max_steps))):
            builder.add_step()
        return ExpressionDAG(tuple(inputs), tuple(builder.steps))

    return dags()
