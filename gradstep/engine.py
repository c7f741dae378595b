"""The scalar autodiff engine: `Value` nodes, their ops, and the iterative backward walk.

Every op builds an output `Value` that remembers its children (``_prev``, kept in the slots
``_a`` and ``_b``: one object per node for the garbage collector) and its op's
record (``_spec``, an `OpSpec` from `gradstep.ops`: forward on floats, local derivatives,
domain, display), one record shared by every node of that op.  `backward()` applies the
chain rule in one place, `_apply_chain_rule`::

    child.grad += local * upstream        # ∂L/∂child += ∂out/∂child · ∂L/∂out

Sharing one record per op (instead of a fresh closure per node) means an op allocates only
its node, and no node is part of a reference cycle: a graph is freed by reference counting
the moment the user drops it.

Numbers at the edges follow PyTorch: a result too large for a float is ±inf (``exp(1000)``,
``2 ** 1e6``, a derivative that overflows), never an `OverflowError`; outside an op's
domain (log of a non-positive number, division by zero, a fractional power of a negative
number) the op raises, naming its operand.
"""

from __future__ import annotations

import gc
import inspect
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from numbers import Real
from typing import Any, TypeAlias

from gradstep.functional import Ieee
from gradstep.functional import data as data_of
from gradstep.grad_mode import GradMode, grad_enabled_now
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
)

__all__ = ["Value", "Number", "BackwardStep", "topological_order", "apply", "grad", "define_op"]

Number: TypeAlias = int | float
Operand: TypeAlias = "Value | int | float"
LocalGrads: TypeAlias = tuple[float, ...]
LocalGradRule: TypeAlias = Callable[["Value"], LocalGrads]
#: ``record(node, child, index, local, upstream, product, child_grad_after)``, once per edge;
#: ``index`` is the child's position in ``node._prev``.
BackwardStep: TypeAlias = Callable[["Value", "Value", int, float, float, float, float], None]


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


class Value:
    """A scalar node of a computation graph: its ``data``, its ``grad`` = ∂root/∂self,
    its children ``_prev``, the op ``_op`` that made it and that op's record ``_spec``."""

    __slots__ = ("data", "grad", "label", "_a", "_b", "_spec", "_ctx", "_scope")

    data: float
    grad: float
    label: str
    #: the first child (None for a leaf); the children are in slots, not a tuple, so that a
    #: node is one object for the garbage collector (``_prev`` gives them as a tuple)
    _a: Value | None
    #: the second child, None for fewer; for three or more children, a tuple of the rest
    _b: Value | tuple[Value, ...] | None
    #: the record of the op that made this node (None for a leaf)
    _spec: OpSpec | None
    #: the op's constant (the exponent of ``x**n``, the slope of leaky_relu), else None
    _ctx: float | None
    #: set by `gradstep.nn` on the nodes a `Neuron` builds (for drawings); "" otherwise
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
        # micrograd's way to make an op's node: its rule comes later, as ``_local_grads``
        self._spec = _NodeRule.missing(_op, len(children)) if children else None
        self._ctx = None
        self._scope = ""

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    @property
    def _prev(self) -> tuple[Value, ...]:
        """The children, in operand order (a read-only tuple, as micrograd's ``_prev``)."""
        a = self._a
        if a is None:
            return ()
        b = self._b
        if b is None:
            return (a,)
        return (a, *b) if isinstance(b, tuple) else (a, b)

    @property
    def _op(self) -> str:
        """The op that made this node, as drawings show it ("*", "tanh", "**2"); "" for a leaf."""
        spec = self._spec
        if spec is None:
            return ""
        return spec.op_text(self._ctx) if spec.param else spec.symbol

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        """Jupyter draws the graph (SVG).  `gradstep.viz.drawing` is imported here, when a notebook
        asks, so that the engine never imports a room that reads it at module import."""
        from gradstep.viz.drawing import notebook_bundle

        return notebook_bundle(self)

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
        return _apply(POW, (self,), _to_float(other))

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
        return _apply(LEAKY_RELU, (self,), _to_float(slope))

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

    def local_grads(self) -> LocalGrads:
        """The local derivatives ∂self/∂child as floats, one per child in ``_prev`` order."""
        return () if self._spec is None else _float_locals(self._spec, self)

    @property
    def _local_grads(self) -> LocalGradRule:
        """The node's local-derivative rule as a function of the node (old interface)."""
        return Value.local_grads

    @_local_grads.setter
    def _local_grads(self, rule: LocalGradRule) -> None:
        """Give this node its own rule ``rule(node) -> ∂node/∂child per child`` (the old,
        per-node way; `gradstep.define_op` makes an op that works everywhere)."""
        if not callable(rule):
            raise TypeError(f"_local_grads must be a function of the node, got {rule!r}")
        self._spec = _NodeRule.of(self._op, len(self._prev), rule, self._spec)

    def _backward(self) -> None:
        """One step of the chain rule at this node, as micrograd's ``_backward()``:
        ``child.grad += local · self.grad`` for each child."""
        _apply_chain_rule((self,))

    def backward(self, record: BackwardStep | None = None) -> None:
        """Compute ∂self/∂v into ``v.grad`` for every node ``v`` of this graph.

        Leaves (nodes with no children) accumulate across calls, like PyTorch leaves: a
        leaf's products of this pass are summed first, then added to what it held (so
        ``x*2.1 + x*1.5 + x*-0.5`` gives 3.1 and then 6.2, as in PyTorch).  Every interior
        node holds the gradient of this pass only.  The walk is iterative (no recursion, any
        depth).  Each edge applies the chain rule ``child.grad += local * upstream``;
        ``record``, if given, is called once per edge, in visit order, with
        ``(node, child, index, local, upstream, product, child.grad)`` (for a leaf: what it
        held before plus this pass so far).  If anything raises during the walk (a user's rule,
        ``record``, Ctrl-C), every grad is put back as it was before the call.

        Threads: graphs that share no node may run ``backward()`` in several threads at once.
        One graph (or two that share nodes) must not be walked by two threads at the same
        time: the ``grad`` fields are shared, and the sums would mix.
        """
        with _CollectorPaused():  # the walk allocates no cycles
            zeroed = _Zeroed()
            try:
                _post_order(self, zeroed)
                self.grad = 1.0
                if record is not None:
                    record = _leaves_with_earlier_passes(record, zeroed)
                _apply_chain_rule(reversed(zeroed.nodes), record)
                for v, before in zeroed.leaves_before():
                    v.grad = before + v.grad
            except BaseException:
                zeroed.restore()
                raise


def _leaves_with_earlier_passes(record: BackwardStep, zeroed: _Zeroed) -> BackwardStep:
    """``record``, told a leaf's gradient as it will read: earlier passes + this pass so far."""
    earlier = dict(zeroed.leaves_before())
    if not earlier:
        return record

    def report(
        node: Value, child: Value, k: int, local: float, up: float, prod: float, after: float
    ) -> None:
        record(node, child, k, local, up, prod, earlier.get(child, 0.0) + after)

    return report


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
    v = _node(x if type(x) is float else _to_float(x), None, None, None)
    v.__class__ = _Constant  # the marker (same layout: no field is added)
    return v


def _node(
    data: float,
    a: Value | None,
    b: Value | tuple[Value, ...] | None,
    spec: OpSpec | None,
    ctx: float | None = None,
) -> Value:
    """Make a node: an op's output from its children ``a`` and ``b`` (`_slots_of`) and its
    record, or a leaf (all None).  No input checks: the op has already done them.

    Under `gradstep.no_grad` an op's output is a plain leaf instead, keeping no children.
    Called through the module global: `gradstep.anomaly.detect_anomaly` swaps in a version
    that checks ``data`` is finite."""
    out = _new_object(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    if spec is None or grad_enabled_now():
        out._a = a
        out._b = b
        out._spec = spec
        out._ctx = ctx
    else:
        out._a = out._b = None
        out._spec = None
        out._ctx = None
    out._scope = ""
    return out


def _slots_of(
    children: tuple[Value, ...],
) -> tuple[Value | None, Value | tuple[Value, ...] | None]:
    """The children as the slots ``_a``, ``_b``: (None, None), (a, None), (a, b), (a, (b, c…))."""
    if len(children) <= 2:
        return (*children, None, None)[:2]  # type: ignore[return-value]
    return children[0], children[1:]


def _describe(v: Value) -> str:
    """Name an operand in an error message: its label if it has one, and its value."""
    return f"{v.label}={v.data!r}" if v.label else repr(v.data)


def _apply(spec: OpSpec, operands: tuple[Value, ...], param: float | None = None) -> Value:
    """The op on these operands: its domain checked, its forward value, its node."""
    xs = [v.data for v in operands]
    if param is not None:
        xs.append(param)
    if spec.check is not None:
        refusal = spec.check(*xs)
        if refusal is not None:
            error, message = refusal
            if error is ZeroDivisionError and _poles_give_inf.get():
                # a derivative's pole (1/(2√0)) inside a rule run on Values: IEEE's ±inf
                return _node(float(spec.forward(*map(Ieee, xs))), *_slots_of(operands), spec, param)
            names = [_describe(v) for v in operands]
            raise error(message.format(*names, **({spec.param: param} if spec.param else {})))
    data = spec.forward(*xs)
    if not spec.builtin:
        data = _forward_result(spec, operands, data)
    a, b = _slots_of(operands)
    return _node(data, a, b, spec, param)


def apply(spec: OpSpec, *operands: Operand, param: float | None = None) -> Value:
    """Apply the op ``spec`` to `Value`s or numbers (numbers become constant leaves)."""
    if len(operands) != spec.arity:
        raise TypeError(f"{spec.name} takes {spec.arity} operand(s), got {len(operands)}")
    if spec.param and param is None:
        if spec.default is None:
            raise TypeError(f"{spec.name} needs its constant {spec.param}")
        param = spec.default
    values = tuple(v if isinstance(v, Value) else _leaf(v) for v in operands)
    return _apply(spec, values, None if param is None else _to_float(param))


def _forward_result(spec: OpSpec, operands: tuple[Value, ...], data: object) -> float:
    """A user's forward result as a float, or a TypeError naming the op."""
    if isinstance(data, bool) or not isinstance(data, Real):
        shown = ", ".join(_describe(v) for v in operands)
        raise TypeError(
            f"op {spec.name!r}: forward({shown}) must return a real number, "
            f"got {type(data).__name__}: {data!r}"
        )
    return float(data)


# ---------------------------------------------------------------------------------------
# local derivatives


def _call_local(spec: OpSpec, xs: Sequence[Any], out: Any, ctx: float | None) -> Any:
    """``spec.local(*xs, out[, ctx])``: the rule on floats or on `Value`s alike."""
    return spec.local(*xs, out) if ctx is None else spec.local(*xs, out, ctx)


def _float_locals(spec: OpSpec, node: Value) -> LocalGrads:
    """The rule of ``node``'s op on its children's data: one float per child."""
    if isinstance(spec, _NodeRule):
        return _as_floats(spec, spec.rule(node), len(node._prev))  # type: ignore[misc]
    return local_floats(spec, [c.data for c in node._prev], node.data, node._ctx)


def local_floats(spec: OpSpec, xs: Sequence[float], out: float, ctx: float | None) -> LocalGrads:
    """``spec``'s local derivatives at operands ``xs`` with output ``out``, as floats.

    Where plain float arithmetic raises on an edge (1/0 at sqrt(0), an overflow), the rule
    runs again on `Ieee` floats, which give IEEE 754's ±inf or nan as PyTorch does.
    """
    try:
        grads = _call_local(spec, xs, out, ctx)
    except ArithmeticError:
        grads = _call_local(spec, [Ieee(x) for x in xs], Ieee(out), ctx)
    return _as_floats(spec, grads, len(xs))


def _as_floats(spec: OpSpec, grads: Iterable[Any], arity: int) -> LocalGrads:
    """A rule's result as a tuple of floats, or a clear error naming the op."""
    try:
        floats = tuple(float(g) for g in grads)
    except TypeError as error:
        raise TypeError(
            f"op {spec.name!r}: local() must return a tuple of numbers on floats ({error})"
        ) from None
    if len(floats) != arity:
        raise ValueError(
            f"op {spec.name!r}: local() returned {len(floats)} derivatives for {arity} operand(s)"
        )
    return floats


@dataclass(frozen=True, eq=False)
class _NodeRule(OpSpec):
    """The record of a node given its own rule the old way, ``out._local_grads = rule``
    (``rule(out)`` returns ∂out/∂child per child); ``rule`` None: not given yet."""

    rule: Callable[[Value], Any] | None = None

    @classmethod
    def of(
        cls, op: str, arity: int, rule: Callable[[Value], Any], base: OpSpec | None
    ) -> _NodeRule:
        """A node's own rule; a built-in op's forward, domain and kinks stay known."""
        if base is None or isinstance(base, _NodeRule):
            return cls(op, arity, _no_forward, _no_local, symbol=op, builtin=False, rule=rule)
        kept = {f.name: getattr(base, f.name) for f in fields(OpSpec) if f.init}
        # its formulas describe the old rule, not this one: none are shown
        return cls(**{**kept, "local": _no_local, "formulas": (), "builtin": False, "rule": rule})

    @classmethod
    def missing(cls, op: str, arity: int) -> _NodeRule:
        return cls(op, arity, _no_forward, _no_local, symbol=op, builtin=False, rule=_missing_rule)


def _no_forward(*xs: float) -> float:
    raise TypeError("this node's op has no forward rule on floats")


def _no_local(*xs: Any) -> tuple[Any, ...]:
    raise TypeError("this node's op has only a rule of the node (`_local_grads`)")


def _missing_rule(out: Value) -> LocalGrads:
    """A node made with ``Value(data, children, op)`` whose maker never gave its rule."""
    raise TypeError(
        f"the node {out!r} made by op {out._op!r} has children but no local-gradient rule: "
        "set `out._local_grads = rule`, where rule(out) returns ∂out/∂child for each child, "
        "or make the op with gradstep.define_op(name, forward, local)"
    )


# ---------------------------------------------------------------------------------------
# graph walks


def topological_order(root: Value) -> list[Value]:
    """The nodes of ``root``'s graph, root first, each before all of its children.

    Iterative depth-first search (any depth), reversed post-order.  Deterministic: it
    follows the order of ``_prev``, never ``id()`` or set order.
    """
    order = _post_order(root)
    order.reverse()
    return order


def _post_order(root: Value, zeroed: _Zeroed | None = None) -> list[Value]:
    """The graph's nodes children first (the engine's one walk).  With ``zeroed``, each
    node's grad is set to 0 as it is emitted and what it held is kept in ``zeroed``, which
    also holds the nodes (so backward needs no pass more, and can undo an interruption)."""
    order: list[Value] = [] if zeroed is None else zeroed.nodes
    visited: set[Value] = set()
    # The stack holds nodes to visit; a node followed by the _CHILDREN_DONE marker is popped
    # again once all its children are emitted (no tuple allocated per push).
    stack: list[object] = [root]
    pop, push, emit, visit = stack.pop, stack.append, order.append, visited.add
    if zeroed is not None:
        save_node, save_grad = zeroed.nodes_before.append, zeroed.grads_before.append
    while stack:
        node = pop()
        if node is _CHILDREN_DONE:
            done: Value = pop()  # type: ignore[assignment]
            emit(done)
            if zeroed is not None:
                grad = done.grad
                if grad != 0.0:  # (only these need putting back: a short list, or none)
                    save_grad(grad)
                    save_node(done)
                done.grad = 0.0
        elif node not in visited:
            visit(node)  # type: ignore[arg-type]
            push(node)
            push(_CHILDREN_DONE)
            a = node._a  # type: ignore[attr-defined]
            if a is not None:
                b = node._b  # type: ignore[attr-defined]
                if b is not None:
                    if b.__class__ is tuple:  # three or more children
                        for child in reversed(b):
                            if child not in visited:
                                push(child)
                    elif b not in visited:
                        push(b)
                if a not in visited:
                    push(a)
    return order


@dataclass
class _Zeroed:
    """What a backward walk zeroed: every node, children first, and the nodes whose grad was
    not 0 with what it was."""

    nodes: list[Value] = field(default_factory=list)
    nodes_before: list[Value] = field(default_factory=list)
    grads_before: list[float] = field(default_factory=list)

    def leaves_before(self) -> Iterator[tuple[Value, float]]:
        """The leaves whose grad was not 0, with it."""
        for v, g in zip(self.nodes_before, self.grads_before, strict=False):
            if v._a is None:
                yield v, g

    def restore(self) -> None:
        """Every grad as it was before the walk."""
        for v in self.nodes:
            v.grad = 0.0
        for v, g in zip(self.nodes_before, self.grads_before, strict=False):
            v.grad = g


#: pushed after a node in `_post_order`'s stack: "its children are done, emit it"
_CHILDREN_DONE = object()


def _apply_chain_rule(
    order: Iterable[Value], record: BackwardStep | None = None, create_graph: bool = False
) -> None:
    """The chain rule along a topological order: child.grad += local · upstream.

    The one place it is written.  A local derivative of 0 means "no dependence": it passes
    0 down even from an upstream of ±inf (PyTorch's relu and ``x**0`` do too; `_product`).
    Built-in unary and binary ops (nearly all nodes) call their record's rule on the
    children's data directly: the same arithmetic, about half the interpreter work on the
    hot path.  With ``create_graph`` the rules run on the `Value`s themselves, so the
    gradients are `Value`s, differentiable again.  Called through the module global:
    `gradstep.anomaly.detect_anomaly` swaps in a version that checks every edge.
    """
    fast = record is None and not create_graph
    for node in order:
        a = node._a
        if a is None:
            continue
        upstream = node.grad
        spec = node._spec
        call = spec.call if fast else 0  # type: ignore[union-attr]
        try:
            if call == 2:
                b = node._b
                la, lb = spec.local(a.data, b.data, node.data)  # type: ignore[union-attr]
                pa = la * upstream
                pb = lb * upstream
                if pa != pa or pb != pb:  # nan: 0 · ±inf is 0 (`_product`)
                    pa, pb = _product(la, upstream), _product(lb, upstream)
                a.grad += pa
                b.grad += pb  # type: ignore[union-attr]
                continue
            if call == 1:
                (la,) = spec.local(a.data, node.data)  # type: ignore[union-attr]
            elif call == 3:
                (la,) = spec.local(a.data, node.data, node._ctx)  # type: ignore[union-attr]
            if call:
                pa = la * upstream
                a.grad += pa if pa == pa else _product(la, upstream)
                continue
        except ArithmeticError:
            pass  # a derivative at an edge (1/0, an overflow): IEEE 754 floats below
        local = _value_locals(node) if create_graph else node.local_grads()
        for index, (child, local_i) in enumerate(zip(node._prev, local, strict=True)):
            product = _product(local_i, upstream)
            child.grad += product
            if record is not None:
                record(node, child, index, local_i, upstream, product, child.grad)


def _value_locals(node: Value) -> tuple[Any, ...]:
    """The node's local derivatives with the rule run on the children as `Value`s."""
    spec = node._spec
    if spec is None or isinstance(spec, _NodeRule):
        raise TypeError(
            f"op {node._op!r} has only a rule on floats (set with `_local_grads`): make it "
            "with gradstep.define_op(name, forward, local) to differentiate it twice"
        )
    try:
        grads = tuple(_call_local(spec, node._prev, node, node._ctx))
    except ArithmeticError:  # a pole such as 1/(2√0): ±inf, as backward() gives on floats
        token = _poles_give_inf.set(True)
        try:
            grads = tuple(_call_local(spec, node._prev, node, node._ctx))
        finally:
            _poles_give_inf.reset(token)
    if len(grads) != len(node._prev):
        raise ValueError(
            f"op {spec.name!r}: local() returned {len(grads)} derivatives for "
            f"{len(node._prev)} operand(s)"
        )
    return grads


def _product(local: Any, upstream: Any) -> Any:
    """local · upstream, where a local derivative of 0 gives 0 even against an upstream of
    ±inf or nan: a node that does not depend on a child there passes nothing down (PyTorch's
    relu and ``x**0`` give 0 so).  On floats or `Value`s."""
    product = local * upstream
    p = data_of(product)
    if p != p and data_of(local) == 0.0:
        return 0.0
    return product


#: set while `_value_locals` re-runs a rule on `Value`s past a pole: the op gives ±inf
_poles_give_inf: ContextVar[bool] = ContextVar("gradstep_poles_give_inf", default=False)


class _CollectorPaused:
    """``with _CollectorPaused():`` the cyclic garbage collector is off inside, and the
    setting found by the first of overlapping pauses comes back when the last one ends
    (also on an error).  Safe across threads: the pauses are counted under a lock."""

    __slots__ = ()

    _lock = threading.Lock()
    _depth = 0
    _was_enabled = False

    def __enter__(self) -> None:
        cls = _CollectorPaused
        with cls._lock:
            if cls._depth == 0:
                cls._was_enabled = gc.isenabled()
                gc.disable()
            cls._depth += 1

    def __exit__(self, *exc: object) -> None:
        cls = _CollectorPaused
        with cls._lock:
            cls._depth -= 1
            if cls._depth == 0 and cls._was_enabled:
                gc.enable()


# ---------------------------------------------------------------------------------------
# gradients of gradients


def grad(output: Value, inputs: Value | Sequence[Value], create_graph: bool = False) -> list[Any]:
    """∂output/∂input for each input, without touching any ``.grad``.

    With ``create_graph=False`` the results are floats.  With ``create_graph=True`` they
    are `Value`s built from the op records' own rules, connected to the graph, so they can
    be differentiated again (by `grad` or ``backward()``), to any order.  An input that
    ``output`` does not depend on gets 0.  At a kink (relu, abs at 0) the second derivative
    follows the first derivative's convention there: the slope's own slope is 0.
    ``create_graph=True`` records the gradients' graph even inside `gradstep.no_grad`, as
    PyTorch's ``torch.autograd.grad`` does.
    """
    if not isinstance(output, Value):
        raise TypeError(f"grad: output must be a Value, got {type(output).__name__}")
    targets = [inputs] if isinstance(inputs, Value) else list(inputs)
    for i, x in enumerate(targets):
        if not isinstance(x, Value):
            raise TypeError(f"grad: inputs[{i}] must be a Value, got {type(x).__name__}")
    with _CollectorPaused(), GradMode(create_graph):  # record iff create_graph, as torch
        order = topological_order(output)
        wanted = _reaching(order, set(targets))
        saved = [v.grad for v in order]
        try:
            for v in order:
                v.grad = 0.0
            output.grad = 1.0
            _apply_chain_rule([v for v in order if v in wanted], create_graph=create_graph)
            results = [x.grad if x in wanted else 0.0 for x in targets]
        finally:
            for v, g in zip(order, saved, strict=True):
                v.grad = g
    if create_graph:
        return [r if isinstance(r, Value) else _leaf(r) for r in results]
    return [float(r) for r in results]


def _reaching(order: Sequence[Value], targets: set[Value]) -> set[Value]:
    """The nodes of ``order`` from which some target can be reached (targets included)."""
    reach: set[Value] = set()
    for v in reversed(order):  # children before parents
        if v in targets or any(c in reach for c in v._prev):
            reach.add(v)
    return reach


# ---------------------------------------------------------------------------------------
# user-defined ops


def define_op(
    name: str, forward: Callable[..., float], local: Callable[..., Iterable[Any]]
) -> Callable[..., Value]:
    """Make a new op from its forward value and its local derivatives, written once.

    ``forward(*xs) -> float`` computes the op on floats; ``local(*xs, out) -> tuple`` gives
    ∂out/∂xᵢ for each operand, written with arithmetic and `gradstep.functional` (so the same
    rule runs on floats in ``backward()`` and on `Value`s for gradients of gradients).
    Returns a function that applies the op to `Value`s and numbers.  Its nodes show ``name``
    in drawings and walk-throughs, gradcheck re-applies ``forward`` to check ``local``, and
    compiled replay calls both.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"define_op: name must be an identifier such as 'softplus', got {name!r}")
    if not callable(forward) or not callable(local):
        raise TypeError("define_op: forward and local must be functions")
    operands = _positional_names(name, forward)
    spec = OpSpec(
        name,
        len(operands),
        forward=forward,
        local=local,  # type: ignore[arg-type]
        operands=operands,
        builtin=False,
    )

    def op(*xs: Operand) -> Value:
        return apply(spec, *xs)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"The op {name!r} (made by gradstep.define_op); its record is ``{name}.spec``."
    op.spec = spec  # type: ignore[attr-defined]
    return op


def _positional_names(name: str, forward: Callable[..., float]) -> tuple[str, ...]:
    """The names of forward's operands (plain positional parameters only)."""
    try:
        parameters = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):
        raise TypeError(f"define_op({name!r}): cannot read forward's parameters") from None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = tuple(p.name for p in parameters if p.kind in kinds and p.default is p.empty)
    if not names or len(names) != len(parameters):
        raise TypeError(
            f"define_op({name!r}): forward must take one or more plain operands, "
            f"like forward(x) or forward(a, b)"
        )
    return names
