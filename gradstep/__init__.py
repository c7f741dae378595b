"""gradstep: a scalar reverse-mode autodiff engine that shows every number of backprop."""

from gradstep.compile import compile as compile
from gradstep.engine import Value

# `compile` is reachable as gradstep.compile but left out of __all__, so that
# `from gradstep import *` does not shadow Python's built-in compile().
__all__ = ["Value"]
__version__ = "0.1.0"
