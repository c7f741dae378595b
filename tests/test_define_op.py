"""gradstep.define_op: a user's op, defined once, works on every path (issue 9, item 2)."""

from __future__ import annotations

import math
import struct

import pytest

import gradstep
from gradstep import Value, define_op
from gradstep import functional as F
from gradstep.testing import GradcheckError, gradcheck
from gradstep.viz.drawing import draw_dot
from gradstep.viz.explain import walkthrough

softplus = define_op(
    "softplus",
    forward=lambda x: F.log(1.0 + F.exp(x)),
    local=lambda x, out: (F.sigmoid(x),),  # ∂ ln(1 + eˣ)/∂x = σ(x)
)

hypot = define_op(
    "hypot",
    forward=lambda a, b: math.hypot(a, b),
    local=lambda a, b, out: (a / out, b / out),  # ∂√(a²+b²)/∂a = a/out
)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def bits(x: float) -> str:
    return struct.pack("<d", x).hex()


def test_a_user_op_applies_to_values_and_numbers() -> None:
    x = Value(0.5, label="x")
    y = softplus(x)
    assert y.data == pytest.approx(math.log1p(math.exp(0.5)), rel=1e-15)
    assert y._op == "softplus" and y._prev == (x,)
    assert softplus(2).data == pytest.approx(math.log1p(math.exp(2.0)), rel=1e-15)
    h = hypot(3.0, Value(4.0))
    assert h.data == 5.0 and h._prev[0].data == 3.0
    assert softplus.spec.name == "softplus" and softplus.spec.arity == 1  # type: ignore[attr-defined]


def test_backward_uses_the_users_local_rule() -> None:
    a, b = Value(3.0), Value(4.0)
    out = softplus(hypot(a, b) * 0.2)  # softplus(1)
    out.backward()
    assert a.grad == pytest.approx(sigmoid(1.0) * 0.2 * 3.0 / 5.0, rel=1e-15)
    assert b.grad == pytest.approx(sigmoid(1.0) * 0.2 * 4.0 / 5.0, rel=1e-15)


def test_the_walkthrough_names_the_op_with_its_numbers() -> None:
    x = Value(0.5, label="x")
    y = softplus(x * 2.0)
    y.label = "y"
    wt = walkthrough(y)
    first = wt.backward[0]
    assert (first.node, first.op, first.child) == ("y", "softplus", "n1")
    assert first.local == sigmoid(1.0)
    assert "softplus(n1)" in wt.format_text()
    assert x.grad == pytest.approx(2.0 * sigmoid(1.0), rel=1e-15)


def test_draw_dot_shows_the_op() -> None:
    source = draw_dot(softplus(Value(1.0, label="x"))).source
    assert "label=softplus" in source or 'label="softplus"' in source


def test_gradcheck_passes_a_right_op_and_names_a_wrong_one() -> None:
    assert gradcheck(lambda x, y: softplus(hypot(x, y)).tanh(), [0.3, -1.2]).ok
    wrong = define_op(
        "bad_softplus",
        forward=lambda x: F.log(1.0 + F.exp(x)),
        local=lambda x, out: (F.exp(x),),  # wrong: should be σ(x)
    )
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x: wrong(x) * 2.0, [0.3])
    (bad,) = caught.value.report.failed_local
    assert bad.op == "bad_softplus"
    assert bad.analytic == pytest.approx(math.exp(0.3), rel=1e-12)
    assert bad.numeric == pytest.approx(sigmoid(0.3), rel=1e-7)
    assert "op 'bad_softplus' at node #" in str(caught.value)


def test_compiled_replay_calls_the_op_and_matches_eager_to_the_bit() -> None:
    w, v = Value(0.3), Value(-0.7)

    def loss_fn() -> Value:
        return softplus(w * 3.0) * hypot(w, v) + softplus(v)

    step = gradstep.compile(loss_fn, [w, v])
    for data in (0.3, -1.5, 2.0):
        w.data, w.grad, v.grad = data, 0.0, 0.0
        loss = step()
        replayed = (w.grad, v.grad)
        w.grad = v.grad = 0.0
        eager = loss_fn()
        eager.backward()
        assert bits(loss) == bits(eager.data)
        assert [bits(g) for g in replayed] == [bits(w.grad), bits(v.grad)]


def test_second_and_third_derivatives_come_from_the_same_rule() -> None:
    x = Value(0.4)
    (first,) = gradstep.grad(softplus(x), [x], create_graph=True)
    (second,) = gradstep.grad(first, [x], create_graph=True)
    (third,) = gradstep.grad(second, [x])
    s = sigmoid(0.4)
    assert first.data == pytest.approx(s, rel=1e-15)
    assert second.data == pytest.approx(s * (1 - s), rel=1e-15)
    assert third == pytest.approx(s * (1 - s) * (1 - 2 * s), rel=1e-13)


def test_a_rule_returning_the_wrong_number_of_derivatives_is_named() -> None:
    twice = define_op("twice", forward=lambda x: 2.0 * x, local=lambda x, out: (2.0, 0.0))
    with pytest.raises(ValueError, match=r"op 'twice': local\(\) returned 2 derivatives for 1"):
        twice(Value(1.0)).backward()


def test_a_forward_that_returns_no_number_is_named() -> None:
    broken = define_op("broken", forward=lambda x: "x", local=lambda x, out: (1.0,))  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match=r"op 'broken': forward\(a=1.0\) must return a real"):
        broken(Value(1.0, label="a"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("soft plus", lambda x: x, lambda x, out: (1.0,)), "name must be an identifier"),
        (("f", lambda *xs: 0.0, lambda x, out: (1.0,)), "forward must take one or more plain"),
        (("f", lambda x, k=2: 0.0, lambda x, out: (1.0,)), "forward must take one or more plain"),
        (("f", 1.0, lambda x, out: (1.0,)), "forward and local must be functions"),
    ],
)
def test_define_op_refuses_what_it_cannot_use(args: tuple[object, ...], message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        define_op(*args)  # type: ignore[arg-type]


def test_the_op_takes_exactly_its_operands() -> None:
    with pytest.raises(TypeError, match=r"hypot takes 2 operand\(s\), got 1"):
        hypot(Value(1.0))


def test_the_old_local_grads_route_still_works_and_says_what_it_cannot_do() -> None:
    x = Value(2.0)
    out = Value(x.data**3, (x,), "cube")
    out._local_grads = lambda node: (3 * node._prev[0].data ** 2,)
    out.backward()
    assert x.grad == 12.0
    assert gradstep.grad(out, [x]) == [12.0]
    with pytest.raises(TypeError, match=r"op .cube. has only a rule on floats .*define_op"):
        gradstep.grad(out, [x], create_graph=True)
