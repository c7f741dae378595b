"""gradstep: a scalar reverse-mode autodiff engine that shows every number of backprop."""

from gradstep.engine import Value

__all__ = ["Value"]
__version__ = "0.1.0"
