"""No quadratic paths (issue 13): walk-throughs, drawings and the command grow linearly.

Each test counts the work at a size and at twice that size (or at half the documented limit
and at the limit) and asserts count(2n) / count(n) < 2.3: linear work gives about 2,
quadratic work about 4.  The count is the number of Python lines run (``sys.settrace``'s
line events), so it is the same on a loaded machine as on an idle one; work done inside one
C call (a ``list.index`` on a long list) counts as one line, which is what a reviewer of a
quadratic loop in C calls has to look for by eye.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradstep import Value
from gradstep.cli import main
from gradstep.expr import MAX_TERMS, parse
from gradstep.naming import constants, forward_order, node_names
from gradstep.nn import MLP
from gradstep.viz.drawing import draw_dot
from gradstep.viz.explain import walkthrough

# slow: each test counts lines run at several sizes (make test-all runs them)
pytestmark = pytest.mark.slow

BOUND = 2.3


def lines_run(run: Callable[[], object]) -> int:
    """How many Python lines ``run()`` executes (in every function it calls)."""
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    previous = sys.gettrace()
    sys.settrace(lambda frame, event, arg: local)
    try:
        run()
    finally:
        sys.settrace(previous)
    return count


def assert_linear(what: str, small: Callable[[], object], large: Callable[[], object]) -> None:
    """lines(large) / lines(small) < BOUND, where ``large`` does twice the work of ``small``."""
    counts = lines_run(small), lines_run(large)
    ratio = counts[1] / counts[0]
    assert ratio < BOUND, (
        f"{what}: lines run at n and 2n = {counts}, ratio {ratio:.2f}, expected < {BOUND}"
    )


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
    n = 3000
    for make in (repeated_constant, repeated_label, mlp_graph):
        graphs = [forward_order(make(size)) for size in (n, 2 * n)]

        def naming(nodes: list[Value]) -> Callable[[], object]:
            return lambda: node_names(nodes, constants(nodes))

        assert_linear(f"naming {make.__name__}", naming(graphs[0]), naming(graphs[1]))


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
def test_every_node_has_a_name_the_walkthrough_finds_it_by(root: Value) -> None:
    """Names follow `gradstep.naming`'s rules, and `Walkthrough.value_of` finds every node."""
    wt = walkthrough(root)
    nodes = wt.nodes
    names = node_names(nodes)
    assert wt.names == names
    fixed = constants(nodes)
    others = [names[v] for v in nodes if v not in fixed]
    assert len(set(others)) == len(others), f"two inputs or ops share a name: {others}"
    for v in nodes:
        name = names[v]
        if v in fixed:  # a constant is called by its label (a number) or its value
            assert name == (v.label or repr(v.data).removesuffix(".0")), (name, v)
        elif v.label:  # a label is kept, with #k if an earlier node took it
            assert name == v.label or name.rpartition("#")[0] == v.label, (name, v.label)
        elif v._prev:  # an unlabelled op output: n1, n2, … (with #k if a label took it)
            assert name.partition("#")[0][1:].isdigit() and name.startswith("n"), name
    found = {}  # a repeated constant name is looked up as name, name#2, …
    for v in nodes:
        key, k = names[v], 2
        while key in found:
            key, k = f"{names[v]}#{k}", k + 1
        found[key] = v
    for key, v in found.items():
        assert wt.value_of(key) is v, (key, v)


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
