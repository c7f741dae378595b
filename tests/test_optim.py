"""Tests for gradstep.nn.optim: SGD and Adam against their formulas and against torch.optim."""

from __future__ import annotations

import math
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradstep import Value
from gradstep.nn.optim import SGD, Adam

grads = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False)
datas = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False)


def _run(opt_params: list[Value], opt: SGD | Adam, grad_steps: list[list[float]]) -> None:
    """Apply ``opt.step()`` once per list of gradients (one gradient per parameter)."""
    for gs in grad_steps:
        for p, g in zip(opt_params, gs, strict=True):
            p.grad = g
        opt.step()


# ---------------------------------------------------------------------------------------
# SGD against the formulas


def test_sgd_plain_step_is_theta_minus_lr_grad() -> None:
    a, b = Value(1.0), Value(-2.0)
    a.grad, b.grad = 0.5, -4.0
    SGD([a, b], lr=0.1).step()
    assert a.data == 1.0 - 0.1 * 0.5
    assert b.data == -2.0 - 0.1 * -4.0


def test_sgd_momentum_and_weight_decay_by_hand() -> None:
    p = Value(1.0)
    opt = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    # step 1: g = 2 + 0.01·1 = 2.01, b = g, θ = 1 - 0.1·2.01
    p.grad = 2.0
    opt.step()
    assert p.data == pytest.approx(1.0 - 0.1 * 2.01, rel=1e-15)
    theta1 = p.data
    # step 2: g = -1 + 0.01·θ1, b = 0.9·2.01 + g, θ = θ1 - 0.1·b
    p.grad = -1.0
    opt.step()
    g2 = -1.0 + 0.01 * theta1
    assert p.data == pytest.approx(theta1 - 0.1 * (0.9 * 2.01 + g2), rel=1e-15)
    assert opt.velocity[0] == pytest.approx(0.9 * 2.01 + g2, rel=1e-15)


def test_sgd_nesterov_by_hand() -> None:
    p = Value(0.0)
    opt = SGD([p], lr=1.0, momentum=0.5, nesterov=True)
    p.grad = 1.0
    opt.step()  # b = 1, step = g + μb = 1.5
    assert p.data == -1.5
    p.grad = 1.0
    opt.step()  # b = 0.5 + 1 = 1.5, step = 1 + 0.75 = 1.75
    assert p.data == -3.25


@settings(max_examples=200, deadline=None)
@given(
    theta=datas,
    gs=st.lists(grads, min_size=1, max_size=6),
    lr=st.floats(0.0, 1.0),
    momentum=st.floats(0.0, 0.99),
    wd=st.floats(0.0, 0.1),
)
def test_sgd_matches_its_formula(
    theta: float, gs: list[float], lr: float, momentum: float, wd: float
) -> None:
    p = Value(theta)
    opt = SGD([p], lr=lr, momentum=momentum, weight_decay=wd)
    expected, b = theta, 0.0
    for k, g in enumerate(gs):
        p.grad = g
        opt.step()
        d = g + wd * expected if wd else g
        b = d if k == 0 else momentum * b + d
        expected -= lr * (b if momentum else d)
        assert p.data == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_learning_rate_may_be_a_function_of_the_step_number() -> None:
    p = Value(0.0)
    seen: list[int] = []

    def schedule(t: int) -> float:
        seen.append(t)
        return 1.0 - 0.9 * t / 100

    opt = SGD([p], lr=schedule)
    for _ in range(3):
        p.grad = 1.0
        opt.step()
    assert seen == [0, 1, 2]
    assert opt.t == 3
    assert p.data == pytest.approx(-(1.0 + 0.991 + 0.982), rel=1e-15)
    assert opt.current_lr() == pytest.approx(0.973)


# ---------------------------------------------------------------------------------------
# Adam against the formulas


def _adam_reference(
    theta: float,
    gs: list[float],
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    wd: float = 0.0,
) -> list[float]:
    """Adam written out from Kingma & Ba's Algorithm 1 (with L2 weight decay)."""
    m = v = 0.0
    out = []
    for t, g in enumerate(gs, start=1):
        g = g + wd * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        theta = theta - lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(theta)
    return out


@settings(max_examples=200, deadline=None)
@given(
    theta=datas,
    gs=st.lists(grads, min_size=1, max_size=6),
    lr=st.floats(1e-4, 0.5),
    beta1=st.floats(0.0, 0.99),
    beta2=st.floats(0.0, 0.9999),
    wd=st.sampled_from([0.0, 0.01]),
)
def test_adam_matches_its_formula(
    theta: float, gs: list[float], lr: float, beta1: float, beta2: float, wd: float
) -> None:
    p = Value(theta)
    opt = Adam([p], lr=lr, betas=(beta1, beta2), eps=1e-8, weight_decay=wd)
    expected = _adam_reference(theta, gs, lr, beta1, beta2, 1e-8, wd)
    for g, e in zip(gs, expected, strict=True):
        p.grad = g
        opt.step()
        assert p.data == pytest.approx(e, rel=1e-12, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(theta=datas, g=grads.filter(lambda g: abs(g) > 1e-3), lr=st.floats(1e-4, 0.5))
def test_adams_first_step_moves_by_about_lr(theta: float, g: float, lr: float) -> None:
    # m̂ = g and v̂ = g², so the first step is lr·g/(|g| + ε) ≈ lr·sign(g), short of it by
    # lr·ε/(|g| + ε) < lr·ε/|g| (up to 5e-6 for lr = 0.5, |g| = 1e-3)
    p = Value(theta)
    p.grad = g
    Adam([p], lr=lr).step()
    short = lr * 1e-8 / abs(g)
    assert p.data == pytest.approx(theta - lr * math.copysign(1.0, g), abs=short + 1e-12)


def test_adam_defaults_are_pytorchs() -> None:
    opt = Adam([Value(0.0)])
    assert opt.lr == 1e-3
    assert opt.betas == (0.9, 0.999)
    assert opt.eps == 1e-8


def test_optimizers_minimise_a_quadratic() -> None:
    for make in (
        lambda ps: SGD(ps, lr=0.1),
        lambda ps: SGD(ps, lr=0.05, momentum=0.9),
        lambda ps: Adam(ps, lr=0.1),
    ):
        x, y = Value(5.0), Value(-3.0)
        opt = make([x, y])
        for _ in range(300):
            loss = (x - 1.0) ** 2 + (y + 2.0) ** 2
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert x.data == pytest.approx(1.0, abs=1e-3)
        assert y.data == pytest.approx(-2.0, abs=1e-3)


def test_zero_grad_resets_grads() -> None:
    a, b = Value(1.0), Value(2.0)
    a.grad, b.grad = 3.0, -1.0
    opt = Adam([a, b])
    opt.zero_grad()
    assert (a.grad, b.grad) == (0.0, 0.0)


# ---------------------------------------------------------------------------------------
# validation


def test_bad_arguments_raise_clear_errors() -> None:
    p = Value(0.0)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="parameter 1 is a float, not a Value"):
        SGD([p, 1.0], lr=0.1)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="iterable of Values"):
        SGD(p, lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="appears more than once"):
        SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match=r"lr must be >= 0\.0, got -0\.1"):
        SGD([p], lr=-0.1)
    with pytest.raises(ValueError, match="lr must be a finite number"):
        SGD([p], lr=float("nan"))
    with pytest.raises(ValueError, match="momentum must be"):
        SGD([p], lr=0.1, momentum=-1.0)
    with pytest.raises(ValueError, match="nesterov momentum needs momentum > 0"):
        SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0\.0, 1\.0\)"):
        Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="betas must be a pair"):
        Adam([p], betas=(0.9,))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="eps must be"):
        Adam([p], eps=-1e-8)


def test_a_schedule_returning_nonsense_is_reported() -> None:
    p = Value(0.0)
    opt = SGD([p], lr=lambda t: float("inf"))
    with pytest.raises(ValueError, match=r"lr\(0\) returned inf"):
        opt.step()
    assert p.data == 0.0


def test_a_schedule_that_turns_negative_is_reported_not_followed_uphill() -> None:
    # micrograd's decay 1 - 0.9·t/100 goes below 0 after t = 111: that would be gradient ascent
    p = Value(1.0)
    opt = SGD([p], lr=lambda t: 1.0 - 0.9 * t / 100)
    for _ in range(112):
        p.grad = 0.5
        opt.step()
    before = p.data
    p.grad = 0.5
    with pytest.raises(ValueError, match=r"lr\(112\) returned -0\.008.*negative"):
        opt.step()
    assert p.data == before and opt.t == 112


def test_parameters_may_come_from_a_generator() -> None:
    ps = [Value(1.0), Value(2.0)]
    opt = SGD((p for p in ps), lr=0.5)
    for p in ps:
        p.grad = 1.0
    opt.step()
    assert [p.data for p in ps] == [0.5, 1.5]


# ---------------------------------------------------------------------------------------
# PyTorch as the oracle


def _torch_trajectory(
    torch: ModuleType, make_opt: object, theta: list[float], grad_steps: list[list[float]]
) -> list[float]:
    params = [torch.tensor(t, dtype=torch.float64, requires_grad=True) for t in theta]
    opt = make_opt(params)  # type: ignore[operator]
    for gs in grad_steps:
        for p, g in zip(params, gs, strict=True):
            p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    return [float(p.item()) for p in params]


step_grads = st.lists(st.lists(grads, min_size=3, max_size=3), min_size=1, max_size=5)


@pytest.mark.torch
@settings(max_examples=200, deadline=None)
@given(
    theta=st.lists(datas, min_size=3, max_size=3),
    grad_steps=step_grads,
    lr=st.floats(1e-3, 1.0),
    momentum=st.sampled_from([0.0, 0.5, 0.9]),
    wd=st.sampled_from([0.0, 1e-4, 0.1]),
    nesterov=st.booleans(),
)
def test_sgd_matches_torch(
    torch: ModuleType,
    theta: list[float],
    grad_steps: list[list[float]],
    lr: float,
    momentum: float,
    wd: float,
    nesterov: bool,
) -> None:
    nesterov = nesterov and momentum > 0
    expected = _torch_trajectory(
        torch,
        lambda ps: torch.optim.SGD(
            ps, lr=lr, momentum=momentum, weight_decay=wd, nesterov=nesterov
        ),
        theta,
        grad_steps,
    )
    params = [Value(t) for t in theta]
    _run(
        params,
        SGD(params, lr=lr, momentum=momentum, weight_decay=wd, nesterov=nesterov),
        grad_steps,
    )
    assert [p.data for p in params] == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.torch
@settings(max_examples=200, deadline=None)
@given(
    theta=st.lists(datas, min_size=3, max_size=3),
    grad_steps=step_grads,
    lr=st.floats(1e-4, 0.5),
    betas=st.sampled_from([(0.9, 0.999), (0.5, 0.9), (0.0, 0.99)]),
    eps=st.sampled_from([1e-8, 1e-3]),
    wd=st.sampled_from([0.0, 0.01]),
)
def test_adam_matches_torch(
    torch: ModuleType,
    theta: list[float],
    grad_steps: list[list[float]],
    lr: float,
    betas: tuple[float, float],
    eps: float,
    wd: float,
) -> None:
    expected = _torch_trajectory(
        torch,
        lambda ps: torch.optim.Adam(ps, lr=lr, betas=betas, eps=eps, weight_decay=wd),
        theta,
        grad_steps,
    )
    params = [Value(t) for t in theta]
    _run(params, Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=wd), grad_steps)
    assert [p.data for p in params] == pytest.approx(expected, rel=1e-10, abs=1e-12)


@pytest.mark.torch
def test_lr_schedule_matches_torch_lambda_lr(torch: ModuleType) -> None:
    tp = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(topt, lambda t: 1.0 - 0.9 * t / 10)
    p = Value(0.0)
    opt = SGD([p], lr=lambda t: 1.0 - 0.9 * t / 10)
    for k in range(10):
        g = float(k) - 4.5
        tp.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
        sched.step()
        p.grad = g
        opt.step()
    assert p.data == pytest.approx(float(tp.item()), rel=1e-12)
