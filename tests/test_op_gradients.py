"""Every op's gradient as a Hypothesis property: backward() vs central differences vs the math.

Three layers: each op's gradient (every form: Value⊕Value, Value⊕number, number⊕Value)
is checked by `gradcheck` against central differences *and* against the closed-form
derivative written here with `math`; then different routes to the same function must
agree (x*x vs x**2, a/b vs a*b**-1, exp(log x) vs x, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from gradstep import Value
from gradstep.testing import GradcheckReport, finite_floats, gradcheck

PROPERTY = settings(max_examples=200, deadline=None)


def assert_gradients(
    f: Callable[..., Value],
    inputs: Sequence[float],
    expected_value: float,
    expected_grads: Sequence[float],
) -> GradcheckReport:
    """gradcheck f at inputs, then compare the value and gradients with the closed forms."""
    report = gradcheck(f, inputs)  # raises GradcheckError on a disagreement
    assert report.output == pytest.approx(expected_value, rel=1e-12, abs=1e-300)
    for check, expected in zip(report.inputs, expected_grads, strict=True):
        assert check.analytic == pytest.approx(expected, rel=1e-9, abs=1e-12), check.describe()
        assert check.numeric == pytest.approx(expected, rel=1e-4, abs=1e-6), check.describe()
    checked = [c for c in report.local if c.status == "ok"]
    assert checked, f"no local derivative was checked: {report}"
    return report


# ---------------------------------------------------------------------------------------
# binary ops: + - * / ** in the three forms


@dataclass(frozen=True)
class BinarySpec:
    """a ⊕ b on Values or floats, its partial derivatives, and safe ranges for a and b."""

    apply: Callable[[Any, Any], Any]
    partials: Callable[[float, float], tuple[float, float]]
    left: SearchStrategy[float]
    right: SearchStrategy[float]


WIDE = finite_floats(-1e3, 1e3)
BINARY: dict[str, BinarySpec] = {
    "+": BinarySpec(lambda a, b: a + b, lambda a, b: (1.0, 1.0), WIDE, WIDE),
    "-": BinarySpec(lambda a, b: a - b, lambda a, b: (1.0, -1.0), WIDE, WIDE),
    "*": BinarySpec(lambda a, b: a * b, lambda a, b: (b, a), WIDE, WIDE),
    "/": BinarySpec(
        lambda a, b: a / b,
        lambda a, b: (1.0 / b, -a / (b * b)),
        finite_floats(-100.0, 100.0),
        finite_floats(-100.0, 100.0, min_magnitude=0.1),
    ),
    "**": BinarySpec(
        lambda a, b: a**b,
        lambda a, b: (b * a ** (b - 1.0), a**b * math.log(a)),
        finite_floats(0.1, 10.0),
        finite_floats(-3.0, 3.0),
    ),
}
FORMS = ("value-value", "value-number", "number-value")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("op", list(BINARY))
@PROPERTY
@given(data=st.data())
def test_binary_op_gradient(op: str, form: str, data: st.DataObject) -> None:
    spec = BINARY[op]
    a = data.draw(spec.left, label="a")
    b = data.draw(spec.right, label="b")
    da, db = spec.partials(a, b)
    value = spec.apply(a, b)
    if form == "value-value":
        assert_gradients(lambda x, y: spec.apply(x, y), [a, b], value, [da, db])
    elif form == "value-number":
        assert_gradients(lambda x: spec.apply(x, b), [a], value, [da])
    else:
        assert_gradients(lambda y: spec.apply(a, y), [b], value, [db])


@PROPERTY
@given(x=finite_floats(-5.0, 5.0, min_magnitude=0.1), n=st.integers(-3, 4))
def test_pow_integer_exponent_takes_any_sign_of_base(x: float, n: int) -> None:
    expected = 0.0 if n == 0 else n * x ** (n - 1)
    report = gradcheck(lambda v: v**n, [x])
    assert report.inputs[0].analytic == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert report.output == pytest.approx(x**n, rel=1e-12)


@PROPERTY
@given(x=finite_floats(0.1, 10.0), n=finite_floats(-3.0, 3.0))
def test_pow_constant_exponent_keeps_exponent_as_its_constant(x: float, n: float) -> None:
    out = Value(x) ** n
    assert out._op == f"**{n:g}"
    assert out.local_grads() == pytest.approx((n * x ** (n - 1.0),), rel=1e-12)


# ---------------------------------------------------------------------------------------
# unary ops


@dataclass(frozen=True)
class UnarySpec:
    """f(x) on a Value, f on floats, f' on floats, and a safe range for x."""

    apply: Callable[[Value], Value]
    value: Callable[[float], float]
    derivative: Callable[[float], float]
    domain: SearchStrategy[float]


def _sigmoid(x: float) -> float:
    """σ(x) = 1 / (1 + e^-x), as e^x / (1 + e^x) for x < 0 (no cancellation, no overflow)."""
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _sigmoid_derivative(x: float) -> float:
    """σ'(x) = e^-|x| / (1 + e^-|x|)², symmetric in x."""
    z = math.exp(-abs(x))
    return z / (1.0 + z) ** 2


UNARY: dict[str, UnarySpec] = {
    "neg": UnarySpec(lambda v: -v, lambda x: -x, lambda x: -1.0, finite_floats(-1e3, 1e3)),
    "relu": UnarySpec(
        Value.relu,
        lambda x: max(x, 0.0),
        lambda x: 1.0 if x > 0 else 0.0,
        finite_floats(-100.0, 100.0, min_magnitude=1e-3),
    ),
    "leaky_relu": UnarySpec(
        lambda v: v.leaky_relu(0.05),
        lambda x: x if x > 0 else 0.05 * x,
        lambda x: 1.0 if x > 0 else 0.05,
        finite_floats(-100.0, 100.0, min_magnitude=1e-3),
    ),
    "tanh": UnarySpec(
        Value.tanh, math.tanh, lambda x: 1.0 / math.cosh(x) ** 2, finite_floats(-20.0, 20.0)
    ),
    "sigmoid": UnarySpec(
        Value.sigmoid,
        _sigmoid,
        _sigmoid_derivative,
        finite_floats(-30.0, 30.0),
    ),
    "exp": UnarySpec(Value.exp, math.exp, math.exp, finite_floats(-30.0, 30.0)),
    "log": UnarySpec(Value.log, math.log, lambda x: 1.0 / x, finite_floats(1e-3, 1e3)),
    "sqrt": UnarySpec(
        Value.sqrt, math.sqrt, lambda x: 0.5 / math.sqrt(x), finite_floats(1e-3, 1e3)
    ),
    "abs": UnarySpec(
        Value.abs,
        abs,
        lambda x: math.copysign(1.0, x),
        finite_floats(-100.0, 100.0, min_magnitude=1e-3),
    ),
}


@pytest.mark.parametrize("op", list(UNARY))
@PROPERTY
@given(data=st.data())
def test_unary_op_gradient(op: str, data: st.DataObject) -> None:
    spec = UNARY[op]
    x = data.draw(spec.domain, label="x")
    assert_gradients(spec.apply, [x], spec.value(x), [spec.derivative(x)])


@PROPERTY
@given(x=finite_floats(-100.0, 100.0, min_magnitude=1e-3), slope=finite_floats(0.0, 1.0))
def test_leaky_relu_gradient_for_any_slope(x: float, slope: float) -> None:
    expected = 1.0 if x > 0 else slope
    assert_gradients(lambda v: v.leaky_relu(slope), [x], x if x > 0 else slope * x, [expected])


@PROPERTY
@given(x=finite_floats(-100.0, 100.0, min_magnitude=1e-3))
def test_abs_operator_is_the_abs_method(x: float) -> None:
    v = Value(x)
    out = abs(v)
    out.backward()
    assert (out._op, out.data, v.grad) == ("abs", abs(x), math.copysign(1.0, x))


# ---------------------------------------------------------------------------------------
# agreement between routes to the same function


def value_and_grads(f: Callable[..., Value], inputs: Sequence[float]) -> tuple[float, list[float]]:
    """f's value and its gradient with respect to each input, by backward()."""
    leaves = [Value(x) for x in inputs]
    out = f(*leaves)
    out.backward()
    return out.data, [v.grad for v in leaves]


def assert_same_function(
    f: Callable[..., Value], g: Callable[..., Value], inputs: Sequence[float], rel: float = 1e-9
) -> None:
    """f and g agree in value and in every gradient."""
    f_value, f_grads = value_and_grads(f, inputs)
    g_value, g_grads = value_and_grads(g, inputs)
    assert f_value == pytest.approx(g_value, rel=rel, abs=1e-12)
    assert f_grads == pytest.approx(g_grads, rel=rel, abs=1e-12)


small = finite_floats(-10.0, 10.0)
positive = finite_floats(0.1, 10.0)
nonzero = finite_floats(-10.0, 10.0, min_magnitude=0.1)


@PROPERTY
@given(x=small)
def test_x_times_x_is_x_squared(x: float) -> None:
    assert_same_function(lambda v: v * v, lambda v: v**2, [x])


@PROPERTY
@given(x=small)
def test_x_plus_x_is_two_x(x: float) -> None:
    assert_same_function(lambda v: v + v, lambda v: 2 * v, [x])


@PROPERTY
@given(a=small, b=small)
def test_subtraction_is_adding_the_negation(a: float, b: float) -> None:
    assert_same_function(lambda x, y: x - y, lambda x, y: x + (-y), [a, b])


@PROPERTY
@given(a=small, c=small)
def test_number_minus_value_is_minus_value_minus_number(a: float, c: float) -> None:
    assert_same_function(lambda x: c - x, lambda x: -(x - c), [a])


@PROPERTY
@given(a=small, b=nonzero)
def test_division_is_multiplying_by_the_reciprocal(a: float, b: float) -> None:
    assert_same_function(lambda x, y: x / y, lambda x, y: x * y**-1, [a, b])


@PROPERTY
@given(x=finite_floats(1e-3, 1e3))
def test_exp_of_log_is_identity(x: float) -> None:
    value, (grad,) = value_and_grads(lambda v: v.log().exp(), [x])
    assert value == pytest.approx(x, rel=1e-12)
    assert grad == pytest.approx(1.0, rel=1e-9)


@PROPERTY
@given(x=finite_floats(-30.0, 30.0))
def test_log_of_exp_is_identity(x: float) -> None:
    value, (grad,) = value_and_grads(lambda v: v.exp().log(), [x])
    assert value == pytest.approx(x, rel=1e-9, abs=1e-12)
    assert grad == pytest.approx(1.0, rel=1e-9)


@PROPERTY
@given(x=finite_floats(1e-3, 1e3))
def test_sqrt_is_power_one_half(x: float) -> None:
    assert_same_function(lambda v: v.sqrt(), lambda v: v**0.5, [x])


@PROPERTY
@given(x=positive, y=finite_floats(-3.0, 3.0))
def test_value_power_is_exp_of_y_log_x(x: float, y: float) -> None:
    assert_same_function(lambda a, b: a**b, lambda a, b: (b * a.log()).exp(), [x, y])


@PROPERTY
@given(x=finite_floats(-30.0, 30.0))
def test_sigmoid_is_one_over_one_plus_exp(x: float) -> None:
    assert_same_function(lambda v: v.sigmoid(), lambda v: 1 / (1 + (-v).exp()), [x], rel=1e-8)


@PROPERTY
@given(x=finite_floats(-10.0, 10.0))
def test_tanh_is_rescaled_sigmoid(x: float) -> None:
    # tanh x = 2σ(2x) − 1; near tanh ≈ ±1 the derivative 1 − tanh² loses relative digits
    value, (grad,) = value_and_grads(lambda v: v.tanh(), [x])
    other, (other_grad,) = value_and_grads(lambda v: 2 * (2 * v).sigmoid() - 1, [x])
    assert value == pytest.approx(other, rel=1e-12, abs=1e-15)
    assert grad == pytest.approx(other_grad, rel=1e-6, abs=1e-12)


@PROPERTY
@given(x=finite_floats(-100.0, 100.0, min_magnitude=1e-3))
def test_relu_is_half_x_plus_abs_x(x: float) -> None:
    assert_same_function(lambda v: v.relu(), lambda v: (v + v.abs()) / 2, [x])


@PROPERTY
@given(x=finite_floats(-100.0, 100.0, min_magnitude=1e-3), slope=finite_floats(0.0, 1.0))
def test_leaky_relu_is_relu_minus_slope_relu_of_minus_x(x: float, slope: float) -> None:
    assert_same_function(
        lambda v: v.leaky_relu(slope), lambda v: v.relu() - slope * (-v).relu(), [x]
    )
