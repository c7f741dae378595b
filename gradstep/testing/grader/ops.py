"""The ops ``gradstep test-engine`` probes on someone else's class, from gradstep's op records.

Every built-in `OpSpec` (`gradstep.ops.BUILTIN_OPS`) becomes one or more `Form`s: how the op
is called on a micrograd-style class (an operator with Values or a number on either side, or
a method), and sample points away from its kinks and domain edges, chosen with the record's
own hints (``kinks``, ``positive``, ``nonzero``, ``check``).  An op added to the records is
probed without an edit here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gradstep.ops import BUILTIN_OPS, OpSpec
from gradstep.testing.strategies import dag_op_name

__all__ = [
    "Form",
    "FORMS",
    "FORM_BY_ID",
    "CORE_FORMS",
    "PROBED_OPS",
    "op_names",
    "dag_op",
    "NOT_PROBED",
]

#: ops left out, and why (a foreign class cannot be called the same way for certain)
NOT_PROBED = {"leaky_relu": "its slope's default differs between engines"}

#: the forms every micrograd-style class must have, and the walk's checks are built from:
#: ``a + b`` and ``a * b``
CORE_FORMS = ("add", "mul")

#: Python's operator methods: a ⊕ b calls __op__, n ⊕ a calls __rop__
_DUNDER = {"+": "add", "-": "sub", "*": "mul", "/": "truediv", "**": "pow"}

# Sample points: moderate, of both signs, away from 0 and ±1 (where a wrong derivative such
# as 1 − x² for tanh could agree with the right one); the records' hints filter them.
_UNARY = ((0.6,), (-1.1,), (1.7,), (0.4,))
_BINARY = ((1.5, -0.7), (-2.0, 1.3), (0.7, 2.5))
_POWERS = ((1.5, 3), (-1.3, 2), (0.8, -1), (2.2, 0.5))  # x³, x², 1/x, √x: (base, exponent)
_MARGIN = 0.3  # from a kink, from 0 for a denominator, above 0 for a positive operand


@dataclass(frozen=True)
class Form:
    """One way of calling an op, as Python over Values ``a``, ``b`` and a plain number ``n``."""

    id: str  # "add", "add_n", "radd", "pow", "pow_value", "rpow", "tanh", ...
    op: str  # the record's name
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


def _smooth(spec: OpSpec, point: tuple[float, ...]) -> bool:
    """Whether the op is defined and smooth at the point, with a margin (the record's hints)."""
    if spec.check is not None and spec.check(*map(float, point)) is not None:
        return False
    xs = point[: spec.arity]
    if any(xs[i] < _MARGIN for i in spec.positive):
        return False
    if any(abs(xs[i]) < _MARGIN for i in spec.nonzero):
        return False
    return not any(abs(xs[0] - kink) < _MARGIN for kink in spec.kinks)


def _points(spec: OpSpec) -> tuple[tuple[float, ...], ...]:
    """Two sample points (four for x ** n, one per kind of exponent)."""
    if spec.constant_name:
        return tuple(p for p in _POWERS if _smooth(spec, p))
    candidates = _BINARY if spec.arity == 2 else _UNARY
    return tuple(p for p in candidates if _smooth(spec, p))[:2]


def _forms(spec: OpSpec) -> tuple[Form, ...]:
    """The forms of one op: a ⊕ b, a ⊕ n, n ⊕ a for an operator; -a; a ** n; a.name()."""
    points = _points(spec)
    if not spec.operator:
        return (Form(spec.name, spec.name, f"a.{spec.name}()", spec.name, "unary", points),)
    symbol = spec.operator
    if spec.arity == 1 and not spec.constant_name:  # -a
        return (Form(spec.name, spec.name, f"{symbol}a", "__neg__", "unary", points),)
    plain, swapped = f"__{_DUNDER[symbol]}__", f"__r{_DUNDER[symbol]}__"
    if spec.constant_name:  # a ** n: the constant is the point's second number
        return (Form(spec.name, spec.name, f"a {symbol} n", plain, "value-number", points),)
    forms = [Form(spec.name, spec.name, f"a {symbol} b", plain, "value-value", points)]
    constant = any(other.operator == symbol and other.constant_name for other in BUILTIN_OPS)
    if not constant:  # a ** n has a record of its own
        forms.append(
            Form(f"{spec.name}_n", spec.name, f"a {symbol} n", plain, "value-number", points)
        )
    swapped_id = f"r{_DUNDER[symbol].removeprefix('true')}"  # radd, rsub, rmul, rdiv, rpow
    forms.append(Form(swapped_id, spec.name, f"n {symbol} a", swapped, "number-value", points))
    return tuple(forms)


#: the records probed, in the records' order
PROBED_OPS: tuple[OpSpec, ...] = tuple(s for s in BUILTIN_OPS if s.name not in NOT_PROBED)

#: every form of every probed op, in report order (a ** n before a ** b, as micrograd has it)
FORMS: tuple[Form, ...] = tuple(form for spec in PROBED_OPS for form in _forms(spec))
FORM_BY_ID: dict[str, Form] = {form.id: form for form in FORMS}

_DAG_OP = {spec.name: dag_op_name(spec) for spec in PROBED_OPS}


def dag_op(op: str) -> str:
    """The name `expression_dags` uses for a probed op ("+", "**", "tanh")."""
    return _DAG_OP[op]


def op_names(selected: Sequence[str] | None) -> tuple[str, ...]:
    """The probed ops by name or operator (``"add"`` or ``"+"``; ``"**"`` is both powers);
    all of them for None."""
    if selected is None:
        return tuple(spec.name for spec in PROBED_OPS)
    names: set[str] = set()
    for item in selected:
        matches = [
            s.name
            for s in PROBED_OPS
            if item == s.name or (item == s.operator and (s.arity == 2 or s.constant_name))
        ]
        if not matches:
            known = ", ".join(s.name for s in PROBED_OPS)
            raise ValueError(f"unknown op {item!r}: the ops are {known} (or + - * / **)")
        names.update(matches)
    return tuple(spec.name for spec in PROBED_OPS if spec.name in names)
