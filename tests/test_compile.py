"""gradstep.compile (in gradstep/replay.py): the replay equals eager mode to the last bit,
and misuse is explained."""

from __future__ import annotations

import json
import math
import random
import struct
import types
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from fresh_process import run_fresh
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import gradstep
from gradstep import Value
from gradstep.engine import topological_order
from gradstep.nn import MLP
from gradstep.nn.datasets import make_moons
from gradstep.replay import CompiledStep, CompileError, GraphChangedError
from gradstep.testing import ExpressionDAG, expression_dags


def bits(x: float) -> str:
    """A float's exact identity (NaNs all map to 'nan')."""
    return "nan" if math.isnan(x) else struct.pack("<d", x).hex()


def moons_setup(n: int = 30, hidden: int = 8) -> tuple[Callable[[], Value], list[Value]]:
    """micrograd's demo loss on a small batch: SVM loss + 1e-4·L2 over an MLP(2, [h, h, 1])."""
    X, y = make_moons(n_samples=n, noise=0.1, seed=3)
    model = MLP(2, [hidden, hidden, 1], seed=7)
    params = model.parameters()

    def loss_fn() -> Value:
        inputs = [[Value(v) for v in row] for row in X]
        scores = [model.output(x) for x in inputs]
        losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores, strict=True)]
        data_loss = cast(Value, sum(losses)) * (1.0 / len(losses))  # sum() starts from 0
        reg_loss = 1e-4 * cast(Value, sum(p * p for p in params))
        return data_loss + reg_loss

    return loss_fn, params


def eager_step(loss_fn: Callable[[], Value], params: list[Value]) -> float:
    loss = loss_fn()
    loss.backward()
    return loss.data


# ---------------------------------------------------------------------------------------
# equal to the last bit


def test_moons_training_matches_eager_bit_for_bit() -> None:
    loss_fn, params = moons_setup()
    twin_fn, twin = moons_setup()  # the same model, trained eagerly
    step = gradstep.compile(loss_fn, params)
    for _ in range(5):
        for p in params + twin:
            p.grad = 0.0
        replay_loss = step()
        eager_loss = eager_step(twin_fn, twin)
        assert bits(replay_loss) == bits(eager_loss)
        assert [bits(p.grad) for p in params] == [bits(p.grad) for p in twin]
        for p, q in zip(params, twin, strict=True):
            p.data -= 0.05 * p.grad
            q.data -= 0.05 * q.grad
    assert any(p.grad != 0.0 for p in params)


def test_leaf_gradients_accumulate_like_eager() -> None:
    a, b = Value(1.5), Value(-2.0)
    a.grad, b.grad = 0.25, -0.125  # not zeroed: backward() adds onto leaf grads

    def loss_fn() -> Value:
        return (a * b + a).tanh() * a

    step = gradstep.compile(loss_fn, [a, b])
    a2, b2 = Value(1.5), Value(-2.0)
    a2.grad, b2.grad = 0.25, -0.125
    out = (a2 * b2 + a2).tanh() * a2
    out.backward()
    assert bits(step()) == bits(out.data)
    assert (bits(a.grad), bits(b.grad)) == (bits(a2.grad), bits(b2.grad))
    step()  # a second call adds again, as a second backward() would
    out.backward()
    assert (bits(a.grad), bits(b.grad)) == (bits(a2.grad), bits(b2.grad))


def eager_result(
    dag: ExpressionDAG, data: list[float], grads: list[float]
) -> tuple[str, list[str]] | tuple[str, str]:
    """The eager loss and grads as bits, or the error eager mode raises."""
    xs = [Value(v) for v in data]
    for x, g in zip(xs, grads, strict=True):
        x.grad = g
    try:
        out = dag(*xs)
        out.backward()
    except (ArithmeticError, ValueError) as exc:
        return type(exc).__name__, str(exc)
    return bits(out.data), [bits(x.grad) for x in xs]


def replay_result(
    step: CompiledStep, xs: list[Value], data: list[float], grads: list[float]
) -> tuple[str, list[str]] | tuple[str, str]:
    for x, v, g in zip(xs, data, grads, strict=True):
        x.data, x.grad = v, g
    try:
        loss = step()
    except (ArithmeticError, ValueError) as exc:
        return type(exc).__name__, str(exc)
    return bits(loss), [bits(x.grad) for x in xs]


@settings(max_examples=200, deadline=None)
@given(
    dag=expression_dags(),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_dags_replay_equals_eager_to_the_last_bit(dag: ExpressionDAG, seed: int) -> None:
    """After recording, change the inputs (and the grads they start from) several times:
    the replay gives eager mode's loss and gradients bit for bit, or eager mode's error."""
    xs = [Value(v) for v in dag.inputs]
    graph = topological_order(dag(*xs))
    # Only the loss's own graph is replayed; a step whose result the root never uses is not
    # (nor is its error), so compare on DAGs where every step feeds the root.
    assume(sum(1 for v in graph if v._prev) == len(dag.steps))
    in_graph = {id(v) for v in graph}
    used = [x for x in xs if id(x) in in_graph]  # a DAG may ignore some of its inputs
    step = gradstep.compile(lambda: dag(*xs), used, verify=False)
    rng = random.Random(seed)
    points = [list(dag.inputs)]
    for _ in range(3):
        points.append([v + rng.choice([0.0, rng.uniform(-0.5, 0.5), -2 * v]) for v in dag.inputs])
    for data in points:
        grads = [rng.choice([0.0, rng.uniform(-1.0, 1.0)]) for _ in xs]
        assert replay_result(step, xs, data, grads) == eager_result(dag, data, grads), str(dag)


# ---------------------------------------------------------------------------------------
# errors at replay time are eager mode's errors


def test_log_of_a_value_that_became_negative_raises_eagers_error() -> None:
    x = Value(2.0, label="x")
    step = gradstep.compile(lambda: (x * 3.0 - 1.0).log(), [x])
    assert step() == pytest.approx(math.log(5.0))
    x.data = -1.0
    with pytest.raises(ValueError) as replayed:
        step()
    with pytest.raises(ValueError) as eager:
        (x * 3.0 - 1.0).log()
    assert str(replayed.value) == str(eager.value)
    assert "log of a non-positive number" in str(replayed.value)


@pytest.mark.parametrize(
    ("build", "bad", "error"),
    [
        (lambda x: 1.0 / (x - 2.0), 2.0, ZeroDivisionError),
        (lambda x: (x - 1.0) ** 0.5, 0.5, ValueError),
        (lambda x: x ** Value(1.5), -1.0, ValueError),
        (lambda x: (x + 0.0).sqrt(), -4.0, ValueError),
    ],
)
def test_domain_errors_at_replay_time_match_eager(
    build: Callable[[Value], Value], bad: float, error: type[Exception]
) -> None:
    x = Value(3.0)
    step = gradstep.compile(lambda: build(x), [x])
    x.data = bad
    with pytest.raises(error) as replayed:
        step()
    with pytest.raises(error) as eager:
        build(x)
    assert str(replayed.value) == str(eager.value)
    assert x.grad == 0.0  # a failed step leaves the gradients alone


@pytest.mark.parametrize(
    ("build", "edge"),
    [
        (lambda x: (x * 100.0).exp() * x, 20.0),  # e^2000 = inf forward and backward
        (lambda x: x**-1 + x, 1e-200),  # the derivative −x⁻² overflows to −inf
        (lambda x: (x * 1.0).sqrt() + x, 0.0),  # ∂√x/∂x = 1/(2√x) is inf at 0
    ],
)
def test_overflow_at_replay_time_gives_eagers_infinities(
    build: Callable[[Value], Value], edge: float
) -> None:
    """Where plain float arithmetic raises but the engine gives ±inf (PyTorch's rule), the
    step gives eager mode's numbers."""
    x = Value(3.0)
    step = gradstep.compile(lambda: build(x), [x])
    x.data, x.grad = edge, 0.0
    loss = step()
    replayed = x.grad
    x.grad = 0.0
    eager = build(x)
    eager.backward()
    assert _same(loss, eager.data) and _same(replayed, x.grad), (loss, replayed, eager, x.grad)
    assert not math.isfinite(replayed)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


# ---------------------------------------------------------------------------------------
# misuse is detected and explained


def test_parameters_not_in_the_graph_are_named() -> None:
    a, b, unused = Value(1.0), Value(2.0), Value(3.0, label="bias")
    with pytest.raises(CompileError, match=r"1 parameter\(s\) are not in the graph.*'bias'"):
        gradstep.compile(lambda: a * b, [a, b, unused])


def test_parameters_must_be_distinct_leaf_values() -> None:
    a, b = Value(1.0), Value(2.0)
    c = a * b
    with pytest.raises(CompileError, match="not a leaf"):
        gradstep.compile(lambda: c + a, [a, c])
    with pytest.raises(CompileError, match=r"params\[1\] is the same Value as params\[0\]"):
        gradstep.compile(lambda: a * b, [a, a])
    with pytest.raises(TypeError, match=r"params\[1\] must be a gradstep Value, got float"):
        gradstep.compile(lambda: a * b, [a, 2.0])  # type: ignore[list-item]
    with pytest.raises(CompileError, match="empty"):
        gradstep.compile(lambda: a * b, [])


def test_loss_fn_must_return_a_value() -> None:
    a = Value(1.0)
    with pytest.raises(CompileError, match="must return a gradstep Value, got float"):
        gradstep.compile(lambda: 3.0, [a])  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="callable"):
        gradstep.compile(a, [a])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="method"):  # one replay path: no method to choose
        gradstep.compile(lambda: a * a, [a], method="tape")  # type: ignore[call-arg]


def test_a_loss_that_samples_a_new_batch_each_call_is_refused() -> None:
    w = Value(0.5)
    rng = random.Random(0)

    def loss_fn() -> Value:
        x = rng.uniform(-1.0, 1.0)  # a new "batch" every call: constants change
        return (w * x - 1.0) ** 2

    with pytest.raises(GraphChangedError, match=r"different graph.*eager mode"):
        gradstep.compile(loss_fn, [w])


def test_data_dependent_control_flow_is_caught_by_check() -> None:
    w = Value(0.5)

    def loss_fn() -> Value:
        # the graph's shape depends on the data: compile records only one branch
        return (w * 2.0).tanh() if w.data > 0 else (w * 2.0).sigmoid()

    step = gradstep.compile(loss_fn, [w])
    step.check()  # still the recorded branch
    w.data = -1.0
    with pytest.raises(
        GraphChangedError, match=r"node 3 .* is now 'sigmoid' where the recording has 'tanh'"
    ):
        step.check()
    assert w.grad == 0.0  # check() leaves the gradients as they were


def test_custom_ops_are_refused_with_a_clear_message() -> None:
    x = Value(2.0)

    def cube_local(out: Value) -> tuple[float, ...]:
        return (3.0 * out._prev[0].data ** 2,)

    def loss_fn() -> Value:
        out = Value(x.data**3, (x,), "cube")
        out._local_grads = cube_local
        return out * 2.0

    with pytest.raises(CompileError, match=r"op .cube.*cube_local.*eager mode"):
        gradstep.compile(loss_fn, [x])


# ---------------------------------------------------------------------------------------
# what the replay is made of


def test_generated_source_never_contains_user_strings() -> None:
    a = Value(1.0, label='"); import os; os.system("echo pwned' + '")#')
    b = Value(2.0, label="b")
    step = gradstep.compile(lambda: (a * b).tanh(), [a, b])
    assert "import" not in step.source and "os" not in step.source
    assert step.source.startswith("def replay(params):")
    assert step.num_nodes == 4
    assert repr(step) == "CompiledStep(4 nodes, 2 params)"


@pytest.mark.slow
def test_replay_builds_no_graph() -> None:
    """Measured in a fresh interpreter (`fresh_process`): in this one, other tests' threads
    would allocate inside the window too."""
    eager_peak, replay_peak = run_fresh(
        """
        import json, tracemalloc
        import gradstep
        from test_compile import moons_setup

        loss_fn, params = moons_setup(n=20, hidden=6)
        step = gradstep.compile(loss_fn, params)
        step()  # the first calls also specialise the bytecode (CPython allocates for that)
        tracemalloc.start()
        loss_fn().backward()
        eager_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        step()
        replay_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(json.dumps([eager_peak, replay_peak]))
        """
    )
    # eager: a Value, a children tuple and floats per node; replay: only the floats it holds
    assert replay_peak < eager_peak / 4, (replay_peak, eager_peak)


def test_the_module_and_the_function_have_different_names() -> None:
    import importlib

    module = importlib.import_module("gradstep.replay")  # importing it changes nothing
    assert isinstance(module, types.ModuleType)
    assert gradstep.compile is module.compile, gradstep.compile
    assert not isinstance(gradstep.compile, types.ModuleType)


def test_the_package_exports_compile_without_shadowing_the_builtin() -> None:
    assert gradstep.compile is gradstep.compile.__globals__["compile"]
    assert "compile" not in gradstep.__all__  # `from gradstep import *` keeps builtins.compile
    namespace: dict[str, object] = {}
    exec("from gradstep import *", namespace)
    assert namespace["Value"] is gradstep.Value
    assert "compile" not in namespace


@pytest.mark.slow
def test_moons_demo_compiled_flag_trains_the_same_model(tmp_path: Path) -> None:
    from gradstep.demos import moons

    args = ["--epochs", "3", "--samples", "20", "--no-progress", "--seed", "2"]
    assert moons.main([*args, "--out", str(tmp_path / "eager")]) == 0
    assert moons.main([*args, "--compiled", "--out", str(tmp_path / "compiled")]) == 0
    eager = (tmp_path / "eager" / "model.json").read_text()
    compiled = (tmp_path / "compiled" / "model.json").read_text()
    assert compiled == eager
    assert len(json.loads(eager)["parameters"]) == 337  # MLP(2, [16, 16, 1]), trained


SPECIAL = [math.nan, -math.inf, -1e308, -2.5, -1.0, -0.0, 0.0, 5e-324, 0.5, 1.0, 3.0, 1e308]
SPECIAL += [math.inf]
UNARY: dict[str, Callable[[Value], Value]] = {
    "relu": Value.relu,
    "leaky_relu": lambda x: x.leaky_relu(0.1),
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "exp": Value.exp,
    "log": Value.log,
    "sqrt": Value.sqrt,
    "abs": Value.abs,
    "neg": lambda x: -x,
    "square": lambda x: x**2,
    "cube root": lambda x: x ** (1 / 3),
    "inverse": lambda x: x**-1,
    "x ** 0": lambda x: x**0,
    "2 ** x": lambda x: 2.0**x,
    "x ** x": lambda x: x**x,
    "x / x": lambda x: x / x,
    "1 / x": lambda x: 1.0 / x,
    "x - x * x": lambda x: x - x * x,
}


@pytest.mark.parametrize("op", sorted(UNARY))
def test_every_op_matches_eager_on_special_values(op: str) -> None:
    """NaN, ±0, ±inf, subnormals, huge values: the replay's value, gradient or error is
    eager mode's (this guards the code generated from the op records)."""
    build = UNARY[op]
    x = Value(0.7)
    step = gradstep.compile(lambda: build(x), [x])
    for data in SPECIAL:
        replayed = replay_result(step, [x], [data], [0.0])
        xe = Value(data)
        try:
            out = build(xe)
            out.backward()
            eager: tuple[str, list[str]] | tuple[str, str] = (bits(out.data), [bits(xe.grad)])
        except (ArithmeticError, ValueError) as exc:
            eager = (type(exc).__name__, str(exc))
        assert replayed == eager, (op, data)
