"""The scalar autodiff engine: `Value` nodes, their ops, and the iterative backward walk.

Every op builds an output `Value` that remembers its children (`_prev`, a tuple) and a
*local-gradient rule* (`_local_grads`): one plain function shared by every node of that
op, which returns the local derivatives ∂out/∂child, one per child.  `backward()` is the
only place the chain rule is applied::

    child.grad += local * upstream        # ∂L/∂child += ∂out/∂child · ∂L/∂out

Sharing one rule per op (instead of a fresh closure per node) means an op allocates
only its node and its children tuple, and no node is part of a reference cycle: a graph
is freed by reference counting the moment the user drops it.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterable
from numbers import Real
from typing import TypeAlias

__all__ = ["Value", "Number", "BackwardStep", "topological_order"]

Number: TypeAlias = int | float
Operand: TypeAlias = "Value | int | float"
LocalGrads: TypeAlias = tuple[float, ...]
LocalGradRule: TypeAlias = Callable[["Value"], LocalGrads]
#: ``record(node, child, local, upstream, product, child_grad_after)``, once per edge.
BackwardStep: TypeAlias = Callable[["Value", "Value", float, float, float, float], None]


def _to_float(data: object) -> float:
    """Return ``data`` as a float, or raise `TypeError` naming what was given."""
    if isinstance(data, bool) or not isinstance(data, Real):
        raise TypeError(
            f"Value data must be a real number (int or float), got {type(data).__name__}: {data!r}"
        )
    try:
        return float(data)
    except OverflowError:
        shown = repr(data) if len(repr(data)) <= 40 else repr(data)[:37] + "..."
        raise OverflowError(f"Value data {shown} is too large for a float") from None


def _no_local_grads(out: Value) -> LocalGrads:
    """A leaf has no children, so no local gradients."""
    return ()


def _missing_local_grads(out: Value) -> LocalGrads:
    """A node made with ``Value(data, children, op)`` whose maker never gave its rule."""
    raise TypeError(
        f"the node {out!r} made by op {out._op!r} has children but no local-gradient rule: "
        "set `out._local_grads = rule`, where rule(out) returns ∂out/∂child for each child "
        "(gradstep's ops share one rule per op instead of micrograd's _backward closures)"
    )


class Value:
    """A scalar node of a computation graph: its ``data``, its ``grad`` = ∂root/∂self,
    its children ``_prev``, the op ``_op`` that made it and that op's local-gradient rule."""

    __slots__ = ("data", "grad", "label", "_prev", "_op", "_local_grads", "_ctx", "_scope")

    data: float
    grad: float
    label: str
    _prev: tuple[Value, ...]
    _op: str
    _local_grads: LocalGradRule
    #: an op's constant (the exponent of ``x**n``, the slope of leaky_relu); unset otherwise
    _ctx: float
    #: set by `gradstep.nn` on the nodes a `Neuron` builds (for drawings); unset otherwise
    _scope: str

    def __init__(
        self,
        data: Number,
        _children: tuple[Value, ...] = (),
        _op: str = "",
        label: str = "",
    ) -> None:
        self.data = data if type(data) is float else _to_float(data)
        self.grad = 0.0
        self.label = label
        self._prev = tuple(_children)
        self._op = _op
        self._local_grads = _missing_local_grads if self._prev else _no_local_grads

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    # ----------------------------------------------------------------------------------
    # binary ops: forward value and local derivatives side by side

    def __add__(self, other: Operand) -> Value:
        """a + b;  ∂/∂a = 1, ∂/∂b = 1."""
        other = other if type(other) is Value else _leaf(other)
        return _node(self.data + other.data, (self, other), "+", _add_local)

    def __sub__(self, other: Operand) -> Value:
        """a - b;  ∂/∂a = 1, ∂/∂b = -1."""
        other = other if type(other) is Value else _leaf(other)
        return _node(self.data - other.data, (self, other), "-", _sub_local)

    def __mul__(self, other: Operand) -> Value:
        """a · b;  ∂/∂a = b, ∂/∂b = a."""
        other = other if type(other) is Value else _leaf(other)
        return _node(self.data * other.data, (self, other), "*", _mul_local)

    def __truediv__(self, other: Operand) -> Value:
        """a / b;  ∂/∂a = 1/b, ∂/∂b = -a/b²."""
        other = other if type(other) is Value else _leaf(other)
        if other.data == 0.0:
            raise ZeroDivisionError(f"division by zero: {self.data!r} / {_describe(other)}")
        return _node(self.data / other.data, (self, other), "/", _div_local)

    def __pow__(self, other: Operand) -> Value:
        """x ** n for a number n: ∂/∂x = n·x^(n-1).  x ** y for a Value y: also ∂/∂y = x^y·ln x."""
        if isinstance(other, Value):  # a Value or a subclass of Value
            return _pow_value(self, other)
        n = _to_float(other)
        x = self.data
        if x < 0.0 and not n.is_integer():
            raise ValueError(
                f"fractional power of a negative base: {_describe(self)} ** {n!r} "
                "is not a real number"
            )
        if x == 0.0 and n < 0.0:
            raise ZeroDivisionError(f"zero raised to a negative power: {_describe(self)} ** {n!r}")
        try:
            data = x**n
        except OverflowError:
            raise OverflowError(f"{_describe(self)} ** {n!r} overflows a float") from None
        out = _node(data, (self,), f"**{n:g}", _pow_local)
        out._ctx = n
        return out

    def __radd__(self, other: Number) -> Value:  # other + self
        return _leaf(other) + self

    def __rsub__(self, other: Number) -> Value:  # other - self
        return _leaf(other) - self

    def __rmul__(self, other: Number) -> Value:  # other * self
        return _leaf(other) * self

    def __rtruediv__(self, other: Number) -> Value:  # other / self
        return _leaf(other) / self

    def __rpow__(self, other: Number) -> Value:  # other ** self
        return _pow_value(_leaf(other), self)

    def __neg__(self) -> Value:
        """-x;  ∂/∂x = -1."""
        return _node(-self.data, (self,), "neg", _neg_local)

    # ----------------------------------------------------------------------------------
    # unary functions

    def relu(self) -> Value:
        """max(0, x);  ∂/∂x = 1 if x > 0 else 0."""
        x = self.data
        return _node(0.0 if x <= 0.0 else x, (self,), "ReLU", _relu_local)  # NaN stays NaN

    def leaky_relu(self, slope: float = 0.01) -> Value:
        """x if x > 0 else slope·x;  ∂/∂x = 1 if x > 0 else slope."""
        slope = _to_float(slope)
        x = self.data
        out = _node(x if x > 0.0 else slope * x, (self,), "LeakyReLU", _leaky_relu_local)
        out._ctx = slope
        return out

    def tanh(self) -> Value:
        """tanh x;  ∂/∂x = 1 - tanh²x."""
        return _node(math.tanh(self.data), (self,), "tanh", _tanh_local)

    def sigmoid(self) -> Value:
        """σ(x) = 1 / (1 + e^-x);  ∂/∂x = σ(x)·(1 - σ(x))."""
        return _node(_stable_sigmoid(self.data), (self,), "sigmoid", _sigmoid_local)

    def exp(self) -> Value:
        """e^x;  ∂/∂x = e^x."""
        try:
            data = math.exp(self.data)
        except OverflowError:
            raise OverflowError(f"exp({_describe(self)}) overflows a float") from None
        return _node(data, (self,), "exp", _exp_local)

    def log(self) -> Value:
        """ln x for x > 0;  ∂/∂x = 1/x."""
        if self.data <= 0.0:  # NaN passes through as NaN, as in sqrt
            raise ValueError(f"log of a non-positive number: log({_describe(self)})")
        return _node(math.log(self.data), (self,), "log", _log_local)

    def sqrt(self) -> Value:
        """√x for x ≥ 0;  ∂/∂x = 1 / (2√x)."""
        if self.data < 0.0:
            raise ValueError(f"square root of a negative number: sqrt({_describe(self)})")
        return _node(math.sqrt(self.data), (self,), "sqrt", _sqrt_local)

    def abs(self) -> Value:
        """|x|;  ∂/∂x = sign(x) (0 at x = 0)."""
        return _node(abs(self.data), (self,), "abs", _abs_local)

    __abs__ = abs

    # ----------------------------------------------------------------------------------
    # gradients

    def local_grads(self) -> LocalGrads:
        """The local derivatives ∂self/∂child, one per child in ``_prev`` order."""
        return self._local_grads(self)

    def _backward(self) -> None:
        """One step of the chain rule at this node, as micrograd's ``_backward()``:
        ``child.grad += local · self.grad`` for each child."""
        upstream = self.grad
        for child, local in zip(self._prev, self._local_grads(self), strict=True):
            child.grad += local * upstream

    def backward(self, record: BackwardStep | None = None) -> None:
        """Compute ∂self/∂v into ``v.grad`` for every node ``v`` of this graph.

        Leaves (nodes with no children) accumulate across calls, like PyTorch leaves;
        every interior node is reset and holds the gradient of this pass only.  The walk
        is iterative (no recursion, any depth).  Each edge applies the chain rule
        ``child.grad += local * upstream``; ``record``, if given, is called once per edge,
        in visit order, with ``(node, child, local, upstream, product, child.grad)``.
        """
        gc_was_enabled = gc.isenabled()
        gc.disable()  # the walk allocates no cycles; keep the collector out of the hot loop
        try:
            order = _topological_order(self, zero_interior_grads=True)
            if self._prev:
                self.grad = 1.0
            else:
                self.grad += 1.0
            if record is None:
                _apply_chain_rule(order)
            else:
                _apply_chain_rule_recorded(order, record)
        finally:
            if gc_was_enabled:
                gc.enable()


# ---------------------------------------------------------------------------------------
# node construction


_new_object = object.__new__


class _Constant(Value):
    """A plain number the engine wrapped as a leaf (the 2 in ``2 * x``): the class is the
    marker that tells it from a user's ``Value(2.0)`` (for the walk-through and drawings)."""

    __slots__ = ()


def _leaf(x: object) -> Value:
    """Wrap a plain number as a constant leaf, refusing anything that is not a real number."""
    if isinstance(x, Value):  # a subclass of Value
        return x
    if type(x) is float:
        v = _new_object(_Constant)
        v.data = x
        v.grad = 0.0
        v.label = ""
        v._prev = ()
        v._op = ""
        v._local_grads = _no_local_grads
        return v
    return _Constant(_to_float(x))


def _node(data: float, children: tuple[Value, ...], op: str, rule: LocalGradRule) -> Value:
    """Make an op's output node (no input checks: the op has already done them)."""
    out = _new_object(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    out._prev = children
    out._op = op
    out._local_grads = rule
    return out


def _describe(v: Value) -> str:
    """Name an operand in an error message: its label if it has one, and its value."""
    return f"{v.label}={v.data!r}" if v.label else repr(v.data)


def _stable_sigmoid(x: float) -> float:
    """σ(x) without overflow: e^-x is only taken for x ≥ 0, e^x only for x < 0."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _pow_value(base: Value, exponent: Value) -> Value:
    """x ** y with both Values: ∂/∂x = y·x^(y-1), ∂/∂y = x^y·ln x (needs x > 0, or x = 0 < y)."""
    x, y = base.data, exponent.data
    if x < 0.0:
        raise ValueError(
            f"power with a Value exponent needs a non-negative base: {_describe(base)} ** "
            f"{_describe(exponent)} (the gradient with respect to the exponent needs ln(base))"
        )
    if x == 0.0 and y <= 0.0:
        raise ZeroDivisionError(
            f"zero raised to a non-positive power: {_describe(base)} ** {_describe(exponent)}"
        )
    try:
        data = x**y
    except OverflowError:
        raise OverflowError(
            f"{_describe(base)} ** {_describe(exponent)} overflows a float"
        ) from None
    return _node(data, (base, exponent), "**", _pow_value_local)


# ---------------------------------------------------------------------------------------
# local-gradient rules: one function per op, shared by all its nodes, ∂out/∂child per child


def _add_local(out: Value) -> LocalGrads:
    return (1.0, 1.0)


def _sub_local(out: Value) -> LocalGrads:
    return (1.0, -1.0)


def _mul_local(out: Value) -> LocalGrads:
    a, b = out._prev
    return (b.data, a.data)


def _div_local(out: Value) -> LocalGrads:
    b = out._prev[1]
    return (1.0 / b.data, -out.data / b.data)


def _neg_local(out: Value) -> LocalGrads:
    return (-1.0,)


def _pow_local(out: Value) -> LocalGrads:
    n = out._ctx
    x = out._prev[0].data
    if n == 0.0:
        return (0.0,)
    if x == 0.0 and n < 1.0:
        return (math.inf,)  # the slope of x^n at 0 for 0 < n < 1
    return (n * x ** (n - 1.0),)


def _pow_value_local(out: Value) -> LocalGrads:
    base, exponent = out._prev
    x, y = base.data, exponent.data
    if x == 0.0:
        return (y * x ** (y - 1.0) if y >= 1.0 else math.inf, 0.0)
    return (y * x ** (y - 1.0), out.data * math.log(x))


def _relu_local(out: Value) -> LocalGrads:
    return (1.0 if out.data > 0.0 else 0.0,)


def _leaky_relu_local(out: Value) -> LocalGrads:
    return (1.0 if out._prev[0].data > 0.0 else out._ctx,)


def _tanh_local(out: Value) -> LocalGrads:
    t = out.data
    return (1.0 - t * t,)


def _sigmoid_local(out: Value) -> LocalGrads:
    s = out.data
    return (s * (1.0 - s),)


def _exp_local(out: Value) -> LocalGrads:
    return (out.data,)


def _log_local(out: Value) -> LocalGrads:
    return (1.0 / out._prev[0].data,)


def _sqrt_local(out: Value) -> LocalGrads:
    r = out.data
    return (0.5 / r if r > 0.0 else math.inf,)


def _abs_local(out: Value) -> LocalGrads:
    x = out._prev[0].data
    return (1.0 if x > 0.0 else -1.0 if x < 0.0 else 0.0,)


# ---------------------------------------------------------------------------------------
# graph walks


def topological_order(root: Value) -> list[Value]:
    """The nodes of ``root``'s graph, root first, each before all of its children.

    Iterative depth-first search (any depth), reversed post-order.  Deterministic: it
    follows the order of ``_prev``, never ``id()`` or set order.
    """
    return _topological_order(root, zero_interior_grads=False)


def _topological_order(root: Value, zero_interior_grads: bool) -> list[Value]:
    """`topological_order`, optionally setting every interior node's grad to 0 on the way."""
    order: list[Value] = []
    visited: set[Value] = set()
    # The stack holds nodes to visit; a node followed by the _CHILDREN_DONE marker is popped
    # again once all its children are emitted (no tuple allocated per push).
    stack: list[object] = [root]
    pop, push, emit, visit = stack.pop, stack.append, order.append, visited.add
    while stack:
        node = pop()
        if node is _CHILDREN_DONE:
            emit(pop())  # type: ignore[arg-type]
        elif node not in visited:
            visit(node)  # type: ignore[arg-type]
            prev = node._prev  # type: ignore[attr-defined]
            if zero_interior_grads and prev:
                node.grad = 0.0  # type: ignore[attr-defined]
            push(node)
            push(_CHILDREN_DONE)
            for child in reversed(prev):
                if child not in visited:
                    push(child)
    order.reverse()
    return order


#: pushed after a node in `_topological_order`'s stack: "its children are done, emit it"
_CHILDREN_DONE = object()


def _apply_chain_rule(order: Iterable[Value]) -> None:
    """The chain rule along a topological order: child.grad += local · upstream.

    Unary and binary nodes (nearly all of them) are unpacked directly rather than zipped:
    the same arithmetic, about half the interpreter work on the hot path.
    """
    for node in order:
        prev = node._prev
        if prev:
            upstream = node.grad
            local = node._local_grads(node)
            if len(prev) == 2:
                a, b = prev
                a.grad += local[0] * upstream
                b.grad += local[1] * upstream
            elif len(prev) == 1:
                prev[0].grad += local[0] * upstream
            else:
                for child, local_i in zip(prev, local, strict=True):
                    child.grad += local_i * upstream


def _apply_chain_rule_recorded(order: Iterable[Value], record: BackwardStep) -> None:
    """`_apply_chain_rule`, reporting every edge's numbers to ``record`` as it goes."""
    for node in order:
        if node._prev:
            upstream = node.grad
            for child, local in zip(node._prev, node._local_grads(node), strict=True):
                product = local * upstream
                child.grad += product
                record(node, child, local, upstream, product, child.grad)
