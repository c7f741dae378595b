"""The gradient checker: `gradcheck` compares backward() with central differences.

`gradcheck(f, inputs)` compares the gradient that one ``backward()`` computes with central
differences, ∂f/∂xᵢ ≈ (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h, for every input; then it checks
every interior node's *local* derivatives ∂out/∂child the same way, by re-applying the
node's op to perturbed copies of its children, so a failure points at the op whose
derivative is wrong.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Literal, TypeAlias

from gradstep.engine import Value, _no_forward, topological_order
from gradstep.ops import BUILTIN_OPS, OpSpec

__all__ = [
    "gradcheck",
    "GradcheckError",
    "GradcheckReport",
    "InputCheck",
    "LocalCheck",
    "Reapply",
    "BUILTIN_REAPPLY",
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


def _record_reapply(spec: OpSpec, ctx: float | None) -> Reapply:
    """An op record's forward on floats, refusing (ValueError) what its domain check refuses."""

    def reapply(*xs: float) -> float:
        args = xs if ctx is None else (*xs, ctx)
        if spec.check is not None and spec.check(*args) is not None:
            raise ValueError(f"outside the domain of {spec.name}")
        return spec.forward(*args)

    return reapply


def _constant_as_ctx(spec: OpSpec) -> Reapply:
    """``fn(*xs, ctx=c)`` for an op with a constant (the ``ops=`` convention)."""
    return lambda *xs, ctx: spec.forward(*xs, ctx)


def _reapply_key(spec: OpSpec) -> str:
    """The ``_op`` a record's nodes show, with the constant as its name ("**n")."""
    symbol = spec.symbol
    return symbol.split("{")[0] + spec.param if "{" in symbol else symbol


#: The built-in ops re-applied to floats, by the ``_op`` their nodes show (derived from the op
#: records in `gradstep.ops`); an op with a constant ("**n", "LeakyReLU") takes it as ``ctx``.
BUILTIN_REAPPLY: Mapping[str, Reapply] = {
    _reapply_key(spec): _constant_as_ctx(spec) if spec.param else spec.forward
    for spec in BUILTIN_OPS
}

_MACHINE_EPSILON = sys.float_info.epsilon

_MISSING = object()


def _reapply_rule(node: Value, ops: Mapping[str, Reapply]) -> tuple[Reapply | None, object]:
    """The float version of ``node``'s op and the ``ctx`` to pass it (or _MISSING): the
    user's table first, then the op's own record (built-in or made by define_op)."""
    if node._op in ops:
        return ops[node._op], (_MISSING if node._ctx is None else node._ctx)
    spec = node._spec
    if spec is None or spec.forward is _no_forward:  # an op given only a rule of the node
        return None, _MISSING
    return _record_reapply(spec, node._ctx if spec.param else None), _MISSING


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
    rule, ctx = _reapply_rule(node, ops)
    if rule is None:
        reason = f"no re-apply rule for op {node._op!r} (pass ops={{{node._op!r}: fn}})"
        return [result(i, a, nan, "skipped", reason) for i, a in enumerate(analytic_all)]

    if not math.isfinite(node.data):
        reason = f"the node's value {node.data!r} is not finite (an overflow or a NaN upstream)"
        return [result(i, a, nan, "skipped", reason) for i, a in enumerate(analytic_all)]
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
        kinks = node._spec.kinks if node._spec is not None and i == 0 else ()
        numeric, status, reason = _check_edge(
            node._op, kinks, rule, point, ctx, f0, i, analytic, eps, atol, rtol
        )
        checks.append(result(i, analytic, numeric, status, reason))
    return checks


def _check_edge(
    op: str,
    kinks: tuple[float, ...],
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
    for kink in kinks:
        if abs(x - kink) <= h:
            return nan, "skipped", f"{op} has a kink at {kink:g}"
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


def _one_side_of_zero(
    f: Callable[..., Value],
    point: list[float],
    labels: Sequence[str],
    i: int,
    analytic: float,
    atol: float,
    rtol: float,
) -> tuple[float, float] | None:
    """(numeric, tolerance) with the step h = |xᵢ|/1000 if the analytic gradient passes with
    it, else None."""
    h = abs(point[i]) * 1e-3
    if h == 0.0 or point[i] + h == point[i]:  # |x| so small that no smaller step exists
        return None
    try:
        numeric, rounding, _, _ = _numeric_gradient(f, point, labels, i, h)
    except ValueError:
        return None
    tolerance = _tolerance(numeric, rounding, atol, rtol)
    return (numeric, tolerance) if _close(analytic, numeric, tolerance) else None


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
    elif rough and crosses and _smaller_eps(x) == 0.0:
        parts.append(f"move {label} away from 0 (|{label}| is too small for a step on one side)")
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
    it reaches across 0, so where it fails there and f is not smooth across [xᵢ − h, xᵢ + h]
    (a pole or kink at 0: 1/x, abs), the input is checked again with h = |xᵢ|/1000, which
    stays on one side of 0, and the ``note`` says so; at xᵢ = 0 itself, or where that fails
    too, the note says the step crosses 0.  (A step relative to |xᵢ| is not used everywhere:
    it vanishes at xᵢ = 0 and would change every check.)
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
        if not ok and 0.0 < abs(point[i]) < h and "crosses 0" in note:
            retry = _one_side_of_zero(f, point, labels, i, leaf.grad, atol, rtol)
            if retry is not None:
                numeric, tolerance = retry
                ok, note = (
                    True,
                    (
                        f"the step h = {h:.3g} crossed 0 (a pole or kink of f): checked with "
                        f"h = {abs(point[i]) * 1e-3:.3g}, on one side of 0"
                    ),
                )
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
