"""Mistake: exp attaches its backward to the operand (self._backward) instead of the result.

On a leaf this goes unnoticed (the leaf's own _backward does nothing, and exp's runs in its
place); on a computed operand it replaces that operand's backward, so the gradient stops there.
"""

import math

from good import Value as Good


class Value(Good):
    def exp(self):
        out = self._result(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad

        self._backward = _backward  # should be out._backward
        return out
