"""Your own ops: `define_op` makes an op record from its forward value and local derivatives."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from gradstep.engine import Operand, Value, apply
from gradstep.ops import OpSpec

__all__ = ["define_op"]


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
