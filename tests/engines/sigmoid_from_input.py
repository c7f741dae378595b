"""Mistake: sigmoid's local derivative written x·(1 − x) with x the input, instead of
σ(x)·(1 − σ(x))."""

import math

from good import Value as Good


class Value(Good):
    def sigmoid(self):
        x = self.data
        out = self._result(1 / (1 + math.exp(-x)), (self,), "sigmoid")

        def _backward():
            self.grad += x * (1 - x) * out.grad  # should use s = out.data

        out._backward = _backward
        return out
