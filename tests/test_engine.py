"""The engine's contract: input and domain errors, stability, micrograd compatibility,
accumulation semantics, deterministic iterative walks, the record hook, and memory."""

from __future__ import annotations

import gc
import math
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings

from gradstep import Value
from gradstep.engine import topological_order
from gradstep.testing import ExpressionDAG, expression_dags


@pytest.fixture
def gc_state() -> Iterator[None]:
    """Restore the collector's enabled/disabled state however a test leaves it."""
    was_enabled = gc.isenabled()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


# ---------------------------------------------------------------------------------------
# what a Value accepts


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ("3", "got str: '3'"),
        (None, "got NoneType: None"),
        (True, "got bool: True"),
        (False, "got bool: False"),
        ([1.0], "got list: [1.0]"),
        ((1.0,), "got tuple: (1.0,)"),
        (1 + 2j, "got complex: (1+2j)"),
    ],
)
def test_non_real_data_is_refused_naming_what_was_given(bad: object, named: str) -> None:
    with pytest.raises(TypeError, match=r"Value data must be a real number") as caught:
        Value(bad)  # type: ignore[arg-type]
    assert named in str(caught.value)


def test_numpy_array_of_several_elements_is_refused() -> None:
    np = pytest.importorskip("numpy", reason="NumPy is not installed")
    with pytest.raises(TypeError, match=r"got ndarray: array\(\[1\., 2\.\]\)"):
        Value(np.array([1.0, 2.0]))
    v = Value(np.float64(2.5))  # a NumPy scalar is a real number
    assert type(v.data) is float and v.data == 2.5


@pytest.mark.parametrize(
    "make",
    [
        lambda: Value(1.0) + "a",  # type: ignore[operator]
        lambda: "a" * Value(1.0),  # type: ignore[operator]
        lambda: Value(1.0) - None,  # type: ignore[operator]
        lambda: Value(1.0) / [2.0],  # type: ignore[operator]
        lambda: Value(2.0) ** "x",  # type: ignore[operator]
        lambda: Value(2.0) ** True,
        lambda: Value(1.0).leaky_relu("s"),  # type: ignore[arg-type]
    ],
)
def test_ops_refuse_non_real_operands(make: Callable[[], Any]) -> None:
    with pytest.raises(TypeError, match=r"must be a real number \(int or float\), got "):
        make()


@pytest.mark.parametrize("data", [3, -7, 2.5, Fraction(1, 4), 10**20])
def test_data_is_stored_as_float(data: Any) -> None:
    v = Value(data)
    assert type(v.data) is float and v.data == float(data)
    assert type(v.grad) is float and v.grad == 0.0
    assert type((v + 1).data) is float and type((2 * v).data) is float


# ---------------------------------------------------------------------------------------
# domain errors name their operand


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Value(0.0, label="x").log(), ValueError, "log(x=0.0)"),
        (lambda: Value(-2.0, label="x").log(), ValueError, "log(x=-2.0)"),
        (lambda: Value(3.0) / Value(0.0, label="b"), ZeroDivisionError, "3.0 / b=0.0"),
        (lambda: Value(3.0, label="a") / 0, ZeroDivisionError, "division by zero"),
        (lambda: 1 / Value(0.0, label="z"), ZeroDivisionError, "1.0 / z=0.0"),
        (lambda: Value(-8.0, label="b") ** 0.5, ValueError, "negative base: b=-8.0 ** 0.5"),
        (
            lambda: Value(-8.0, label="b") ** Value(0.5, label="e"),
            ValueError,
            "non-negative base: b=-8.0 ** e=0.5",
        ),
        (lambda: Value(0.0, label="z") ** -1, ZeroDivisionError, "z=0.0 ** -1.0"),
        (
            lambda: Value(0.0, label="z") ** Value(-1.0, label="n"),
            ZeroDivisionError,
            "z=0.0 ** n=-1.0",
        ),
        (lambda: Value(-1.0, label="s").sqrt(), ValueError, "sqrt(s=-1.0)"),
    ],
)
def test_domain_errors_name_the_operand(
    make: Callable[[], Value], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        make()
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: Value(1000.0).exp(), math.inf),
        (lambda: Value(2.0) ** 1e6, math.inf),
        (lambda: Value(10.0) ** 1000, math.inf),
        (lambda: Value(-10.0) ** 1001, -math.inf),  # an odd power keeps the sign
        (lambda: Value(1e200) ** 2, math.inf),
        (lambda: 2 ** Value(5000.0), math.inf),
        (lambda: Value(1e-200) ** -2, math.inf),
        (lambda: Value(1e200) * 1e200, math.inf),
        (lambda: Value(1e308) + 1e308, math.inf),
        (lambda: 1 / Value(5e-324), math.inf),
        (lambda: Value(math.inf).exp(), math.inf),
        (lambda: Value(-1000.0).exp(), 0.0),
    ],
)
def test_overflow_gives_inf_as_in_pytorch(make: Callable[[], Value], expected: float) -> None:
    """One rule for every op, forward and backward: a result too large for a float is ±inf."""
    assert make().data == expected


def test_a_derivative_that_overflows_is_inf_and_every_gradient_is_written() -> None:
    """Issue 13.1: ∂(x⁻¹)/∂x = −x⁻² overflows at x = 1e-200; backward finishes with −inf."""
    x, z = Value(1e-200), Value(1.0)
    (x**-1 + z * 2).backward()
    assert (x.grad, z.grad) == (-math.inf, 2.0)
    y, e = Value(1e-200), Value(-1.0)
    (y**e).backward()  # the Value-exponent power: −1·y⁻² and y⁻¹·ln y
    assert y.grad == -math.inf and e.grad == pytest.approx(1e200 * math.log(1e-200))
    w = Value(800.0)
    (w.exp() * w.exp()).backward()  # e^800 · e^800: inf forward and backward, no error
    assert w.grad == math.inf


def test_backward_puts_every_grad_back_when_it_fails_half_way() -> None:
    """Issue 13.1: whatever raises inside backward(), no gradient is left half-updated."""
    x, z = Value(2.0, label="x"), Value(1.0, label="z")
    x.grad, z.grad = 10.0, 20.0
    out = x * 3.0 + z * 2.0
    mid = out._prev[0]
    mid.grad = 7.0
    seen: list[float] = []

    def stop_after_two_edges(*edge: object) -> None:
        seen.append(z.grad)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        out.backward(record=stop_after_two_edges)
    assert (x.grad, z.grad, mid.grad, out.grad) == (10.0, 20.0, 7.0, 0.0)
    out.backward()
    assert (x.grad, z.grad) == (13.0, 22.0)


def test_a_subclass_of_value_works_on_either_side_of_every_operator() -> None:
    class Param(Value):
        __slots__ = ()

    w = Param(3.0)
    for out, dw in (
        (Value(2.0) ** w, 8.0 * math.log(2.0)),  # the Value-exponent power, not a TypeError
        (w ** Value(2.0), 6.0),
        (Value(2.0) * w, 2.0),
        (Value(1.0) - w, -1.0),
        (Value(6.0) / w, -6.0 / 9.0),
    ):
        w.grad = 0.0
        out.backward()
        assert w in out._prev
        assert w.grad == pytest.approx(dw, rel=1e-15)


def test_powers_stay_real() -> None:
    assert (Value(-2.0) ** 3).data == -8.0  # an integer power of a negative base is fine
    assert (Value(-2.0) ** -2).data == 0.25
    assert (Value(0.0) ** 0).data == 1.0
    for out in (Value(4.0) ** 0.5, 2 ** Value(0.5), Value(2.0) ** Value(-1.5)):
        assert type(out.data) is float


# ---------------------------------------------------------------------------------------
# sigmoid and tanh are stable to ±1e308


@pytest.mark.parametrize(
    ("x", "sigmoid", "tanh"), [(1e308, 1.0, 1.0), (-1e308, 0.0, -1.0), (-1e4, 0.0, -1.0)]
)
def test_sigmoid_and_tanh_are_stable_at_huge_inputs(x: float, sigmoid: float, tanh: float) -> None:
    for method, limit in ((Value.sigmoid, sigmoid), (Value.tanh, tanh)):
        v = Value(x)
        out = method(v)
        assert out.data == limit
        out.backward()
        assert math.isfinite(v.grad) and v.grad == 0.0


def test_sigmoid_keeps_tiny_values_for_very_negative_inputs() -> None:
    out = Value(-700.0).sigmoid()  # e^-700 / (1 + e^-700): no underflow to 0, no overflow
    assert out.data == pytest.approx(math.exp(-700.0), rel=1e-12)


# ---------------------------------------------------------------------------------------
# micrograd compatibility: its README example, against both engines


def micrograd_readme_example(value_class: Any) -> tuple[float, float, float]:
    """The expression from micrograd's README, written out again; returns g, ∂g/∂a, ∂g/∂b."""
    a = value_class(-4.0)
    b = value_class(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    return g.data, a.grad, b.grad


def test_micrograd_readme_example_prints_the_readme_numbers() -> None:
    g, da, db = micrograd_readme_example(Value)
    assert f"{g:.4f}" == "24.7041"  # the forward pass
    assert f"{da:.4f}" == "138.8338"  # ∂g/∂a
    assert f"{db:.4f}" == "645.5773"  # ∂g/∂b


def test_micrograd_readme_example_gives_the_same_numbers_on_micrograd() -> None:
    engine = pytest.importorskip(
        "micrograd.engine", reason="micrograd is not installed (pip install micrograd==0.1.0)"
    )
    ours = micrograd_readme_example(Value)
    theirs = micrograd_readme_example(engine.Value)
    assert ours == pytest.approx(theirs, rel=1e-12)


def test_micrograd_style_manual_backward_steps_match_backward() -> None:
    a, b = Value(1.5), Value(-0.5)
    out = (a * b + a.exp()).tanh()
    out.grad = 1.0
    for node in topological_order(out):  # micrograd's loop, by hand
        node._backward()
    manual = (a.grad, b.grad)
    a.grad = b.grad = 0.0
    out.backward()
    assert manual == (a.grad, b.grad)


# ---------------------------------------------------------------------------------------
# accumulation: a node used twice, leaves across calls


def test_diamond_graph_adds_both_paths() -> None:
    x = Value(3.0)
    y = (x + x) * x  # 2x², dy/dx = 4x
    y.backward()
    assert (y.data, x.grad) == (18.0, 12.0)


def test_node_used_twice_gets_both_contributions() -> None:
    x = Value(-1.5)
    a = x + 1.0  # used twice below
    b = a * a + a.tanh()
    b.backward()
    expected_a = 2 * a.data + (1 - math.tanh(a.data) ** 2)
    assert a.grad == pytest.approx(expected_a, rel=1e-15)
    assert x.grad == pytest.approx(expected_a, rel=1e-15)


def test_leaves_accumulate_across_calls_while_interior_nodes_hold_the_latest_pass() -> None:
    a, b = Value(3.0), Value(2.0)
    s = a + b
    e = s * 1
    e.backward()
    assert (a.grad, b.grad, s.grad, e.grad) == (1.0, 1.0, 1.0, 1.0)
    e.backward()
    assert (a.grad, b.grad) == (2.0, 2.0)  # one more gradient in each leaf
    assert (s.grad, e.grad) == (1.0, 1.0)  # interior: this pass only


def test_micrograd_overcounts_where_gradstep_does_not() -> None:
    engine = pytest.importorskip(
        "micrograd.engine", reason="micrograd is not installed (pip install micrograd==0.1.0)"
    )
    a, b = engine.Value(3.0), engine.Value(2.0)
    e = (a + b) * 1
    e.backward()
    e.backward()
    assert a.grad == 3  # micrograd never resets interior grads: 1 + 2
    ours = Value(3.0)
    e2 = (ours + Value(2.0)) * 1
    e2.backward()
    e2.backward()
    assert ours.grad == 2.0


def test_backward_of_a_leaf_accumulates_one_each_call() -> None:
    v = Value(5.0)
    v.backward()
    v.backward()
    assert v.grad == 2.0


# ---------------------------------------------------------------------------------------
# deterministic, iterative walks


def test_children_are_a_tuple_in_operand_order() -> None:
    a, b = Value(1.0), Value(2.0)
    assert (a * b)._prev == (a, b) and type((a * b)._prev) is tuple
    assert (b * a)._prev == (b, a)
    left = 2 * a
    assert left._prev[1] is a and left._prev[0].data == 2.0
    assert (a.tanh())._prev == (a,)
    assert a._prev == ()


def _build(x: float) -> Value:
    a = Value(x, label="a")
    b = Value(2.0, label="b")
    h = (a * b).tanh()
    return (h + a) * h - b.exp()


def test_topological_order_is_deterministic_and_parents_come_first() -> None:
    first = [(v._op, v.label, v.data) for v in topological_order(_build(0.3))]
    second = [(v._op, v.label, v.data) for v in topological_order(_build(0.3))]
    assert first == second
    order = topological_order(_build(0.3))
    position = {v: i for i, v in enumerate(order)}
    assert len(position) == len(order)  # each node once
    for node in order:
        assert all(position[node] < position[child] for child in node._prev)


@pytest.mark.slow
def test_a_million_op_chain_backpropagates_without_touching_the_recursion_limit() -> None:
    limit = sys.getrecursionlimit()
    x = Value(0.5)
    y = x
    for _ in range(1_000_000):
        y = y + x  # y = (n + 1)·x, so ∂y/∂x = n + 1 exactly
    y.backward()
    assert x.grad == 1_000_001.0
    assert y.data == 500_000.5
    assert sys.getrecursionlimit() == limit
    assert len(topological_order(y)) == 1_000_001
    del y  # the deep chain is freed without recursion trouble either


# ---------------------------------------------------------------------------------------
# backward restores the user's garbage-collector setting


@pytest.mark.usefixtures("gc_state")
@pytest.mark.parametrize("enabled", [True, False])
def test_backward_restores_the_gc_setting(enabled: bool) -> None:
    if enabled:
        gc.enable()
    else:
        gc.disable()
    out = (Value(1.0) * 2.0).tanh()
    out.backward()
    assert gc.isenabled() is enabled

    def fail(*args: object) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        out.backward(record=fail)
    assert gc.isenabled() is enabled


# ---------------------------------------------------------------------------------------
# backward(record=...)

Edge = tuple[Value, Value, int, float, float, float, float]


def recorded_backward(root: Value) -> list[Edge]:
    """Every edge the engine reports, in visit order."""
    edges: list[Edge] = []
    root.backward(record=lambda *edge: edges.append(edge))
    return edges


def test_record_reports_each_edge_in_visit_order() -> None:
    a = Value(2.0, label="a")
    b = Value(3.0, label="b")
    ab = a * b
    f = ab + a
    edges = recorded_backward(f)
    assert edges == [
        # node, child, its index in node._prev, local, upstream, product, child.grad after
        (f, ab, 0, 1.0, 1.0, 1.0, 1.0),
        (f, a, 1, 1.0, 1.0, 1.0, 1.0),
        (ab, a, 0, 3.0, 1.0, 3.0, 4.0),
        (ab, b, 1, 2.0, 1.0, 2.0, 2.0),
    ]
    assert (a.grad, b.grad) == (4.0, 2.0)


@settings(max_examples=200, deadline=None)
@given(dag=expression_dags())
def test_record_is_the_engines_own_arithmetic(dag: ExpressionDAG) -> None:
    leaves = [Value(x) for x in dag.inputs]
    root = dag(*leaves)
    edges = recorded_backward(root)
    assert len(edges) == sum(len(v._prev) for v in topological_order(root))
    running: dict[Value, float] = {}
    for node, child, index, local, upstream, product, after in edges:
        assert node._prev[index] is child
        assert product == local * upstream
        assert upstream == node.grad  # a node's gradient is final before its edges run
        before = running.get(child, 0.0)  # every node starts this pass at 0
        assert after == before + product
        running[child] = after
    assert all(child.grad == grad for child, grad in running.items())
    # the same numbers as a backward() without the hook
    recorded = [v.grad for v in leaves]
    for v in leaves:
        v.grad = 0.0
    root.backward()
    assert [v.grad for v in leaves] == recorded


# ---------------------------------------------------------------------------------------
# graphs are freed by reference counting (no cycles, no gc.collect() needed)


@pytest.mark.usefixtures("gc_state")
def test_dropping_the_root_frees_the_graph_without_the_collector() -> None:
    gc.disable()
    a = Value(1.5)
    baseline = sys.getrefcount(a)
    root = a
    for _ in range(1000):
        root = (root * a + a).tanh()  # each step holds a in two children tuples
    root.backward()
    assert sys.getrefcount(a) > baseline
    del root
    assert sys.getrefcount(a) == baseline  # every node that held `a` is gone


@pytest.mark.slow
@pytest.mark.usefixtures("gc_state")
def test_a_large_graph_returns_its_memory_on_del() -> None:
    gc.disable()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        x = Value(0.1)
        y = x
        for _ in range(50_000):
            y = (y * 0.5 + x).sigmoid()
        y.backward()
        during, _ = tracemalloc.get_traced_memory()
        del y
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    held = during - before
    assert held > 5_000_000  # 200,000 nodes
    # all given back by reference counting alone; what stays is the interpreter's free
    # lists (up to 2,000 spare tuples of each small size), about 0.2 MB
    assert after - before < 0.02 * held


def test_nan_propagates_through_relu_log_and_sqrt_instead_of_being_hidden() -> None:
    """NaN data stays visible: relu(nan), log(nan) and sqrt(nan) are nan (as in PyTorch)."""
    nan = float("nan")
    for out in (Value(nan).relu(), Value(nan).log(), Value(nan).sqrt()):
        assert math.isnan(out.data)


def test_a_node_made_with_children_but_no_rule_says_how_to_give_one() -> None:
    """A user op built as micrograd does, Value(data, children, op), without a rule."""
    x = Value(2.0)
    out = Value(x.data**3, (x,), "cube")
    with pytest.raises(TypeError, match=r"'cube' has children but no local-gradient rule"):
        out.backward()
    out._local_grads = lambda node: (3 * node._prev[0].data ** 2,)
    out.backward()
    assert x.grad == 12.0


def test_numbers_the_engine_wraps_are_marked_at_no_cost() -> None:
    """The walk-through tells a wrapped 2 (a constant) from a user's Value(2.0) (an input)."""
    from gradstep.engine import Constant

    x = Value(3.0, label="x")
    for out in (x * 2, 2 * x, x + 2.5, 2**x, x - 1, 1 / x):
        wrapped = next(c for c in out._prev if c is not x)
        assert isinstance(wrapped, Constant) and isinstance(wrapped, Value)
        assert (wrapped.label, wrapped._prev, wrapped.grad) == ("", (), 0.0)
    mine = Value(2.0)
    assert not isinstance(mine, Constant)
    assert not isinstance(x * mine, Constant)  # op outputs are plain Values
    assert sys.getsizeof(x * 2) == sys.getsizeof((x * 2)._prev[1])  # no extra field
    # a wrapped constant works as an operand like any Value
    c = (x * 2)._prev[1]
    assert (c * x).data == 6.0 and (x + c).data == 5.0


# ---------------------------------------------------------------------------------------
# issue 17: the constructor refuses numbers as children and a label that is not a str


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: Value(1, (1, 2), "+"), "int"),  # type: ignore[arg-type]
        (lambda: Value(1, (Value(1.0), "x"), "+"), "str"),  # type: ignore[arg-type]
        (lambda: Value(1, label=123), "int"),  # type: ignore[arg-type]
        (lambda: Value(1, label=None), "NoneType"),  # type: ignore[arg-type]
        (lambda: Value(1, (Value(1.0),), 5), "int"),  # type: ignore[arg-type]
    ],
)
def test_constructor_refuses_what_is_not_a_value_or_a_str(
    make: Callable[[], Value], named: str
) -> None:
    with pytest.raises(TypeError, match=named):
        make()


def test_constructor_still_takes_micrograd_style_children() -> None:
    a, b = Value(2.0), Value(3.0)
    out = Value(a.data + b.data, (a, b), "+", label="s")
    assert out._prev == (a, b) and out.label == "s"


# ---------------------------------------------------------------------------------------
# threads: the collector pause, and what is allowed


def test_concurrent_backward_leaves_the_collector_as_it_found_it() -> None:
    """Two threads pausing the collector at once: the last to finish turns it back on (the
    read-then-disable race left it off for the whole process about one run in three)."""
    import gc
    import sys
    import threading

    assert gc.isenabled()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for _ in range(20):

            def work() -> None:
                for _ in range(100):
                    x = Value(0.5)
                    (x * x + x).tanh().backward()

            threads = [threading.Thread(target=work) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert gc.isenabled(), "the collector was left disabled"
    finally:
        sys.setswitchinterval(interval)
        gc.enable()


def test_separate_graphs_in_separate_threads_give_eager_numbers() -> None:
    import threading

    results: dict[int, float] = {}

    def work(k: int) -> None:
        for _ in range(50):
            x = Value(float(k))
            (x * x * x).backward()
        results[k] = x.grad

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {k: 3.0 * k * k for k in range(1, 5)}
