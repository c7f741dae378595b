"""Hypothesis strategies for gradient tests: `finite_floats`, `values`, random `expression_dags`.

Hypothesis is imported when a strategy is built, never when this module is imported
(``pip install 'gradstep[testing]'`` installs it); PyTorch only by `torch_functions` /
`ExpressionDAG.torch`.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from gradstep.engine import Value, apply
from gradstep.ops import BUILTIN_OPS, FUNCTION_OPS, INFIX_SYMBOLS, POW, POW_VALUE, TANH, OpSpec

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "finite_floats",
    "values",
    "expression_dags",
    "ExpressionDAG",
    "DAGStep",
    "DAG_OPS",
    "BINARY_FORMS",
    "BINARY_OPS",
    "dag_op_name",
    "apply_step",
    "Backend",
    "VALUE_FUNCTIONS",
    "FLOAT_FUNCTIONS",
    "torch_functions",
]

# =======================================================================================
# backends: the DAG evaluator's unary functions for Values, floats and torch tensors

#: name → function, for the unary ops of a DAG (``leaky_relu`` also takes the slope)
Backend: TypeAlias = Mapping[str, Callable[..., Any]]


def _on_values(spec: OpSpec) -> Callable[..., Value]:
    """``f(x[, constant])`` applying the op to a `Value`."""
    return lambda x, *constant: apply(spec, x, constant=constant[0] if constant else None)


VALUE_FUNCTIONS: Backend = {spec.name: _on_values(spec) for spec in FUNCTION_OPS.values()}

FLOAT_FUNCTIONS: Backend = {spec.name: spec.forward for spec in FUNCTION_OPS.values()}


def _torch_function(dotted: str) -> Callable[..., Any]:
    """``"torch.nn.functional.leaky_relu"`` → that function (imports its module)."""
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _require_hypothesis() -> None:
    """Raise an error that says which extra installs Hypothesis, if it is missing."""
    if importlib.util.find_spec("hypothesis") is None:
        raise ModuleNotFoundError(
            "gradstep.testing's strategies (finite_floats, values, expression_dags) need "
            "Hypothesis, which is not installed: pip install 'gradstep[testing]'",
            name="hypothesis",
        )


def torch_functions() -> Backend:
    """The DAG's unary functions on torch tensors (imports torch: call it only if installed)."""
    if importlib.util.find_spec("torch") is None:
        raise ModuleNotFoundError(
            "running an ExpressionDAG on tensors needs PyTorch, which is not installed: "
            "pip install 'gradstep[torch]' (docs/getting-started.md says how to get the CPU-only "
            "wheel)",
            name="torch",
        )
    return {spec.name: _torch_function(spec.torch) for spec in FUNCTION_OPS.values()}


# =======================================================================================
# random expression DAGs


def dag_op_name(spec: OpSpec) -> str:
    """An op's name in a DAG: its operator if it is binary in Python ("+", "**" for both
    powers), else its record's name ("neg", "tanh")."""
    return spec.operator if spec.operator and (spec.arity == 2 or spec.constant_name) else spec.name


#: every op a DAG can use (binary ops come as Value⊕Value, Value⊕c and c⊕Value)
DAG_OPS: tuple[str, ...] = tuple(dict.fromkeys(dag_op_name(spec) for spec in BUILTIN_OPS))
#: the DAG ops written as binary Python operators
BINARY_OPS: frozenset[str] = INFIX_SYMBOLS

#: the record of each DAG op; "**" is `POW_VALUE` (a Value exponent, or a number base), and
#: `POW` when the exponent is a number (`_record`)
_DAG_RECORDS: Mapping[str, OpSpec] = {
    dag_op_name(spec): spec for spec in BUILTIN_OPS if spec is not POW
}

#: Python's function for an op written with an operator, by its symbol and arity: it runs
#: on any backend (floats, Values, a user's engine, tensors)
_PYTHON_OPERATORS: Mapping[tuple[str, int], Callable[..., Any]] = {
    ("+", 2): operator.add,
    ("-", 2): operator.sub,
    ("*", 2): operator.mul,
    ("/", 2): operator.truediv,
    ("**", 2): operator.pow,
    ("-", 1): operator.neg,
}


def _record(step: DAGStep) -> OpSpec:
    """The op record a step applies (a number exponent: `POW`)."""
    spec = _DAG_RECORDS[step.op]
    if spec is POW_VALUE and len(step.args) == 1 and not step.const_first:
        return POW
    return spec


#: how a binary op may appear in a DAG: a ⊕ b, a ⊕ c, c ⊕ a (c a plain number)
BINARY_FORMS: tuple[str, ...] = ("value-value", "value-number", "number-value")


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


def apply_step(step: DAGStep, slots: Sequence[Any], functions: Backend) -> Any:
    """Evaluate one step on any number-like backend (Values, floats, tensors): an operator
    by Python's operator, a function by ``functions[name]`` (with the step's constant)."""
    spec, args = _DAG_RECORDS[step.op], [slots[i] for i in step.args]
    if spec.operator:
        if spec.arity == 2 and len(args) == 1:
            args = [step.const, args[0]] if step.const_first else [args[0], step.const]
        return _PYTHON_OPERATORS[spec.operator, len(args)](*args)
    if spec.constant_name:
        return functions[step.op](args[0], step.const)
    return functions[step.op](args[0])


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
            slots.append(apply_step(step, slots, functions))
        return slots[-1]

    def __call__(self, *xs: Value) -> Value:
        """Build the DAG from gradstep Values, labelling each node with its slot name."""
        slots: list[Value] = list(xs)
        if len(slots) != len(self.inputs):
            raise ValueError(f"this DAG takes {len(self.inputs)} inputs, got {len(slots)}")
        for step in self.steps:
            node: Value = apply_step(step, slots, VALUE_FUNCTIONS)
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
        """One step as a line of Python: an operator as its record writes it, a function as
        a method call (``x0.leaky_relu(0.2)``)."""
        spec, args = _DAG_RECORDS[step.op], [self.name(i) for i in step.args]
        if spec.operator:
            if spec.arity == 2 and len(args) == 1:
                c = repr(step.const)
                args = [c, args[0]] if step.const_first else [args[0], c]
            return spec.expression(*args)
        constant = repr(step.const) if spec.constant_name else ""
        return f"{args[0]}.{step.op}({constant})"


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
_EXPONENT_BOUND = 3.0  # |Value exponent| ≤ this
_PROBE_SCALE = 1e-3
_CONST_EXPONENTS = (2.0, 3.0, -1.0, -2.0, 0.5, 1.5, -0.5)
_CONST_BASES = (0.5, 2.0, math.e, 3.0)


def _same_side(xs: Sequence[float], margin: float) -> bool:
    """All xs at least ``margin`` from 0, on the same side."""
    return all(x >= margin for x in xs) or all(x <= -margin for x in xs)


def _domain_ok(step: DAGStep, probes: Sequence[Sequence[float]]) -> bool:
    """Whether ``step`` is well-conditioned at every probe point (each a list of slot values):
    its record's kinks, positive and non-zero operands kept at a margin (a power's domain
    depends on its exponent: `_pow_domain_ok`).  Every result stays within ``_VALUE_BOUND``
    (`_float_step`), which also keeps exp's argument below ln 50 ≈ 3.9."""
    columns = [[p[i] for p in probes] for i in step.args]
    spec = _record(step)
    if spec in (POW, POW_VALUE):
        return _pow_domain_ok(step, columns)
    operands = _operand_columns(step, columns)
    return (
        all(_same_side([x - k for x in operands[0]], _KINK_MARGIN) for k in spec.kinks)
        and all(min(operands[i]) >= _POSITIVE_MARGIN for i in spec.positive)
        and all(_same_side(operands[i], _DENOMINATOR_MARGIN) for i in spec.nonzero)
    )


def _operand_columns(
    step: DAGStep, columns: Sequence[Sequence[float]]
) -> Sequence[Sequence[float]]:
    """Each operand's values at every probe: a slot's column, or the step's constant."""
    if _DAG_RECORDS[step.op].arity == 1 or len(columns) == 2:
        return columns
    constant = [float(step.const or 0.0)]
    return [constant, columns[0]] if step.const_first else [columns[0], constant]


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
        y = apply_step(step, slots, FLOAT_FUNCTIONS)
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
        forms: Mapping[str, Sequence[str]],
    ) -> None:
        from hypothesis import strategies as st  # expression_dags checked it is installed

        self.st = st
        self.draw = draw
        self.n_inputs = len(inputs)
        self.max_depth = max_depth
        self.ops = list(ops)
        self.forms = forms
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
        """Draw one well-conditioned step (up to 4 tries, then tanh of an argument; without
        tanh among the ops, the DAG stays a step shorter)."""
        for _ in range(4):
            step = self._draw_step()
            if self._try(step):
                return
        if TANH.name not in self.ops:
            return
        fallback = DAGStep(TANH.name, (self._draw_arg(),))
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
        spec = _DAG_RECORDS[op]
        if spec.arity == 1 and spec.constant_name:  # leaky_relu's slope
            constant = self.draw(st.floats(0.01, 0.5))
            return DAGStep(op, (self._draw_arg(),), constant)
        if spec.arity == 1:
            return DAGStep(op, (self._draw_arg(),))
        form = self.draw(st.sampled_from(self.forms.get(op, BINARY_FORMS)))
        if form == "value-value":
            return DAGStep(op, (self._draw_arg(), self._draw_arg()))
        const_first = form == "number-value"
        if spec is POW_VALUE:
            pool = _CONST_BASES if const_first else _CONST_EXPONENTS
            const = float(self.draw(st.sampled_from(pool)))
        elif (0 if const_first else 1) in spec.nonzero:  # a denominator
            magnitude = self.draw(st.floats(_DENOMINATOR_MARGIN, 3.0))
            const = magnitude if self.draw(st.booleans()) else -magnitude
        else:
            const = self.draw(finite_floats(-3.0, 3.0))
        return DAGStep(op, (self._draw_arg(),), const, const_first)


def _allowed_forms(
    ops: Sequence[str], forms: Mapping[str, Collection[str]]
) -> dict[str, tuple[str, ...]]:
    """Each binary op's allowed forms, in `BINARY_FORMS` order; refuse unknown or empty ones."""
    allowed: dict[str, tuple[str, ...]] = {}
    for op, chosen in forms.items():
        if op not in BINARY_OPS or op not in ops:
            raise ValueError(f"expression_dags: forms names {op!r}, not a binary op of ops")
        unknown = sorted(set(chosen) - set(BINARY_FORMS))
        if unknown or not chosen:
            raise ValueError(
                f"expression_dags: the forms of {op!r} must be a non-empty subset of "
                f"{BINARY_FORMS}, got {sorted(chosen)}"
            )
        allowed[op] = tuple(f for f in BINARY_FORMS if f in chosen)
    return allowed


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
    _require_hypothesis()
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
    forms: Mapping[str, Collection[str]] | None = None,
) -> SearchStrategy[ExpressionDAG]:
    """Random `ExpressionDAG`s: 1–4 inputs, up to 12 ops, depth ≤ 6, shared subexpressions.

    Each step applies an op from ``ops`` (all of `DAG_OPS` by default; binary ops as
    Value⊕Value, Value⊕number or number⊕Value) to earlier slots, so nodes are reused.
    ``forms`` may limit a binary op to some of `BINARY_FORMS`, e.g. ``{"**": ["value-number"]}``
    for an engine whose ``**`` takes only a number exponent.  Domains
    are respected with margins that hold at every point a gradient check perturbs:
    log/sqrt of x ≥ 0.2, |denominator| ≥ 0.5, relu/leaky_relu/abs of |x| ≥ 0.1, exp of |x| ≤ 4,
    powers with safe bases and exponents, every value |v| ≤ 50.
    """
    _require_hypothesis()
    from hypothesis import reject
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
    allowed = _allowed_forms(ops, forms or {})
    low, high = input_range
    _check_range("expression_dags input_range", low, high)

    @st.composite
    def dags(draw: st.DrawFn) -> ExpressionDAG:
        inputs = draw(st.lists(finite_floats(low, high), min_size=min_inputs, max_size=max_inputs))
        builder = _DagBuilder(draw, inputs, max_depth, ops, allowed)
        for _ in range(draw(st.integers(1, max_steps))):
            builder.add_step()
        if not builder.steps:  # only possible without tanh: every draw left a domain
            reject()
        return ExpressionDAG(tuple(inputs), tuple(builder.steps))

    return dags()
