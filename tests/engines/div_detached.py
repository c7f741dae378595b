"""Mistake: `a / b` built from `**` on the number b.data, so the result is a * (1/b) with
1/b a constant: the value is right, but no gradient reaches b."""

from good import Value as Good


class Value(Good):
    def __truediv__(self, other):
        other = self._wrap(other)
        return self * (other.data**-1)  # should be self * other ** -1 (a Value)
