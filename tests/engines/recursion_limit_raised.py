"""Mistake: a recursive topological sort, "fixed" with sys.setrecursionlimit(10**7) after a
RecursionError: a deep graph now overflows the C stack and kills the interpreter instead
(here the recursion passes through map(), a C function, as many versions' does)."""

import sys

from good import Value as Good

sys.setrecursionlimit(10**7)  # should be an iterative sort instead


class Value(Good):
    def backward(self):
        topo, seen = [], set()

        def build(v):
            if v not in seen:
                seen.add(v)
                list(map(build, v._prev))
                topo.append(v)

        build(self)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
