"""Mistake: backward() forgets to seed the root with ∂out/∂out = 1, so every gradient is 0."""

from good import Value as Good


class Value(Good):
    def backward(self):
        for node in reversed(self._topological_order()):  # self.grad = 1.0 is missing
            node._backward()
