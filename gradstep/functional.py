"""Functions that take floats and `Value`s alike: the words local-derivative rules are written in.

``exp(x)``, ``log(x)``, ``tanh(x)``, ``sigmoid(x)``, ``sqrt(x)``, ``abs(x)``, ``relu(x)``,
``leaky_relu(x, slope)``: on a `Value` each applies the op (a new node, its domain checked);
on a plain number it is the IEEE 754 function, total like PyTorch's (``exp(1000.0)`` is
``inf``, ``log(0.0)`` is ``-inf``, ``log(-1.0)`` and ``sqrt(-1.0)`` are ``nan``); on any other
object it calls that object's method of the same name.  ``data(x)``, ``where(c, a, b)`` and
``sign(x)`` give the piecewise parts of a rule (relu's slope, abs's sign) as constants.

So one rule such as ``lambda x, out: (1 - out * out,)`` (tanh's ∂out/∂x) runs on floats in
``backward()`` and on `Value`s for gradients of gradients (`gradstep.grad`).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable
from typing import Any

__all__ = [
    "exp",
    "log",
    "tanh",
    "sigmoid",
    "sqrt",
    "abs",
    "relu",
    "leaky_relu",
    "data",
    "where",
    "sign",
]

_INF = math.inf


# ---------------------------------------------------------------------------------------
# the float forms: IEEE 754 results, never an exception


def float_exp(x: float) -> float:
    """e^x; inf where it overflows."""
    try:
        return math.exp(x)
    except OverflowError:
        return _INF


def float_log(x: float) -> float:
    """ln x; -inf at 0, nan below 0 (and for nan)."""
    if x > 0.0:
        return math.log(x)
    return -_INF if x == 0.0 else math.nan


def float_sqrt(x: float) -> float:
    """√x; nan below 0 (√-0.0 is -0.0)."""
    return math.sqrt(x) if x >= 0.0 else math.nan


def float_sigmoid(x: float) -> float:
    """σ(x) = 1 / (1 + e^-x) without overflow: e^-x only for x ≥ 0, e^x only for x < 0."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def float_relu(x: float) -> float:
    """max(0, x) as PyTorch computes it: relu(-0.0) is -0.0 and relu(nan) is nan."""
    return 0.0 if x < 0.0 else x


def float_leaky_relu(x: float, slope: float) -> float:
    """x if x > 0 else slope·x."""
    return x if x > 0.0 else slope * x


def _is_odd_integer(y: float) -> bool:
    return y.is_integer() and builtins.abs(y) < 2.0**53 and int(y) % 2 == 1


def float_pow(x: float, y: float) -> float:
    """x^y with IEEE 754 edges: ±inf where it overflows or at 0 to a negative power, nan for a
    fractional power of a negative number."""
    try:
        r = x**y
    except ZeroDivisionError:  # 0 ** negative: the pole, +inf (−inf for −0.0 ** odd)
        return math.copysign(_INF, x) if _is_odd_integer(y) else _INF
    except OverflowError:
        return -_INF if x < 0.0 and _is_odd_integer(y) else _INF
    return r if isinstance(r, float) else math.nan  # a complex result: not a real number


class Ieee(float):
    """A float whose ``/`` and ``**`` follow IEEE 754 instead of raising (x/0 = ±inf or nan,
    overflow = ±inf).  `backward()` re-runs a rule on these only when plain floats raised."""

    __slots__ = ()

    def __add__(self, other: Any) -> Ieee:
        return Ieee(float(self) + other)

    __radd__ = __add__

    def __sub__(self, other: Any) -> Ieee:
        return Ieee(float(self) - other)

    def __rsub__(self, other: Any) -> Ieee:
        return Ieee(other - float(self))

    def __mul__(self, other: Any) -> Ieee:
        return Ieee(float(self) * other)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Ieee:
        return Ieee(_ieee_div(float(self), float(other)))

    def __rtruediv__(self, other: Any) -> Ieee:
        return Ieee(_ieee_div(float(other), float(self)))

    def __pow__(self, other: Any) -> Ieee:  # type: ignore[override]
        return Ieee(float_pow(float(self), float(other)))

    def __rpow__(self, other: Any) -> Ieee:  # type: ignore[override]
        return Ieee(float_pow(float(other), float(self)))

    def __neg__(self) -> Ieee:
        return Ieee(-float(self))


def _ieee_div(a: float, b: float) -> float:
    """a / b, with a / ±0 = ±inf (sign of a times sign of 0) and 0/0 = nan."""
    if b != 0.0:
        return a / b
    if a == 0.0 or math.isnan(a):
        return math.nan
    return math.copysign(_INF, a) * math.copysign(1.0, b)


# ---------------------------------------------------------------------------------------
# one name for floats, Values and anything else with the method


def _on(x: Any, on_float: Callable[[float], float], method: str) -> Any:
    """``on_float(x)`` for a number (an `Ieee` stays an `Ieee`), else ``x.<method>()``."""
    if type(x) is float:
        return on_float(x)
    if isinstance(x, (int, float)):
        result = on_float(float(x))
        return Ieee(result) if type(x) is Ieee else result
    return getattr(x, method)()


def exp(x: Any) -> Any:
    """e^x."""
    return _on(x, float_exp, "exp")


def log(x: Any) -> Any:
    """ln x."""
    return _on(x, float_log, "log")


def tanh(x: Any) -> Any:
    """tanh x."""
    return _on(x, math.tanh, "tanh")


def sigmoid(x: Any) -> Any:
    """σ(x) = 1 / (1 + e^-x)."""
    return _on(x, float_sigmoid, "sigmoid")


def sqrt(x: Any) -> Any:
    """√x."""
    return _on(x, float_sqrt, "sqrt")


def abs(x: Any) -> Any:
    """|x|."""
    return _on(x, builtins.abs, "abs")


def relu(x: Any) -> Any:
    """max(0, x)."""
    return _on(x, float_relu, "relu")


def leaky_relu(x: Any, slope: float = 0.01) -> Any:
    """x if x > 0 else slope·x."""
    if isinstance(x, (int, float)):
        return _on(x, lambda v: float_leaky_relu(v, slope), "")
    return x.leaky_relu(slope)


def data(x: Any) -> Any:
    """The plain number in x: x itself for a number, ``x.data`` for a `Value`."""
    return x if isinstance(x, (int, float)) else x.data


def where(condition: Any, a: Any, b: Any) -> Any:
    """a if condition else b (a condition that is not a bool chooses with ``condition.where``)."""
    if isinstance(condition, bool):
        return a if condition else b
    return condition.where(a, b)


def sign(x: Any) -> Any:
    """-1.0, 0.0 or 1.0 as x < 0, x = 0, x > 0 (0.0 for nan, as PyTorch's abs slope): a
    constant whatever x is."""
    v = data(x)
    return where(v > 0.0, 1.0, where(v < 0.0, -1.0, 0.0))
