"""Mistake: the derivative of x ** n written `n * x ** n - 1` (precedence: n·xⁿ − 1, not
n·xⁿ⁻¹)."""

from good import Value as Good


class Value(Good):
    def __pow__(self, other):
        if isinstance(other, Good):
            return super().__pow__(other)
        out = self._result(self.data**other, (self,), f"**{other}")

        def _backward():
            self.grad += other * self.data**other - 1 * out.grad  # should be ** (other - 1)

        out._backward = _backward
        return out
