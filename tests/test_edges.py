"""Numbers at the edges (issue 13, items 1, 2 and 8): gradstep's rule is PyTorch's where it can
be, each difference that remains is asserted here and documented in docs/getting-started.md."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from gradstep import Value


def grads(f: Callable[..., Value], *xs: float) -> tuple[float, list[float]]:
    """f's value and its gradient with respect to each input, by backward()."""
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    out.backward()
    return out.data, [v.grad for v in leaves]


def torch_grads(torch: ModuleType, f: Callable[..., Any], *xs: float) -> tuple[float, list[float]]:
    """The same with PyTorch, in float64."""
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = f(*leaves)
    out.backward()
    return out.item(), [t.grad.item() for t in leaves]


def same(a: float, b: float) -> bool:
    """Equal, sign of zero included (nan equals nan)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


# the cases where gradstep gives PyTorch's numbers: (name, gradstep f, torch f, inputs)
MATCHING: list[tuple[str, Callable[..., Any], Callable[..., Any] | None, tuple[float, ...]]] = [
    ("sqrt at nan: gradient nan", lambda x: x.sqrt(), lambda x: x.sqrt(), (math.nan,)),
    ("sqrt at -0.0: -0.0, gradient -inf", lambda x: x.sqrt(), lambda x: x.sqrt(), (-0.0,)),
    ("sqrt at 0: gradient +inf", lambda x: x.sqrt(), lambda x: x.sqrt(), (0.0,)),
    ("relu at -0.0: -0.0, gradient 0", lambda x: x.relu(), lambda x: x.relu(), (-0.0,)),
    ("relu at nan: nan, gradient 1", lambda x: x.relu(), lambda x: x.relu(), (math.nan,)),
    ("abs at nan: gradient 0", lambda x: abs(x), lambda x: x.abs(), (math.nan,)),
    ("abs at -0.0: gradient 0", lambda x: abs(x), lambda x: x.abs(), (-0.0,)),
    ("0 ** Value(0) = 1, gradients 0", lambda x, y: x**y, lambda x, y: x**y, (0.0, 0.0)),
    ("0 ** Value(0.5) = 0, gradients inf, 0", lambda x, y: x**y, lambda x, y: x**y, (0.0, 0.5)),
    ("0 ** 0 = 1, gradient 0", lambda x: x**0, lambda x: x**0.0, (0.0,)),
    ("x**-1 at 1e-200: gradient -inf", lambda x: x**-1, lambda x: x**-1, (1e-200,)),
    ("exp(1000) = inf", lambda x: x.exp(), lambda x: x.exp(), (1000.0,)),
    ("exp(inf) = inf", lambda x: x.exp(), lambda x: x.exp(), (math.inf,)),
    ("2 ** 1e6 = inf", lambda x: x**1e6, lambda x: x**1e6, (2.0,)),
    ("1e200 ** 2 = inf", lambda x: x**2, lambda x: x**2, (1e200,)),
    ("2 ** Value(5000) = inf", lambda x: 2.0**x, lambda x: 2.0**x, (5000.0,)),
    ("1e200 · 1e200 = inf", lambda x, y: x * y, lambda x, y: x * y, (1e200, 1e200)),
    ("1 / 5e-324 = inf", lambda x: 1.0 / x, lambda x: 1.0 / x, (5e-324,)),
    ("tanh at nan", lambda x: x.tanh(), lambda x: x.tanh(), (math.nan,)),
    ("leaky_relu at nan: slope", lambda x: x.leaky_relu(0.1), None, (math.nan,)),
]


@pytest.mark.torch
@pytest.mark.parametrize(("name", "ours", "theirs", "xs"), MATCHING, ids=[c[0] for c in MATCHING])
def test_edges_agree_with_pytorch_bit_for_bit(
    torch: ModuleType,
    name: str,
    ours: Callable[..., Value],
    theirs: Callable[..., Any] | None,
    xs: tuple[float, ...],
) -> None:
    value, gradient = grads(ours, *xs)
    if theirs is None:  # leaky_relu: torch.nn.functional, not a tensor method
        theirs = lambda x: torch.nn.functional.leaky_relu(x, 0.1)  # noqa: E731
    expected_value, expected_gradient = torch_grads(torch, theirs, *xs)
    assert same(value, expected_value), (name, value, expected_value)
    assert all(map(same, gradient, expected_gradient)), (name, gradient, expected_gradient)


# the same numbers without PyTorch, so they hold where it is not installed
@pytest.mark.parametrize(
    ("f", "xs", "value", "gradient"),
    [
        (lambda x: x.sqrt(), (math.nan,), math.nan, [math.nan]),
        (lambda x: x.sqrt(), (-0.0,), -0.0, [-math.inf]),
        (lambda x: x.relu(), (-0.0,), -0.0, [0.0]),
        (lambda x: x.relu(), (math.nan,), math.nan, [1.0]),
        (lambda x, y: x**y, (0.0, 0.0), 1.0, [0.0, 0.0]),
        (lambda x, y: x**y, (0.0, 0.5), 0.0, [math.inf, 0.0]),
        (lambda x: x**-1, (1e-200,), 1e200, [-math.inf]),
        (lambda x: x.exp() * 0.0, (1000.0,), math.nan, [math.nan]),  # inf · 0, as IEEE says
    ],
)
def test_edge_numbers(
    f: Callable[..., Value], xs: tuple[float, ...], value: float, gradient: list[float]
) -> None:
    got_value, got_gradient = grads(f, *xs)
    assert same(got_value, value) and all(map(same, got_gradient, gradient)), (
        got_value,
        got_gradient,
    )


def test_power_one_half_at_negative_zero_follows_ieee_pow_not_pytorchs_sqrt() -> None:
    """A documented difference: PyTorch computes x**0.5 as sqrt(x), so at -0.0 it gives -0.0
    and slope -inf; gradstep's power is IEEE pow: (-0)^0.5 = +0 and 0.5·(-0)^-0.5 = +inf
    (PyTorch itself gives +inf for x**0.25 at -0.0)."""
    value, (slope,) = grads(lambda x: x**0.5, -0.0)
    assert same(value, 0.0) and slope == math.inf
    assert grads(lambda x: x.sqrt(), -0.0)[1] == [-math.inf]  # sqrt itself matches PyTorch


def test_zero_to_a_negative_value_power_is_a_domain_error_not_inf() -> None:
    """A documented difference: PyTorch gives 0 ** -1 = inf; gradstep refuses a pole, as it
    does 1 / 0, naming the operands."""
    with pytest.raises(ZeroDivisionError, match=r"zero raised to a negative power: z=0.0 \*\* "):
        Value(0.0, label="z") ** Value(-1.0)


def test_leaf_gradients_sum_a_pass_first_then_accumulate_as_pytorch_does() -> None:
    """Issue 13.8: x*2.1 + x*1.5 + x*-0.5 twice gives 3.1 then 6.2 (was 6.199999999999999)."""
    x = Value(2.0)
    f = x * 2.1 + x * 1.5 + x * -0.5
    f.backward()
    assert x.grad == 3.1
    f.backward()
    assert x.grad == 6.2
    assert x.grad == 3.1 + (2.1 + 1.5 + -0.5)


@pytest.mark.torch
def test_leaf_accumulation_order_matches_pytorch(torch: ModuleType) -> None:
    t = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    x = Value(2.0)
    for _ in range(3):
        (t * 2.1 + t * 1.5 + t * -0.5).backward()
        (x * 2.1 + x * 1.5 + x * -0.5).backward()
        assert x.grad == t.grad.item()


def test_domain_errors_still_raise_naming_the_operand() -> None:
    """Outside an op's domain (not an overflow) gradstep raises where PyTorch gives nan/inf."""
    cases: list[tuple[Callable[[], Value], type[Exception], str]] = [
        (lambda: Value(-1.0, label="x").log(), ValueError, "log(x=-1.0)"),
        (lambda: Value(0.0, label="x").log(), ValueError, "log(x=0.0)"),
        (lambda: Value(1.0) / Value(0.0, label="d"), ZeroDivisionError, "1.0 / d=0.0"),
        (lambda: Value(-8.0, label="b") ** 0.5, ValueError, "b=-8.0 ** 0.5"),
        (lambda: Value(-1.0, label="s").sqrt(), ValueError, "sqrt(s=-1.0)"),
    ]
    for make, error, message in cases:
        with pytest.raises(error) as caught:
            make()
        assert message in str(caught.value)


# ---------------------------------------------------------------------------------------
# issue 17: one rule for 0 · ±inf on every path, and poles inside gradients of gradients


def relu_then_sqrt(x: Value) -> Value:
    """sqrt(relu(x)): at x ≤ 0 the sqrt's slope is +inf and relu's is 0."""
    return x.relu().sqrt()


def power_zero_then_sqrt(x: Value) -> Value:
    """sqrt(x**0 - 1): x**0's slope is 0 under an infinite upstream."""
    return (x**0 - 1.0).sqrt()


@pytest.mark.parametrize("f", [relu_then_sqrt, power_zero_then_sqrt])
def test_a_zero_local_derivative_passes_zero_under_an_infinite_upstream(
    f: Callable[[Value], Value],
) -> None:
    import gradstep

    x = Value(-1.0)
    f(x).backward()
    assert same(x.grad, 0.0), ("backward", x.grad)
    x = Value(-1.0)
    (got,) = gradstep.grad(f(x), [x])
    assert same(got, 0.0), ("grad", got)
    x = Value(-1.0)
    (value,) = gradstep.grad(f(x), [x], create_graph=True)
    assert same(value.data, 0.0), ("grad create_graph", value.data)


@pytest.mark.torch
@pytest.mark.parametrize(("f", "g"), [(relu_then_sqrt, lambda t: t.relu().sqrt())])
def test_a_zero_local_derivative_under_inf_matches_pytorch(
    torch: ModuleType, f: Callable[[Value], Value], g: Callable[[Any], Any]
) -> None:
    for x in (-1.0, -0.0, 0.0):
        ours = grads(f, x)
        theirs = torch_grads(torch, g, x)
        assert same(ours[0], theirs[0]) and all(map(same, ours[1], theirs[1])), (x, ours, theirs)


@pytest.mark.parametrize(
    ("f", "first", "second"),
    [
        (lambda x: x.sqrt(), math.inf, -math.inf),
        (lambda x: x**0.5, math.inf, -math.inf),
        (lambda x: x**1.5, 0.0, math.inf),
    ],
)
def test_gradients_of_gradients_at_a_pole_are_inf_not_an_error(
    f: Callable[[Value], Value], first: float, second: float
) -> None:
    """PyTorch's numbers (torch.autograd.grad with create_graph=True, float64)."""
    import gradstep

    x = Value(0.0)
    (g,) = gradstep.grad(f(x), [x], create_graph=True)
    (h,) = gradstep.grad(g, [x])
    assert (g.data, h) == (first, second), ("expected", (first, second), "got", (g.data, h))


def test_a_pole_inside_a_gradient_still_raises_outside_gradients() -> None:
    """Only a rule run by `gradstep.grad` passes a pole as ±inf; user code still gets the error."""
    import gradstep

    x = Value(0.0)
    gradstep.grad(x.sqrt(), [x], create_graph=True)
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / Value(0.0)


def test_tanh_slope_keeps_its_digits_near_one() -> None:
    """(1 − out)(1 + out) instead of 1 − out²: the relative error near out = ±1 was 5e-9."""
    from fractions import Fraction

    for x in (-9.3, -5.0, 4.2, 8.75):
        v = Value(x)
        out = v.tanh()
        out.backward()
        t = Fraction(out.data)
        exact = float((1 - t) * (1 + t))  # the exact slope at the float tanh gives
        assert abs(v.grad - exact) <= abs(exact) * 4e-16, (x, v.grad, exact)


def test_the_issues_reproducers_on_compiled_replay() -> None:
    """sqrt at 0 and p ** -1.0 at 1e-200 gave a bare float error in compile; relu → sqrt gave
    nan; each now gives eager mode's numbers."""
    import gradstep

    cases: list[tuple[Callable[[Value], Value], float, float, float]] = [
        (lambda v: v.sqrt(), 0.0, 0.0, math.inf),
        (lambda v: v**-1.0, 1e-200, 1e200, -math.inf),
        (lambda v: v.relu().sqrt(), -1.0, 0.0, 0.0),
    ]
    for make, x, value, slope in cases:
        p = Value(x)
        step = gradstep.compile(functools.partial(make, p), [p])
        p.grad = 0.0
        got = step()
        assert (got, p.grad) == (value, slope), ("expected", (value, slope), "got", (got, p.grad))
