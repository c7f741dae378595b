"""What every view of a graph calls its nodes and numbers: one rule, shared by all of them.

A node with a label is called by its label.  A node built by a `gradstep.nn` module is called
by the module's names (its ``_scope`` and its place in the neuron)::

    layer0.neuron1.w0     a parameter (the scope, then the parameter's label)
    layer0.neuron1.w0x0   the product w0·x0 inside that neuron
    layer0.neuron1.sum1   a partial sum b + w0·x0 (+ …)
    layer0.neuron1.z      the pre-activation, b + Σᵢ wᵢ·xᵢ
    layer0.neuron1.a      the activation act(z)

with a short form for tight spaces (drawings): ``l0n1.w0``.  An unlabelled leaf is called by
its value (``2``, ``-0.5``); any other unlabelled op output ``n1``, ``n2``, … in forward order
(children first).  A name that is already taken gets ``#2``, ``#3``, ….  Constants are leaves
that are not inputs — numbers the engine wrapped (the 2 in ``2 * x``) and leaves labelled with
a number (``Value(1.0, label="1")``, or the expression parser's literals): each is called by
its value, as often as it occurs (``2``, ``2``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from gradstep.engine import Value, _Constant, topological_order

__all__ = [
    "node_names",
    "model_names",
    "short_name",
    "constants",
    "is_number_literal",
    "format_number",
    "forward_order",
    "expression",
    "written",
    "is_operator",
    "op_constant",
    "paren",
    "in_formula",
    "GraphTooLargeError",
]


class GraphTooLargeError(ValueError):
    """The graph has more values than ``max_nodes``: the drawing would be unreadable."""


def format_number(x: float, digits: int = 4) -> str:
    """``x`` to ``digits`` significant digits, no trailing ``.0``, no ``-0``: 0.19661 → 0.1966."""
    if digits < 1:
        raise ValueError(f"digits must be at least 1, got {digits!r}")
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:.{digits}g}"
    return "0" if text in ("-0", "0") else text


def in_formula(name: str) -> str:
    """A name as it stands in a formula such as ∂L/∂x: ``x``, ``w0``, ``layer0.neuron1.a``;
    a number or anything else in parentheses: ``(2)``, ``(-z)``."""
    plain = name.replace("_", "").replace("#", "").replace(".", "")
    return name if plain.isalnum() and not name[0].isdigit() else f"({name})"


def paren(text: str) -> str:
    """A negative number in parentheses, as it stands in a product: -3 → (-3)."""
    return f"({text})" if text.startswith("-") else text


def forward_order(root: Value, max_nodes: int | None = None) -> list[Value]:
    """Every value of ``root``'s graph, children before parents (the order a student writes them).

    The engine's walk (`gradstep.engine.topological_order`, reversed).  With ``max_nodes``,
    raise `GraphTooLargeError` if the graph holds more values than that.
    """
    if not isinstance(root, Value):
        raise TypeError(f"expected a gradstep Value as the root, got {type(root).__name__}")
    order = topological_order(root)
    order.reverse()
    if max_nodes is not None and len(order) > max_nodes:
        raise GraphTooLargeError(
            f"the graph has more than max_nodes={max_nodes} values, too many to draw "
            "legibly; draw a smaller model (fewer layers or neurons, one sample instead "
            f"of a batch) or pass a larger limit, e.g. max_nodes={max_nodes * 4}"
        )
    return order


def is_number_literal(label: str) -> bool:
    """Whether a label is a number as written (``2``, ``-0.5``, ``1e-3``), not a name."""
    if not label or label[-1] not in "0123456789.":  # "inf", "nan" are names
        return False
    try:
        float(label)
    except ValueError:
        return False
    return True


def _number_name(x: float) -> str:
    """A leaf's name from its value, as Python writes it without a trailing ``.0``."""
    text = repr(x)
    return text[:-2] if text.endswith(".0") else text


def constants(nodes: Sequence[Value]) -> set[Value]:
    """The leaves that are constants, not inputs: the engine's wrapped numbers (unless the
    user labelled one with a name) and leaves labelled with a number literal.

    A user's unlabelled ``Value(2.0)`` is an input (called ``2``), a wrapped 2 a constant.
    """
    return {
        v
        for v in nodes
        if not v._prev
        and (is_number_literal(v.label) or (isinstance(v, _Constant) and not v.label))
    }


# ---------------------------------------------------------------------------------------
# the names a model gives its nodes


_SCOPE_PART = re.compile(r"([A-Za-z])[A-Za-z_]*(\d*)")


def short_name(name: str) -> str:
    """A model name's short form: each scope part as its first letter and number,
    ``layer0.neuron1.w0`` → ``l0n1.w0``; a name without a scope is kept."""
    scope, dot, last = name.rpartition(".")
    if not dot:
        return name
    parts = []
    for part in scope.split("."):
        m = _SCOPE_PART.fullmatch(part)
        parts.append(m[1] + m[2] if m else part)
    return "".join(parts) + "." + last


def _product_role(label: str) -> str:
    """The product of the parameter ``label`` and its input: ``w0`` → ``w0x0``."""
    digits = label[len(label.rstrip("0123456789")) :]
    return f"{label}x{digits}"


def model_names(nodes: Sequence[Value]) -> dict[Value, str]:
    """The names a `gradstep.nn` module gives its nodes (see the module docstring), for
    every unlabelled op output and labelled leaf that carries a ``_scope``.

    Roles come from the graph's shape inside one scope: a product has a parameter of the
    scope as one operand and no op of the scope as the other; a sum adds onto an op of the
    scope; the last sum is ``z``; a one-operand op of ``z`` is the activation ``a``.
    """
    names: dict[Value, str] = {}
    role: dict[Value, str] = {}
    depth: dict[Value, int] = {}
    for v in nodes:  # children first, so a sum's inner sum is known before it
        scope = v._scope
        if not scope:
            continue
        if not v._prev:
            if v.label and not is_number_literal(v.label):
                names[v] = f"{scope}.{v.label}"
            continue
        inner = [c for c in v._prev if c._scope == scope and c._prev]
        params = [c for c in v._prev if c._scope == scope and not c._prev and c.label]
        if params and not inner:
            role[v] = "product"
            names[v] = f"{scope}.{_product_role(params[0].label)}"
        elif len(v._prev) == 1 and inner and role.get(inner[0]) == "sum":
            role[v] = "activation"
            role[inner[0]] = "z"
        elif inner:
            role[v] = "sum"
            sums = [c for c in inner if role.get(c) == "sum"]
            depth[v] = 1 + max((depth[c] for c in sums), default=0)
            for c in sums:
                role[c] = "partial"
    for v, kind in role.items():
        if v.label:
            continue
        if kind == "activation":
            names[v] = f"{v._scope}.a"
        elif kind in ("z", "sum"):  # a sum nothing in its scope adds onto: the last one
            names[v] = f"{v._scope}.z"
        elif kind == "partial":
            names[v] = f"{v._scope}.sum{depth[v]}"
    return names


def node_names(
    nodes: Sequence[Value], constant: set[Value] | None = None, *, short: bool = False
) -> dict[Value, str]:
    """Each node's name (see the module docstring); ``nodes`` in forward order.

    ``short``: model names in their short form (``l0n1.w0``), for drawings.
    """
    if constant is None:
        constant = constants(nodes)
    given = model_names(nodes)
    if short:
        given = {v: short_name(name) for v, name in given.items()}
    names: dict[Value, str] = {}
    for v in nodes:
        if v in constant:
            names[v] = v.label or _number_name(v.data)
    reserved = {given.get(v, v.label) for v in nodes if v.label or v in given}
    reserved |= set(names.values())
    used: set[str] = set()
    next_k: dict[str, int] = {}  # per name, the first k not yet tried: linear, not quadratic
    counter = 0
    for v in nodes:
        if v in constant:
            continue
        chosen = v in given or bool(v.label)
        if v in given:
            name = given[v]
        elif v.label:
            name = v.label
        elif not v._prev:
            name = _number_name(v.data)
        else:
            counter += 1
            while f"n{counter}" in reserved or f"n{counter}" in used:
                counter += 1
            name = f"n{counter}"
        if name in used or (name in reserved and not chosen):
            k = next_k.get(name, 2)
            while f"{name}#{k}" in used or f"{name}#{k}" in reserved:
                k += 1
            next_k[name] = k + 1
            name = f"{name}#{k}"
        used.add(name)
        names[v] = name
    return names


# ---------------------------------------------------------------------------------------
# expressions, from the op records


def op_constant(v: Value) -> float | None:
    """The constant of ``v``'s op (the n of ``x**n``, leaky_relu's slope), None if it has none."""
    return v._ctx if v._spec is not None and v._spec.param else None


def is_operator(v: Value) -> bool:
    """Whether ``v``'s op is written as a Python operator (``a * b``, ``-x``, ``x**2``)."""
    return v._spec is not None and bool(v._spec.operator)


def expression(v: Value, operands: Sequence[str]) -> str:
    """How a student writes ``v``'s op on these operand names, from its record (`gradstep.ops`):
    ``a * b``, ``-a``, ``a**2``, ``tanh(a)``; "" for a leaf."""
    if not operands:
        return ""
    spec = v._spec
    if spec is not None and len(spec.operands) == len(operands):
        return spec.expression(*operands, param=op_constant(v))
    return f"{v._op}({', '.join(operands)})"


def written(v: Value, names: Mapping[Value, str], keep: set[Value], depth: int = 3) -> str:
    """``v`` written out as an expression down to the nodes in ``keep`` (called by their
    names) and leaves, ``depth`` ops deep: ``(l1n0.a - 1)**2``; an operator's compound
    operand in parentheses."""

    def operand(c: Value, d: int) -> str:
        text = written(c, names, keep, d)
        compound = c not in keep and c._prev and d > 0 and is_operator(c)
        return f"({text})" if compound and is_operator(v) else text

    if v in keep or not v._prev or depth == 0:
        return names[v]
    return expression(v, [operand(c, depth - 1) for c in v._prev])
