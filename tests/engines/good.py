"""A small correct micrograd-style engine: the baseline every broken engine here changes once.

Written for gradstep's tests (not copied from any project).  Results are built with
``type(self)``, so a subclass that overrides one method gets its mistake everywhere.
The backward pass is iterative: no recursion limit.
"""

import math


class Value:
    """A scalar, its gradient, the nodes it was made from and how to pass gradients back."""

    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._prev = tuple(_children)
        self._op = _op
        self._backward = lambda: None

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

    def _wrap(self, other):
        return other if isinstance(other, Value) else type(self)(other)

    def _result(self, data, children, op):
        return type(self)(data, children, op)

    # binary ops ------------------------------------------------------------------------

    def __add__(self, other):
        other = self._wrap(other)
        out = self._result(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self._wrap(other)
        out = self._result(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, other):
        if isinstance(other, Value):  # a Value exponent: x ** y = exp(y · ln x), x > 0
            return (other * self.log()).exp()
        out = self._result(self.data**other, (self,), f"**{other}")

        def _backward():
            self.grad += other * self.data ** (other - 1) * out.grad

        out._backward = _backward
        return out

    def __truediv__(self, other):  # a / b = a · b⁻¹
        return self * self._wrap(other) ** -1

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-self._wrap(other))

    def __radd__(self, other):
        return self + other

    def __rsub__(self, other):
        return self._wrap(other) - self

    def __rmul__(self, other):
        return self * other

    def __rtruediv__(self, other):
        return self._wrap(other) / self

    def __rpow__(self, other):
        return self._wrap(other) ** self

    # functions -------------------------------------------------------------------------

    def _unary(self, data, op, local):
        """An op of one input whose local derivative is local(x, out_data)."""
        out = self._result(data, (self,), op)

        def _backward():
            self.grad += local(self.data, out.data) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        return self._unary(max(self.data, 0.0), "relu", lambda x, y: 1.0 if x > 0 else 0.0)

    def tanh(self):
        return self._unary(math.tanh(self.data), "tanh", lambda x, y: 1 - y * y)

    def sigmoid(self):
        return self._unary(1 / (1 + math.exp(-self.data)), "sigmoid", lambda x, y: y * (1 - y))

    def exp(self):
        return self._unary(math.exp(self.data), "exp", lambda x, y: y)

    def log(self):
        return self._unary(math.log(self.data), "log", lambda x, y: 1 / x)

    def sqrt(self):
        return self._unary(math.sqrt(self.data), "sqrt", lambda x, y: 0.5 / y)

    def abs(self):
        return self._unary(abs(self.data), "abs", lambda x, y: 1.0 if x > 0 else -1.0)

    # backward --------------------------------------------------------------------------

    def _topological_order(self):
        """Every node once, children before parents (iterative depth-first search)."""
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                stack.extend((child, False) for child in node._prev if child not in seen)
        return order

    def backward(self):
        self.grad = 1.0
        for node in reversed(self._topological_order()):
            node._backward()
