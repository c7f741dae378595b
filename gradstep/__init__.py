"""gradstep: a scalar reverse-mode autodiff engine that shows every number of backprop."""

from gradstep import functional
from gradstep.anomaly import AnomalyError, detect_anomaly
from gradstep.engine import Value, define_op, grad
from gradstep.grad_mode import enable_grad, is_grad_enabled, no_grad
from gradstep.replay import compile as compile

# `compile` is reachable as gradstep.compile but left out of __all__, so that
# `from gradstep import *` does not shadow Python's built-in compile().
__all__ = [
    "Value",
    "define_op",
    "grad",
    "functional",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "detect_anomaly",
    "AnomalyError",
]
__version__ = "0.1.0"
