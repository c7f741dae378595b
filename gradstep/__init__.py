"""gradstep: a scalar reverse-mode autodiff engine that shows every number of backprop."""

from gradstep.compile import compile
from gradstep.engine import Value

__all__ = ["Value", "compile"]
__version__ = "0.1.0"
