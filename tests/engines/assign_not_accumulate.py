"""Mistake: `=` instead of `+=` in the backward of `+`: a node used twice keeps only the last
contribution (a + a gets ∂/∂a = 1, not 2)."""

from good import Value as Good


class Value(Good):
    def __add__(self, other):
        other = self._wrap(other)
        out = self._result(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad = out.grad  # should be +=
            other.grad = out.grad

        out._backward = _backward
        return out
