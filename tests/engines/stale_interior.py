"""Mistake: backward() zeroes the leaves' gradients before it starts (a built-in zero_grad)
but not the interior nodes', so a second backward() mixes stale interior gradients with
fresh leaves: neither accumulating nor starting afresh."""

from good import Value as Good


class Value(Good):
    def backward(self):
        order = self._topological_order()
        for node in order:
            if not node._prev:
                node.grad = 0.0  # interior nodes keep the previous pass's gradient
        self.grad = 1.0
        for node in reversed(order):
            node._backward()
