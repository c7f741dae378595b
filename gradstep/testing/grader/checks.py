"""Checking someone else's micrograd-style `Value` class: the plan, the results, the op rows.

Each op row runs its form on leaves, with an upstream gradient of -1.5, on computed operands
and on operands that also reach ``out`` another way (helpers ``x * n`` / ``x + y`` that are
right themselves), so a backward attached to ``self`` or assigning with ``=`` fails there.
The ``methods`` row lists what no row checks; misspelled dunders and a method returning None
are named.

The checks run inside the worker process (`gradstep.testing.grader._worker`), where the
user's class is imported; the parent (`gradstep.testing.grader.runner`) reads only the plan
(`plan`) and the results (`CheckResult`).  The ops come from gradstep's op records
(`gradstep.testing.grader.ops`).  Reference values come from gradstep's own `Value` (the
same Python expression, built with gradstep) and central differences of the foreign class's
own forward pass.  Random DAGs, repeated backward and the deepest chain are in
`gradstep.testing.grader.graphs`.
"""

from __future__ import annotations

import math
import re
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import CodeType
from typing import Any, Literal, TypeAlias

from gradstep.engine import Value
from gradstep.ops import OPS_BY_NAME
from gradstep.testing.grader.ops import (
    CORE_FORMS,
    FORM_BY_ID,
    FORMS,
    NOT_PROBED,
    Form,
    op_names,
)

__all__ = [
    "CheckSpec",
    "CheckResult",
    "Finding",
    "Status",
    "STATUSES",
    "plan",
    "Engine",
    "check_code",
    "check_backward",
    "check_form",
    "check_case",
    "check_methods",
    "describe_error",
    "misspelled",
    "user_frames",
    "is_ours",
    "SHARED_CASE",
    "compile_ours",
    "reference",
    "repro_code",
    "agree",
    "as_float",
    "number",
    "shown_number",
    "oneline",
]

Status: TypeAlias = Literal["PASS", "FAIL", "UNSUPPORTED", "SKIP", "INFO"]
#: PASS / FAIL: judged; UNSUPPORTED: the class has no such op; SKIP: not checked because
#: something it needs fails; INFO: behaviour reported, not judged (repeated backward, depth)
STATUSES: tuple[Status, ...] = ("PASS", "FAIL", "UNSUPPORTED", "SKIP", "INFO")

# =======================================================================================
# the plan: every check, in report order


Kind: TypeAlias = Literal[
    "backward", "form", "methods", "case", "repeatable", "dags", "repeated", "reset", "depth"
]


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
        ("add", "mul", "radd"),  # sum() starts from 0: 0 + a calls a.__radd__
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
SHARED_CASE = _CASE_BY_ID["shared_node"]


def plan(ops: Sequence[str] | None = None) -> list[CheckSpec]:
    """Every check, in report order; ``ops`` (names or symbols) limits the op rows and DAGs."""
    chosen = set(op_names(ops))
    rows = [
        CheckSpec("birth", "grad starts at 0", "backward"),
        CheckSpec("seed", "backward() seeds 1", "backward"),
        CheckSpec("order", "backward() order", "backward"),
    ]
    rows += [CheckSpec(f.id, f.expression, "form") for f in FORMS if f.op in chosen]
    rows.append(CheckSpec("methods", "other methods", "methods"))
    rows += [CheckSpec(c.id, c.title, "case") for c in _CASES]
    rows += [
        CheckSpec("nondeterminism", "fresh builds", "repeatable"),
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
#: gradstep's testing package (the grader, the DAG strategies): never the user's frames
_OURS = Path(__file__).resolve().parents[1]
_UPSTREAM = -1.5  # the upstream gradient of the second check of every form: (expr) * -1.5
_REL, _ABS = 1e-6, 1e-9  # gradstep vs the foreign class: the same formulas up to rounding
_EPS = 1e-6  # central differences: h = eps·max(1, |x|)


def compile_ours(code: str) -> CodeType:
    """Compile our own fixed statements (never the user's input), tagged so tracebacks can
    tell our frames from the user's."""
    return compile(code, _SOURCE, "exec")


def is_ours(filename: str) -> bool:
    """Whether a traceback frame is gradstep's testing code, Hypothesis or our compiled code
    (not the user's)."""
    if filename == _SOURCE or filename.startswith("<"):
        return True
    path = Path(filename).resolve()
    return path.is_relative_to(_OURS) or "hypothesis" in path.parts


def user_frames(error: BaseException) -> list[traceback.FrameSummary]:
    """The traceback's frames in the user's code (and what it calls), outside ours."""
    return [f for f in traceback.extract_tb(error.__traceback__) if not is_ours(f.filename)]


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
    if not user_frames(error):  # Python refused before reaching a method of the class
        return True
    if form.kind == "unary":
        return False
    operand_types = {f"'{class_name}'", "'float'"} if "n" in form.names else {f"'{class_name}'"}
    return any(name in str(error) for name in operand_types)


#: the method name of every probed op's form → the op (__add__, __radd__, tanh, ...; the
#: first form wins: __pow__ is ``a ** n``)
_OP_OF_METHOD = {form.needs: form.op for form in reversed(FORMS)}


def _raised_by(error: BaseException) -> str:
    """The probed op whose method (the outermost of the user's frames) raised ``error``."""
    frames = user_frames(error)
    return _OP_OF_METHOD.get(frames[0].name, "") if frames else ""


def _where(error: BaseException) -> str:
    """`` (file.py, line N)`` for the user's frame the error came from, or ""."""
    frames = user_frames(error)
    return f" ({Path(frames[-1].filename).name}, line {frames[-1].lineno})" if frames else ""


def misspelled(cls: type, name: str) -> str:
    """``"; it defines _add_: did you mean `__add__`?"`` when the class has ``name`` with
    the underscores wrong (``_init_``, ``__add_``), else ""."""
    core = name.strip("_")
    for klass in cls.__mro__[:-1]:
        for attribute in vars(klass):
            if attribute != name and attribute.strip("_") == core and "_" in attribute:
                return f"; it defines {attribute}: did you mean `{name}`?"
    return ""


def describe_error(error: BaseException) -> str:
    """``ZeroDivisionError: float division by zero (engine.py, line 12)``."""
    text = str(error)
    name = type(error).__name__
    return (f"{name}: {text}" if text else name) + _where(error)


def number(x: float) -> str:
    """A number as Python reads it back, short: 1.5, -0.7, 0.7115941."""
    return f"{x:.10g}" if math.isfinite(x) else repr(x)


def shown_number(x: float | None) -> str:
    """A number for a message, or "not a number"."""
    return "not a number" if x is None else number(x)


def agree(expected: float, got: float, rel: float = _REL, abs_: float = _ABS) -> bool:
    """|expected − got| ≤ abs + rel·|expected|, both finite."""
    return math.isfinite(got) and abs(expected - got) <= abs_ + rel * abs(expected)


def as_float(x: object) -> float | None:
    """A node's ``data`` or ``grad`` as a float, or None if it is not a number."""
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
    _none: list[Form] | None = None
    _helpers: tuple[Form, Form] | bool | None = False  # False: not yet looked for

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
        if status == "PASS":
            return None
        return self.probe(form_id)

    def children_in_set(self) -> str:
        """The attribute of a result (``_prev``) that holds its children in a set, or ""."""
        try:
            out = self.leaf(1.5) * self.leaf(-0.7)
        except Exception:
            return ""
        for name, value in getattr(out, "__dict__", {}).items():
            if isinstance(value, set | frozenset):
                return str(name)
        return ""

    def probe(self, form_id: str) -> str | None:
        """Try the form once (remembered): None if the class does it, else why not."""
        if form_id not in self._probes:
            self._probes[form_id] = _probe(self, FORM_BY_ID[form_id])
        return self._probes[form_id]

    def can_scale(self) -> bool:
        """Whether ``x * n`` works and is right, so ``(expr) * -1.5`` can feed an op a
        non-unit upstream gradient (a backward that forgets ``* out.grad`` passes with 1)."""
        if self._scaling is None:
            form = FORM_BY_ID["mul_n"]
            self._scaling = self.unsupported(form.id) is None and not any(
                check_code(self, f"out = {form.expression}", *_form_inputs(form, point))
                for point in form.points
            )
        return self._scaling

    def returns_none(self) -> list[Form]:
        """The forms whose method returns None (forgot ``return out``), tried once each."""
        if self._none is None:
            self._none = []
            for form in FORMS:
                if not hasattr(self.cls, form.needs):
                    continue
                leaves, numbers = _form_inputs(form, form.points[0])
                try:
                    out = self.run(compile_ours(f"out = {form.expression}"), leaves, numbers)["out"]
                except Exception:
                    continue
                if out is None:
                    self._none.append(form)
        return self._none

    def helpers(self) -> tuple[Form, Form] | None:
        """An identity-like form (``x * n`` or ``x + n``) and a combining one (``x + y`` or
        ``x * y``) that are right on computed and shared operands, to build the op rows'
        harder cases with; None if no pair is."""
        if self._helpers is False:
            self._helpers = None
            if self.statuses.get("order", "PASS") == "PASS":
                for scale, join in (
                    ("mul_n", "add"),
                    ("add_n", "add"),
                    ("mul_n", "mul"),
                    ("add_n", "mul"),
                ):
                    pair = (FORM_BY_ID[scale], FORM_BY_ID[join])
                    if _helpers_work(self, *pair):
                        self._helpers = pair
                        break
        return self._helpers if isinstance(self._helpers, tuple) else None


def scaled(helper: Form, name: str, k: float) -> str:
    """A computed node from ``name`` with the identity-like helper: ``a * 1.0`` or ``a + 0.0``
    for ``k`` = 1 (the same value), ``a * 2.0`` or ``a + 1.0`` for ``k`` = 2: the helper's
    identity element (read off its record's forward) plus ``k`` − 1."""
    forward = OPS_BY_NAME[helper.op].forward
    identity = next(c for c in (0.0, 1.0) if forward(1.5, c) == 1.5)
    constant = identity + (k - 1.0)
    return f"{name} {_symbol(helper)} {constant!r}"


def _symbol(form: Form) -> str:
    """The operator of a binary form: ``+`` for ``a + b``."""
    return form.expression.split()[1]


def joined(join: Form, left: str, right: str) -> str:
    """``(left) + (right)`` or ``(left) * (right)``."""
    return f"({left}) {_symbol(join)} ({right})"


def _helpers_work(engine: Engine, scale: Form, join: Form) -> bool:
    """Whether the helpers are right (vs gradstep) in a graph with computed and shared nodes."""
    if engine.unsupported(scale.id) is not None or engine.unsupported(join.id) is not None:
        return False
    x, y = scaled(scale, "a", 1.0), scaled(scale, "b", 1.0)
    codes = [
        f"x = {x}\ny = {y}\nout = {joined(join, joined(join, 'x', 'y'), scaled(scale, 'x', 2.0))}",
        f"x = {x}\ny = {y}\nout = {joined(join, scaled(scale, 'y', 2.0), joined(join, 'x', 'y'))}",
    ]
    return not any(check_code(engine, code, {"a": 1.5, "b": -0.7}) for code in codes)


def reference(
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
        return f"{engine.name} has no {form.needs}" + misspelled(engine.cls, form.needs)
    leaves, numbers = _form_inputs(form, form.points[0])
    try:
        engine.run(compile_ours(f"out = {form.expression}"), leaves, numbers)
    except Exception as error:
        if _is_refusal(error, form, engine.name):
            return f"{form.expression} raised {describe_error(error)}"
    return None


# =======================================================================================
# one expression, checked: value, every leaf's gradient, operands untouched


def repro_code(
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
        comment = f"expected {number(expected)}"
        if got is not None:
            comment += f", got {number(got)}"
        lines.append(f"print({what})  # {comment}")
    return "\n".join(lines)


def _at(leaves: Mapping[str, float], numbers: Mapping[str, float]) -> str:
    """``a = 1.5, n = 2`` for a message."""
    return ", ".join(f"{k} = {number(v)}" for k, v in [*leaves.items(), *numbers.items()])


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
        plus = as_float(engine.run(code, {**leaves, name: x + h}, numbers)["out"].data)
        minus = as_float(engine.run(code, {**leaves, name: x - h}, numbers)["out"].data)
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
    compiled = compile_ours(code)
    ref = reference(compiled, leaves, numbers)
    expected_out = ref["out"].data
    expected_grads = {name: float(ref[name].grad) for name in leaves}
    at = _at(leaves, numbers)

    def repro(prints: Sequence[tuple[str, float, float | None]]) -> str:
        return repro_code(engine, code, leaves, numbers, prints)

    def all_prints(got: Mapping[str, float | None]) -> list[tuple[str, float, float | None]]:
        return [(f"{n}.grad", expected_grads[n], got.get(n)) for n in leaves]

    try:
        ns = engine.run(compiled, leaves, numbers)
        out = ns["out"]
        if out is None:
            raise TypeError("NoneType")
        data = as_float(out.data)
    except Exception as error:
        none = _none_hint(engine, error)
        if none is not None:
            what = _what_ran(code)
            message = none[0] + (f" (at {at})" if none[2] == what else f" (at {at}, in {what})")
            return [Finding(message, code=repro([]).removesuffix("\nout.backward()"), op=none[1])]
        return [
            Finding(
                f"at {at}: {_what_ran(code)} raised {describe_error(error)}",
                code=repro([]),
                op=_raised_by(error),
            )
        ]
    if data is None:
        return [Finding(f"at {at}: out.data is {out.data!r}, not a number", code=repro([]))]
    findings = []
    if not agree(expected_out, data):
        findings.append(
            Finding(
                f"out.data at {at}: expected {number(expected_out)}, got {number(data)}",
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
                f"at {at}: out.backward() raised {describe_error(error)}",
                code=repro([]),
                op=_raised_by(error) or "backward",
            ),
        ]
    got = {name: as_float(ns[name].grad) for name in leaves}
    for name in leaves:
        expected, value = expected_grads[name], got[name]
        if value is not None and agree(expected, value):
            continue
        numeric = _numeric_gradient(engine, compiled, leaves, numbers, name)
        context = (
            ""
            if numeric is None
            else f" (central difference of your forward pass: {number(numeric)})"
        )
        shown = number(value) if value is not None else repr(ns[name].grad)
        findings.append(
            Finding(
                f"∂out/∂{name} at {at}: expected {number(expected)}, got {shown}{context}",
                expected,
                value,
                repro(all_prints(got)),
            )
        )
    findings += _changed_leaves(ns, leaves, "backward()", at, repro)
    return findings


def _none_hint(engine: Engine, error: BaseException) -> tuple[str, str, str] | None:
    """When an error comes from a method returning None: what to fix, that op, its form."""
    if "NoneType" not in str(error):
        return None
    culprits = engine.returns_none()
    if not culprits:
        return None
    form = culprits[0]
    method = form.needs
    return (
        f"{form.expression} returned None: {method} must end with `return out` "
        "(the new Value it built)",
        form.op,
        form.expression,
    )


def _what_ran(code: str) -> str:
    """The code for a message: ``a + b`` for ``out = a + b``, else the statements on a line."""
    lines = code.splitlines()
    return lines[0].removeprefix("out = ") if len(lines) == 1 else oneline(code)


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
        now = as_float(ns[name].data)
        if now is None or now != x:
            findings.append(
                Finding(
                    f"{when} changed the operand {name}.data from {number(x)} to "
                    f"{ns[name].data!r} (at {at})",
                    float(x),
                    now,
                    repro([(f"{name}.data", float(x), now)]),
                )
            )
    return findings


# =======================================================================================
# the checks


def check_backward(engine: Engine, spec: CheckSpec) -> CheckResult:
    """The walk itself, with + and * only: grads start at 0, the seed is 1, parents go first."""
    for form_id in CORE_FORMS:
        if (why := engine.unsupported(form_id)) is not None:
            return CheckResult(
                spec.id, spec.title, "SKIP", f"needs {FORM_BY_ID[form_id].expression}: {why}"
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
                f"{oneline(code)}: walked from the root down",
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
        ns = engine.run(compile_ours(code), leaves, {})
        born = {"a": as_float(ns["a"].grad), "out": as_float(ns["out"].grad)}
        ns["out"].backward()
        seed = as_float(ns["out"].grad)
    except Exception as error:
        return CheckResult(
            spec.id, spec.title, "FAIL", f"raised {describe_error(error)}", "backward"
        )
    if spec.id == "birth":
        wrong = {name: g for name, g in born.items() if g != 0.0}
        if not wrong:
            return CheckResult(
                spec.id, spec.title, "PASS", "a leaf's and a result's grad are 0 before backward()"
            )
        shown = ", ".join(f"{name}.grad = {shown_number(g)}" for name, g in wrong.items())
        message = (
            f"before any backward(), {shown}: a new node's grad must start at 0 (backward() "
            "adds into it; only the root is seeded with 1)"
        )
        prints = [(f"{name}.grad", 0.0, g) for name, g in wrong.items()]
        code_text = repro_code(engine, code, leaves, {}, prints).replace("out.backward()\n", "")
        finding = Finding(message, 0.0, next(iter(wrong.values())), code_text)
        return CheckResult(spec.id, spec.title, "FAIL", message, "backward", (finding,))
    if seed == 1.0:
        return CheckResult(spec.id, spec.title, "PASS", "out.grad = 1 after out.backward()")
    message = (
        f"after out.backward(), out.grad is {shown_number(seed)}, not 1: backward() must start the "
        "chain rule with ∂out/∂out = 1 (out.grad = 1.0)"
    )
    finding = Finding(
        message, 1.0, seed, repro_code(engine, code, leaves, {}, [("out.grad", 1.0, seed)])
    )
    return CheckResult(spec.id, spec.title, "FAIL", message, "backward", (finding,))


_FORGOT_UPSTREAM = (
    "; alone it is right, so its backward must multiply the local derivative by out.grad "
    "(the upstream gradient)"
)
_COMPUTED = (
    "; right on leaves, wrong on computed operands: its backward must be attached to the "
    "result it returns (out._backward = ...), not to an operand (self._backward), so that "
    "the operands' own backward still runs"
)
_SHARED_PATH = (
    "; right alone, wrong when {names} also reach out by another path: its backward must "
    "add into each operand's gradient (+=), not assign it (=)"
)


def _harder_cases(form: Form, helpers: tuple[Form, Form]) -> list[tuple[str, str]]:
    """The form on computed operands (x = a * 1.0) and on operands that also reach ``out``
    by another path, that path's backward running before and after the op's; with hints."""
    scale, join = helpers
    names = [n for n in form.names if n != "n"]
    computed = {"a": "x", "b": "y"}
    on_computed = re.sub(r"\b[ab]\b", lambda m: computed[m[0]], form.expression)
    lines = [f"{computed[n]} = {scaled(scale, n, 1.0)}" for n in names]
    other = scaled(scale, names[0], 2.0)
    for name in names[1:]:
        other = joined(join, other, scaled(scale, name, 2.0))
    hint = _SHARED_PATH.format(names=" and ".join(names) if len(names) > 1 else names[0])
    hint = hint.replace("reach out", "reaches out") if len(names) == 1 else hint
    return [
        ("\n".join([*lines, f"out = {on_computed}"]), _COMPUTED),
        (f"out = {joined(join, form.expression, other)}", hint),
        (f"out = {joined(join, other, form.expression)}", hint),
    ]


def check_form(engine: Engine, spec: CheckSpec) -> CheckResult:
    """A form's value and gradients at each of its points, with upstream 1 and -1.5."""
    form = FORM_BY_ID[spec.id]
    why = engine.probe(form.id)
    if why is not None:
        missing = _missing_mirror(engine, form)
        if missing:
            leaves, numbers = _form_inputs(form, form.points[0])
            code = repro_code(engine, f"out = {form.expression}", leaves, numbers, [])
            finding = Finding(missing, code=code.removesuffix("\nout.backward()"))
            return CheckResult(spec.id, spec.title, "FAIL", missing, form.op, (finding,))
        return CheckResult(spec.id, spec.title, "UNSUPPORTED", why, form.op)
    findings: list[Finding] = []
    can_scale = engine.can_scale()
    helpers = engine.helpers()
    for point in form.points:
        leaves, numbers = _form_inputs(form, point)
        alone = check_code(engine, f"out = {form.expression}", leaves, numbers)
        findings += alone
        if can_scale:
            code = f"out = ({form.expression}) * {_UPSTREAM}"
            findings += [
                f if alone else replace(f, message=f.message + _FORGOT_UPSTREAM)
                for f in check_code(engine, code, leaves, numbers)
            ]
        if helpers is None or alone:
            continue
        for code, hint in _harder_cases(form, helpers):
            findings += [
                replace(f, message=f.message + hint, op=f.op or form.op)
                for f in check_code(engine, code, leaves, numbers)
            ]
    findings = _unique(findings)
    if findings:
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        return CheckResult(
            spec.id, spec.title, "FAIL", findings[0].message + more, form.op, tuple(findings)
        )
    names = [n for n in form.names if n != "n"]
    ways = ["leaf", f"×{_UPSTREAM}"] if can_scale else ["leaf"]
    if helpers is not None:
        ways += ["computed", "shared"]
    detail = f"value, ∂/∂{', ∂/∂'.join(names)} at {len(form.points)} points: {', '.join(ways)}"
    if helpers is None:
        detail += " (not on computed, shared operands: a * n, a + b fail there)"
    return CheckResult(spec.id, spec.title, "PASS", detail, form.op)


#: Python's operator methods a Value class may define beyond the ones probed
_OPERATOR_METHODS = [
    "__abs__",
    "__floordiv__",
    "__rfloordiv__",
    "__mod__",
    "__rmod__",
    "__matmul__",
    "__pos__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__round__",
    "__floor__",
    "__ceil__",
    "__trunc__",
]
#: what every class has, or other rows check
_NOT_OPS = frozenset({"backward", "zero_grad"})


def check_methods(engine: Engine, spec: CheckSpec) -> CheckResult:
    """The class's own methods that no row checks (INFO), and misspelled dunders."""
    probed = {form.needs for form in FORMS}
    notes: dict[str, str] = {}
    for klass in reversed(engine.cls.__mro__[:-1]):
        for name, obj in vars(klass).items():
            if not callable(obj) and not isinstance(obj, staticmethod | classmethod):
                continue
            if name in probed or name in _NOT_OPS:
                continue
            wanted = f"__{name.strip('_')}__"
            if (
                name != wanted
                and name.startswith("_")
                and name.endswith("_")
                and (wanted in probed or wanted in _OPERATOR_METHODS or wanted == "__init__")
            ):
                if not hasattr(engine.cls, wanted) or wanted == "__init__":
                    notes[name] = f"{name} (did you mean `{wanted}`?)"
                continue
            if name.startswith("_") and name not in _OPERATOR_METHODS:
                continue
            why = NOT_PROBED.get(name)
            notes[name] = (
                f"{name}() ({why})" if why else (name if name.startswith("__") else f"{name}()")
            )
    if not notes:
        return CheckResult(spec.id, spec.title, "INFO", f"every method of {engine.name} is checked")
    detail = f"not checked (no reference for them here): {', '.join(notes.values())}"
    return CheckResult(spec.id, spec.title, "INFO", detail, data={"methods": list(notes)})


def _unique(findings: Sequence[Finding]) -> list[Finding]:
    """Drop findings whose message repeats an earlier one."""
    seen: set[str] = set()
    kept = []
    for f in findings:
        if f.message not in seen:
            seen.add(f.message)
            kept.append(f)
    return kept


def _missing_mirror(engine: Engine, form: Form) -> str:
    """Why an unsupported form is a bug: ``a + b`` and ``a * b`` are the core of any engine;
    a form whose mirror works must work too (``a - n`` but not ``a - b``; ``a + n`` but not
    ``n + a``: a missing ``__radd__`` breaks ``2 + a`` and ``sum()``); "" if it is not."""
    why = engine.probe(form.id)
    if form.id in CORE_FORMS:
        return f"{form.expression} must work in a micrograd-style engine: {why}"
    if form.kind == "number-value":  # a ⊕ n, or a ** b for n ** a
        mirror = FORM_BY_ID.get(f"{form.op}_n") or FORM_BY_ID[form.op]
        reason = f"Python calls {form.needs} for a number on the left"
    elif form.kind == "value-value" and f"{form.op}_n" in FORM_BY_ID:
        mirror, reason = FORM_BY_ID[f"{form.op}_n"], "a Value operand must work where a number does"
    else:
        return ""
    if engine.unsupported(mirror.id) is not None:
        return ""
    return f"{mirror.expression} works but {form.expression} does not ({reason}): {why}"


def check_case(engine: Engine, spec: CheckSpec) -> CheckResult:
    """A fixed expression: node reuse, a shared node, sum(), ints."""
    case = _CASE_BY_ID[spec.id]
    for form_id in case.needs:
        if (why := engine.unsupported(form_id)) is not None:
            needed = FORM_BY_ID[form_id].expression
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
    return CheckResult(spec.id, spec.title, "PASS", f"{oneline(case.code)}: value and gradients")


def oneline(code: str) -> str:
    """Statements on one line: ``c = a * b; out = c * c``."""
    return "; ".join(code.splitlines())
