"""Mistake: the children are kept in a set and the topological sort has no `visited` set.

A node shared by two parents is listed (and its _backward run) more than once, and where
its repeats land depends on the set's order, which follows memory addresses: the same
graph gets different gradients from one build to the next.
"""

from good import Value as Good


class Value(Good):
    def __init__(self, data, _children=(), _op=""):
        super().__init__(data, _children, _op)
        self._prev = set(_children)  # should be a tuple, walked with a visited set

    def backward(self):
        topo = []

        def build(v):  # should skip nodes already visited
            for child in v._prev:
                build(child)
            topo.append(v)

        build(self)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
