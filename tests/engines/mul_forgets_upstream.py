"""Mistake: the backward of `*` forgets to multiply by out.grad (the upstream gradient), so
it is right only when `*` is the last op."""

from good import Value as Good


class Value(Good):
    def __mul__(self, other):
        other = self._wrap(other)
        out = self._result(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data  # should be other.data * out.grad
            other.grad += self.data

        out._backward = _backward
        return out
