"""Anomaly mode (issue 13): stop at the first value or gradient that is not finite, say where."""

from __future__ import annotations

import math

import pytest

import gradstep
from gradstep import AnomalyError, Value, detect_anomaly, engine
from gradstep.anomaly import is_anomaly_enabled
from gradstep.cli import main
from gradstep.viz.explain import walkthrough


def test_outside_the_block_overflow_is_ieee_and_nothing_stops() -> None:
    x = Value(1e-200, label="x")
    (x**-1).backward()
    assert x.grad == -math.inf
    assert Value(1000.0).exp().data == math.inf


def test_an_op_whose_result_is_not_finite_raises_naming_op_expression_and_inputs() -> None:
    w, b = Value(800.0, label="w"), Value(1.0, label="b")
    with detect_anomaly(), pytest.raises(AnomalyError) as caught:
        (w * 2 + b).exp()
    error = caught.value
    assert str(error) == (
        "forward: exp((w * 2.0) + b) = inf is not finite (op exp; inputs: (w * 2.0) + b = 1601.0)"
    )
    assert (error.stage, error.op, error.value, error.node) == ("forward", "exp", math.inf, None)
    assert [v.data for v in error.inputs] == [1601.0]


def test_nan_from_inf_times_zero_is_caught_where_it_is_made() -> None:
    big = Value(math.inf, label="big")  # a leaf may hold inf: the op that uses it is named
    with detect_anomaly(), pytest.raises(AnomalyError) as caught:
        big * 0
    assert (
        str(caught.value) == "forward: big * 0.0 = nan is not finite (op *; inputs: big = inf, 0.0)"
    )
    assert math.isnan(caught.value.value)


def test_the_issue_example_raises_in_backward_and_changes_no_gradient() -> None:
    x, z = Value(1e-200, label="x"), Value(1.0, label="z")
    x.grad, z.grad = 0.25, 0.5  # from earlier passes
    with detect_anomaly():
        loss = x**-1 + z * 2
        with pytest.raises(AnomalyError) as caught:
            loss.backward()
    assert (x.grad, z.grad, loss.grad) == (0.25, 0.5, 0.0)  # all or nothing
    error = caught.value
    assert str(error) == (
        "backward: at n1 = x**-1 (op **-1), local ∂n1/∂x = -1·x^(-1 − 1) = -inf × upstream "
        "∂L/∂n1 = 1.0 gives -inf; inputs: x = 1e-200"
    )
    assert error.stage == "backward"
    assert error.node is loss._prev[0] and error.child is x
    assert (error.local, error.upstream, error.value) == (-math.inf, 1.0, -math.inf)


def test_backward_names_nodes_as_the_walk_through_does() -> None:
    a, b = Value(0.0, label="a"), Value(3.0, label="b")
    root = (a * b + a.sqrt()) * b
    names = walkthrough(root).names  # outside the block: inf with no error
    with detect_anomaly(), pytest.raises(AnomalyError) as caught:
        root.backward()
    error = caught.value
    assert error.names == names
    sqrt_node = next(v for v in names if v._op == "sqrt")
    assert error.node is sqrt_node
    assert str(error).startswith(f"backward: at {names[sqrt_node]} = sqrt(a) (op sqrt), ")
    n = names[sqrt_node]
    assert f"× upstream ∂L/∂{n} = 3.0 gives inf; inputs: a = 0.0" in str(error)


def test_finite_work_is_unchanged_inside_the_block() -> None:
    def run() -> tuple[list[float], str]:
        x, y = Value(0.5, label="x"), Value(-1.5, label="y")
        out = (x * y + x.exp()).tanh() / (y**2 + 1)
        walk = walkthrough(out)
        return [x.grad, y.grad, out.data], walk.format_text()

    outside = run()
    with detect_anomaly():
        inside = run()
    assert inside == outside


def test_gradients_of_gradients_are_checked_too() -> None:
    x = Value(1e-200, label="x")
    with detect_anomaly():
        (first,) = gradstep.grad(x * x, [x], create_graph=True)
        assert first.data == 2e-200
        # -x**-2, built from Values, overflows while the derivative's graph is made
        with pytest.raises(AnomalyError, match=r"^forward: x\*\*-2 = inf is not finite"):
            gradstep.grad(x**-1, [x], create_graph=True)


def test_micrograd_style_backward_step_is_checked() -> None:
    x = Value(0.0, label="x")
    with detect_anomaly():
        y = x.sqrt()
        y.grad = 1.0
        with pytest.raises(AnomalyError, match=r"local ∂n1/∂x = 1/\(2·n1\) = inf"):
            y._backward()


def test_blocks_nest_and_the_engine_gets_its_own_functions_back() -> None:
    plain_node, plain_rule = engine._node, engine._apply_chain_rule
    assert not is_anomaly_enabled()
    with detect_anomaly():
        with detect_anomaly():
            assert is_anomaly_enabled()
        assert is_anomaly_enabled()  # the outer block still checks
        with pytest.raises(AnomalyError):
            Value(1e308) * 10
    assert not is_anomaly_enabled()
    assert (engine._node, engine._apply_chain_rule) == (plain_node, plain_rule)
    with pytest.raises(KeyError), detect_anomaly():
        raise KeyError("an error inside the block")
    assert (engine._node, engine._apply_chain_rule) == (plain_node, plain_rule)
    assert (Value(1e308) * 10).data == math.inf  # off again


def test_strict_command_stops_with_one_line_naming_the_node(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explain", "x**-1", "x=1e-200", "--strict"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "gradstep explain: error: backward: at L = x**-1 (op **-1), local ∂L/∂x = "
        "-1·x^(-1 − 1) = -inf × upstream ∂L/∂L = 1.0 gives -inf; inputs: x = 1e-200 "
        "(in L = x**-1; --strict)\n"
    )


def test_without_strict_the_command_prints_the_tables_and_points_to_strict(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explain", "sqrt(x)*log(y)", "x=0", "y=2"]) == 0
    captured = capsys.readouterr()
    assert "∂L/∂x = inf" in captured.out
    assert "--strict stops at the first and says where" in captured.err
    assert main(["explain", "sqrt(x)*log(y)", "x=0", "y=2", "--strict"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gradstep explain: error: backward: at n1 = sqrt(x) (op sqrt), ")
    assert err.endswith("inputs: x = 0.0 (in L = sqrt(x)*log(y); --strict)\n")


def test_strict_changes_nothing_when_every_number_is_finite(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["explain", "tanh(w*x + b)", "x=0.5", "w=-1.5", "b=0.2"]
    assert main(argv) == 0
    plain = capsys.readouterr()
    assert main([*argv, "--strict"]) == 0
    assert capsys.readouterr() == plain
