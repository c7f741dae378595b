"""The op records: every op of the engine defined once, as plain data the engine and the tools read.

An `OpSpec` holds everything there is to know about one op: its name and arity, its forward
value on floats, its local derivatives ∂out/∂xᵢ, its domain (the error that names the
operand), how to show it (the ``_op`` symbol, the expression, each local derivative as a
formula such as ``∂(a·b)/∂a = b``) and the hints the tools need (PyTorch's name for it,
its kinks, which operands must stay positive or away from zero).

The local rule is written once, with arithmetic and the functions of `gradstep.functional`
(which take floats and `Value`s alike)::

    local=lambda x, out: (1.0 - out * out,)          # tanh: ∂out/∂x = 1 − tanh²x

``backward()`` calls it with floats; `gradstep.grad(..., create_graph=True)` calls the very
same function with `Value`s, so the derivative is itself differentiable (to any order).

How to add an op — one edit, in this file, plus its tests:

1. Write its record below, beside its neighbours: ``forward(*xs[, param])`` on floats,
   ``local(*xs, out[, param])`` returning one derivative per operand, a ``check`` if some
   inputs are outside its domain, and the display fields.
2. Add it to `BUILTIN_OPS` (the order there is the order tables list it in).

Expressions (`gradstep.expr`), ``nn`` activations (``activation=True``), gradcheck, the
random-DAG strategies and the PyTorch oracle then know it; give it a one-line `Value` method
in ``engine.py`` (``return _apply(SPEC, (self,))``) if it should have one.  A user's op made
with `gradstep.define_op` is an `OpSpec` too (``builtin=False``).  A record left out of
`BUILTIN_OPS` (`MAXIMUM`, which the losses build their log-sum-exp shift from) works in the
engine, compiled replay, drawings and walk-throughs, but expressions, the random graphs and
``gradstep test-engine`` do not offer it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from gradstep.functional import (
    data,
    float_exp,
    float_leaky_relu,
    float_log,
    float_pow,
    float_relu,
    float_sigmoid,
    float_sqrt,
    log,
    sign,
    where,
)

__all__ = [
    "OpSpec",
    "Refusal",
    "ADD",
    "SUB",
    "MUL",
    "DIV",
    "NEG",
    "POW",
    "POW_VALUE",
    "RELU",
    "LEAKY_RELU",
    "TANH",
    "SIGMOID",
    "EXP",
    "LOG",
    "SQRT",
    "ABS",
    "MAXIMUM",
    "BUILTIN_OPS",
    "OPS_BY_NAME",
]

#: A domain refusal: the exception to raise and its message, in which ``{0}``, ``{1}``… stand
#: for the operands (as ``label=value``) and ``{n}`` (the record's ``param``) for its constant.
Refusal: TypeAlias = tuple[type[Exception], str]


@dataclass(frozen=True, eq=False, slots=True)
class OpSpec:
    """One op, defined once: forward on floats, local derivatives, domain, display, hints."""

    #: what functions, expressions and ``nn`` activations call it: "mul", "tanh"
    name: str
    #: how many `Value` operands it takes
    arity: int
    #: ``forward(*xs[, param]) -> float`` on floats (IEEE: an overflow is ±inf, never raises)
    forward: Callable[..., float]
    #: ``local(*xs, out[, param]) -> tuple``: ∂out/∂xᵢ for each operand, written once with
    #: arithmetic and `gradstep.functional`, so it runs on floats and on `Value`s alike
    local: Callable[..., tuple[Any, ...]]
    #: what a node's ``_op`` shows ("*", "ReLU", "**{n:g}" with the constant); default: name
    symbol: str = ""
    #: the operands' names in ``text``, ``math`` and ``formulas``
    operands: tuple[str, ...] = ("x",)
    #: how the op is written in Python: "{a} * {b}", "-{x}"; default: "name({x})"
    text: str = ""
    #: how it is written in a formula: "{a}·{b}"; default: ``text``
    math: str = ""
    #: ∂out/∂operandᵢ as text, in the operand names, ``{out}`` and ``{<param>}``
    formulas: tuple[str, ...] = ()
    #: ``check(*xs[, param])``: a `Refusal` if the operands are outside the domain, else None
    check: Callable[..., Refusal | None] | None = None
    #: the name of the op's constant (``x ** n``: "n"; leaky_relu: "slope"), "" for none
    param: str = ""
    #: the constant's default, if it may be left out (leaky_relu's slope: 0.01)
    default: float | None = None
    #: the Python operator it implements ("+", "**", "-" for neg), "" for a function
    operator: str = ""
    #: an ``nn`` layer may use it as its activation
    activation: bool = False
    #: PyTorch's function for the oracle, as a dotted name ("torch.tanh"); "" if none
    torch: str = ""
    #: an activation's ``torch.nn`` module ("ReLU"), made with the op's constant if it has one
    torch_module: str = ""
    #: points where the op is not differentiable in its first operand (relu, abs: 0)
    kinks: tuple[float, ...] = ()
    #: operands that must stay > 0 for a smooth real result (log, sqrt, a `Value` power's base)
    positive: tuple[int, ...] = ()
    #: operands that must stay away from 0 (a denominator)
    nonzero: tuple[int, ...] = ()
    #: one of gradstep's own ops (its rule is trusted on backward's fast path)
    builtin: bool = True
    #: how backward() calls the rule: 1 = local(x, out), 2 = local(a, b, out),
    #: 3 = local(x, out, param), 0 = through `Value.local_grads` (checked)
    call: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shape = (self.arity, bool(self.param))
        fast = {(1, False): 1, (2, False): 2, (1, True): 3}.get(shape, 0) if self.builtin else 0
        object.__setattr__(self, "call", fast)
        if not self.symbol:
            object.__setattr__(self, "symbol", self.name)

    def op_text(self, param: float | None = None) -> str:
        """The ``_op`` of a node: the symbol, with the constant filled in ("**2")."""
        return self.symbol.format(**{self.param: param}) if self.param else self.symbol

    def expression(self, *operands: str, param: float | None = None) -> str:
        """The op written in Python with these operand names: ``w * x``, ``tanh(n1)``, ``a**2``."""
        return self._fill(self.text or self._call_text(), operands, param)

    def formula(self, i: int, *operands: str, out: str = "", param: float | None = None) -> str:
        """Operand i's local derivative as a formula, e.g. ``∂(a·b)/∂a = b`` (with these names);
        "" if the op has none (a user's op)."""
        if not self.formulas:
            return ""
        names = operands or self.operands
        node = out or f"({self._fill(self.math or self.text or self._call_text(), names, param)})"
        rhs = self._fill(self.formulas[i], names, param, out=node)
        return f"∂{node}/∂{names[i]} = {rhs}"

    def _call_text(self) -> str:
        args = ", ".join(f"{{{name}}}" for name in self.operands)
        return f"{self.name}({args}, {{{self.param}}})" if self.param else f"{self.name}({args})"

    def _fill(
        self, template: str, names: tuple[str, ...], param: float | None, out: str = "out"
    ) -> str:
        values: dict[str, str] = dict(zip(self.operands, names, strict=True))
        values["out"] = out
        if self.param:
            values[self.param] = "?" if param is None else f"{param:g}"
        return template.format(**values)


# ---------------------------------------------------------------------------------------
# the records: forward (on floats) and local derivatives side by side


ADD = OpSpec(
    "add", 2,
    forward=lambda a, b: a + b,
    local=lambda a, b, out: (1.0, 1.0),  # ∂(a+b)/∂a = 1, ∂(a+b)/∂b = 1
    symbol="+", operands=("a", "b"), text="{a} + {b}", formulas=("1", "1"),
    operator="+", torch="torch.add",
)  # fmt: skip

SUB = OpSpec(
    "sub", 2,
    forward=lambda a, b: a - b,
    local=lambda a, b, out: (1.0, -1.0),  # ∂(a−b)/∂a = 1, ∂(a−b)/∂b = −1
    symbol="-", operands=("a", "b"), text="{a} - {b}", math="{a} − {b}", formulas=("1", "−1"),
    operator="-", torch="torch.sub",
)  # fmt: skip

MUL = OpSpec(
    "mul", 2,
    forward=lambda a, b: a * b,
    local=lambda a, b, out: (b, a),  # ∂(a·b)/∂a = b, ∂(a·b)/∂b = a
    symbol="*", operands=("a", "b"), text="{a} * {b}", math="{a}·{b}", formulas=("{b}", "{a}"),
    operator="*", torch="torch.mul",
)  # fmt: skip


def _refuse_zero_denominator(a: float, b: float) -> Refusal | None:
    return (ZeroDivisionError, "division by zero: {0} / {1}") if b == 0.0 else None


DIV = OpSpec(
    "div", 2,
    forward=lambda a, b: a / b,
    local=lambda a, b, out: (1.0 / b, -out / b),  # ∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = −a/b²
    check=_refuse_zero_denominator,
    symbol="/", operands=("a", "b"), text="{a} / {b}", formulas=("1/{b}", "−{a}/{b}²"),
    operator="/", torch="torch.div", nonzero=(1,),
)  # fmt: skip

NEG = OpSpec(
    "neg", 1,
    forward=lambda x: -x,
    local=lambda x, out: (-1.0,),  # ∂(−x)/∂x = −1
    text="-{x}", math="−{x}", formulas=("−1",), operator="-", torch="torch.neg",
)  # fmt: skip


def _refuse_power(x: float, n: float) -> Refusal | None:
    if x < 0.0 and not n.is_integer():
        return (
            ValueError,
            "fractional power of a negative base: {0} ** {n!r} is not a real number",
        )
    if x == 0.0 and n < 0.0:
        return (ZeroDivisionError, "zero raised to a negative power: {0} ** {n!r}")
    return None


POW = OpSpec(
    "pow", 1,
    forward=float_pow,
    # ∂(xⁿ)/∂x = n·xⁿ⁻¹ (0 for n = 0, also at x = 0, as in PyTorch)
    local=lambda x, out, n: (n * x ** (n - 1.0) if n != 0.0 else 0.0,),
    check=_refuse_power, param="n",
    symbol="**{n:g}", text="{x}**{n}", math="{x}^{n}", formulas=("{n}·{x}^({n} − 1)",),
    operator="**", torch="torch.pow",
)  # fmt: skip


def _refuse_value_power(x: float, y: float) -> Refusal | None:
    if x < 0.0:
        return (
            ValueError,
            "power with a Value exponent needs a non-negative base: {0} ** {1} "
            "(the gradient with respect to the exponent needs ln(base))",
        )
    if x == 0.0 and y < 0.0:
        return (ZeroDivisionError, "zero raised to a negative power: {0} ** {1}")
    return None


def _pow_value_local(x: Any, y: Any, out: Any) -> tuple[Any, Any]:
    """∂(xʸ)/∂x = y·xʸ⁻¹, ∂(xʸ)/∂y = xʸ·ln x.

    At x = 0 (where ln x is undefined) ∂/∂y is 0, and x = y = 0 gives ∂/∂x = 0, as in PyTorch:
    the `where`s swap the base for 1 there only, so that the rule never takes ln 0 or 0 to a
    negative power, on floats or on Values.  Elsewhere the base stays x, so ∂/∂x keeps its
    dependence on x and y at y = 0 (its own derivatives there are x⁻¹ and 0, not 1 and 0).
    """
    base_for_y = where(data(x) == 0.0, where(data(y) == 0.0, 1.0, x), x)  # 0·1^(−1) = 0 at 0, 0
    base_for_log = where(data(x) == 0.0, 1.0, x)  # xʸ·ln 1 = 0 when x = 0
    return (y * base_for_y ** (y - 1.0), out * log(base_for_log))


POW_VALUE = OpSpec(
    "pow_value", 2,
    forward=float_pow,
    local=_pow_value_local,
    check=_refuse_value_power,
    symbol="**", operands=("x", "y"), text="{x} ** {y}", math="{x}^{y}",
    formulas=("{y}·{x}^({y} − 1)", "{out}·ln {x}"),
    operator="**", torch="torch.pow", positive=(0,),
)  # fmt: skip

RELU = OpSpec(
    "relu", 1,
    forward=float_relu,  # relu(-0.0) = -0.0 and relu(nan) = nan, as in PyTorch
    # 1 if x > 0 else 0 (PyTorch's mask: 0 where out ≤ 0, so relu'(nan) is 1)
    local=lambda x, out: (where(data(out) <= 0.0, 0.0, 1.0),),
    symbol="ReLU", formulas=("1 if {x} > 0 else 0",),
    activation=True, torch="torch.relu", torch_module="ReLU", kinks=(0.0,),
)  # fmt: skip

LEAKY_RELU = OpSpec(
    "leaky_relu", 1,
    forward=float_leaky_relu,
    local=lambda x, out, slope: (where(data(x) > 0.0, 1.0, slope),),  # 1 if x > 0 else slope
    param="slope", default=0.01,
    symbol="LeakyReLU", formulas=("1 if {x} > 0 else {slope}",),
    activation=True, torch="torch.nn.functional.leaky_relu", torch_module="LeakyReLU",
    kinks=(0.0,),
)  # fmt: skip

TANH = OpSpec(
    "tanh", 1,
    forward=math.tanh,
    local=lambda x, out: ((1.0 - out) * (1.0 + out),),  # 1 − tanh²x, exact near ±1
    formulas=("1 − {out}²",), activation=True, torch="torch.tanh", torch_module="Tanh",
)  # fmt: skip

SIGMOID = OpSpec(
    "sigmoid", 1,
    forward=float_sigmoid,
    local=lambda x, out: (out * (1.0 - out),),  # σ(x)·(1 − σ(x))
    math="σ({x})", formulas=("{out}·(1 − {out})",), activation=True, torch="torch.sigmoid",
    torch_module="Sigmoid",
)  # fmt: skip

EXP = OpSpec(
    "exp", 1,
    forward=float_exp,
    local=lambda x, out: (out,),  # eˣ
    math="e^{x}", formulas=("{out}",), torch="torch.exp",
)  # fmt: skip


def _refuse_log(x: float) -> Refusal | None:
    # NaN passes through as NaN (as in sqrt)
    return (ValueError, "log of a non-positive number: log({0})") if x <= 0.0 else None


LOG = OpSpec(
    "log", 1,
    forward=float_log,
    local=lambda x, out: (1.0 / x,),  # 1/x
    check=_refuse_log,
    math="ln {x}", formulas=("1/{x}",), torch="torch.log", positive=(0,),
)  # fmt: skip


def _refuse_sqrt(x: float) -> Refusal | None:
    return (ValueError, "square root of a negative number: sqrt({0})") if x < 0.0 else None


SQRT = OpSpec(
    "sqrt", 1,
    forward=float_sqrt,
    # 1/(2√x): +inf at 0, −inf at −0.0 and nan at nan, as in PyTorch
    local=lambda x, out: (0.5 / out,),
    check=_refuse_sqrt,
    math="√{x}", formulas=("1/(2·{out})",), torch="torch.sqrt", positive=(0,),
)  # fmt: skip

ABS = OpSpec(
    "abs", 1,
    forward=abs,
    local=lambda x, out: (sign(x),),  # sign(x), 0 at x = 0
    math="|{x}|", formulas=("sign({x})",), torch="torch.abs", kinks=(0.0,),
)  # fmt: skip


def float_maximum(a: float, b: float) -> float:
    """max(a, b), nan if either is nan (as ``torch.maximum``)."""
    return a if a >= b or a != a else b


def _maximum_local(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    """∂max(a, b)/∂a = 1 if a > b, 0 if a < b, ½ at a tie (and the same for b, mirrored):
    PyTorch's rule, under which ``max(x, x)`` has slope 1 (and nan gives 1 to both)."""
    tie, a_less, a_more = data(a) == data(b), data(a) < data(b), data(a) > data(b)
    return (where(tie, 0.5, where(a_less, 0.0, 1.0)), where(tie, 0.5, where(a_more, 0.0, 1.0)))


#: max(a, b): what the losses' log-sum-exp shift is made of, so that the shift is part of
#: the graph (recomputed by compiled replay).  Not in `BUILTIN_OPS`: expressions, the random
#: graphs and ``gradstep test-engine`` do not offer it.
MAXIMUM = OpSpec(
    "maximum", 2,
    forward=float_maximum,
    local=_maximum_local,
    symbol="max", operands=("a", "b"), text="max({a}, {b})",
    formulas=("1 if {a} > {b}, ½ if {a} = {b}, else 0", "1 if {b} > {a}, ½ if {a} = {b}, else 0"),
    torch="torch.maximum",
)  # fmt: skip

#: every built-in op, in the order tables list them
BUILTIN_OPS: tuple[OpSpec, ...] = (
    ADD, SUB, MUL, DIV, NEG, POW, POW_VALUE,
    TANH, SIGMOID, RELU, LEAKY_RELU, EXP, LOG, SQRT, ABS,
)  # fmt: skip

#: the built-in ops by name
OPS_BY_NAME: Mapping[str, OpSpec] = {spec.name: spec for spec in BUILTIN_OPS}
