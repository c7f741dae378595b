"""Mistake: tanh's local derivative written 1 − x² with x the input, instead of 1 − tanh²x."""

import math

from good import Value as Good


class Value(Good):
    def tanh(self):
        x = self.data
        out = self._result(math.tanh(x), (self,), "tanh")

        def _backward():
            self.grad += (1 - x**2) * out.grad  # should be 1 - out.data**2

        out._backward = _backward
        return out
