"""Mistake: __rtruediv__ computes self / other, so 2 / a gives a / 2."""

from good import Value as Good


class Value(Good):
    def __rtruediv__(self, other):  # other / self
        return self / other  # should be self._wrap(other) / self
