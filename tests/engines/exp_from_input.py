"""Mistake: exp's local derivative uses the input x instead of the output eˣ."""

import math

from good import Value as Good


class Value(Good):
    def exp(self):
        out = self._result(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += self.data * out.grad  # should be out.data * out.grad

        out._backward = _backward
        return out
