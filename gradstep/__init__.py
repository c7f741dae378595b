"""gradstep: a scalar reverse-mode autodiff engine that shows every number of backprop."""

from gradstep import functional
from gradstep.compile import compile as compile
from gradstep.engine import Value, define_op, grad

# `compile` is reachable as gradstep.compile but left out of __all__, so that
# `from gradstep import *` does not shadow Python's built-in compile().
__all__ = ["Value", "define_op", "grad", "functional"]
__version__ = "0.1.0"
