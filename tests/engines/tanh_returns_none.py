"""Mistake: tanh builds its result and sets its backward, but never returns it."""

import math

from good import Value as Good


class Value(Good):
    def tanh(self):
        t = math.tanh(self.data)
        out = self._result(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t * t) * out.grad

        out._backward = _backward  # should end with: return out
