"""Compiled replay of gradstep's own losses after parameter updates (issue 17): equal to eager
mode to the last bit, updates that flip a max or a sign included; and a user's loss that
builds its graph from ``.data`` is refused at compile time."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradstep
from gradstep import Value
from gradstep.engine import topological_order
from gradstep.nn import MLP, losses
from gradstep.replay import GraphChangedError


def bits(x: float) -> str:
    """A float's exact identity (NaNs all map to 'nan')."""
    return "nan" if math.isnan(x) else struct.pack("<d", x).hex()


Outputs = list[list[Value]]
#: every built-in loss, as a loss of a batch of model outputs (3 outputs per sample)
LOSSES: dict[str, Callable[[Outputs], Value]] = {
    "mse_loss": lambda out: losses.mse_loss([o[0] for o in out], [0.5, -1.0, 2.0][: len(out)]),
    "binary_cross_entropy": lambda out: losses.binary_cross_entropy(
        [o[0].sigmoid() for o in out], [1.0, 0.0, 0.25][: len(out)]
    ),
    "binary_cross_entropy_with_logits": lambda out: losses.binary_cross_entropy_with_logits(
        [o[0] for o in out], [1.0, 0.0, 0.25][: len(out)]
    ),
    "softmax_cross_entropy": lambda out: losses.softmax_cross_entropy(out, [2, 0, 1][: len(out)]),
    "logsumexp": lambda out: losses.logsumexp(out[0]),
    "softmax": lambda out: losses.softmax(out[0])[1],
    "log_softmax": lambda out: losses.log_softmax(out[-1])[0],
    "hinge_loss": lambda out: losses.hinge_loss([o[0] for o in out], [1, -1, 1][: len(out)]),
    "l2_penalty": lambda out: losses.l2_penalty([o[1] for o in out], alpha=0.5),
}


def test_every_builtin_loss_is_covered() -> None:
    assert set(LOSSES) == set(losses.__all__)


def eager(loss_fn: Callable[[], Value], params: list[Value]) -> tuple[str, list[str]] | str:
    """Eager mode's loss and gradients as bits, or the name of the error it raises."""
    for p in params:
        p.grad = 0.0
    try:
        loss = loss_fn()
        loss.backward()
    except (ValueError, ArithmeticError) as error:
        return type(error).__name__
    return bits(loss.data), [bits(p.grad) for p in params]


def replayed(step: Callable[[], float], params: list[Value]) -> tuple[str, list[str]] | str:
    """The compiled step's loss and gradients as bits, or the name of the error it raises."""
    for p in params:
        p.grad = 0.0
    try:
        loss = step()
    except (ValueError, ArithmeticError) as error:
        return type(error).__name__
    return bits(loss), [bits(p.grad) for p in params]


#: an update (kind, a, b): ("sgd", lr, _) steps down the gradient; ("scale", k, _) multiplies
#: every parameter by k (k < 0 flips every sign, so the largest logit and softplus's branch
#: change; a large |k| saturates); ("set", i, x) sets parameter i (mod their number) to x
Update = tuple[str, float, float]
updates = st.one_of(
    st.tuples(st.just("sgd"), st.floats(0.01, 5.0), st.just(0.0)),
    st.tuples(
        st.just("scale"), st.sampled_from([-1.0, -3.0, 0.5, 7.0, -40.0, 300.0]), st.just(0.0)
    ),
    st.tuples(st.just("set"), st.integers(0, 10**6).map(float), st.floats(-50.0, 50.0)),
)


def apply_update(update: Update, params: list[Value]) -> None:
    kind, a, b = update
    if kind == "sgd":
        for p in params:
            p.data -= a * (p.grad if math.isfinite(p.grad) else 0.0)
    elif kind == "scale":
        for p in params:
            p.data *= a
    else:
        params[int(a) % len(params)].data = b


@settings(deadline=None, max_examples=60)
@given(
    name=st.sampled_from(sorted(LOSSES)),
    seed=st.integers(0, 10**6),
    hidden=st.integers(1, 4),
    samples=st.integers(1, 3),
    steps=st.lists(updates, min_size=2, max_size=5),
)
def test_replay_of_every_builtin_loss_equals_eager_after_updates(
    name: str, seed: int, hidden: int, samples: int, steps: list[Update]
) -> None:
    model = MLP(2, [hidden, 3], seed=seed)
    inputs = [[0.5, -1.5], [2.0, 0.25], [-1.0, 1.0]][:samples]

    def loss_fn() -> Value:
        return LOSSES[name]([model(x) for x in inputs])  # type: ignore[misc]

    in_graph = set(topological_order(loss_fn()))
    params = [p for p in model.parameters() if p in in_graph]  # the ones the loss reads

    step = gradstep.compile(loss_fn, params)
    for i, update in enumerate(steps):
        expected = eager(loss_fn, params)
        got = replayed(step, params)
        assert got == expected, (name, f"after {i} updates {steps[:i]}", "eager", expected, got)
        apply_update(update, params)


def test_the_issue_reproducer_logsumexp_after_an_update() -> None:
    w = Value(0.0)
    step = gradstep.compile(lambda: losses.logsumexp([w, Value(0.0)]), [w])
    w.data = 800.0
    assert (step(), w.grad) == (800.0, 1.0)


@pytest.mark.parametrize("z0, z1", [(2.0, -2.0), (-2.0, 2.0), (0.0, 5.0), (30.0, -30.0)])
def test_softplus_branch_flip_replays_exactly(z0: float, z1: float) -> None:
    z = Value(z0)
    loss_fn = lambda: losses.binary_cross_entropy_with_logits([z], [0.25])  # noqa: E731
    step = gradstep.compile(loss_fn, [z])
    z.data = z1
    expected = eager(loss_fn, [z])
    assert replayed(step, [z]) == expected


def test_softplus_slope_at_zero_is_one_half() -> None:
    z = Value(0.0)
    losses.binary_cross_entropy_with_logits([z], [0.0]).backward()
    assert z.grad == 0.5


# ---------------------------------------------------------------------------------------
# a user's loss that reads .data while building the graph


def frozen_shift_logsumexp(xs: list[Value]) -> Value:
    """The old way: the shift m read from .data becomes a constant leaf."""
    m = max(x.data for x in xs)
    total = (xs[0] - m).exp()
    for x in xs[1:]:
        total = total + (x - m).exp()
    return total.log() + m


def test_a_constant_computed_from_data_is_refused_at_compile_time() -> None:
    w = Value(0.0)
    with pytest.raises(GraphChangedError, match=r"nudged .*\(a constant: 0\.0 recorded"):
        gradstep.compile(lambda: frozen_shift_logsumexp([w, Value(0.0)]), [w])


def test_a_branch_on_data_near_the_parameters_is_refused_at_compile_time() -> None:
    w = Value(0.3)
    with pytest.raises(GraphChangedError, match=r"reads a parameter's \.data"):
        gradstep.compile(lambda: w * 2.0 if w.data > 0.3005 else w * 3.0, [w])


def test_a_branch_far_away_is_not_seen_at_compile_time_but_check_every_catches_it() -> None:
    """The documented limit: the branch is 100 away; check_every=1 re-checks each step."""
    w = Value(1.0)
    loss_fn = lambda: w * 2.0 if w.data > 100.0 else w * 3.0  # noqa: E731
    step = gradstep.compile(loss_fn, [w], check_every=1)
    assert step() == 3.0
    w.data = 200.0
    with pytest.raises(GraphChangedError, match="different graph"):
        step()


def test_check_every_must_be_a_count() -> None:
    w = Value(1.0)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="check_every"):
            gradstep.compile(lambda: w * w, [w], check_every=bad)  # type: ignore[arg-type]


def test_compile_leaves_the_parameters_as_they_were() -> None:
    model = MLP(2, [3, 1], seed=1)
    params = model.parameters()
    before = [bits(p.data) for p in params]
    for p in params:
        p.grad = 0.25
    gradstep.compile(lambda: model([1.0, 2.0]) ** 2, params)  # type: ignore[operator]
    assert [bits(p.data) for p in params] == before
    assert [p.grad for p in params] == [0.25] * len(params)
