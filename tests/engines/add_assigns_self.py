"""Mistake: + assigns its first operand's gradient (self.grad = ...) instead of adding to it.

Alone, or on a + a (where the second operand's += comes after), it is right; when the first
operand also reaches the output by another path, what that path gave it is overwritten.
"""

from good import Value as Good


class Value(Good):
    def __add__(self, other):
        other = self._wrap(other)
        out = self._result(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad = out.grad  # should be +=
            other.grad += out.grad

        out._backward = _backward
        return out
