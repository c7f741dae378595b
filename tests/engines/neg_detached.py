"""Mistake: -a builds a new leaf Value(-a.data), cut off from a: no gradient flows through
negation, nor through a - b, which is built as a + (-b)."""

from good import Value as Good


class Value(Good):
    def __neg__(self):
        return Value(-self.data)  # should be self * -1 (a node with self as its child)
