"""No quadratic paths (issue 13): walk-throughs, drawings and the command grow linearly.

These are the only timing tests in the suite.  Each times the work at a size and at twice
that size (or at half the documented limit and at the limit), takes the median of a few
interleaved runs, and asserts time(2n) / time(n) < 3: linear work gives about 2, quadratic
about 4.  On a loaded machine one measurement can be unlucky, so a ratio over the bound is
measured once more before the test fails; a quadratic path fails both times.
"""

from __future__ import annotations

import contextlib
import gc
import io
import statistics
import time
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradstep import Value
from gradstep.cli import main
from gradstep.expr import MAX_TERMS, parse
from gradstep.nn import MLP
from gradstep.viz.drawing import draw_dot, forward_order
from gradstep.viz.explain import walkthrough
from gradstep.viz.naming import constants as _constants
from gradstep.viz.naming import node_names
from gradstep.viz.records import lookup_keys

# slow: each test times work at several sizes (make test-all runs them)
pytestmark = pytest.mark.slow

BOUND = 3.0


def _seconds(run: Callable[[], object], at_least: float = 0.05) -> float:
    """Wall time per call of ``run``, repeating it until ``at_least`` seconds have passed."""
    gc.collect()
    calls, start = 0, time.perf_counter()
    while True:
        run()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= at_least:
            return elapsed / calls


def _ratio(small: Callable[[], object], large: Callable[[], object], repeats: int = 3) -> float:
    """median time(large) / median time(small), the two timed in turn (load drifts cancel)."""
    times_small, times_large = [], []
    for _ in range(repeats):
        times_small.append(_seconds(small))
        times_large.append(_seconds(large))
    return statistics.median(times_large) / statistics.median(times_small)


def assert_linear(what: str, small: Callable[[], object], large: Callable[[], object]) -> None:
    """time(large) / time(small) < BOUND, measured twice if the first try is over."""
    ratios = [_ratio(small, large)]
    if ratios[0] >= BOUND:
        ratios.append(_ratio(small, large))
    assert min(ratios) < BOUND, f"{what}: time(2n) / time(n) = {ratios}, expected < {BOUND}"


# ---------------------------------------------------------------------------------------
# the walk-through


def repeated_constant(n: int) -> Value:
    """x·2 + x, again and again: the constant 2 is n/3 different leaves named "2"."""
    x = Value(0.5, label="x")
    out = x
    for _ in range(n // 3):
        out = out * Value(2.0, label="2") + x
    return out


def many_inputs(n: int) -> Value:
    """x0 + x1 + … : n/2 inputs, each with its own gradient sum."""
    xs = [Value(0.1 * i, label=f"x{i}") for i in range(n // 2)]
    out = xs[0]
    for v in xs[1:]:
        out = out + v
    return out


def repeated_label(n: int) -> Value:
    """A chain whose n/2 interior nodes are all labelled "h" (named h, h#2, h#3, …)."""
    out = Value(0.5, label="x")
    for _ in range(n // 2):
        out = out * 1.0001
        out.label = "h"
    return out


def mlp_graph(n: int) -> Value:
    """An MLP's forward pass: every neuron's leaves are named w0, w1, …, b again."""
    width = max(2, round((n / 4) ** 0.5))
    return MLP(width, [width, 1], seed=0)([0.1] * width)  # type: ignore[return-value]


def _walk_and_print(make: Callable[[int], Value], n: int) -> Callable[[], object]:
    root = make(n)

    def run() -> None:
        walkthrough(root).format_text()

    return run


def test_walkthrough_and_its_tables_grow_linearly() -> None:
    n = 3000  # nodes; the issue measured 0.6 s at 5k, 2.7 s at 10k, 10.1 s at 20k
    for make in (repeated_constant, many_inputs, repeated_label, mlp_graph):
        small, large = _walk_and_print(make, n), _walk_and_print(make, 2 * n)
        assert_linear(f"walkthrough of {make.__name__}", small, large)


def test_naming_repeated_constants_and_labels_grows_linearly() -> None:
    # the walk-through's names alone, where the quadratic `name#k` searches used to be
    n = 6000
    for make in (repeated_constant, repeated_label, mlp_graph):
        graphs = [forward_order(make(size)) for size in (n, 2 * n)]

        def naming(nodes: list[Value]) -> Callable[[], object]:
            constants = _constants(nodes)
            return lambda: lookup_keys(nodes, node_names(nodes, constants))

        assert_linear(f"naming {make.__name__}", naming(graphs[0]), naming(graphs[1]))


# the naming rules before they were made linear: the oracle the new code must equal


def _reference_names(nodes: Sequence[Value], constants: set[Value]) -> dict[Value, str]:
    names: dict[Value, str] = {}
    for v in nodes:
        if v in constants:
            names[v] = v.label or repr(v.data).removesuffix(".0")
    reserved = {v.label for v in nodes if v.label} | set(names.values())
    used: set[str] = set()
    counter = 0
    for v in nodes:
        if v in constants:
            continue
        if v.label:
            name = v.label
        elif not v._prev:
            name = repr(v.data).removesuffix(".0")
        else:
            counter += 1
            while f"n{counter}" in reserved or f"n{counter}" in used:
                counter += 1
            name = f"n{counter}"
        if name in used or (name in reserved and not v.label):
            k = 2
            while f"{name}#{k}" in used or f"{name}#{k}" in reserved:
                k += 1
            name = f"{name}#{k}"
        used.add(name)
        names[v] = name
    return names


def _reference_keys(nodes: Sequence[Value], names: dict[Value, str]) -> dict[str, Value]:
    keys: dict[str, Value] = {}
    for v in nodes:
        key, k = names[v], 2
        while key in keys:
            key, k = f"{names[v]}#{k}", k + 1
        keys[key] = v
    return keys


LEAF_LABELS = ["", "", "x", "y", "2", "2#2", "x#2", "n1", "n2", "1.5", "h"]
NODE_LABELS = ["", "", "", "h", "h#2", "n1", "x", "2", "n3"]


@st.composite
def labelled_graphs(draw: st.DrawFn) -> Value:
    """A random graph whose labels clash in every way the naming rules handle."""
    nodes = [
        Value(draw(st.sampled_from([1.0, 2.0, 1.5])), label=draw(st.sampled_from(LEAF_LABELS)))
        for _ in range(draw(st.integers(1, 8)))
    ]
    for _ in range(draw(st.integers(0, 25))):
        a = nodes[draw(st.integers(0, len(nodes) - 1))]
        b = nodes[draw(st.integers(0, len(nodes) - 1))]
        out = a * b if draw(st.booleans()) else a + b
        out.label = draw(st.sampled_from(NODE_LABELS))
        nodes.append(out)
    return nodes[-1]


@settings(max_examples=300, deadline=None)
@given(root=labelled_graphs())
def test_names_andlookup_keys_are_unchanged_by_the_linear_rewrite(root: Value) -> None:
    nodes = forward_order(root)
    constants = _constants(nodes)
    names = node_names(nodes, constants)
    assert names == _reference_names(nodes, constants)
    assert lookup_keys(nodes, names) == _reference_keys(nodes, names)
    assert len(set(lookup_keys(nodes, names).values())) == len(nodes)


# ---------------------------------------------------------------------------------------
# drawings (building the DOT source; Graphviz's own layout is measured in the README)


def long_edges(n: int) -> Value:
    """x·y + x·y + … : two leaves used all along a chain of n values."""
    x, y = Value(0.5, label="x"), Value(2.0, label="y")
    out = x * y
    while len(forward_order(out)) < n - 2:
        out = out + x * y
    return out


def test_draw_dot_grows_linearly_up_to_twice_its_default_limit() -> None:
    n = 500  # draw_dot's default max_nodes
    for make in (long_edges, mlp_graph):
        small_root, large_root = make(n), make(2 * n)
        small = lambda r=small_root: draw_dot(r, max_nodes=2 * n).source  # noqa: E731
        large = lambda r=large_root: draw_dot(r, max_nodes=2 * n).source  # noqa: E731
        assert_linear(f"draw_dot of {make.__name__}", small, large)


# ---------------------------------------------------------------------------------------
# the command, at half its limit and at its limit (twice the limit is refused)


def _expression(terms: int, variables: int = 10) -> tuple[str, list[str]]:
    """A sum of products with ``terms`` terms over a fixed set of variables, and their values."""
    groups = (terms + 1) // 4  # "a*b" is 3 terms, each "+" one more
    text = " + ".join(f"v{i % variables}*v{(7 * i + 3) % variables}" for i in range(groups))
    names = parse(text).variables
    return text, [f"{name}=0.{k + 1}" for k, name in enumerate(names)]


def _command(*argv: str) -> Callable[[], object]:
    def run() -> None:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(list(argv))
        assert status == 0, err.getvalue()

    return run


def test_the_command_grows_linearly_up_to_its_term_limit() -> None:
    half, limit = _expression(MAX_TERMS // 2), _expression(MAX_TERMS)
    assert len(limit[0]) <= 2000
    for command, options in (("explain", []), ("explain", ["--markdown"]), ("check", [])):
        small = _command(command, *options, half[0], *half[1])
        large = _command(command, *options, limit[0], *limit[1])
        assert_linear(f"gradstep {command} {' '.join(options)}", small, large)
