"""Mistake: numbers are wrapped only when they are floats, so `a * 3` or `a + 1` with an int
fails (an int has no .data)."""

from good import Value as Good


class Value(Good):
    def _wrap(self, other):
        return Value(other) if isinstance(other, float) else other  # misses int
