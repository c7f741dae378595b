"""Mistake: every node is born with grad = 1 (as if seeding every node), so the leaves end
up 1 too large and interior nodes pass a wrong upstream gradient on."""

from good import Value as Good


class Value(Good):
    def __init__(self, data, _children=(), _op=""):
        super().__init__(data, _children, _op)
        self.grad = 1.0  # should be 0.0; only backward() seeds the root
