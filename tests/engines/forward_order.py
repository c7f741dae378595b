"""Mistake: backward() walks the topological order forwards (leaves first), so each node
passes its gradient on before it has received it."""

from good import Value as Good


class Value(Good):
    def backward(self):
        self.grad = 1.0
        for node in self._topological_order():  # should be reversed(...)
            node._backward()
