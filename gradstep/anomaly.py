"""Anomaly mode: stop at the first value or gradient that is not finite, and say where.

::

    with gradstep.detect_anomaly():
        loss = x**-1 + z * 2  # every op checks its result
        loss.backward()  # every edge checks local × upstream and the sum it makes
    # AnomalyError: backward: at n1 = x**-1 (op **-1), local ∂n1/∂x = -1·x^(-1 − 1) = -inf
    #   × upstream ∂L/∂n1 = 1.0 gives -inf; inputs: x = 1e-200

Outside the block the engine's numbers follow IEEE 754, as PyTorch's do: a result too
large is ±inf, 0·inf is nan (except that a local derivative of 0 passes 0 down the chain
rule whatever the upstream gradient), and nothing stops.  Inside, the first op whose result is
inf or nan, or the first backward edge whose product local ∂node/∂child × upstream
∂L/∂node (or whose sum into ∂L/∂child) is, raises `AnomalyError` naming the op, the node
(its label, or its name in the walk-through: n1, n2, …), its inputs with their values, and
the expression that built it.  A failed backward leaves every grad as it was.

Off, it costs nothing: every op and every backward pass reach the engine's ``_node`` and
``_apply_chain_rule`` through the module's globals, and `detect_anomaly` swaps in checked
versions of those two for the block.  The mode is process-wide (all threads), and blocks
nest.  Compiled replay (`gradstep.compile`) runs no ops and is not checked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from gradstep import engine
from gradstep.engine import BackwardStep, Value
from gradstep.ops import OpSpec

__all__ = ["detect_anomaly", "AnomalyError", "is_anomaly_enabled"]

_plain_node = engine._node
_plain_chain_rule = engine._apply_chain_rule
_depth = 0
_DEPTH_SHOWN = 3  # how deep an unnamed operand's expression is written out


class AnomalyError(FloatingPointError):
    """A value or gradient that is not finite, found in anomaly mode.

    ``stage`` is "forward" (an op's result) or "backward" (an edge of the chain rule);
    ``op`` the op's name as drawings show it; ``node`` the op's output (None in forward: it
    was never made); ``inputs`` its operands; ``value`` the non-finite number; in backward
    also ``child`` (the operand the gradient flows into), ``local`` ∂node/∂child and
    ``upstream`` ∂L/∂node; ``names`` the walk-through's name of each node (backward).
    """

    def __init__(
        self,
        message: str,
        *,
        stage: Literal["forward", "backward"],
        op: str,
        inputs: tuple[Value, ...],
        value: float,
        node: Value | None = None,
        child: Value | None = None,
        local: float | None = None,
        upstream: float | None = None,
        names: dict[Value, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.stage = stage
        self.op = op
        self.inputs = inputs
        self.value = value
        self.node = node
        self.child = child
        self.local = local
        self.upstream = upstream
        self.names = names if names is not None else {}


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Inside the block, raise `AnomalyError` at the first non-finite value or gradient."""
    global _depth
    if _depth == 0:
        engine._node = _checked_node
        engine._apply_chain_rule = _checked_chain_rule
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            engine._node = _plain_node
            engine._apply_chain_rule = _plain_chain_rule


def is_anomaly_enabled() -> bool:
    """Whether a `detect_anomaly` block is running."""
    return _depth > 0


# ---------------------------------------------------------------------------------------
# the checked versions


def _checked_node(
    data: float,
    a: Value | None,
    b: Value | tuple[Value, ...] | None,
    spec: OpSpec | None,
    ctx: float | None = None,
) -> Value:
    """The engine's ``_node``, refusing an op's result that is inf or nan (a leaf may be)."""
    if spec is not None and not math.isfinite(data):
        raise _forward_error(data, _children(a, b), spec, ctx)
    return _plain_node(data, a, b, spec, ctx)


def _children(a: Value | None, b: Value | tuple[Value, ...] | None) -> tuple[Value, ...]:
    """The operands from the engine's two child slots (``b`` a tuple for three or more)."""
    if a is None:
        return ()
    if b is None:
        return (a,)
    return (a, *b) if isinstance(b, tuple) else (a, b)


def _checked_chain_rule(
    order: Iterable[Value], record: BackwardStep | None = None, create_graph: bool = False
) -> None:
    """The engine's chain rule, checking every product it adds and every sum it makes."""
    order = list(order)

    def check(
        node: Value, child: Value, k: int, local: Any, up: Any, product: Any, after: Any
    ) -> None:
        if not (_finite(product) and _finite(after)):
            raise _backward_error(order, node, k, local, up, product, after)
        if record is not None:
            record(node, child, k, local, up, product, after)

    _plain_chain_rule(order, check, create_graph)


def _finite(x: Any) -> bool:
    """Whether a float (or a `Value`'s data, for gradients of gradients) is finite."""
    return math.isfinite(x.data if isinstance(x, Value) else x)


def _number(x: Any) -> float:
    return float(x.data if isinstance(x, Value) else x)


# ---------------------------------------------------------------------------------------
# the messages


def _op_text(spec: OpSpec, ctx: float | None) -> str:
    """The op as drawings show it: "*", "tanh", "**-1"."""
    return spec.op_text(ctx) if spec.param else spec.symbol


def _forward_error(
    data: float, children: tuple[Value, ...], spec: OpSpec, ctx: float | None
) -> AnomalyError:
    """forward: tanh(w * x + b) = nan is not finite (op tanh; inputs: w * x + b = …)."""
    op = _op_text(spec, ctx)
    expression = _written_op(spec, ctx, children, _DEPTH_SHOWN)
    inputs = ", ".join(
        repr(c.data)
        if not c._prev and not c.label
        else f"{_written(c, _DEPTH_SHOWN - 1)} = {c.data!r}"
        for c in children
    )
    message = f"forward: {expression} = {data!r} is not finite (op {op}; inputs: {inputs})"
    return AnomalyError(message, stage="forward", op=op, inputs=children, value=data)


def _written(v: Value, depth: int) -> str:
    """An operand as an expression: its label (a model's parameter with its scope,
    ``layer0.neuron1.w0``), its number, or its op applied to its own operands
    (``w * x + b``), written out ``depth`` ops deep."""
    if v.label:
        return f"{v._scope}.{v.label}" if v._scope and not v._prev else v.label
    if not v._prev:
        return repr(v.data)
    if depth == 0:
        return "…"
    return _written_op(v._spec, v._ctx, v._prev, depth)


def _written_op(
    spec: OpSpec | None, ctx: float | None, operands: Sequence[Value], depth: int
) -> str:
    """The op applied to the operands written out, as its record writes it (``w * x``,
    ``tanh(n1)``); an operator's operand made by a binary operator or negation in ( )."""
    infix = spec is not None and bool(spec.operator)
    parts = []
    for c in operands:
        text = _written(c, depth - 1)
        inner = c._spec
        compound = bool(
            not c.label and c._prev and inner is not None and inner.operator and not inner.param
        )
        parts.append(f"({text})" if infix and compound else text)
    if spec is not None and len(spec.operands) == len(parts):
        return spec.expression(*parts, param=ctx if spec.param else None)
    op = _op_text(spec, ctx) if spec is not None else "?"
    return f"{op}({', '.join(parts)})"


def _backward_error(
    order: Sequence[Value],
    node: Value,
    k: int,
    local: Any,
    upstream: Any,
    product: Any,
    after: Any,
) -> AnomalyError:
    """backward: at n1 = x**-1 (op **-1), local ∂n1/∂x = … × upstream … gives …; inputs: …"""
    from gradstep.viz.naming import expression, forward_order, node_names
    from gradstep.viz.records import local_formula

    nodes = forward_order(order[0]) if order else [node]
    if node not in set(nodes):  # the walk was given a partial order: name from the node
        nodes = forward_order(node)
    names = node_names(nodes)
    child = node._prev[k]
    n, c = names[node], names[child]
    formula = local_formula(node, k, names).partition(" = ")[2]
    local_text = f"{formula} = {_number(local)!r}" if formula else repr(_number(local))
    written = expression(node, [names[x] for x in node._prev])
    inputs = ", ".join(f"{names[x]} = {x.data!r}" for x in node._prev)
    value, what = (_number(product), "gives") if not _finite(product) else (_number(after), "")
    result = (
        f"gives {value!r}" if what else f"is finite, but ∂L/∂{c} becomes {value!r} when it is added"
    )
    message = (
        f"backward: at {n} = {written} (op {node._op}), local ∂{n}/∂{c} = {local_text} "
        f"× upstream ∂L/∂{n} = {_number(upstream)!r} {result}; inputs: {inputs}"
    )
    return AnomalyError(
        message,
        stage="backward",
        op=node._op,
        inputs=node._prev,
        value=value,
        node=node,
        child=child,
        local=_number(local),
        upstream=_number(upstream),
        names=names,
    )
