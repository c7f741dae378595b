"""gradstep: a scalar reverse-mode autodiff engine that shows every number of backprop.

``from gradstep import Value, MLP, draw_dot, walkthrough, grad, define_op, no_grad, compile``
gives what the README's first screens use.  ``MLP`` (from `gradstep.nn`) and ``draw_dot``,
``walkthrough`` (from `gradstep.viz`) are imported when first asked for, so ``import
gradstep`` loads the engine only (no Graphviz), and the engine never imports a wing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gradstep import functional
from gradstep.anomaly import AnomalyError as AnomalyError
from gradstep.anomaly import detect_anomaly
from gradstep.engine import Value
from gradstep.grad_mode import enable_grad, no_grad
from gradstep.grad_mode import is_grad_enabled as is_grad_enabled
from gradstep.higher_order import grad
from gradstep.replay import compile as compile
from gradstep.user_ops import define_op

if TYPE_CHECKING:
    from gradstep.nn import MLP
    from gradstep.viz import draw_dot, walkthrough

# `compile` is reachable as gradstep.compile but left out of __all__, so that
# `from gradstep import *` does not shadow Python's built-in compile().  AnomalyError and
# is_grad_enabled stay reachable here; their home is gradstep.anomaly and gradstep.grad_mode.
__all__ = [
    "Value",
    "MLP",
    "draw_dot",
    "walkthrough",
    "grad",
    "define_op",
    "no_grad",
    "enable_grad",
    "detect_anomaly",
    "functional",
]
__version__ = "0.1.0"

#: the names imported from a wing when first asked for: name → its module
_FROM_WINGS = {"MLP": "gradstep.nn", "draw_dot": "gradstep.viz", "walkthrough": "gradstep.viz"}


def __getattr__(name: str) -> Any:
    """``gradstep.MLP``, ``gradstep.draw_dot``, ``gradstep.walkthrough``: imported on first use."""
    module = _FROM_WINGS.get(name)
    if module is None:
        raise AttributeError(f"module 'gradstep' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_FROM_WINGS})
