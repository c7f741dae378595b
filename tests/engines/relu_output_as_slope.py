"""Mistake: relu's local derivative taken as its output (max(0, x)) instead of the slope
1 if x > 0 else 0 (right only where the output happens to be 1 or 0)."""

from good import Value as Good


class Value(Good):
    def relu(self):
        out = self._result(max(self.data, 0.0), (self,), "relu")

        def _backward():
            self.grad += out.data * out.grad  # should be (out.data > 0) * out.grad

        out._backward = _backward
        return out
