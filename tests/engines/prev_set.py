"""Mistake: the children are kept in a set (and their local derivatives in a dict keyed by
child): in a + a the set holds a once, so a gets 1 instead of 2, and a * a gets a, not 2a.

Another engine style, written on its own: each node stores its local derivatives ∂out/∂child
and backward() applies the chain rule once, for every node.
"""

import math


class Value:
    def __init__(self, data, _children=(), _op="", _local=()):
        self.data = data
        self.grad = 0.0
        self._prev = set(_children)  # should be a tuple: a + a has the child a twice
        self._op = _op
        self._local = dict(zip(_children, _local, strict=True))

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), "+", (1.0, 1.0))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), "*", (other.data, self.data))

    def __pow__(self, n):
        return Value(self.data**n, (self,), f"**{n}", (n * self.data ** (n - 1),))

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), "tanh", (1 - t * t,))

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return (-self) + other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return Value(other) * self**-1

    def backward(self):
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                stack.extend((c, False) for c in node._prev)
        self.grad = 1.0
        for node in reversed(order):
            for child in node._prev:
                child.grad += node._local[child] * node.grad
