"""Mistake: the topological sort has no `visited` set, so a node shared by two parents is
listed (and its _backward run) twice: its children get its gradient twice."""

from good import Value as Good


class Value(Good):
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
