"""gradstep.no_grad / enable_grad / is_grad_enabled and Value.detach, and that they behave
like PyTorch's (compared side by side where torch is installed)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings

import gradstep
from gradstep import Value, enable_grad, is_grad_enabled, no_grad
from gradstep.engine import topological_order
from gradstep.nn import MLP
from gradstep.nn.datasets import make_moons
from gradstep.nn.losses import hinge_loss
from gradstep.testing import ExpressionDAG, expression_dags


def _is_plain_leaf(v: Value) -> bool:
    return v._prev == () and v._op == "" and v.local_grads() == ()


@pytest.fixture(autouse=True)
def _grad_mode_is_restored() -> Iterator[None]:
    assert is_grad_enabled(), "a previous test left grad mode off"
    yield
    assert is_grad_enabled(), "this test left grad mode off"


# ---------------------------------------------------------------------------------------
# no_grad: every op gives a plain leaf with the same value


@settings(max_examples=150, deadline=None)
@given(dag=expression_dags())
def test_under_no_grad_every_op_gives_a_plain_leaf_with_the_same_value(dag: ExpressionDAG) -> None:
    recorded = dag(*[Value(x) for x in dag.inputs])
    with no_grad():
        leaves = [Value(x) for x in dag.inputs]
        out = dag(*leaves)
    assert _is_plain_leaf(out), f"{dag.source()} kept {out._prev} (op {out._op!r})"
    assert out.data == recorded.data  # the same floats, bit for bit
    assert topological_order(out) == [out]
    out.backward()  # reaches nothing: the inputs were never recorded
    assert all(x.grad == 0.0 for x in leaves)


def test_user_ops_build_no_graph_either() -> None:
    cube = gradstep.define_op("cube", lambda x: x**3, lambda x, out: (3 * x**2,))
    with no_grad():
        y = cube(Value(2.0))
    assert (y.data, _is_plain_leaf(y)) == (8.0, True)


def test_grad_with_create_graph_records_even_inside_no_grad() -> None:
    x = Value(2.0)
    y = x * x * x
    with no_grad():
        (dy,) = gradstep.grad(y, [x], create_graph=True)  # as torch.autograd.grad does
        (plain,) = gradstep.grad(y, [x])
        assert not is_grad_enabled()
    assert (dy.data, plain) == (12.0, 12.0)
    (d2y,) = gradstep.grad(dy, [x])
    assert d2y == 12.0  # 6x: dy kept its graph


def test_anomaly_mode_still_names_the_operands_under_no_grad() -> None:
    x = Value(1000.0, label="x")
    with (
        pytest.raises(gradstep.AnomalyError, match=r"exp\(x\) = inf .*inputs: x = 1000\.0"),
        gradstep.detect_anomaly(),
        no_grad(),
    ):
        x.exp()


def test_leaves_made_under_no_grad_are_ordinary_leaves() -> None:
    with no_grad():
        w = Value(3.0, label="w")
        y = w * 2.0  # a constant: w is not recorded here
    z = y * w  # recorded again outside
    z.backward()
    assert w.grad == 6.0  # ∂z/∂w through the recorded edge only (y counts as a constant)
    assert z._prev == (y, w)


def test_backward_inside_no_grad_still_works_on_a_recorded_graph() -> None:
    x = Value(2.0)
    y = x * x + x
    with no_grad():
        y.backward()
    assert x.grad == 5.0


def test_a_model_evaluated_under_no_grad_gives_the_same_scores_and_no_graph() -> None:
    model = MLP(2, [8, 8, 1], seed=0)
    X, _ = make_moons(20, noise=0.1, seed=0)
    recorded = [model(x) for x in X]
    with no_grad():
        plain = [model(x) for x in X]
    assert [s.data for s in plain] == [s.data for s in recorded]  # type: ignore[union-attr]
    assert all(_is_plain_leaf(s) for s in plain)  # type: ignore[arg-type]
    assert all(p.grad == 0.0 for p in model.parameters())


def test_compile_records_its_graph_even_inside_no_grad() -> None:
    model = MLP(2, [4, 1], seed=0)
    X, y = make_moons(8, noise=0.1, seed=0)
    params = model.parameters()
    with no_grad():
        step = gradstep.compile(lambda: hinge_loss([model.output(x) for x in X], y), params)
        loss = step()
    eager = hinge_loss([model.output(x) for x in X], y)
    assert loss == eager.data
    assert step.num_nodes > len(params)


# ---------------------------------------------------------------------------------------
# the mode: nesting, exceptions, decorators, generators, threads


def test_blocks_nest_and_each_restores_the_mode_it_found() -> None:
    seen = [is_grad_enabled()]
    with no_grad():
        seen.append(is_grad_enabled())
        with enable_grad():
            seen.append(is_grad_enabled())
            x = Value(1.0)
            recorded = x * 2.0
            with no_grad():
                seen.append(is_grad_enabled())
            seen.append(is_grad_enabled())
        seen.append(is_grad_enabled())
        with no_grad():
            seen.append(is_grad_enabled())
        seen.append(is_grad_enabled())
    seen.append(is_grad_enabled())
    assert seen == [True, False, True, False, True, False, False, False, True]
    assert recorded._prev == (x, recorded._prev[1])


def test_an_exception_inside_restores_the_mode() -> None:
    x = Value(1.0)
    with pytest.raises(ZeroDivisionError), no_grad():
        x / 0.0
    assert is_grad_enabled()
    with no_grad():
        with pytest.raises(ValueError, match="log of a non-positive number"), enable_grad():
            (x - 1.0).log()
        assert not is_grad_enabled()  # the inner block restored the outer one's mode


def test_one_object_can_be_entered_again_while_active() -> None:
    mode = no_grad()
    with mode:
        with mode:
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_decorator_with_and_without_parentheses() -> None:
    def evaluate(x: Value) -> tuple[Value, bool]:
        """Doubles x."""
        return x * 2.0, is_grad_enabled()

    for decorated in (no_grad()(evaluate), no_grad(evaluate)):
        out, enabled = decorated(Value(1.5))
        assert (out.data, enabled, _is_plain_leaf(out)) == (3.0, False, True)
        assert is_grad_enabled()
        assert decorated.__name__ == "evaluate"
        assert decorated.__doc__ == "Doubles x."


def test_a_decorated_function_that_raises_restores_the_mode() -> None:
    @no_grad
    def fails() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fails()


def test_a_decorated_generator_runs_in_the_mode_at_every_resumption() -> None:
    @no_grad
    def scores(xs: list[float]) -> Generator[tuple[Value, bool], float, str]:
        for x in xs:
            received = yield Value(x) * 2.0, is_grad_enabled()
            if received:
                yield Value(received) + 1.0, is_grad_enabled()
        return "done"

    gen = scores([1.0, 2.0])
    first, enabled = next(gen)
    assert (first.data, enabled, _is_plain_leaf(first)) == (2.0, False, True)
    assert is_grad_enabled()  # between two next() calls the caller's mode holds
    sent, enabled = gen.send(10.0)
    assert (sent.data, enabled) == (11.0, False)
    second, _ = next(gen)
    assert second.data == 4.0
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done"


def test_a_decorated_generator_passes_on_throw_and_close() -> None:
    log: list[str] = []

    @no_grad()
    def counter() -> Generator[int, None, None]:
        try:
            yield 1
            yield 2
        except KeyError:
            log.append(f"caught, grad {is_grad_enabled()}")
            yield 3
        finally:
            log.append(f"closed, grad {is_grad_enabled()}")

    gen = counter()
    assert next(gen) == 1
    assert gen.throw(KeyError("k")) == 3
    gen.close()
    assert log == ["caught, grad False", "closed, grad False"]


def test_async_functions_and_non_callables_are_refused() -> None:
    async def coroutine() -> None:
        return None

    with pytest.raises(TypeError, match="cannot decorate the async function"):
        no_grad(coroutine)
    with pytest.raises(TypeError, match="decorates a function, got int"):
        no_grad()(3)  # type: ignore[type-var]


def test_the_mode_belongs_to_the_thread() -> None:
    seen: dict[str, object] = {}

    def other_thread() -> None:
        seen["enabled"] = is_grad_enabled()
        x = Value(1.0)
        seen["recorded"] = bool((x * 2.0)._prev)

    with no_grad():
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        assert not is_grad_enabled()
    assert seen == {"enabled": True, "recorded": True}

    released = threading.Event()
    entered = threading.Event()

    def inside_no_grad() -> None:
        with no_grad():
            entered.set()
            released.wait(timeout=30)

    worker = threading.Thread(target=inside_no_grad)
    worker.start()
    entered.wait(timeout=30)
    assert is_grad_enabled()  # the other thread's block does not reach this one
    assert (Value(1.0) * 2.0)._prev
    released.set()
    worker.join()


# ---------------------------------------------------------------------------------------
# detach


def test_detach_is_a_new_leaf_with_the_same_data_and_label() -> None:
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    h = a * b
    h.label = "h"
    d = h.detach()
    assert d is not h
    assert (d.data, d.label, d.grad) == (h.data, "h", 0.0)
    assert _is_plain_leaf(d)
    assert h._prev == (a, b)  # the original graph is untouched
    leaf = a.detach()
    assert leaf is not a and leaf.data == a.data


def test_gradients_stop_at_a_detached_value() -> None:
    x = Value(3.0)
    y = x * x.detach()  # x · (x as a constant)
    y.backward()
    assert x.grad == 3.0  # not 2x = 6
    d = x.detach()
    d.data = 10.0  # a scalar is a copy: unlike torch, the original does not change
    assert x.data == 3.0


# ---------------------------------------------------------------------------------------
# against PyTorch: the same programs, run with both libraries


@dataclass
class Lib:
    """What a scenario needs from gradstep or torch."""

    no_grad: Callable[..., Any]
    enable_grad: Callable[..., Any]
    is_grad_enabled: Callable[[], bool]
    leaf: Callable[[float], Any]
    records: Callable[[Any], bool]  # does this result keep a graph to backpropagate through?
    grad: Callable[[Any], float]


def _gradstep_lib() -> Lib:
    return Lib(
        no_grad,
        enable_grad,
        is_grad_enabled,
        Value,
        lambda v: bool(v._prev),
        lambda v: v.grad,
    )


def _torch_lib(torch: ModuleType) -> Lib:
    return Lib(
        torch.no_grad,
        torch.enable_grad,
        torch.is_grad_enabled,
        lambda x: torch.tensor(x, dtype=torch.float64, requires_grad=True),
        lambda t: t.grad_fn is not None,
        lambda t: 0.0 if t.grad is None else t.grad.item(),
    )


def _mode_scenario(lib: Lib) -> list[object]:
    """Nesting, exceptions, decorators and generators: the modes and recordings seen."""
    seen: list[object] = [lib.is_grad_enabled()]
    x = lib.leaf(2.0)
    with lib.no_grad():
        seen += [lib.is_grad_enabled(), lib.records(x * 3.0)]
        with lib.enable_grad():
            seen += [lib.is_grad_enabled(), lib.records(x * 3.0)]
        try:
            with lib.enable_grad():
                raise KeyError
        except KeyError:
            seen.append(lib.is_grad_enabled())
    seen.append(lib.is_grad_enabled())

    @lib.no_grad()  # type: ignore[untyped-decorator]  # gradstep's or torch's, as a decorator
    def decorated() -> tuple[bool, bool]:
        return lib.is_grad_enabled(), lib.records(x * 3.0)

    seen += [decorated(), lib.is_grad_enabled()]

    @lib.no_grad()  # type: ignore[untyped-decorator]
    def generator() -> Generator[bool, None, None]:
        yield lib.is_grad_enabled()
        yield lib.records(x * 3.0)

    gen = generator()
    seen += [next(gen), lib.is_grad_enabled(), next(gen)]
    return seen


def _gradient_scenario(lib: Lib) -> list[float]:
    """Values computed under no_grad, and detached ones, act as constants in a backward pass."""
    x, w = lib.leaf(1.5), lib.leaf(-2.0)
    with lib.no_grad():
        c = (x * w).tanh()
    y = c * x + x * x.detach() * w + (w.detach() * w).sigmoid()
    y.backward()
    return [lib.grad(x), lib.grad(w), float(y.item() if hasattr(y, "item") else y.data)]


@pytest.mark.torch
def test_grad_mode_and_detach_behave_like_torch(torch: ModuleType) -> None:
    ours, theirs = _gradstep_lib(), _torch_lib(torch)
    assert _mode_scenario(ours) == _mode_scenario(theirs)
    assert _gradient_scenario(ours) == pytest.approx(_gradient_scenario(theirs), rel=1e-12)


@pytest.mark.torch
def test_detach_and_no_grad_results_are_leaves_as_in_torch(torch: ModuleType) -> None:
    t = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    v = Value(2.0)
    with torch.no_grad():
        t_out = t * 3.0
    with no_grad():
        v_out = v * 3.0
    pairs = [(t.detach(), v.detach()), ((t * t).detach(), (v * v).detach()), (t_out, v_out)]
    for tt, vv in pairs:
        assert (tt.is_leaf, tt.grad_fn is None) == (True, True)
        assert _is_plain_leaf(vv)
        assert tt.item() == vv.data
