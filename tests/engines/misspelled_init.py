"""Mistake: the constructor is written _init_ (single underscores): Value(1.5) cannot be made."""


class Value:
    def _init_(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._prev = tuple(_children)
        self._op = _op
        self._backward = lambda: None

    def backward(self):
        self.grad = 1.0
