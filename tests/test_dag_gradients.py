"""Random expression DAGs vs central differences and PyTorch float64; gradcheck's own behaviour.

The DAGs come from `gradstep.testing.expression_dags`: up to 4 inputs, up to 12 ops, depth
≤ 6, shared subexpressions, every op with its domain respected.  Then gradcheck itself:
its local-derivative check must point at a deliberately broken op, and its messages must
name the input or op, both numbers and their difference.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter
from types import ModuleType

import pytest
from hypothesis import given, note, settings

import gradstep
from gradstep import Value
from gradstep.testing import (
    DAG_OPS,
    DAGStep,
    ExpressionDAG,
    GradcheckError,
    expression_dags,
    finite_floats,
    gradcheck,
    values,
)

PROPERTY = settings(max_examples=200, deadline=None)


# ---------------------------------------------------------------------------------------
# random DAGs: gradstep vs central differences, vs PyTorch float64


@PROPERTY
@given(dag=expression_dags())
def test_dag_gradients_match_central_differences(dag: ExpressionDAG) -> None:
    note(dag.source())
    report = gradcheck(dag, dag.inputs)  # every input, and every node's local derivatives
    assert report.ok
    assert len(report.inputs) == len(dag.inputs)
    assert report.output == pytest.approx(dag.evaluate_float(), rel=1e-12, abs=1e-300)
    # the generator's margins keep every op away from kinks and domain edges: no skips
    assert report.local and all(c.status == "ok" for c in report.local)


@pytest.mark.torch
@PROPERTY
@given(dag=expression_dags())
def test_dag_gradients_match_pytorch_float64(torch: ModuleType, dag: ExpressionDAG) -> None:
    note(dag.source())
    leaves = [Value(x) for x in dag.inputs]
    out = dag(*leaves)
    out.backward()

    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in dag.inputs]
    expected = dag.torch(*tensors)
    expected.backward()

    assert out.data == pytest.approx(expected.item(), rel=1e-12, abs=1e-14)
    for leaf, tensor in zip(leaves, tensors, strict=True):
        torch_grad = 0.0 if tensor.grad is None else tensor.grad.item()
        assert leaf.grad == pytest.approx(torch_grad, rel=1e-9, abs=1e-12)


@pytest.mark.slow
def test_expression_dags_cover_every_op_form_sharing_and_depth() -> None:
    forms: Counter[str] = Counter()
    depths: Counter[int] = Counter()
    inputs: Counter[int] = Counter()
    shared = 0

    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(dag=expression_dags())
    def collect(dag: ExpressionDAG) -> None:
        nonlocal shared
        for step in dag.steps:
            form = "vv" if len(step.args) == 2 else "cv" if step.const_first else "v"
            forms[f"{step.op} {form}"] += 1
        depths[dag.depth] += 1
        inputs[len(dag.inputs)] += 1
        uses = Counter(i for step in dag.steps for i in step.args)
        shared += any(n >= 2 for n in uses.values())

    collect()
    for op in DAG_OPS:
        assert forms[f"{op} v"] > 0, op
    for op in ("+", "-", "*", "/", "**"):
        assert forms[f"{op} vv"] > 0 and forms[f"{op} cv"] > 0, op
    assert max(depths) == 6
    assert set(inputs) == {1, 2, 3, 4}
    assert shared > 50  # shared subexpressions in a good share of the DAGs


def test_dag_evaluates_the_same_on_every_backend() -> None:
    # v2 = x0 * x1; v3 = v2.log(); v4 = v3 + v2 (v2 shared); v5 = 2.0 ** v4
    dag = ExpressionDAG(
        (1.5, 2.0),
        (
            DAGStep("*", (0, 1)),
            DAGStep("log", (2,)),
            DAGStep("+", (3, 2)),
            DAGStep("**", (4,), 2.0, const_first=True),
        ),
    )
    expected = 2.0 ** (math.log(3.0) + 3.0)
    assert dag.evaluate_float() == pytest.approx(expected, rel=1e-15)
    assert dag(Value(1.5), Value(2.0)).data == pytest.approx(expected, rel=1e-15)
    assert dag.depth == 4
    assert dag.source().splitlines() == [
        "x0 = Value(1.5)",
        "x1 = Value(2.0)",
        "v2 = x0 * x1",
        "v3 = v2.log()",
        "v4 = v3 + v2",
        "v5 = 2.0 ** v4",
    ]
    root = dag(Value(1.5, label="x0"), Value(2.0, label="x1"))
    assert root.label == "v5" and root._prev[1].label == "v4"


# ---------------------------------------------------------------------------------------
# gradcheck: a broken op is found and named


def _rule_returning_the_value(node: Value) -> tuple[float, ...]:
    """A wrong local derivative: d/dx tanh x taken as tanh x itself."""
    return (node.data,)


def broken_tanh(x: Value) -> Value:
    """tanh with a deliberately wrong local derivative."""
    out = x.tanh()
    out._local_grads = _rule_returning_the_value
    return out


def test_local_check_names_the_broken_builtin_op() -> None:
    def f(a: Value, b: Value) -> Value:
        h = broken_tanh(a * b)
        h.label = "h"
        return h + a.exp()

    with pytest.raises(GradcheckError) as caught:
        gradcheck(f, [0.5, -1.5])
    message = str(caught.value)
    t = math.tanh(-0.75)
    assert "wrong local derivative (∂out/∂child) of an op:" in message
    assert f"op 'tanh' at node #2 (h={t:.10g}), child 0 (data=-0.75)" in message
    assert f"analytic local derivative {t:.10g}, numeric 0.59658580" in message
    (bad,) = caught.value.report.failed_local
    assert (bad.op, bad.node_index, bad.child_index) == ("tanh", 2, 0)
    assert bad.analytic == t
    assert bad.numeric == pytest.approx(1 - t * t, rel=1e-8)
    assert bad.difference == pytest.approx(t - (1 - t * t), rel=1e-8)
    # every other edge checked out: the error points at the one op
    assert all(c.status == "ok" for c in caught.value.report.local if c is not bad)


def test_local_check_catches_a_wrong_derivative_hidden_by_a_zero_upstream() -> None:
    # (broken_tanh(x) * 0) + x: ∂f/∂x is right (1), but the tanh node's rule is still wrong
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x: broken_tanh(x) * 0.0 + x, [0.3])
    report = caught.value.report
    assert not report.failed_inputs
    assert report.inputs[0].analytic == pytest.approx(1.0)
    assert [c.op for c in report.failed_local] == ["tanh"]
    assert "gradient of the output with respect to an input" not in str(caught.value)


def sin(x: Value) -> Value:
    """A user's op whose local derivative is wrong (sin instead of cos)."""
    out = Value(math.sin(x.data), (x,), "sin")
    out._local_grads = lambda node: (math.sin(node._prev[0].data),)
    return out


def test_users_op_is_checked_once_registered() -> None:
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x: sin(x) * 2, [0.7], ops={"sin": math.sin})
    (bad,) = caught.value.report.failed_local
    assert bad.op == "sin"
    assert bad.analytic == pytest.approx(math.sin(0.7))
    assert bad.numeric == pytest.approx(math.cos(0.7), rel=1e-8)
    assert "op 'sin' at node #2" in str(caught.value)


def test_unregistered_op_is_skipped_and_the_message_says_how_to_register_it() -> None:
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x: sin(x) * 2, [0.7])
    message = str(caught.value)
    (failed,) = caught.value.report.failed_inputs
    assert failed.analytic == pytest.approx(2 * math.sin(0.7))
    assert failed.numeric == pytest.approx(2 * math.cos(0.7), rel=1e-8)
    assert "input 0 (x0 = 0.7)" in message
    assert "ops={'sin': fn}" in message
    (skipped,) = caught.value.report.skipped_local
    assert skipped.op == "sin" and "no re-apply rule" in skipped.reason


def test_users_op_with_a_constant_gets_it_as_a_keyword() -> None:
    def scale(x: Value, k: float) -> Value:
        out = Value(k * x.data, (x,), "scale")
        out._constant = k
        out._local_grads = lambda node: (1.0,)  # wrong: should be k
        return out

    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x: scale(x, 3.0), [1.25], ops={"scale": lambda x, constant: constant * x})
    (bad,) = caught.value.report.failed_local
    assert (bad.op, bad.analytic) == ("scale", 1.0)
    assert bad.numeric == pytest.approx(3.0)


def test_rule_with_the_wrong_number_of_derivatives_is_named_by_backward() -> None:
    """backward() itself refuses a rule that returns the wrong number of derivatives (it used
    to take the first one silently, leaving gradcheck to notice)."""

    def twice(x: Value) -> Value:
        out = Value(2 * x.data, (x,), "twice")
        out._local_grads = lambda node: (2.0, 0.0)
        return out

    with pytest.raises(ValueError, match=r"op 'twice': local\(\) returned 2 derivatives for 1"):
        gradcheck(lambda x: twice(x).relu(), [0.5], ops={"twice": lambda x: 2 * x})


def test_wrong_forward_of_a_registered_op_is_reported() -> None:
    report = gradcheck(
        lambda x: sin(x), [0.7], ops={"sin": math.cos}, raise_on_failure=False, atol=1.0
    )
    (bad,) = report.failed_local
    assert "re-applying 'sin' to the children gives" in bad.reason


# ---------------------------------------------------------------------------------------
# gradcheck: messages, report, kinks and bad arguments


def test_input_failure_message_names_index_label_values_and_difference() -> None:
    a = Value(0.5, label="a")
    b = Value(2.0, label="b")
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x, y: broken_tanh(x) + y * y, [a, b], check_local=False)
    t = math.tanh(0.5)
    (failed,) = caught.value.report.failed_inputs
    assert (failed.index, failed.label, failed.value) == (0, "a", 0.5)
    assert failed.analytic == t
    assert failed.numeric == pytest.approx(1 - t * t, rel=1e-8)
    message = str(caught.value)
    assert message.startswith("gradcheck failed (eps=1e-06, atol=1e-05, rtol=0.001)")
    assert f"input 0 (a = 0.5): analytic {t:.10g}, numeric 0.78644773" in message
    assert f"difference {t - (1 - t * t):.3g}" in message
    assert "input 1" not in message  # b's gradient is right
    assert isinstance(caught.value, AssertionError)


def test_passing_report_lists_every_input_and_local_check() -> None:
    report = gradcheck(lambda x, y: (x * y).tanh() + y.exp(), [0.5, -1.0])
    assert report.ok
    assert report.output == pytest.approx(math.tanh(-0.5) + math.exp(-1.0))
    d = 1 - math.tanh(-0.5) ** 2
    assert [c.label for c in report.inputs] == ["x0", "x1"]
    assert report.inputs[0].analytic == pytest.approx(-1.0 * d)
    assert report.inputs[1].analytic == pytest.approx(0.5 * d + math.exp(-1.0))
    assert [(c.op, c.child_index) for c in report.local] == [
        ("+", 0), ("+", 1), ("exp", 0), ("tanh", 0), ("*", 0), ("*", 1),
    ]  # fmt: skip
    text = report.format()
    assert text.splitlines()[0].endswith(": OK")
    assert "local derivatives: 6 checked, 0 failed, 0 skipped" in text


def test_kinks_are_skipped_in_the_local_check() -> None:
    # relu(x)·x and |x|·x are differentiable at 0 (derivative 0) though relu and abs are not
    report = gradcheck(lambda x: x.relu() * x + x.abs() * x + x.leaky_relu(0.1) * x, [0.0])
    assert report.inputs[0].analytic == 0.0
    skipped = {c.op: c.reason for c in report.skipped_local}
    assert skipped == {
        "ReLU": "ReLU has a kink at 0",
        "abs": "abs has a kink at 0",
        "LeakyReLU": "LeakyReLU has a kink at 0",
    }


def test_edge_of_domain_is_skipped_in_the_local_check() -> None:
    # sqrt at 0 has slope ∞; the product's local derivative 0 passes 0 under it (the chain
    # rule's 0·∞ = 0), so ∂f/∂x is f's true slope 1 and the input check passes
    report = gradcheck(lambda x: (x * 0.0).sqrt() + x, [1.0], raise_on_failure=False)
    (skipped,) = report.skipped_local
    assert skipped.op == "sqrt" and "not finite" in skipped.reason
    assert report.inputs[0].analytic == 1.0 and report.inputs[0].ok


def test_gradcheck_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"eps must be a positive finite number, got 0\.0"):
        gradcheck(lambda x: x, [1.0], eps=0.0)
    with pytest.raises(ValueError, match="rtol must be a finite number ≥ 0, got -1"):
        gradcheck(lambda x: x, [1.0], rtol=-1)
    with pytest.raises(ValueError, match="at least one input"):
        gradcheck(lambda: Value(1.0), [])
    with pytest.raises(TypeError, match="input 1 must be a real number, got str: 'a'"):
        gradcheck(lambda x, y: x, [1.0, "a"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"f must return a Value, got float: 2\.0"):
        gradcheck(lambda x: x.data * 2, [1.0])


def test_gradcheck_refuses_a_non_finite_input_naming_it() -> None:
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match=rf"input 1 \(y\) must be finite, got {bad!r}"):
            gradcheck(lambda x, y: x * y, [1.0, Value(bad, label="y")])


def test_overflow_in_f_is_reported_as_overflow_not_as_a_wrong_op() -> None:
    # 1e308 · 2 overflows: no op is wrong, so no local check may fail, and the report says why
    report = gradcheck(lambda x: x * 2.0, [1e308], raise_on_failure=False)
    assert not report.failed_local
    (skipped,) = [c for c in report.skipped_local if c.child_index == 0]
    assert skipped.op == "*" and "not finite" in skipped.reason and "overflow" in skipped.reason
    assert not report.ok and math.isnan(report.inputs[0].numeric)
    with pytest.raises(GradcheckError, match=r"f = inf is not finite \(an overflow\?\)"):
        gradcheck(lambda x: x * 2.0, [1e308])


def test_gradcheck_explains_a_step_that_leaves_the_domain() -> None:
    with pytest.raises(ValueError, match=r"f fails at x0 = 1e-07 ± 1e-06 \(log of a non-positive"):
        gradcheck(lambda x: x.log(), [1e-7])


def test_gradcheck_retries_a_step_that_crosses_a_pole_on_one_side_of_it() -> None:
    # 1/x at x = 1e-7: x ± 1e-6 lies on both sides of the pole at 0; h = |x|/1000 does not
    report = gradcheck(lambda x: 1.0 / x, [1e-7], raise_on_failure=False)
    (check,) = report.inputs
    assert check.ok, check
    assert check.note == (
        "the step h = 1e-06 crossed 0 (a pole or kink of f): checked with h = 1e-10, "
        "on one side of 0"
    )
    assert check.numeric == pytest.approx(-1e14, rel=1e-5)


def test_gradcheck_says_when_the_step_crosses_a_pole_and_which_eps_avoids_it() -> None:
    # a wrong slope for 1/x (+1/x² instead of −1/x²) fails on one side of the pole too
    inv = gradstep.define_op("inv", lambda x: 1.0 / x, lambda x, out: (out * out,))
    report = gradcheck(inv, [1e-7], raise_on_failure=False, check_local=False)
    (check,) = report.inputs
    assert not check.ok
    assert check.note.startswith("x0 ± h = [-9e-07, 1.1e-06] crosses 0")
    assert "one-sided slopes" in check.note and "singularity" in check.note
    assert "use a smaller eps, e.g. eps=1e-10" in check.note
    with pytest.raises(GradcheckError, match=r"crosses 0.*eps=1e-10"):
        gradcheck(inv, [1e-7], check_local=False)


def test_gradcheck_note_for_x_over_a_tiny_y_names_the_infinite_gradient() -> None:
    report = gradcheck(lambda x, y: x / y, [1.0, 1e-300], raise_on_failure=False)
    x_check, y_check = report.inputs
    assert x_check.ok and x_check.note == ""
    assert not y_check.ok and y_check.analytic == -math.inf
    assert "crosses 0" in y_check.note and "singularity" in y_check.note
    assert "the analytic gradient -inf is not finite" in y_check.note
    assert "smaller eps" not in y_check.note  # 1/y² overflows: no step can check it
    assert y_check.note in str(y_check.describe())


def test_gradcheck_note_at_a_kink_does_not_suggest_a_smaller_eps() -> None:
    (check,) = gradcheck(lambda x: x.relu(), [0.0], raise_on_failure=False).inputs
    assert not check.ok
    assert "one-sided slopes 1 and 0 differ" in check.note and "kink" in check.note
    assert "smaller eps" not in check.note and "move x0 away" in check.note


def test_gradcheck_domain_error_says_the_step_crosses_0() -> None:
    with pytest.raises(ValueError, match=r"h = 1e-06 is larger than \|x0\| = 1e-07.*eps=1e-10"):
        gradcheck(lambda x: x.log(), [1e-7])


# ---------------------------------------------------------------------------------------
# the strategies


@PROPERTY
@given(x=finite_floats(-2.0, 3.0, min_magnitude=0.5), v=values(1.0, 2.0, label="w"))
def test_finite_floats_and_values_stay_in_range(x: float, v: Value) -> None:
    assert -2.0 <= x <= 3.0 and abs(x) >= 0.5 and math.isfinite(x)
    assert 1.0 <= v.data <= 2.0 and v.label == "w" and v._prev == ()


def test_importing_gradstep_testing_imports_neither_hypothesis_nor_torch() -> None:
    code = (
        "import sys, gradstep.testing; print('hypothesis' in sys.modules, 'torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


def test_without_hypothesis_the_strategies_name_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)  # as if it were not installed
    for make in (expression_dags, finite_floats, values):
        with pytest.raises(ModuleNotFoundError, match=r"pip install 'gradstep\[testing\]'"):
            make()


def test_without_torch_a_dag_on_tensors_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    dag = ExpressionDAG((1.0,), (DAGStep("tanh", (0,)),))
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'gradstep\[torch\]'"):
        dag.torch(1.0)


def test_strategies_refuse_empty_ranges() -> None:
    with pytest.raises(ValueError, match="no x in"):
        finite_floats(-1.0, 1.0, min_magnitude=2.0)
    with pytest.raises(ValueError, match="min_value ≤ max_value"):
        finite_floats(1.0, -1.0)
    with pytest.raises(ValueError, match="unknown"):
        expression_dags(ops=["sin"])


# ---------------------------------------------------------------------------------------
# the README's "Testing your own gradients" example, verbatim


def softplus(x: Value) -> Value:
    """softplus(x) = log(1 + e^x), built from gradstep's ops."""
    return (1 + x.exp()).log()


@settings(max_examples=200, deadline=None)
@given(x=finite_floats(-20, 20))
def test_softplus_gradient(x: float) -> None:
    report = gradcheck(softplus, [x])  # raises GradcheckError on a mismatch
    assert report.inputs[0].analytic == pytest.approx(1 / (1 + math.exp(-x)))


@settings(max_examples=200, deadline=None)
@given(dag=expression_dags(max_inputs=3))
def test_random_expressions(dag: ExpressionDAG) -> None:
    note(dag.source())  # the program, printed if the test fails
    gradcheck(dag, dag.inputs)


def cube(x: Value) -> Value:
    """A new op: x³, with its local derivative 3x²."""
    out = Value(x.data**3, (x,), "cube")
    out._local_grads = lambda node: (3 * node._prev[0].data ** 2,)
    return out


def test_cube_op() -> None:
    gradcheck(lambda x: cube(x).tanh(), [0.5], ops={"cube": lambda x: x**3})


def cube_with_a_bug(x: Value) -> Value:
    """The README's broken op: the local derivative should be 3x², not 3x."""
    out = Value(x.data**3, (x,), "cube")
    out._local_grads = lambda node: (3 * node._prev[0].data,)  # bug: should be 3x²
    return out


def test_readme_broken_cube_message() -> None:
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x: cube_with_a_bug(x).tanh(), [0.5], ops={"cube": lambda x: x**3})
    lines = str(caught.value).splitlines()
    assert lines[:3] == [
        "gradcheck failed (eps=1e-06, atol=1e-05, rtol=0.001)",
        "wrong local derivative (∂out/∂child) of an op:",
        "  op 'cube' at node #1 (data=0.125), child 0 (x0=0.5): analytic local derivative 1.5, "
        "numeric 0.75, difference 0.75 (tolerance 0.00076)",
    ]
    assert lines[4].startswith("  input 0 (x0 = 0.5): analytic 1.476804496, numeric 0.73840224")
