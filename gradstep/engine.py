"""The scalar autodiff engine: `Value`, its ops, and ``backward()``.

A `Value` holds a number (``data``), the gradient ∂L/∂self that ``backward()`` fills in
(``grad``), its children (``_prev``) and the record of the op that made it (``_spec``, an
`OpSpec` from `gradstep.ops`: forward on floats, local derivatives, domain, display).  Each
op method computes its forward value and makes the node; the local derivatives stay in the
record, one shared by every node of that op, so no node is part of a reference cycle.

``backward()`` is three steps: the nodes in topological order (root first, each before its
children), the seed ``root.grad = 1``, and the chain rule along that order::

    child.grad += local * upstream        # ∂L/∂child += ∂node/∂child · ∂L/∂node

How it does that quickly, and safely on an error, is in `gradstep._backward_fast`;
micrograd's per-node rules (``out._local_grads = rule``) in `gradstep.node_rules`.  As in
PyTorch, a result too large for a float is ±inf; outside its domain an op raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

from gradstep._backward_fast import BackwardPass, chain_rule_fast, post_order
from gradstep.functional import Ieee
from gradstep.functional import data as data_of
from gradstep.grad_mode import grad_enabled_now, poles_give_inf
from gradstep.node_rules import NodeRule
from gradstep.ops import (
    ABS,
    ADD,
    DIV,
    EXP,
    LEAKY_RELU,
    LOG,
    MUL,
    NEG,
    POW,
    POW_VALUE,
    RELU,
    SIGMOID,
    SQRT,
    SUB,
    TANH,
    OpSpec,
    to_float,
)

__all__ = [
    "Value",
    "Constant",
    "Number",
    "BackwardStep",
    "topological_order",
    "chain_rule",
    "apply",
]

Number: TypeAlias = int | float
Operand: TypeAlias = "Value | int | float"
#: ``record(node, child, index, local, upstream, product, child_grad_after)``, once per edge;
#: ``index`` is the child's position in ``node._prev``.
BackwardStep: TypeAlias = Callable[["Value", "Value", int, float, float, float, float], None]


class Value:
    """A scalar node of a computation graph: its ``data``, its ``grad`` = ∂root/∂self,
    its children ``_prev``, the op ``_op`` that made it and that op's record ``_spec``."""

    __slots__ = ("data", "grad", "label", "_a", "_b", "_spec", "_constant", "_scope")

    data: float
    grad: float
    label: str
    #: the children, in two slots so that a node is one object for the garbage collector:
    #: the first (None for a leaf), and the second or a tuple of the rest (``_prev``: all)
    _a: Value | None
    _b: Value | tuple[Value, ...] | None
    #: the record of the op that made this node (None for a leaf)
    _spec: OpSpec | None
    #: the op's constant (the exponent of ``x**n``, the slope of leaky_relu), else None
    _constant: float | None
    #: set by `gradstep.nn` on the nodes a `Neuron` builds (for drawings); "" otherwise
    _scope: str

    def __init__(
        self,
        data: Number,
        _children: tuple[Value, ...] = (),
        _op: str = "",
        label: str = "",
    ) -> None:
        self.data = data if type(data) is float else to_float(data)
        self.grad = 0.0
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__}: {label!r}")
        if not isinstance(_op, str):
            raise TypeError(f"Value _op must be a str, got {type(_op).__name__}: {_op!r}")
        self.label = label
        children = tuple(_children)
        for i, child in enumerate(children):
            if not isinstance(child, Value):
                raise TypeError(
                    f"Value children must be Values, got {type(child).__name__} "
                    f"{child!r} as child {i}"
                )
        self._a, self._b = _slots_of(children)
        # micrograd's way to make an op's node: its rule comes later (`gradstep.node_rules`)
        self._spec = NodeRule.missing(_op, len(children)) if children else None
        self._constant = None
        self._scope = ""

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    @property
    def _prev(self) -> tuple[Value, ...]:
        """The children, in operand order (a read-only tuple, as micrograd's ``_prev``)."""
        a, b = self._a, self._b
        if a is None:
            return ()
        if b is None:
            return (a,)
        return (a, *b) if isinstance(b, tuple) else (a, b)

    @property
    def _op(self) -> str:
        """The op that made this node, as drawings show it ("*", "tanh", "**2"); "" for a leaf."""
        return "" if self._spec is None else self._spec.op_text(self._constant)

    # ----------------------------------------------------------------------------------
    # binary ops: forward value here, local derivatives in the op's record (gradstep.ops)

    def __add__(self, other: Operand) -> Value:
        """a + b;  ∂/∂a = 1, ∂/∂b = 1  (`ADD`)."""
        other = other if type(other) is Value else _leaf(other)
        return _node(self.data + other.data, self, other, ADD)

    def __sub__(self, other: Operand) -> Value:
        """a - b;  ∂/∂a = 1, ∂/∂b = -1  (`SUB`)."""
        other = other if type(other) is Value else _leaf(other)
        return _node(self.data - other.data, self, other, SUB)

    def __mul__(self, other: Operand) -> Value:
        """a · b;  ∂/∂a = b, ∂/∂b = a  (`MUL`)."""
        other = other if type(other) is Value else _leaf(other)
        return _node(self.data * other.data, self, other, MUL)

    def __truediv__(self, other: Operand) -> Value:
        """a / b;  ∂/∂a = 1/b, ∂/∂b = -a/b²  (`DIV`; b = 0 raises ZeroDivisionError)."""
        return _apply(DIV, (self, other if type(other) is Value else _leaf(other)))

    def __pow__(self, other: Operand) -> Value:
        """x ** n for a number n: ∂/∂x = n·x^(n-1) (`POW`).
        x ** y for a Value y: also ∂/∂y = x^y·ln x (`POW_VALUE`)."""
        if isinstance(other, Value):  # a Value or a subclass of Value
            return _apply(POW_VALUE, (self, other))
        return _apply(POW, (self,), to_float(other))

    def __radd__(self, other: Number) -> Value:  # other + self
        return _leaf(other) + self

    def __rsub__(self, other: Number) -> Value:  # other - self
        return _leaf(other) - self

    def __rmul__(self, other: Number) -> Value:  # other * self
        return _leaf(other) * self

    def __rtruediv__(self, other: Number) -> Value:  # other / self
        return _leaf(other) / self

    def __rpow__(self, other: Number) -> Value:  # other ** self
        return _apply(POW_VALUE, (_leaf(other), self))

    def __neg__(self) -> Value:
        """-x;  ∂/∂x = -1  (`NEG`)."""
        return _node(-self.data, self, None, NEG)

    # ----------------------------------------------------------------------------------
    # unary functions

    def relu(self) -> Value:
        """max(0, x);  ∂/∂x = 1 if x > 0 else 0  (`RELU`)."""
        return _apply(RELU, (self,))

    def leaky_relu(self, slope: float = 0.01) -> Value:
        """x if x > 0 else slope·x;  ∂/∂x = 1 if x > 0 else slope  (`LEAKY_RELU`)."""
        return _apply(LEAKY_RELU, (self,), to_float(slope))

    def tanh(self) -> Value:
        """tanh x;  ∂/∂x = 1 - tanh²x  (`TANH`)."""
        return _apply(TANH, (self,))

    def sigmoid(self) -> Value:
        """σ(x) = 1 / (1 + e^-x);  ∂/∂x = σ(x)·(1 - σ(x))  (`SIGMOID`)."""
        return _apply(SIGMOID, (self,))

    def exp(self) -> Value:
        """e^x;  ∂/∂x = e^x  (`EXP`; inf where it overflows)."""
        return _apply(EXP, (self,))

    def log(self) -> Value:
        """ln x for x > 0;  ∂/∂x = 1/x  (`LOG`)."""
        return _apply(LOG, (self,))

    def sqrt(self) -> Value:
        """√x for x ≥ 0;  ∂/∂x = 1 / (2√x)  (`SQRT`)."""
        return _apply(SQRT, (self,))

    def abs(self) -> Value:
        """|x|;  ∂/∂x = sign(x) (0 at x = 0)  (`ABS`)."""
        return _apply(ABS, (self,))

    __abs__ = abs

    def detach(self) -> Value:
        """A new leaf with this node's data and label: gradients stop there (torch's detach)."""
        return Value(self.data, label=self.label)

    # ----------------------------------------------------------------------------------
    # gradients

    def local_grads(self) -> tuple[float, ...]:
        """The local derivatives ∂self/∂child as floats, one per child in ``_prev`` order."""
        return () if self._spec is None else self._spec.local_floats_of(self)

    def backward(self, record: BackwardStep | None = None) -> None:
        """Compute ∂self/∂v into ``v.grad`` for every node ``v`` of this graph.

        Leaves accumulate across calls, as PyTorch's do (this pass's products are summed
        first, then added to what the leaf held); every other node holds this pass's
        gradient.  ``record``, if given, is called once per edge, in visit order, with
        ``(node, child, index, local, upstream, product, child.grad)``.  If anything raises
        (a user's rule, ``record``, Ctrl-C), every grad is put back as it was.  Graphs that
        share no node may run ``backward()`` in several threads at once.
        """
        walk = BackwardPass(self)
        with walk as order:  # topological order, root first, every grad set to 0
            self.grad = 1.0  # seed: ∂L/∂L = 1
            chain_rule(order, None if record is None else walk.told_earlier_passes(record))

    # micrograd's per-node rules (`gradstep.node_rules`)

    @property
    def _local_grads(self) -> Callable[[Value], tuple[float, ...]]:  # the rule, of a node
        return Value.local_grads

    @_local_grads.setter
    def _local_grads(self, rule: Callable[[Value], Any]) -> None:
        """Give this node its own rule ``rule(node) -> ∂node/∂child per child``, micrograd's
        way (`gradstep.define_op` makes an op that works everywhere)."""
        if not callable(rule):
            raise TypeError(f"_local_grads must be a function of the node, got {rule!r}")
        self._spec = NodeRule.of(self._op, len(self._prev), rule, self._spec)

    def _backward(self) -> None:
        """micrograd's ``_backward()``: at this node, ``child.grad += local · self.grad``."""
        chain_rule((self,))


class Constant(Value):
    """A plain number the engine wrapped as a leaf (the 2 in ``2 * x``): the class is the
    marker that tells it from a user's ``Value(2.0)`` (for the walk-through and drawings)."""

    __slots__ = ()


# ---------------------------------------------------------------------------------------
# the chain rule and the walk


def chain_rule(
    order: Iterable[Value], record: BackwardStep | None = None, create_graph: bool = False
) -> None:
    """The chain rule along a topological order (root first): child.grad += local · upstream.

    Without ``record``, `chain_rule_fast` does the same arithmetic with less interpreter work;
    with ``create_graph`` the rules run on `Value`s, so the gradients are differentiable
    again.  `gradstep.anomaly.detect_anomaly` swaps in a version that checks every edge."""
    if record is None and not create_graph:
        chain_rule_fast(order, _chain_rule_at)
        return
    for node in order:
        _chain_rule_at(node, record, create_graph)


def _chain_rule_at(
    node: Value, record: BackwardStep | None = None, create_graph: bool = False
) -> None:
    """At one node: each child's grad += ∂node/∂child · ∂L/∂node."""
    spec = node._spec
    if spec is None:  # a leaf
        return
    upstream = node.grad
    local = spec.local_values_of(node) if create_graph else spec.local_floats_of(node)
    for index, (child, local_i) in enumerate(zip(node._prev, local, strict=True)):
        product = _product(local_i, upstream)
        child.grad += product
        if record is not None:
            record(node, child, index, local_i, upstream, product, child.grad)


def _product(local: Any, upstream: Any) -> Any:
    """local · upstream, but 0 where local is 0 even against an upstream of ±inf or nan: a node
    that does not depend on a child passes nothing down (as PyTorch's relu and ``x**0``)."""
    product = local * upstream
    p = data_of(product)
    if p != p and data_of(local) == 0.0:
        return 0.0
    return product


def topological_order(root: Value) -> list[Value]:
    """The nodes of ``root``'s graph, root first, each before all of its children: reversed
    post-order of an iterative depth-first search (any depth) that follows ``_prev`` order."""
    order: list[Value] = post_order(root)
    order.reverse()
    return order


# ---------------------------------------------------------------------------------------
# making nodes


_new_object = object.__new__


def _leaf(x: object) -> Value:
    """Wrap a plain number as a constant leaf, refusing anything that is not a real number."""
    if isinstance(x, Value):  # a subclass of Value
        return x
    v = _node(x if type(x) is float else to_float(x), None, None, None)
    v.__class__ = Constant  # the marker (same layout: no field is added)
    return v


def _node(
    data: float,
    a: Value | None,
    b: Value | tuple[Value, ...] | None,
    spec: OpSpec | None,
    constant: float | None = None,
) -> Value:
    """Make a node: an op's output from its children ``a``, ``b`` (`_slots_of`) and its
    record, or a leaf (all None); under `gradstep.no_grad` always a leaf.  Called through
    the module global: `gradstep.anomaly.detect_anomaly` swaps in a checked version."""
    out = _new_object(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    if spec is None or grad_enabled_now():
        out._a = a
        out._b = b
        out._spec = spec
        out._constant = constant
    else:
        out._a = out._b = None
        out._spec = None
        out._constant = None
    out._scope = ""
    return out


def _slots_of(
    children: tuple[Value, ...],
) -> tuple[Value | None, Value | tuple[Value, ...] | None]:
    """The children as the slots ``_a``, ``_b``: (None, None), (a, None), (a, b), (a, (b, c…))."""
    if len(children) <= 2:
        return (*children, None, None)[:2]  # type: ignore[return-value]
    return children[0], children[1:]


def _apply(spec: OpSpec, operands: tuple[Value, ...], constant: float | None = None) -> Value:
    """The op on these operands: its domain checked, its forward value, its node."""
    xs = [v.data for v in operands]
    if constant is not None:
        xs.append(constant)
    if spec.check is not None and (refusal := spec.check(*xs)) is not None:
        if refusal[0] is ZeroDivisionError and poles_give_inf.get():  # 1/(2√0) in a rule: ±inf
            return _node(float(spec.forward(*map(Ieee, xs))), *_slots_of(operands), spec, constant)
        raise spec.refused(refusal, operands, constant)
    data = spec.forward(*xs)
    if not spec.builtin:
        data = spec.forward_result(operands, data)
    a, b = _slots_of(operands)
    return _node(data, a, b, spec, constant)


def apply(spec: OpSpec, *operands: Operand, constant: float | None = None) -> Value:
    """Apply the op ``spec`` to `Value`s or numbers (numbers become constant leaves)."""
    if len(operands) != spec.arity:
        raise TypeError(f"{spec.name} takes {spec.arity} operand(s), got {len(operands)}")
    if spec.constant_name and constant is None:
        if spec.default is None:
            raise TypeError(f"{spec.name} needs its constant {spec.constant_name}")
        constant = spec.default
    values = tuple(v if isinstance(v, Value) else _leaf(v) for v in operands)
    return _apply(spec, values, None if constant is None else to_float(constant))
