"""Gradients of gradients: `grad`, ∂output/∂input without touching any ``.grad``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gradstep import engine
from gradstep._backward_fast import CollectorPaused
from gradstep.engine import Constant, Value, topological_order
from gradstep.grad_mode import GradMode

__all__ = ["grad"]


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
    with CollectorPaused(), GradMode(create_graph):  # record iff create_graph, as torch
        order = topological_order(output)
        wanted = _reaching(order, set(targets))
        saved = [v.grad for v in order]
        try:
            for v in order:
                v.grad = 0.0
            output.grad = 1.0
            # through the module, so that anomaly mode's checked chain rule is the one run
            engine.chain_rule([v for v in order if v in wanted], create_graph=create_graph)
            results = [x.grad if x in wanted else 0.0 for x in targets]
        finally:
            for v, g in zip(order, saved, strict=True):
                v.grad = g
    if create_graph:
        return [r if isinstance(r, Value) else Constant(r) for r in results]
    return [float(r) for r in results]


def _reaching(order: Sequence[Value], targets: set[Value]) -> set[Value]:
    """The nodes of ``order`` from which some target can be reached (targets included)."""
    reach: set[Value] = set()
    for v in reversed(order):  # children before parents
        if v in targets or any(c in reach for c in v._prev):
            reach.add(v)
    return reach
