"""Tests for gradstep.nn.losses: values against the formulas, gradients by gradcheck, stability."""

from __future__ import annotations

import math
from types import ModuleType

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gradstep import Value
from gradstep.nn.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    hinge_loss,
    l2_penalty,
    log_softmax,
    logsumexp,
    mse_loss,
    softmax,
    softmax_cross_entropy,
)
from gradstep.testing import finite_floats, gradcheck

PROPERTY = settings(max_examples=200, deadline=None)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


# ---------------------------------------------------------------------------------------
# mean squared error


def test_mse_value() -> None:
    loss = mse_loss([Value(1.0), Value(2.0), Value(4.0)], [0.0, 2.0, 1.0])
    assert loss.data == pytest.approx((1.0 + 0.0 + 9.0) / 3, rel=1e-15)
    loss.backward()


def test_mse_gradient_is_2_over_n_times_residual() -> None:
    ps = [Value(1.0), Value(2.0), Value(4.0)]
    mse_loss(ps, [0.0, 2.0, 1.0]).backward()
    assert [p.grad for p in ps] == pytest.approx([2 / 3, 0.0, 2.0], rel=1e-15)


@PROPERTY
@given(
    xs=st.lists(finite_floats(-10, 10), min_size=2, max_size=8).filter(lambda v: len(v) % 2 == 0)
)
def test_mse_gradcheck(xs: list[float]) -> None:
    n = len(xs) // 2
    gradcheck(lambda *v: mse_loss(v[:n], v[n:]), xs)


# ---------------------------------------------------------------------------------------
# binary cross-entropy


def test_bce_value() -> None:
    loss = binary_cross_entropy([Value(0.9), Value(0.2)], [1.0, 0.0])
    assert loss.data == pytest.approx(-(math.log(0.9) + math.log(0.8)) / 2, rel=1e-15)


@PROPERTY
@given(
    ps=st.lists(finite_floats(0.01, 0.99), min_size=1, max_size=5),
    data=st.data(),
)
def test_bce_gradcheck(ps: list[float], data: st.DataObject) -> None:
    ts = data.draw(st.lists(st.floats(0.0, 1.0), min_size=len(ps), max_size=len(ps)))
    gradcheck(lambda *p: binary_cross_entropy(p, ts), ps)
    # the targets may be Values too: then ∂L/∂t = -(ln p - ln(1-p))/n flows to them
    soft = [min(max(t, 0.05), 0.95) for t in ts]
    gradcheck(lambda *v: binary_cross_entropy(v[: len(ps)], v[len(ps) :]), ps + soft)


def test_bce_saturated_but_correct_probability_is_fine() -> None:
    p = Value(1.0)
    loss = binary_cross_entropy([p], [1.0])
    assert loss.data == 0.0
    loss.backward()
    assert p.grad == -1.0  # ∂(-ln p)/∂p at p = 1


def test_bce_infinite_loss_points_to_the_logit_version() -> None:
    with pytest.raises(ValueError, match="infinite loss; use binary_cross_entropy_with_logits"):
        binary_cross_entropy([Value(0.0)], [1.0])
    with pytest.raises(ValueError, match=r"probability 0 is 1\.5, not in \[0, 1\]"):
        binary_cross_entropy([Value(1.5)], [1.0])
    with pytest.raises(ValueError, match=r"target 1 is 2\.0, not in \[0, 1\]"):
        binary_cross_entropy([0.5, 0.5], [1.0, 2.0])


@PROPERTY
@given(
    zs=st.lists(finite_floats(-30, 30), min_size=1, max_size=5),
    data=st.data(),
)
def test_bce_with_logits_gradcheck(zs: list[float], data: st.DataObject) -> None:
    ts = data.draw(st.lists(st.floats(0.0, 1.0), min_size=len(zs), max_size=len(zs)))
    gradcheck(lambda *z: binary_cross_entropy_with_logits(z, ts), zs)


@PROPERTY
@given(z=finite_floats(-700, 700), t=st.floats(0.0, 1.0))
def test_bce_with_logits_gradient_is_sigmoid_minus_target(z: float, t: float) -> None:
    v = Value(z)
    binary_cross_entropy_with_logits([v], [t]).backward()
    assert v.grad == pytest.approx(_sigmoid(z) - t, rel=1e-9, abs=1e-15)


@PROPERTY
@given(z=finite_floats(-15, 15), t=st.sampled_from([0.0, 1.0]))
def test_bce_with_logits_agrees_with_bce_on_sigmoid(z: float, t: float) -> None:
    direct = binary_cross_entropy_with_logits([Value(z)], [t]).data
    via_sigmoid = binary_cross_entropy([Value(z).sigmoid()], [t]).data
    assert direct == pytest.approx(via_sigmoid, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("z", [1e3, -1e3, 1e300, -1e300, 0.0])
def test_bce_with_logits_is_stable_for_huge_logits(z: float) -> None:
    for t in (0.0, 1.0):
        v = Value(z)
        loss = binary_cross_entropy_with_logits([v], [t])
        loss.backward()
        expected = max(z, 0.0) - t * z + math.log1p(math.exp(-abs(z)))
        assert loss.data == pytest.approx(expected, rel=1e-12)
        assert math.isfinite(loss.data)
        assert v.grad == _sigmoid(z) - t


# ---------------------------------------------------------------------------------------
# softmax, log-softmax, log-sum-exp, softmax cross-entropy


logit_lists = st.lists(finite_floats(-20, 20), min_size=2, max_size=5)


@PROPERTY
@given(zs=logit_lists)
def test_softmax_is_a_distribution_and_matches_its_formula(zs: list[float]) -> None:
    probs = [p.data for p in softmax(zs)]
    assert sum(probs) == pytest.approx(1.0, rel=1e-12)
    total = sum(math.exp(z) for z in zs)
    assert probs == pytest.approx([math.exp(z) / total for z in zs], rel=1e-10)


@PROPERTY
@given(zs=logit_lists, data=st.data())
def test_softmax_and_log_softmax_gradcheck(zs: list[float], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(zs) - 1))
    gradcheck(lambda *z: softmax(z)[i], zs)
    gradcheck(lambda *z: log_softmax(z)[i], zs)


@PROPERTY
@given(zs=logit_lists)
def test_logsumexp_gradcheck_and_value(zs: list[float]) -> None:
    assert logsumexp(zs).data == pytest.approx(math.log(sum(math.exp(z) for z in zs)), rel=1e-12)
    gradcheck(lambda *z: logsumexp(z), zs)


def test_softmax_family_is_stable_for_large_logits() -> None:
    zs = [1000.0, 1001.0, 999.0]
    probs = [p.data for p in softmax(zs)]
    e = [math.exp(-1.0), 1.0, math.exp(-2.0)]
    assert probs == pytest.approx([x / sum(e) for x in e], rel=1e-12)
    assert logsumexp(zs).data == pytest.approx(1001.0 + math.log(sum(e)), rel=1e-15)
    assert [v.data for v in log_softmax(zs)] == pytest.approx(
        [math.log(x / sum(e)) for x in e], rel=1e-12
    )
    assert softmax_cross_entropy([-1e4, 1e4], 1).data == 0.0
    assert softmax_cross_entropy([-1e4, 1e4], 0).data == 2e4


@PROPERTY
@given(
    batch=st.lists(
        st.lists(finite_floats(-20, 20), min_size=3, max_size=3), min_size=1, max_size=3
    ),
    data=st.data(),
)
def test_softmax_cross_entropy_gradcheck(batch: list[list[float]], data: st.DataObject) -> None:
    ks = data.draw(st.lists(st.integers(0, 2), min_size=len(batch), max_size=len(batch)))
    flat = [z for row in batch for z in row]

    def loss(*v: Value) -> Value:
        rows = [list(v[3 * i : 3 * i + 3]) for i in range(len(batch))]
        return softmax_cross_entropy(rows, ks)

    gradcheck(loss, flat)


@PROPERTY
@given(zs=logit_lists, data=st.data())
def test_softmax_cross_entropy_is_minus_log_softmax_and_grad_is_p_minus_onehot(
    zs: list[float], data: st.DataObject
) -> None:
    k = data.draw(st.integers(0, len(zs) - 1))
    vs = [Value(z) for z in zs]
    loss = softmax_cross_entropy(vs, k)
    probs = [p.data for p in softmax(zs)]
    assert loss.data == pytest.approx(-math.log(probs[k]), rel=1e-9, abs=1e-12)
    loss.backward()
    expected = [p - (1.0 if i == k else 0.0) for i, p in enumerate(probs)]
    assert [v.grad for v in vs] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_softmax_cross_entropy_batch_is_the_mean() -> None:
    a = softmax_cross_entropy([1.0, 2.0, 0.5], 2).data
    b = softmax_cross_entropy([0.0, -1.0, 3.0], 0).data
    both = softmax_cross_entropy([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], [2, 0]).data
    assert both == pytest.approx((a + b) / 2, rel=1e-15)


def test_softmax_cross_entropy_bad_targets() -> None:
    with pytest.raises(ValueError, match=r"target 0 is 3, not a class index in 0\.\.2"):
        softmax_cross_entropy([1.0, 2.0, 3.0], 3)
    with pytest.raises(ValueError, match="2 samples of logits but 1 targets"):
        softmax_cross_entropy([[1.0, 2.0], [1.0, 2.0]], [0])
    with pytest.raises(ValueError, match="not a class index"):
        softmax_cross_entropy([[1.0, 2.0]], [True])


# ---------------------------------------------------------------------------------------
# hinge (SVM max-margin) loss and the L2 penalty


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_logits_are_named_not_reported_as_a_log_domain_error(bad: float) -> None:
    # these used to fail inside the engine as "log of a non-positive number: log(nan)"
    # (or return nan): the caller's bad logit is named instead
    with pytest.raises(ValueError, match=rf"logsumexp: logit 1 is {bad!r}, not a finite number"):
        logsumexp([0.5, bad])
    with pytest.raises(ValueError, match=rf"softmax: logit 1 is {bad!r}, not a finite number"):
        softmax([0.5, bad])
    with pytest.raises(ValueError, match=rf"log_softmax: logit 1 is {bad!r}"):
        log_softmax([0.5, bad])
    with pytest.raises(
        ValueError, match=rf"softmax_cross_entropy: sample 1, logit 0 is {bad!r}, not a finite"
    ):
        softmax_cross_entropy([[1.0, 2.0], [bad, 0.0]], [0, 1])
    with pytest.raises(
        ValueError, match=rf"binary_cross_entropy_with_logits: logit 0 is {bad!r}, not a finite"
    ):
        binary_cross_entropy_with_logits([bad], [1.0])


def test_hinge_value_is_micrograds_demo_loss() -> None:
    scores = [Value(0.5), Value(-2.0), Value(3.0)]
    labels = [1, 1, -1]
    micrograd_style = sum((1 + -yi * si).relu() for yi, si in zip(labels, scores, strict=True))
    assert isinstance(micrograd_style, Value)
    expected = micrograd_style * (1.0 / 3)
    assert hinge_loss(scores, labels).data == expected.data == pytest.approx((0.5 + 3 + 4) / 3)


@PROPERTY
@given(
    ss=st.lists(finite_floats(-5, 5), min_size=1, max_size=5),
    data=st.data(),
)
def test_hinge_gradcheck(ss: list[float], data: st.DataObject) -> None:
    ys = data.draw(st.lists(st.sampled_from([-1, 1]), min_size=len(ss), max_size=len(ss)))
    assume(all(abs(1 - y * s) > 1e-3 for s, y in zip(ss, ys, strict=True)))  # away from the kink
    gradcheck(lambda *s: hinge_loss(s, ys), ss)


def test_l2_penalty_refuses_a_negative_alpha() -> None:
    # -α·Σθ² would reward large weights: a sign slip, not a regulariser
    with pytest.raises(ValueError, match=r"alpha must be a finite number >= 0, got -0\.1"):
        l2_penalty([Value(1.0)], alpha=-0.1)


def test_softmax_cross_entropy_refuses_a_non_integer_single_target() -> None:
    with pytest.raises(ValueError, match=r"target is 1\.0, not a class index"):
        softmax_cross_entropy([1.0, 2.0], 1.0)  # type: ignore[arg-type]


def test_hinge_labels_must_be_plus_minus_one() -> None:
    with pytest.raises(ValueError, match=r"label 1 is 0\.0; labels must be -1 or"):
        hinge_loss([0.5, 0.5], [1, 0])


@PROPERTY
@given(ps=st.lists(finite_floats(-10, 10), min_size=1, max_size=6), alpha=finite_floats(0.0, 1.0))
def test_l2_penalty_gradcheck_and_gradient(ps: list[float], alpha: float) -> None:
    gradcheck(lambda *p: l2_penalty(p, alpha), ps)
    vs = [Value(p) for p in ps]
    penalty = l2_penalty(vs, alpha)
    assert penalty.data == pytest.approx(alpha * sum(p * p for p in ps), rel=1e-12)
    penalty.backward()
    assert [v.grad for v in vs] == pytest.approx([2 * alpha * p for p in ps], rel=1e-12)


def test_l2_penalty_edge_cases() -> None:
    assert l2_penalty([]).data == 0.0
    with pytest.raises(TypeError, match="parameter 0 is a float, not a Value"):
        l2_penalty([1.0])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        l2_penalty([Value(1.0)], float("nan"))


# ---------------------------------------------------------------------------------------
# shapes and inputs


def test_length_mismatch_and_empty_inputs() -> None:
    with pytest.raises(ValueError, match="mse_loss: 2 predictions but 1 targets"):
        mse_loss([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="mse_loss: got no values"):
        mse_loss([], [])
    with pytest.raises(TypeError, match="hinge_loss: Value data must be a real number"):
        hinge_loss(["a"], [1])  # type: ignore[list-item]


def test_single_values_are_accepted() -> None:
    p = Value(3.0)
    loss = mse_loss(p, 1.0)
    assert loss.data == 4.0
    loss.backward()
    assert p.grad == 4.0
    assert hinge_loss(Value(0.25), 1).data == 0.75


# ---------------------------------------------------------------------------------------
# PyTorch as the oracle


@pytest.mark.torch
@PROPERTY
@given(
    batch=st.lists(
        st.lists(finite_floats(-30, 30), min_size=4, max_size=4), min_size=1, max_size=3
    ),
    data=st.data(),
)
def test_losses_match_torch(
    torch: ModuleType, batch: list[list[float]], data: st.DataObject
) -> None:
    F = torch.nn.functional
    n = len(batch)
    ks = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    ts = data.draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))

    # softmax cross-entropy over a batch
    zs = [[Value(z) for z in row] for row in batch]
    ours = softmax_cross_entropy(zs, ks)
    ours.backward()
    tz = torch.tensor(batch, dtype=torch.float64, requires_grad=True)
    theirs = F.cross_entropy(tz, torch.tensor(ks))
    theirs.backward()
    assert ours.data == pytest.approx(theirs.item(), rel=1e-10, abs=1e-12)
    ours_grad = [v.grad for row in zs for v in row]
    assert ours_grad == pytest.approx(tz.grad.flatten().tolist(), rel=1e-9, abs=1e-12)

    # binary cross-entropy with logits on the first column, MSE on the second
    col = [Value(row[0]) for row in batch]
    bce = binary_cross_entropy_with_logits(col, ts)
    bce.backward()
    tc = torch.tensor([row[0] for row in batch], dtype=torch.float64, requires_grad=True)
    tb = F.binary_cross_entropy_with_logits(tc, torch.tensor(ts, dtype=torch.float64))
    tb.backward()
    assert bce.data == pytest.approx(tb.item(), rel=1e-10, abs=1e-12)
    assert [v.grad for v in col] == pytest.approx(tc.grad.tolist(), rel=1e-9, abs=1e-12)

    preds = [Value(row[1]) for row in batch]
    mse = mse_loss(preds, ts)
    tm = F.mse_loss(
        torch.tensor([row[1] for row in batch], dtype=torch.float64),
        torch.tensor(ts, dtype=torch.float64),
    )
    assert mse.data == pytest.approx(tm.item(), rel=1e-12)
