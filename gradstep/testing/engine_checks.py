"""Checking someone else's micrograd-style `Value` class: the probed ops and every check.

The checks run inside the worker process (`gradstep.testing._engine_worker`), where the
user's class is imported; the parent (`gradstep.testing.engines`) reads only the plan
(`plan`) and the results (`CheckResult`).  Every op the checker knows is listed once, in
`PROBED_OPS`: its name, arity, how it is called on a foreign class (an operator or a method)
and sample points away from kinks and domain edges.  Reference values come from gradstep's
own `Value` (the same Python expression, built with gradstep) and central differences of
the foreign class's own forward pass.
"""

from __future__ import annotations

import gc
import math
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import CodeType
from typing import Any, Literal, TypeAlias

from gradstep.engine import Value, topological_order
from gradstep.testing.strategies import DAGStep, ExpressionDAG, _apply_step

__all__ = [
    "PROBED_OPS",
    "ProbedOp",
    "Form",
    "FORMS",
    "CheckSpec",
    "CheckResult",
    "Finding",
    "Status",
    "STATUSES",
    "plan",
    "op_names",
    "Engine",
    "Options",
    "run_check",
]

Status: TypeAlias = Literal["PASS", "FAIL", "UNSUPPORTED", "SKIP", "INFO"]
#: PASS / FAIL: judged; UNSUPPORTED: the class has no such op; SKIP: not checked because
#: something it needs fails; INFO: behaviour reported, not judged (repeated backward, depth)
STATUSES: tuple[Status, ...] = ("PASS", "FAIL", "UNSUPPORTED", "SKIP", "INFO")


# =======================================================================================
# the probed ops: the one place that lists them


@dataclass(frozen=True)
class Form:
    """One way of calling an op, as Python over Values ``a``, ``b`` and a plain number ``n``."""

    id: str  # "add", "add_n", "radd", "tanh", ...
    op: str  # the `ProbedOp` it belongs to
    expression: str  # "a + b", "n - a", "a.tanh()"
    needs: str  # the attribute of the class it calls: "__add__", "__rsub__", "tanh"
    kind: str  # "value-value", "value-number", "number-value" (as expression_dags) or "unary"
    points: tuple[tuple[float, ...], ...]  # one number per name in `names`

    @property
    def names(self) -> tuple[str, ...]:
        """The names a point's numbers are bound to, in order."""
        return {
            "value-value": ("a", "b"),
            "value-number": ("a", "n"),
            "number-value": ("n", "a"),
            "unary": ("a",),
        }[self.kind]


@dataclass(frozen=True)
class ProbedOp:
    """An op the checker probes: how a micrograd-style class spells it and where it is smooth.

    ``call`` is the operator (``"+"``, unary ``"-"``) or the method name (``"tanh"``);
    ``dunder`` the operator's method stem (``"add"`` → ``__add__``, ``__radd__``).  Binary
    ops come in three forms, a ⊕ b, a ⊕ n and n ⊕ a, at ``points`` (x, y), read as (a, b),
    (a, n) and (n, a); ``**`` takes its Value-exponent and number-base forms at
    ``value_points`` (a positive base).  ``dag_op`` is the op's name in `expression_dags`.
    """

    name: str
    arity: int
    call: str
    dag_op: str
    points: tuple[tuple[float, ...], ...]
    dunder: str = ""
    value_points: tuple[tuple[float, ...], ...] = ()

    @property
    def forms(self) -> tuple[Form, ...]:
        """The forms this op is checked in, each with its points."""
        if self.arity == 1 and self.dunder:  # a unary operator: -a
            return (
                Form(
                    self.name,
                    self.name,
                    f"{self.call}a",
                    f"__{self.dunder}__",
                    "unary",
                    self.points,
                ),
            )
        if self.arity == 1:
            return (
                Form(self.name, self.name, f"a.{self.call}()", self.call, "unary", self.points),
            )
        plain, swapped = f"__{self.dunder}__", f"__r{self.dunder}__"
        value_points = self.value_points or self.points
        value_value = Form(
            self.name, self.name, f"a {self.call} b", plain, "value-value", value_points
        )
        value_number = Form(
            f"{self.name}_n", self.name, f"a {self.call} n", plain, "value-number", self.points
        )
        number_value = Form(
            f"r{self.name}", self.name, f"n {self.call} a", swapped, "number-value", value_points
        )
        if self.value_points:  # ** : the number exponent first, as micrograd has it
            return (value_number, value_value, number_value)
        return (value_value, value_number, number_value)


# Points: (x, y) pairs away from 0 where a kink or pole could be, and inside every domain.
PROBED_OPS: tuple[ProbedOp, ...] = (
    ProbedOp("add", 2, "+", "+", ((1.5, -0.7), (-2.0, 0.3)), dunder="add"),
    ProbedOp("sub", 2, "-", "-", ((1.5, -0.7), (-2.0, 0.3)), dunder="sub"),
    ProbedOp("mul", 2, "*", "*", ((1.5, -0.7), (-2.0, 0.3)), dunder="mul"),
    ProbedOp("div", 2, "/", "/", ((1.5, -0.7), (-2.0, 1.3)), dunder="truediv"),
    ProbedOp(
        "pow",
        2,
        "**",
        "**",
        ((1.5, 3), (-1.3, 2), (0.8, -1), (2.2, 0.5)),  # a ** n: x³, x², 1/x, √x
        dunder="pow",
        value_points=((1.5, 2.5), (0.7, -1.2)),  # a ** b and n ** a: a positive base
    ),
    ProbedOp("neg", 1, "-", "neg", ((1.3,), (-0.4,)), dunder="neg"),
    ProbedOp("relu", 1, "relu", "relu", ((1.2,), (-0.8,))),
    ProbedOp("tanh", 1, "tanh", "tanh", ((0.6,), (-1.1,))),
    ProbedOp("sigmoid", 1, "sigmoid", "sigmoid", ((0.8,), (-1.5,))),
    ProbedOp("exp", 1, "exp", "exp", ((0.5,), (-1.3,))),
    ProbedOp("log", 1, "log", "log", ((1.7,), (0.4,))),
    ProbedOp("sqrt", 1, "sqrt", "sqrt", ((2.3,), (0.6,))),
    ProbedOp("abs", 1, "abs", "abs", ((1.4,), (-0.9,))),
)

#: every form of every probed op, in report order
FORMS: tuple[Form, ...] = tuple(form for op in PROBED_OPS for form in op.forms)
_FORM_BY_ID: dict[str, Form] = {form.id: form for form in FORMS}
_OP_BY_NAME: dict[str, ProbedOp] = {op.name: op for op in PROBED_OPS}


def op_names(selected: Sequence[str] | None) -> tuple[str, ...]:
    """The ops to check, by name or symbol (``"add"`` or ``"+"``); all of them for None."""
    if selected is None:
        return tuple(op.name for op in PROBED_OPS)
    aliases = {op.name: op.name for op in PROBED_OPS}
    aliases.update({op.call: op.name for op in PROBED_OPS if op.arity == 2})
    names = []
    for item in selected:
        if item not in aliases:
            known = ", ".join(op.name for op in PROBED_OPS)
            raise ValueError(f"unknown op {item!r}: the ops are {known} (or + - * / **)")
        names.append(aliases[item])
    return tuple(op.name for op in PROBED_OPS if op.name in names)


# =======================================================================================
# the plan: every check, in report order


Kind: TypeAlias = Literal["backward", "form", "case", "dags", "repeated", "reset", "depth"]


@dataclass(frozen=True)
class CheckSpec:
    """One row of the report card: its id (for pytest and --json), title and kind."""

    id: str
    title: str
    kind: Kind


@dataclass(frozen=True)
class _Case:
    """Fixed statements ending in ``out = ...``, their leaves and the forms they need."""

    id: str
    title: str
    code: str
    leaves: tuple[tuple[str, float], ...]
    needs: tuple[str, ...]
    #: what a failure points at: the op reused, or "backward" (the graph walk)
    blame: str


_CASES: tuple[_Case, ...] = (
    _Case("reuse_add", "a + a", "out = a + a", (("a", 1.5),), ("add",), "add"),
    _Case("reuse_mul", "a * a", "out = a * a", (("a", 1.5),), ("mul",), "mul"),
    _Case(
        "shared_node",
        "shared node",
        "c = a * b\nd = c + a\nout = d * c",
        (("a", 1.5), ("b", -0.7)),
        ("add", "mul"),
        "backward",
    ),
    _Case(
        "sum",
        "sum([a, b, a * b])",
        "out = sum([a, b, a * b])",
        (("a", 1.5), ("b", -0.7)),
        ("add", "mul"),
        "add",
    ),
    _Case(
        "ints",
        "ints",
        "out = a * b + a * 3 + 1",
        (("a", 2), ("b", -3)),
        ("add", "mul", "add_n", "mul_n"),
        "",
    ),
)
_CASE_BY_ID = {case.id: case for case in _CASES}

#: the shared-node graph the repeated-backward and reset checks use
_SHARED = _CASE_BY_ID["shared_node"]


def plan(ops: Sequence[str] | None = None) -> list[CheckSpec]:
    """Every check, in report order; ``ops`` (names or symbols) limits the op rows and DAGs."""
    chosen = set(op_names(ops))
    rows = [
        CheckSpec("birth", "grad starts at 0", "backward"),
        CheckSpec("seed", "backward() seeds 1", "backward"),
        CheckSpec("order", "backward() order", "backward"),
    ]
    rows += [CheckSpec(f.id, f.expression, "form") for f in FORMS if f.op in chosen]
    rows += [CheckSpec(c.id, c.title, "case") for c in _CASES]
    rows += [
        CheckSpec("dags", "random DAGs", "dags"),
        CheckSpec("repeated_backward", "repeated backward()", "repeated"),
        CheckSpec("reset", "grad = 0, backward()", "reset"),
        CheckSpec("deepest_chain", "deepest chain", "depth"),
    ]
    return rows


# =======================================================================================
# results


@dataclass(frozen=True)
class Finding:
    """One thing that is wrong: a sentence, the numbers, and Python that reproduces it."""

    message: str
    expected: float | None = None
    got: float | None = None
    code: str = ""
    #: the op whose method raised, when the finding is an exception; "" otherwise
    op: str = ""


@dataclass(frozen=True)
class CheckResult:
    """One row of the report card."""

    id: str
    title: str
    status: Status
    detail: str = ""
    #: the probed op the row is about ("tanh"), or the op a failure points at; "" if none
    op: str = ""
    findings: tuple[Finding, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status == "FAIL" and not self.findings:  # a failure always says what it is
            object.__setattr__(self, "findings", (Finding(self.detail),))

    @property
    def failed(self) -> bool:
        """True for a FAIL row."""
        return self.status == "FAIL"

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """The row back from `to_dict`'s data."""
        findings = tuple(Finding(**f) for f in data.get("findings", ()))
        return cls(
            id=data["id"],
            title=data["title"],
            status=data["status"],
            detail=data.get("detail", ""),
            op=data.get("op", ""),
            findings=findings,
            data=dict(data.get("data", {})),
        )

    def message(self) -> str:
        """The row, every finding, and the code reproducing the first, for a test failure."""
        lines = [f"{self.status} {self.title}: {self.detail}"]
        for k, finding in enumerate(self.findings):
            lines.append(f"  {finding.message}")
            if k == 0:
                lines += [f"    {line}" for line in finding.code.splitlines()]
        return "\n".join(lines)


# =======================================================================================
# running expressions on the foreign class

_SOURCE = "<gradstep test-engine>"
_THIS_FILE = str(Path(__file__).resolve())
_UPSTREAM = -1.5  # the upstream gradient of the second check of every form: (expr) * -1.5
_REL, _ABS = 1e-6, 1e-9  # gradstep vs the foreign class: the same formulas up to rounding
_EPS = 1e-6  # central differences: h = eps·max(1, |x|)


class _Unsupported(Exception):
    """The class does not do this: the method is missing, or it refuses (NotImplemented...)."""


def _compile(code: str) -> CodeType:
    """Compile our own fixed statements (never the user's input), tagged so tracebacks can
    tell our frames from the user's."""
    return compile(code, _SOURCE, "exec")


def _raised_in_user_code(error: BaseException) -> bool:
    """Whether the traceback reaches a frame outside this module and our compiled code."""
    tb = error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename != _SOURCE and str(Path(filename).resolve()) != _THIS_FILE:
            return True
        tb = tb.tb_next
    return False


def _is_refusal(error: BaseException, form: Form, class_name: str) -> bool:
    """Whether an error trying ``form`` means the class does not do it (rather than a bug).

    NotImplementedError or an assert refuse (micrograd: "only supporting int/float powers").
    A method that exists but raises TypeError or AttributeError is broken, unless Python
    raised it before reaching the method.  An operator that raises them about an operand
    we gave it (its own class, or the float n) does not handle that operand type
    (``self.data ** other`` with a Value exponent; ``other.data`` of a number); one that
    complains about anything else (an int it made itself) is broken.
    """
    if isinstance(error, NotImplementedError | AssertionError):
        return True
    if not isinstance(error, TypeError | AttributeError):
        return False
    if not _raised_in_user_code(error):
        return True
    if form.kind == "unary":
        return False
    operand_types = {f"'{class_name}'", "'float'"} if "n" in form.names else {f"'{class_name}'"}
    return any(name in str(error) for name in operand_types)


#: the method name of every probed op's form → the op (__add__, __radd__, tanh, ...)
_OP_OF_METHOD = {form.needs: form.op for form in FORMS}


def _raised_by(error: BaseException) -> str:
    """The probed op whose method (the outermost of the user's frames) raised ``error``."""
    tb = error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename != _SOURCE and str(Path(code.co_filename).resolve()) != _THIS_FILE:
            return _OP_OF_METHOD.get(code.co_name, "")
        tb = tb.tb_next
    return ""


def _where(error: BaseException) -> str:
    """`` (file.py, line N)`` for the user's frame the error came from, or ""."""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if f.filename != _SOURCE and str(Path(f.filename).resolve()) != _THIS_FILE
    ]
    if not frames:
        return ""
    last = frames[-1]
    return f" ({Path(last.filename).name}, line {last.lineno})"


def _describe_error(error: BaseException) -> str:
    """``ZeroDivisionError: float division by zero (engine.py, line 12)``."""
    text = str(error)
    name = type(error).__name__
    return (f"{name}: {text}" if text else name) + _where(error)


def _number(x: float) -> str:
    """A number as Python reads it back, short: 1.5, -0.7, 0.7115941."""
    return f"{x:.10g}" if math.isfinite(x) else repr(x)


def _shown(x: float | None) -> str:
    """A number for a message, or "not a number"."""
    return "not a number" if x is None else _number(x)


def _agree(expected: float, got: float, rel: float = _REL, abs_: float = _ABS) -> bool:
    """|expected − got| ≤ abs + rel·|expected|, both finite."""
    return math.isfinite(got) and abs(expected - got) <= abs_ + rel * abs(expected)


def _as_float(x: object) -> float | None:
    """A node's ``data`` or ``grad`` as a float, or None if it is not a number."""
    if isinstance(x, bool):
        return float(x)
    try:
        return float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None


@dataclass
class Engine:
    """The foreign class and what is known about it so far (forms probed, rows done)."""

    cls: type
    import_line: str
    #: form id → its row's status, filled as rows finish (and from earlier workers)
    statuses: dict[str, str] = field(default_factory=dict)
    _probes: dict[str, str | None] = field(default_factory=dict)
    _scaling: bool | None = None

    @property
    def name(self) -> str:
        """The class's name, as the user's code writes it."""
        return self.cls.__name__

    def leaf(self, x: float) -> Any:
        """A new leaf of the foreign class."""
        return self.cls(x)

    def run(
        self, code: CodeType, leaves: Mapping[str, float], numbers: Mapping[str, float]
    ) -> dict[str, Any]:
        """Execute ``code`` with fresh leaves of the foreign class; return its namespace."""
        namespace: dict[str, Any] = {name: self.leaf(x) for name, x in leaves.items()}
        namespace.update(numbers)
        exec(code, {"__builtins__": {"sum": sum}}, namespace)
        return namespace

    def unsupported(self, form_id: str) -> str | None:
        """Why ``form`` cannot be checked (the class lacks or refuses it), or None if it can."""
        status = self.statuses.get(form_id)
        if status is not None:
            return "unsupported" if status == "UNSUPPORTED" else None
        return self.probe(form_id)

    def probe(self, form_id: str) -> str | None:
        """Try the form once (remembered): None if the class does it, else why not."""
        if form_id not in self._probes:
            self._probes[form_id] = _probe(self, _FORM_BY_ID[form_id])
        return self._probes[form_id]

    def can_scale(self) -> bool:
        """Whether ``x * n`` works and is right, so ``(expr) * -1.5`` can feed an op a
        non-unit upstream gradient (a backward that forgets ``* out.grad`` passes with 1)."""
        if self._scaling is None:
            form = _FORM_BY_ID["mul_n"]
            self._scaling = self.unsupported(form.id) is None and not any(
                check_code(self, f"out = {form.expression}", *_form_inputs(form, point))
                for point in form.points
            )
        return self._scaling


def _reference(
    code: CodeType, leaves: Mapping[str, float], numbers: Mapping[str, float]
) -> dict[str, Any]:
    """The same code with gradstep's `Value`, after ``out.backward()``."""
    namespace: dict[str, Any] = {name: Value(x) for name, x in leaves.items()}
    namespace.update(numbers)
    exec(code, {"__builtins__": {"sum": sum}}, namespace)
    namespace["out"].backward()
    return namespace


def _form_inputs(form: Form, point: Sequence[float]) -> tuple[dict[str, float], dict[str, float]]:
    """The point's leaves (Values) and plain numbers, by name."""
    bound = dict(zip(form.names, point, strict=True))
    numbers = {"n": bound.pop("n")} if "n" in bound else {}
    return bound, numbers


def _probe(engine: Engine, form: Form) -> str | None:
    """Try the form once at its first point: None if the class does it, else why not."""
    if not hasattr(engine.cls, form.needs):
        return f"{engine.name} has no {form.needs}"
    leaves, numbers = _form_inputs(form, form.points[0])
    try:
        engine.run(_compile(f"out = {form.expression}"), leaves, numbers)
    except Exception as error:
        if _is_refusal(error, form, engine.name):
            return f"{form.expression} raised {_describe_error(error)}"
    return None


# =======================================================================================
# one expression, checked: value, every leaf's gradient, operands untouched


def _repro(
    engine: Engine,
    code: str,
    leaves: Mapping[str, float],
    numbers: Mapping[str, float],
    prints: Sequence[tuple[str, float, float | None]],
) -> str:
    """Pasteable Python: import, inputs, the code, backward(), one print per quantity."""
    lines = [engine.import_line]
    lines += [f"{name} = {x!r}" for name, x in numbers.items()]
    lines += [f"{name} = {engine.name}({x!r})" for name, x in leaves.items()]
    lines += code.splitlines()
    lines.append("out.backward()")
    for what, expected, got in prints:
        comment = f"expected {_number(expected)}"
        if got is not None:
            comment += f", got {_number(got)}"
        lines.append(f"print({what})  # {comment}")
    return "\n".join(lines)


def _at(leaves: Mapping[str, float], numbers: Mapping[str, float]) -> str:
    """``a = 1.5, n = 2`` for a message."""
    return ", ".join(f"{k} = {_number(v)}" for k, v in [*leaves.items(), *numbers.items()])


def _numeric_gradient(
    engine: Engine,
    code: CodeType,
    leaves: Mapping[str, float],
    numbers: Mapping[str, float],
    name: str,
) -> float | None:
    """(f(x + h) − f(x − h)) / 2h with the foreign class's own forward pass, or None."""
    x = leaves[name]
    h = _EPS * max(1.0, abs(x))
    try:
        plus = _as_float(engine.run(code, {**leaves, name: x + h}, numbers)["out"].data)
        minus = _as_float(engine.run(code, {**leaves, name: x - h}, numbers)["out"].data)
    except Exception:
        return None
    if plus is None or minus is None:
        return None
    return (plus - minus) / (2.0 * h)


def check_code(
    engine: Engine,
    code: str,
    leaves: Mapping[str, float],
    numbers: Mapping[str, float] | None = None,
) -> list[Finding]:
    """Run ``code`` (ending in ``out = ...``) on the foreign class and on gradstep; compare
    ``out.data``, every leaf's gradient after ``out.backward()`` and the leaves' data."""
    numbers = dict(numbers or {})
    compiled = _compile(code)
    ref = _reference(compiled, leaves, numbers)
    expected_out = ref["out"].data
    expected_grads = {name: float(ref[name].grad) for name in leaves}
    at = _at(leaves, numbers)

    def repro(prints: Sequence[tuple[str, float, float | None]]) -> str:
        return _repro(engine, code, leaves, numbers, prints)

    def all_prints(got: Mapping[str, float | None]) -> list[tuple[str, float, float | None]]:
        return [(f"{n}.grad", expected_grads[n], got.get(n)) for n in leaves]

    try:
        ns = engine.run(compiled, leaves, numbers)
        out = ns["out"]
        data = _as_float(out.data)
    except Exception as error:
        return [
            Finding(
                f"at {at}: {_first_line(code)} raised {_describe_error(error)}",
                code=repro([]),
                op=_raised_by(error),
            )
        ]
    if data is None:
        return [Finding(f"at {at}: out.data is {out.data!r}, not a number", code=repro([]))]
    findings = []
    if not _agree(expected_out, data):
        findings.append(
            Finding(
                f"out.data at {at}: expected {_number(expected_out)}, got {_number(data)}",
                expected_out,
                data,
                repro([("out.data", expected_out, data)]),
            )
        )
    findings += _changed_leaves(ns, leaves, "the forward pass", at, repro)
    try:
        out.backward()
    except Exception as error:
        return [
            *findings,
            Finding(
                f"at {at}: out.backward() raised {_describe_error(error)}",
                code=repro([]),
                op=_raised_by(error) or "backward",
            ),
        ]
    got = {name: _as_float(ns[name].grad) for name in leaves}
    for name in leaves:
        expected, value = expected_grads[name], got[name]
        if value is not None and _agree(expected, value):
            continue
        numeric = _numeric_gradient(engine, compiled, leaves, numbers, name)
        context = (
            ""
            if numeric is None
            else f" (central difference of your forward pass: {_number(numeric)})"
        )
        shown = _number(value) if value is not None else repr(ns[name].grad)
        findings.append(
            Finding(
                f"∂out/∂{name} at {at}: expected {_number(expected)}, got {shown}{context}",
                expected,
                value,
                repro(all_prints(got)),
            )
        )
    findings += _changed_leaves(ns, leaves, "backward()", at, repro)
    return findings


def _first_line(code: str) -> str:
    """The expression of ``out = ...`` (the last line), for a message."""
    return code.splitlines()[-1].removeprefix("out = ")


def _changed_leaves(
    ns: Mapping[str, Any],
    leaves: Mapping[str, float],
    when: str,
    at: str,
    repro: Callable[[Sequence[tuple[str, float, float | None]]], str],
) -> list[Finding]:
    """A finding for each leaf whose data the code changed (operands must stay unmodified)."""
    findings = []
    for name, x in leaves.items():
        now = _as_float(ns[name].data)
        if now is None or now != x:
            findings.append(
                Finding(
                    f"{when} changed the operand {name}.data from {_number(x)} to "
                    f"{ns[name].data!r} (at {at})",
                    float(x),
                    now,
                    repro([(f"{name}.data", float(x), now)]),
                )
            )
    return findings


# =======================================================================================
# the checks


def _check_backward(engine: Engine, spec: CheckSpec) -> CheckResult:
    """The walk itself, with + and * only: grads start at 0, the seed is 1, parents go first."""
    for form_id in ("add", "mul"):
        if (why := engine.unsupported(form_id)) is not None:
            return CheckResult(
                spec.id, spec.title, "SKIP", f"needs {_FORM_BY_ID[form_id].expression}: {why}"
            )
    leaves = {"a": 1.5, "b": -0.7}
    if spec.id == "order":
        code = "d = a + b\nout = d * c"  # no node used twice: only the order can go wrong
        findings = check_code(engine, code, {**leaves, "c": 2.5})
        if not findings:
            return CheckResult(
                spec.id,
                spec.title,
                "PASS",
                f"{_oneline(code)}: d gets its gradient before passing it on",
            )
        hint = (
            "; if a + b and a * b pass alone, backward() runs a node's _backward before the "
            "node has its gradient: walk the topological order in reverse (root first)"
        )
        first = replace(findings[0], message=findings[0].message + hint)
        return CheckResult(
            spec.id, spec.title, "FAIL", first.message, "backward", (first, *findings[1:])
        )
    code = "out = a * b"
    try:
        ns = engine.run(_compile(code), leaves, {})
        born = {"a": _as_float(ns["a"].grad), "out": _as_float(ns["out"].grad)}
        ns["out"].backward()
        seed = _as_float(ns["out"].grad)
    except Exception as error:
        return CheckResult(
            spec.id, spec.title, "FAIL", f"raised {_describe_error(error)}", "backward"
        )
    if spec.id == "birth":
        wrong = {name: g for name, g in born.items() if g != 0.0}
        if not wrong:
            return CheckResult(
                spec.id, spec.title, "PASS", "a leaf's and a result's grad are 0 before backward()"
            )
        shown = ", ".join(f"{name}.grad = {_shown(g)}" for name, g in wrong.items())
        message = (
            f"before any backward(), {shown}: a new node's grad must start at 0 (backward() "
            "adds into it; only the root is seeded with 1)"
        )
        prints = [(f"{name}.grad", 0.0, g) for name, g in wrong.items()]
        code_text = _repro(engine, code, leaves, {}, prints).replace("out.backward()\n", "")
        finding = Finding(message, 0.0, next(iter(wrong.values())), code_text)
        return CheckResult(spec.id, spec.title, "FAIL", message, "backward", (finding,))
    if seed == 1.0:
        return CheckResult(spec.id, spec.title, "PASS", "out.grad = 1 after out.backward()")
    message = (
        f"after out.backward(), out.grad is {_shown(seed)}, not 1: backward() must start the "
        "chain rule with ∂out/∂out = 1 (out.grad = 1.0)"
    )
    finding = Finding(
        message, 1.0, seed, _repro(engine, code, leaves, {}, [("out.grad", 1.0, seed)])
    )
    return CheckResult(spec.id, spec.title, "FAIL", message, "backward", (finding,))


_FORGOT_UPSTREAM = (
    "; alone it is right, so its backward must multiply the local derivative by out.grad "
    "(the upstream gradient)"
)


def _check_form(engine: Engine, spec: CheckSpec) -> CheckResult:
    """A form's value and gradients at each of its points, with upstream 1 and -1.5."""
    form = _FORM_BY_ID[spec.id]
    why = engine.probe(form.id)
    if why is not None:
        missing = _missing_mirror(engine, form)
        if missing:
            leaves, numbers = _form_inputs(form, form.points[0])
            code = _repro(engine, f"out = {form.expression}", leaves, numbers, [])
            finding = Finding(missing, code=code.removesuffix("\nout.backward()"))
            return CheckResult(spec.id, spec.title, "FAIL", missing, form.op, (finding,))
        return CheckResult(spec.id, spec.title, "UNSUPPORTED", why, form.op)
    findings: list[Finding] = []
    scaled = engine.can_scale()
    for point in form.points:
        leaves, numbers = _form_inputs(form, point)
        alone = check_code(engine, f"out = {form.expression}", leaves, numbers)
        findings += alone
        if scaled:
            code = f"out = ({form.expression}) * {_UPSTREAM}"
            findings += [
                f if alone else replace(f, message=f.message + _FORGOT_UPSTREAM)
                for f in check_code(engine, code, leaves, numbers)
            ]
    findings = _unique(findings)
    if findings:
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        return CheckResult(
            spec.id, spec.title, "FAIL", findings[0].message + more, form.op, tuple(findings)
        )
    names = [n for n in form.names if n != "n"]
    times = f" (upstream 1 and {_UPSTREAM})" if scaled else ""
    detail = f"value, ∂/∂{', ∂/∂'.join(names)} at {len(form.points)} points{times}"
    return CheckResult(spec.id, spec.title, "PASS", detail, form.op)


def _unique(findings: Sequence[Finding]) -> list[Finding]:
    """Drop findings whose message repeats an earlier one."""
    seen: set[str] = set()
    kept = []
    for f in findings:
        if f.message not in seen:
            seen.add(f.message)
            kept.append(f)
    return kept


#: forms every micrograd-style class must have
_REQUIRED = frozenset({"add", "mul"})


def _missing_mirror(engine: Engine, form: Form) -> str:
    """Why an unsupported form is a bug: ``a + b`` and ``a * b`` are the core of any engine;
    a form whose mirror works must work too (``a - n`` but not ``a - b``; ``a + n`` but not
    ``n + a``: a missing ``__radd__`` breaks ``2 + a`` and ``sum()``); "" if it is not."""
    why = engine.probe(form.id)
    if form.id in _REQUIRED:
        return f"{form.expression} must work in a micrograd-style engine: {why}"
    if form.kind == "number-value":
        mirror = f"{form.op}_n" if form.op != "pow" else "pow"  # n ** a needs a Value exponent
        reason = f"Python calls {form.needs} for a number on the left"
    elif form.kind == "value-value" and form.op != "pow":
        mirror, reason = f"{form.op}_n", "a Value operand must work where a number does"
    else:
        return ""
    if engine.unsupported(mirror) is not None:
        return ""
    works = _FORM_BY_ID[mirror].expression
    return f"{works} works but {form.expression} does not ({reason}): {why}"


def _check_case(engine: Engine, spec: CheckSpec) -> CheckResult:
    """A fixed expression: node reuse, a shared node, sum(), ints."""
    case = _CASE_BY_ID[spec.id]
    for form_id in case.needs:
        if (why := engine.unsupported(form_id)) is not None:
            needed = _FORM_BY_ID[form_id].expression
            return CheckResult(spec.id, spec.title, "UNSUPPORTED", f"needs {needed}: {why}")
    findings = check_code(engine, case.code, dict(case.leaves))
    if findings:
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        return CheckResult(
            spec.id,
            spec.title,
            "FAIL",
            findings[0].message + more,
            case.blame or findings[0].op,
            tuple(findings),
        )
    return CheckResult(spec.id, spec.title, "PASS", f"{_oneline(case.code)}: value and gradients")


def _oneline(code: str) -> str:
    """Statements on one line: ``c = a * b; out = c * c``."""
    return "; ".join(code.splitlines())


# --- random expression DAGs ----------------------------------------------------------------


def _dag_ops(
    engine: Engine, chosen: Sequence[str]
) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """The DAG ops and binary forms whose rows passed, and the ops left out because they fail."""
    ops, forms, failing = [], {}, []
    for op in PROBED_OPS:
        if op.name not in chosen:
            continue
        passing = [f.kind for f in op.forms if engine.statuses.get(f.id) == "PASS"]
        if any(engine.statuses.get(f.id) == "FAIL" for f in op.forms):
            failing.append(op.name)
        if not passing:
            continue
        ops.append(op.dag_op)
        if op.arity == 2:
            forms[op.dag_op] = passing
    return ops, forms, failing


def _check_dags(
    engine: Engine, spec: CheckSpec, chosen: Sequence[str], examples: int, seconds: float
) -> CheckResult:
    """Random DAGs over the ops that pass alone, vs gradstep; shrunk to a minimal failure.

    After ``seconds`` no more DAGs are tried: the search reports what it has, and the
    shrinking stops at the smallest failure found so far.
    """
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import NoSuchExample

    from gradstep.testing.strategies import expression_dags

    ops, forms, failing = _dag_ops(engine, chosen)
    left_out = f"; left out because they fail alone: {', '.join(failing)}" if failing else ""
    if not ops or examples <= 0:
        why = "no op passes alone" if not ops else "--examples 0"
        return CheckResult(spec.id, spec.title, "SKIP", why + left_out)
    counts = {"tried": 0, "first": 0, "stopped": 0}
    stop_at = time.perf_counter() + seconds

    def fails(dag: ExpressionDAG) -> bool:
        if time.perf_counter() > stop_at:
            counts["stopped"] = counts["stopped"] or counts["tried"]
            return False
        counts["tried"] += 1
        bad = _dag_problem(engine, dag) is not None
        if bad and not counts["first"]:
            counts["first"] = counts["tried"]
        return bad

    options = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    shown_ops = " ".join(ops)
    try:
        dag = find(expression_dags(ops=ops, forms=forms), fails, settings=options)
    except NoSuchExample:
        tried = counts["stopped"] or examples
        stopped = f" (stopped at the time limit of {seconds:g} s)" if counts["stopped"] else ""
        detail = (
            f"{tried} DAGs with shared nodes agree with gradstep{stopped} "
            f"(ops {shown_ops}){left_out}"
        )
        return CheckResult(spec.id, spec.title, "PASS", detail, data={"ops": ops})
    pruned = _prune(dag)
    if _dag_problem(engine, pruned) is not None:
        dag = pruned
    finding, blamed = _dag_finding(engine, dag)
    detail = f"failing DAG found at example {counts['first']}, shrunk: {finding.message}{left_out}"
    return CheckResult(spec.id, spec.title, "FAIL", detail, blamed, (finding,), {"ops": ops})


def _prune(dag: ExpressionDAG) -> ExpressionDAG:
    """The DAG without the steps and inputs its root does not depend on (slots renumbered)."""
    n = len(dag.inputs)
    needed = {n + len(dag.steps) - 1}
    for k in range(len(dag.steps) - 1, -1, -1):
        if n + k in needed:
            needed.update(dag.steps[k].args)
    kept = sorted(needed)
    new_slot = {old: new for new, old in enumerate(kept)}
    inputs = tuple(x for i, x in enumerate(dag.inputs) if i in needed)
    steps = tuple(
        replace(step, args=tuple(new_slot[i] for i in step.args))
        for k, step in enumerate(dag.steps)
        if n + k in needed
    )
    return ExpressionDAG(inputs, steps)


def _method_backend(methods: Sequence[str]) -> dict[str, Callable[..., Any]]:
    """The DAG's unary functions as method calls, for any class: ``x.tanh()``."""

    def caller(name: str) -> Callable[[Any], Any]:
        return lambda x: getattr(x, name)()

    return {name: caller(name) for name in methods}


_METHODS = _method_backend([op.call for op in PROBED_OPS if op.arity == 1 and not op.dunder])


def _slots(dag: ExpressionDAG, leaves: Sequence[Any]) -> list[Any]:
    """Every slot of the DAG (inputs, then one per step) built from ``leaves``."""
    slots = list(leaves)
    for step in dag.steps:
        slots.append(_apply_step(step, slots, _METHODS))
    return slots


def _dag_problem(engine: Engine, dag: ExpressionDAG) -> str | None:
    """What differs between the foreign class and gradstep on this DAG, or None."""
    ref = _slots(dag, [Value(x) for x in dag.inputs])
    ref[-1].backward()
    try:
        slots = _slots(dag, [engine.leaf(x) for x in dag.inputs])
        data = _as_float(slots[-1].data)
        if data is None or not _agree(ref[-1].data, data, abs_=1e-7):
            return "value"
        slots[-1].backward()
        for mine, theirs in zip(ref[: len(dag.inputs)], slots, strict=False):
            got = _as_float(theirs.grad)
            if got is None or not _agree(mine.grad, got, abs_=1e-7):
                return "grad"
        return None
    except Exception as error:
        return _describe_error(error)


def _dag_names(dag: ExpressionDAG) -> list[str]:
    """a, b, c, d for the inputs, v1, v2, ... for the steps, out for the root."""
    names = [chr(ord("a") + i) for i in range(len(dag.inputs))]
    names += [f"v{k + 1}" for k in range(len(dag.steps))]
    names[-1] = "out"
    return names


def _dag_code(dag: ExpressionDAG, names: Sequence[str]) -> str:
    """The DAG's steps as Python statements, one node per line."""

    def const(c: float | None) -> str:
        text = repr(c)
        return f"({text})" if text.startswith("-") else text

    lines = []
    for k, step in enumerate(dag.steps):
        args = [names[i] for i in step.args]
        if step.op in {"+", "-", "*", "/", "**"}:
            if len(args) == 2:
                expr = f"{args[0]} {step.op} {args[1]}"
            elif step.const_first:
                expr = f"{const(step.const)} {step.op} {args[0]}"
            else:
                expr = f"{args[0]} {step.op} {const(step.const)}"
        elif step.op == "neg":
            expr = f"-{args[0]}"
        else:
            expr = f"{args[0]}.{step.op}()"
        lines.append(f"{names[len(dag.inputs) + k]} = {expr}")
    return "\n".join(lines)


def _dag_finding(engine: Engine, dag: ExpressionDAG) -> tuple[Finding, str]:
    """The minimal failing DAG as code, what differs, and the op it points at."""
    names = _dag_names(dag)
    code = _dag_code(dag, names)
    leaves = {names[i]: x for i, x in enumerate(dag.inputs)}
    problem = _dag_problem(engine, dag)
    ref = _slots(dag, [Value(x) for x in dag.inputs])
    ref[-1].backward()
    n = len(dag.inputs)
    if problem not in ("value", "grad"):
        finding = Finding(
            f"{_oneline(code)} raised {problem}", code=_repro(engine, code, leaves, {}, [])
        )
        return finding, _dag_op_name(dag.steps[-1])
    slots = _slots(dag, [engine.leaf(x) for x in dag.inputs])
    if problem == "value":
        k = next(
            i
            for i in range(n, len(slots))
            if not _agree(ref[i].data, _as_float(slots[i].data) or math.nan, abs_=1e-7)
        )
        step = dag.steps[k - n]
        got = _as_float(slots[k].data)
        prints = [(f"{names[k]}.data", ref[k].data, got)]
        message = (
            f"{_oneline(code)}: {names[k]}.data expected {_number(ref[k].data)}, got {_shown(got)}"
        )
        return Finding(
            message, ref[k].data, got, _repro(engine, code, leaves, {}, prints)
        ), _dag_op_name(step)
    slots[-1].backward()
    got_grads = [_as_float(s.grad) for s in slots]
    prints = [(f"{names[i]}.grad", float(ref[i].grad), got_grads[i]) for i in range(n)]
    wrong = [i for i in range(n) if not _agree(ref[i].grad, got_grads[i] or math.nan, abs_=1e-7)]
    first = wrong[0]
    message = (
        f"{_oneline(code)}: ∂out/∂{names[first]} expected {_number(ref[first].grad)}, "
        f"got {_shown(got_grads[first])}"
    )
    blamed, hint = _dag_blame(dag, ref, got_grads, names, engine)
    finding = Finding(
        f"{message}; {hint}",
        float(ref[first].grad),
        got_grads[first],
        _repro(engine, code, leaves, {}, prints),
    )
    return finding, blamed


def _dag_op_name(step: DAGStep) -> str:
    """The probed op's name for a DAG step's op."""
    return next(op.name for op in PROBED_OPS if op.dag_op == step.op)


def _dag_blame(
    dag: ExpressionDAG,
    ref: Sequence[Value],
    got: Sequence[float | None],
    names: Sequence[str],
    engine: Engine,
) -> tuple[str, str]:
    """The node nearest the root whose gradient is right but gives a child a wrong one."""
    n = len(dag.inputs)
    right = [
        g is not None and _agree(float(r.grad), g, abs_=1e-7) for r, g in zip(ref, got, strict=True)
    ]
    for k in range(len(dag.steps) - 1, -1, -1):
        step = dag.steps[k]
        if right[n + k] and not all(right[i] for i in step.args):
            op = _dag_op_name(step)
            passes = all(
                engine.statuses.get(f.id) == "PASS"
                for f in _OP_BY_NAME[op].forms
                if f.id in engine.statuses
            )
            line = _dag_code_line(dag, names, k)
            where = f"the gradient first goes wrong below {names[n + k]} = {line}"
            if passes:
                return op, (
                    f"{where}; {_OP_BY_NAME[op].call} passes on its own, so suspect how backward() "
                    "walks the graph (a shared node visited twice, = instead of +=, the order)"
                )
            return op, where
    return "backward", "the root's gradient is already wrong"


def _dag_code_line(dag: ExpressionDAG, names: Sequence[str], k: int) -> str:
    """The k-th step's expression."""
    return _dag_code(dag, names).splitlines()[k].split(" = ", 1)[1]


# --- repeated backward and resets ----------------------------------------------------------

_GRAPH_NODES = ("a", "b", "c", "d", "out")
_LEAVES = ("a", "b")


def _graph(engine: Engine) -> dict[str, Any]:
    """The shared-node graph on the foreign class (a, b, c = a·b, d = c + a, out = d·c)."""
    return engine.run(_compile(_SHARED.code), dict(_SHARED.leaves), {})


def _reference_graph() -> dict[str, Any]:
    """The shared-node graph with gradstep, after one backward()."""
    return _reference(_compile(_SHARED.code), dict(_SHARED.leaves), {})


def _grads(ns: Mapping[str, Any], names: Sequence[str]) -> dict[str, float]:
    """The nodes' gradients as floats (NaN for one that is not a number)."""
    return {name: _or_nan(_as_float(ns[name].grad)) for name in names}


def _or_nan(x: float | None) -> float:
    """x, or NaN for None (NaN agrees with nothing)."""
    return math.nan if x is None else x


def _same(expected: Mapping[str, float], got: Mapping[str, float]) -> bool:
    """The leaves' gradients agree."""
    return all(_agree(expected[n], got[n]) for n in _LEAVES)


def _accumulate_all(first: Mapping[str, float], root_seed: float) -> dict[str, float]:
    """Every node's grad after a second backward() that resets nothing (micrograd's way):
    the root's grad set to ``root_seed``, then child.grad += local · node.grad again."""
    ref = _reference_graph()
    name = {id(ref[n]): n for n in _GRAPH_NODES}
    grads = {**first, "out": root_seed}
    for node in topological_order(ref["out"]):
        for child, local in zip(node._prev, node.local_grads(), strict=True):
            grads[name[id(child)]] += local * grads[name[id(node)]]
    return grads


def _first_pass(engine: Engine) -> tuple[dict[str, Any], dict[str, float]] | str:
    """The foreign graph after one backward() and its grads, or why the check cannot run."""
    for form_id in _SHARED.needs:
        if (why := engine.unsupported(form_id)) is not None:
            return f"needs {_FORM_BY_ID[form_id].expression}: {why}"
    ns = _graph(engine)
    ns["out"].backward()
    first = _grads(ns, _GRAPH_NODES)
    expected = _grads(_reference_graph(), _LEAVES)
    if not _same(expected, first):
        return "the first backward() is already wrong (see shared node)"
    return ns, first


def _check_repeated(engine: Engine, spec: CheckSpec) -> CheckResult:
    """Two backward() calls without zeroing: leaves accumulate (PyTorch), every node
    accumulates (micrograd), each call starts afresh, or none of these (a FAIL)."""
    started = _first_pass(engine)
    if isinstance(started, str):
        return CheckResult(spec.id, spec.title, "SKIP", started)
    ns, first = started
    ns["out"].backward()
    second = _grads(ns, _GRAPH_NODES)
    a1, a2 = first["a"], second["a"]
    seen = f"a.grad went from {_number(a1)} to {_number(a2)} after a second out.backward()"
    data: dict[str, Any] = {"first": first, "second": second}
    micrograd = _accumulate_all(first, 1.0)
    if _same({n: 2.0 * first[n] for n in _LEAVES}, second):
        interior = (
            "interior nodes hold the last pass's gradient"
            if _agree(first["c"], second["c"])
            else "interior nodes accumulate too"
        )
        text = f"leaves accumulate, like PyTorch ({seen}, 2×); {interior}"
        return CheckResult(spec.id, spec.title, "INFO", text, data={**data, "behaviour": "leaves"})
    if _same(micrograd, second) or _same(_accumulate_all(first, first["out"] + 1.0), second):
        text = (
            f"every node accumulates, like micrograd: {seen}, not 2× ({_number(2 * a1)}): the "
            "stale interior gradients flow down again, so zero every grad (or build the graph "
            "again) before each backward()"
        )
        return CheckResult(spec.id, spec.title, "INFO", text, data={**data, "behaviour": "all"})
    if _same(first, second):
        text = f"each backward() starts afresh ({seen}): no accumulation across calls"
        return CheckResult(spec.id, spec.title, "INFO", text, data={**data, "behaviour": "fresh"})
    message = (
        f"inconsistent: {seen}, neither 2× ({_number(2 * a1)}: leaves accumulate, like "
        f"PyTorch), {_number(micrograd['a'])} (every node accumulates, like micrograd) nor "
        f"{_number(a1)} (a fresh start)"
    )
    code = _repro(engine, _SHARED.code + "\nout.backward()", dict(_SHARED.leaves), {}, [])
    code += f"\nprint(a.grad)  # {_number(a2)}: after one backward() it was {_number(a1)}"
    finding = Finding(message, 2.0 * a1, a2, code)
    data["behaviour"] = "inconsistent"
    return CheckResult(spec.id, spec.title, "FAIL", message, "backward", (finding,), data)


def _check_reset(engine: Engine, spec: CheckSpec) -> CheckResult:
    """Setting grads to 0 must make the next backward() give the first pass's gradients:
    on the leaves before building the graph again (a training step), or on every node."""
    started = _first_pass(engine)
    if isinstance(started, str):
        return CheckResult(spec.id, spec.title, "SKIP", started)
    ns, first = started
    findings = []
    for name in _LEAVES:
        ns[name].grad = 0.0
    again: dict[str, Any] = {name: ns[name] for name in _LEAVES}
    exec(_compile(_SHARED.code), {"__builtins__": {}}, again)
    again["out"].backward()
    got = _grads(again, _LEAVES)
    if not _same(first, got):
        findings.append(
            _reset_finding("a.grad = b.grad = 0, then the graph built again", first, got)
        )
    for name in _GRAPH_NODES:
        ns[name].grad = 0.0
    ns["out"].backward()
    got = _grads(ns, _LEAVES)
    if not _same(first, got):
        findings.append(_reset_finding("every node's grad set to 0 (same graph)", first, got))
    zero_grad = _describe_zero_grad(engine)
    if findings:
        detail = findings[0].message + zero_grad
        return CheckResult(spec.id, spec.title, "FAIL", detail, "backward", tuple(findings))
    detail = "zeroing the leaves (new graph) or every node (same graph) gives the first pass"
    return CheckResult(spec.id, spec.title, "PASS", detail + zero_grad)


def _reset_finding(how: str, first: Mapping[str, float], got: Mapping[str, float]) -> Finding:
    """After ``how``, backward() did not give the first pass's leaf gradients."""
    message = (
        f"after {how}, backward() gives a.grad = {_number(got['a'])}, b.grad = "
        f"{_number(got['b'])}, not the first pass's {_number(first['a'])}, {_number(first['b'])}"
    )
    return Finding(message, first["a"], got["a"])


def _describe_zero_grad(engine: Engine) -> str:
    """What the class's own zero_grad() method does, if it has one."""
    if not callable(getattr(engine.cls, "zero_grad", None)):
        return ""
    ns = _graph(engine)
    try:
        ns["out"].backward()
        ns["out"].zero_grad()
    except Exception as error:
        return f"; out.zero_grad() raised {_describe_error(error)}"
    zeroed = [n for n in _GRAPH_NODES if _as_float(ns[n].grad) == 0.0]
    if len(zeroed) == len(_GRAPH_NODES):
        return "; out.zero_grad() zeroes every node of the graph"
    return f"; out.zero_grad() zeroes {', '.join(zeroed) or 'no node'} of a, b, c, d, out"


# --- the deepest chain ---------------------------------------------------------------------


def _chain_link(engine: Engine) -> Callable[[Any, Any], Any] | None:
    """One link of the chain: v + 1.0, or v + one with a Value one; None without +."""
    if engine.unsupported("add_n") is None:
        return lambda v, one: v + 1.0
    if engine.unsupported("add") is None:
        return lambda v, one: v + one
    return None


def _chain(engine: Engine, link: Callable[[Any, Any], Any], n: int) -> str:
    """Backpropagate through a chain of n links: "ok", or what went wrong."""
    collecting = gc.isenabled()
    gc.disable()  # a micrograd-style graph is full of cycles: collect once, afterwards
    try:
        leaf = engine.leaf(0.5)
        one = engine.leaf(1.0)
        v = leaf
        for _ in range(n):
            v = link(v, one)
        v.backward()
        grad = _as_float(leaf.grad)
    except (RecursionError, MemoryError) as error:
        return type(error).__name__
    except Exception as error:
        return _describe_error(error)
    finally:
        v = leaf = one = None
        gc.collect()
        if collecting:
            gc.enable()
    return "ok" if grad == 1.0 else f"the leaf's grad is {grad!r}, not 1"


def _check_depth(
    engine: Engine,
    spec: CheckSpec,
    max_depth: int,
    seconds: float,
    progress: Callable[[Mapping[str, Any]], None],
) -> CheckResult:
    """The longest chain v = v + 1 that backward() handles: doubling from 100 up to
    ``max_depth`` while the next try fits in ``seconds``; after a RecursionError,
    bisection finds the exact limit."""
    link = _chain_link(engine)
    if link is None:
        return CheckResult(spec.id, spec.title, "SKIP", "needs a + n or a + b")

    def trial(n: int) -> tuple[str, float]:
        progress({"trying": n})
        start = time.perf_counter()
        outcome = _chain(engine, link, n)
        return outcome, time.perf_counter() - start

    spent, n, best = 0.0, min(100, max_depth), 0
    while True:
        outcome, took = trial(n)
        spent += took
        if outcome != "ok":
            break
        best = n
        progress({"ok": n, "seconds": took})
        following = min(2 * n, max_depth)
        if n == max_depth or spent + took * following / n > seconds:
            why = "the largest tried (--max-depth)" if n == max_depth else "the time bound"
            text = f"at least {n:,} ops ({took:.2g} s), then stopped: {why}"
            return CheckResult(spec.id, spec.title, "INFO", text, data={"depth": n, "limit": None})
        n = following
    data = {"depth": best, "limit": n, "error": outcome}
    if outcome == "RecursionError":
        low, high = best, n
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (low, mid) if trial(mid)[0] == "RecursionError" else (mid, high)
        text = (
            f"{low:,} ops; RecursionError at {high:,}: backward() is recursive (Python's "
            f"recursion limit is {sys.getrecursionlimit():,}); an explicit stack removes the limit"
        )
        data.update(depth=low, limit=high)
        return CheckResult(spec.id, spec.title, "INFO", text, data=data)
    if outcome == "MemoryError":
        text = f"{best:,} ops; out of memory at {n:,}"
        return CheckResult(spec.id, spec.title, "INFO", text, data=data)
    text = f"a chain of {n:,} ops: {outcome}"
    return CheckResult(spec.id, spec.title, "FAIL", text, "backward", (Finding(text),), data)


# =======================================================================================
# running one check


@dataclass(frozen=True)
class Options:
    """What the checks may spend: DAG examples and seconds, the chain's depth and seconds."""

    ops: tuple[str, ...]  # the op names the rows and the DAGs cover
    examples: int
    dag_seconds: float
    max_depth: int
    depth_seconds: float


def run_check(
    engine: Engine,
    spec: CheckSpec,
    options: Options,
    progress: Callable[[Mapping[str, Any]], None],
) -> CheckResult:
    """Run one check of the plan on the foreign class (an error from its code fails the row)."""
    try:
        result = _run(engine, spec, options, progress)
    except (Exception, SystemExit) as error:
        result = CheckResult(spec.id, spec.title, "FAIL", f"raised {_describe_error(error)}")
    if spec.kind == "form":
        engine.statuses[spec.id] = result.status
    return result


def _run(
    engine: Engine,
    spec: CheckSpec,
    options: Options,
    progress: Callable[[Mapping[str, Any]], None],
) -> CheckResult:
    """Dispatch on the check's kind."""
    if spec.kind == "backward":
        return _check_backward(engine, spec)
    if spec.kind == "form":
        return _check_form(engine, spec)
    if spec.kind == "case":
        return _check_case(engine, spec)
    if spec.kind == "dags":
        return _check_dags(engine, spec, options.ops, options.examples, options.dag_seconds)
    if spec.kind == "repeated":
        return _check_repeated(engine, spec)
    if spec.kind == "reset":
        return _check_reset(engine, spec)
    return _check_depth(engine, spec, options.max_depth, options.depth_seconds, progress)
