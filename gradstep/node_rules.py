"""micrograd's way to give a node its rule: ``out._local_grads = rule`` (and ``out._backward()``).

In micrograd an op builds its output as ``Value(data, (a, b), "op")`` and then attaches a
closure saying how gradients flow back.  gradstep keeps that route for code written so:
``out._local_grads = rule``, where ``rule(out)`` returns ∂out/∂child for each child, gives
this one node a `NodeRule`, a record like the op records of `gradstep.ops` whose local
derivatives come from ``rule``.  ``backward()`` then treats the node like any other; only
gradients of gradients (``grad(..., create_graph=True)``) need a rule written with
`gradstep.define_op`, which runs on `Value`s too.

A node made as ``Value(data, children, op)`` whose maker never sets ``_local_grads`` gets
`NodeRule.missing`: its backward raises a `TypeError` saying what to write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from gradstep.ops import OpSpec

__all__ = ["NodeRule", "no_forward"]

#: a node's own rule: ``rule(node)`` (the node is a `gradstep.engine.Value`) returns
#: ∂node/∂child for each child
Rule = Callable[[Any], Any]


@dataclass(frozen=True, eq=False)
class NodeRule(OpSpec):
    """The record of a node given its own rule, ``out._local_grads = rule``."""

    rule: Rule | None = None

    @classmethod
    def of(cls, op: str, arity: int, rule: Rule, base: OpSpec | None) -> NodeRule:
        """A node's own rule; a built-in op's forward, domain and kinks stay known."""
        if base is None or isinstance(base, NodeRule):
            return cls(op, arity, no_forward, _no_local, symbol=op, builtin=False, rule=rule)
        kept = {f.name: getattr(base, f.name) for f in fields(OpSpec) if f.init}
        # the record's formulas describe its own rule, not this one: none are shown
        return cls(**{**kept, "local": _no_local, "formulas": (), "builtin": False, "rule": rule})

    @classmethod
    def missing(cls, op: str, arity: int) -> NodeRule:
        """The record of ``Value(data, children, op)`` before its maker sets a rule."""
        return cls(op, arity, no_forward, _no_local, symbol=op, builtin=False, rule=_missing)

    def local_floats_of(self, node: Any) -> tuple[float, ...]:
        """``rule(node)`` as floats, one per child."""
        assert self.rule is not None  # every NodeRule is made with one
        return self.as_floats(self.rule(node), len(node._prev))

    def local_values_of(self, node: Any) -> tuple[Any, ...]:
        """Refused: a rule of the node gives floats only."""
        raise TypeError(
            f"op {node._op!r} has only a rule on floats (set with `_local_grads`): make it "
            "with gradstep.define_op(name, forward, local) to differentiate it twice"
        )


def no_forward(*xs: float) -> float:
    """The forward of a node's own rule: unknown (gradcheck cannot re-apply such an op)."""
    raise TypeError("this node's op has no forward rule on floats")


def _no_local(*xs: Any) -> tuple[Any, ...]:
    raise TypeError("this node's op has only a rule of the node (`_local_grads`)")


def _missing(out: Any) -> tuple[float, ...]:
    """A node made with ``Value(data, children, op)`` whose maker never gave its rule."""
    raise TypeError(
        f"the node {out!r} made by op {out._op!r} has children but no local-gradient rule: "
        "set `out._local_grads = rule`, where rule(out) returns ∂out/∂child for each child, "
        "or make the op with gradstep.define_op(name, forward, local)"
    )
