"""What makes ``backward()`` fast and safe, each measure in one named place.

`gradstep.engine` says what backward computes: topological order, seed 1, chain rule.
This module holds how it does so quickly and without losing anything on an error:

- `post_order`: the engine's one graph walk, iterative depth-first search (any depth), with
  no tuple allocated per visit; in a backward pass it also zeroes each node's grad as it
  emits it, so the pass needs no second sweep.
- `BackwardPass`: the bookkeeping of one pass.  It keeps the grads it zeroed, puts every
  grad back if anything raises (a user's rule, a ``record`` callback, Ctrl-C), and at the
  end adds each leaf's earlier grad to this pass's sum (leaves accumulate across calls, as
  PyTorch's do, and this pass's terms are summed first).
- `chain_rule_fast`: the chain rule for the built-in ops' nodes (nearly all of them),
  calling the record's rule on the children's data directly; any other node, and any edge
  case (an `ArithmeticError`, a nan product), goes to the engine's general step.
- `CollectorPaused`: the cyclic garbage collector off while a walk or a model builds
  nodes (they allocate no cycles: a graph is freed by reference counting).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from gradstep.ops import OpSpec

__all__ = ["BackwardPass", "CollectorPaused", "chain_rule_fast", "post_order"]

#: pushed after a node on `post_order`'s stack: "its children are done, emit it"
_CHILDREN_DONE = object()


def post_order(root: Any, zeroing: BackwardPass | None = None) -> list[Any]:
    """The graph's nodes children first, following ``_prev`` order (never ``id()``).

    With ``zeroing``, each node's grad is set to 0 as it is emitted; the pass keeps the
    nodes and what their grads held.
    """
    order: list[Any] = [] if zeroing is None else zeroing.nodes
    visited: set[Any] = set()
    stack: list[Any] = [root]
    pop, push, emit, visit = stack.pop, stack.append, order.append, visited.add
    if zeroing is not None:
        save_node, save_grad = zeroing.nodes_before.append, zeroing.grads_before.append
    while stack:
        node = pop()
        if node is _CHILDREN_DONE:
            done = pop()
            emit(done)
            if zeroing is not None:
                grad = done.grad
                if grad != 0.0:  # only these need putting back: a short list, or none
                    save_grad(grad)
                    save_node(done)
                done.grad = 0.0
        elif node not in visited:
            visit(node)
            push(node)
            push(_CHILDREN_DONE)
            a = node._a  # the children live in two slots: see `gradstep.engine.Value`
            if a is not None:
                b = node._b
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


class BackwardPass:
    """One backward pass from ``root``: ``with BackwardPass(root) as order`` gives the nodes
    root first, every grad zeroed; on leaving, each leaf's earlier grad is added back, or on
    an error every grad is as before the pass.  The collector is paused throughout."""

    __slots__ = ("root", "nodes", "nodes_before", "grads_before", "_paused")

    def __init__(self, root: Any) -> None:
        self.root = root
        self.nodes: list[Any] = []  # children first
        self.nodes_before: list[Any] = []  # the nodes whose grad was not 0, and what it was
        self.grads_before: list[float] = []
        self._paused = CollectorPaused()

    def __enter__(self) -> Iterable[Any]:
        self._paused.__enter__()
        try:
            post_order(self.root, self)
        except BaseException:  # Ctrl-C during the walk: nothing is lost either
            self.restore()
            self._paused.__exit__()
            raise
        root_first: Iterable[Any] = reversed(self.nodes)
        return root_first

    def __exit__(self, error: object = None, *rest: object) -> None:
        try:
            if error is None:
                for v, before in self.leaves_before():
                    v.grad = before + v.grad
            else:
                self.restore()
        finally:
            self._paused.__exit__()

    def leaves_before(self) -> Iterator[tuple[Any, float]]:
        """The leaves whose grad was not 0 before the pass, with it."""
        for v, g in zip(self.nodes_before, self.grads_before, strict=True):
            if v._a is None:
                yield v, g

    def restore(self) -> None:
        """Every grad as it was before the pass."""
        for v in self.nodes:
            v.grad = 0.0
        for v, g in zip(self.nodes_before, self.grads_before, strict=True):
            v.grad = g

    def told_earlier_passes(self, record: Callable[..., None]) -> Callable[..., None]:
        """``record``, told a leaf's grad as it will read: earlier passes + this pass so far."""
        earlier = dict(self.leaves_before())
        if not earlier:
            return record

        def report(node: Any, child: Any, k: int, *numbers: float) -> None:
            local, upstream, product, after = numbers
            record(node, child, k, local, upstream, product, earlier.get(child, 0.0) + after)

        return report


# --- the chain rule on the fast path ------------------------------------------------------

#: how `chain_rule_fast` calls a record's rule, by the record's shape: local(x, out),
#: local(a, b, out), local(x, out, constant), or not at all (the engine's general step)
_UNARY, _BINARY, _UNARY_WITH_CONSTANT, _GENERAL = range(4)
#: the shape of each record seen so far (a node's own rule, `gradstep.node_rules`, is
#: never kept: there is one per node)
_shapes: dict[OpSpec, int] = {}


def _shape(spec: OpSpec) -> int:
    """How the fast path calls this record's rule; a user's rule takes the general step."""
    shape = _GENERAL
    if spec.builtin:
        shape = {(1, False): _UNARY, (2, False): _BINARY, (1, True): _UNARY_WITH_CONSTANT}.get(
            (spec.arity, bool(spec.constant_name)), _GENERAL
        )
    if type(spec) is OpSpec:
        _shapes[spec] = shape
    return shape


def chain_rule_fast(order: Iterable[Any], general_step: Callable[[Any], None]) -> None:
    """``child.grad += local · upstream`` along ``order``, as `gradstep.engine.chain_rule`.

    A built-in unary or binary op's rule is called on the children's data directly: the
    same arithmetic with about half the interpreter work.  A user's rule, an
    `ArithmeticError` at an edge (1/0, an overflow) or a nan product (0 · inf) goes to
    ``general_step(node)``, which handles them.
    """
    shapes, binary, unary, unary_c = _shapes, _BINARY, _UNARY, _UNARY_WITH_CONSTANT
    for node in order:
        a = node._a
        if a is None:
            continue
        spec = node._spec
        try:
            shape = shapes[spec]
        except KeyError:
            shape = _shape(spec)
        upstream = node.grad
        try:
            if shape == binary:
                b = node._b
                la, lb = spec.local(a.data, b.data, node.data)
                pa = la * upstream
                pb = lb * upstream
                if pa == pa and pb == pb:  # not nan
                    a.grad += pa
                    b.grad += pb
                    continue
            elif shape == unary:
                (la,) = spec.local(a.data, node.data)
                pa = la * upstream
                if pa == pa:
                    a.grad += pa
                    continue
            elif shape == unary_c:
                (la,) = spec.local(a.data, node.data, node._constant)
                pa = la * upstream
                if pa == pa:
                    a.grad += pa
                    continue
        except ArithmeticError:
            pass
        general_step(node)


class CollectorPaused:
    """``with CollectorPaused():`` the cyclic garbage collector is off inside.

    The setting found by the first of overlapping pauses comes back when the last one ends
    (also on an error).  Safe across threads: the pauses are counted under a lock.
    """

    __slots__ = ()

    _lock = threading.Lock()
    _depth = 0
    _was_enabled = False

    def __enter__(self) -> None:
        cls = CollectorPaused
        with cls._lock:
            if cls._depth == 0:
                cls._was_enabled = gc.isenabled()
                gc.disable()
            cls._depth += 1

    def __exit__(self, *exc: object) -> None:
        cls = CollectorPaused
        with cls._lock:
            cls._depth -= 1
            if cls._depth == 0 and cls._was_enabled:
                gc.enable()
