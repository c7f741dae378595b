"""Tests for the walk-through (gradstep.viz.explain): hand-computed walks, random DAGs, frames."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradstep import Value, testing
from gradstep.demos.neuron import build_neuron
from gradstep.demos.neuron import main as neuron_main
from gradstep.viz.explain import BackwardRecord, ForwardRecord, walkthrough


def abc() -> tuple[dict[str, Value], Value]:
    """L = a*b + c with a=2, b=-3, c=10 (the intermediate a*b is unlabelled: n1)."""
    v = {"a": Value(2.0, label="a"), "b": Value(-3.0, label="b"), "c": Value(10.0, label="c")}
    L = v["a"] * v["b"] + v["c"]
    L.label = "L"
    return v, L


# ---------------------------------------------------------------------------- by hand


def test_a_times_b_plus_c_by_hand() -> None:
    v, L = abc()
    wt = walkthrough(L)
    assert wt.forward == [
        ForwardRecord(1, "a", "", (), "", 2.0),
        ForwardRecord(2, "b", "", (), "", -3.0),
        ForwardRecord(3, "n1", "*", ("a", "b"), "a * b", -6.0),
        ForwardRecord(4, "c", "", (), "", 10.0),
        ForwardRecord(5, "L", "+", ("n1", "c"), "n1 + c", 4.0),
    ]
    #                        step node op  child idx local upstream product so-far formula
    assert wt.backward == [
        BackwardRecord(1, "L", "+", "n1", 0, 1.0, 1.0, 1.0, 1.0, "∂L/∂n1 = 1"),
        BackwardRecord(2, "L", "+", "c", 1, 1.0, 1.0, 1.0, 1.0, "∂L/∂c = 1"),
        BackwardRecord(3, "n1", "*", "a", 0, -3.0, 1.0, -3.0, -3.0, "∂n1/∂a = b"),
        BackwardRecord(4, "n1", "*", "b", 1, 2.0, 1.0, 2.0, 2.0, "∂n1/∂b = a"),
    ]
    assert (v["a"].grad, v["b"].grad, v["c"].grad) == (-3.0, 2.0, 1.0)
    assert wt.gradient_terms("a").format() == "∂L/∂a = ∂L/∂n1·∂n1/∂a = 1 × (-3) = -3"
    assert wt.gradient_terms(L).format() == "∂L/∂L = 1  (the seed)"


def test_a_plus_a_adds_two_terms() -> None:
    a = Value(3.0, label="a")
    s = a + a
    wt = walkthrough(s)
    assert [(r.child, r.child_index, r.local, r.product, r.child_grad) for r in wt.backward] == [
        ("a", 0, 1.0, 1.0, 1.0),
        ("a", 1, 1.0, 1.0, 2.0),
    ]
    terms = wt.gradient_terms(a)
    assert [(t.parent, t.upstream, t.local, t.product) for t in terms.terms] == [
        ("n1", 1.0, 1.0, 1.0),
        ("n1", 1.0, 1.0, 1.0),
    ]
    assert terms.total == a.grad == 2.0
    assert terms.format() == "∂L/∂a = ∂L/∂n1·∂n1/∂a + ∂L/∂n1·∂n1/∂a = 1 × 1 + 1 × 1 = 2"


def test_x_times_x_at_3_is_3_plus_3() -> None:
    x = Value(3.0, label="x")
    y = x * x
    y.label = "y"
    wt = walkthrough(y)
    assert [(r.local, r.upstream, r.product, r.child_grad) for r in wt.backward] == [
        (3.0, 1.0, 3.0, 3.0),
        (3.0, 1.0, 3.0, 6.0),
    ]
    assert wt.gradient_terms("x").format() == (
        "∂L/∂x = ∂L/∂y·∂y/∂x + ∂L/∂y·∂y/∂x = 1 × 3 + 1 × 3 = 6"
    )
    assert x.grad == 6.0


def test_diamond_x_plus_x_times_x() -> None:
    x = Value(2.0, label="x")
    s = x + x
    s.label = "s"
    out = s * x  # 2x², ∂/∂x = 4x = 8: x gets 2·1·… from s twice and s.data from the product
    out.label = "out"
    wt = walkthrough(out)
    terms = wt.gradient_terms(x)
    assert [(t.parent, t.upstream, t.local) for t in terms.terms] == [
        ("out", 1.0, 4.0),  # ∂out/∂x = s = 4
        ("s", 2.0, 1.0),  # ∂L/∂s = x = 2, twice
        ("s", 2.0, 1.0),
    ]
    assert terms.total == x.grad == 8.0


def test_the_cs231n_neuron_matches_the_slide() -> None:
    f, v = build_neuron()
    wt = walkthrough(f)
    s = 1.0 / (1.0 + math.exp(-1.0))  # σ(1), by hand
    ds = s * (1.0 - s)  # σ'(1) = 0.19661…
    assert f.data == pytest.approx(s, rel=1e-15)
    assert v["z"].data == 1.0 and v["s"].data == 4.0
    gate = {r.child: r for r in wt.backward if r.node == "w0x0"}
    # [local gradient] x [upstream gradient]: x0 gets 2 × 0.2 = 0.4, w0 gets -1 × 0.2 = -0.2
    assert gate["x0"].local == 2.0 and gate["w0"].local == -1.0
    assert gate["x0"].upstream == pytest.approx(ds, rel=1e-15)
    assert gate["x0"].product == pytest.approx(2.0 * ds, rel=1e-15)
    assert gate["w0"].product == pytest.approx(-ds, rel=1e-15)
    assert round(gate["x0"].upstream, 1) == 0.2
    assert round(gate["x0"].product, 1) == 0.4 and round(gate["w0"].product, 1) == -0.2
    expected = {"w0": -ds, "x0": 2 * ds, "w1": -2 * ds, "x1": -3 * ds, "w2": ds}
    for name, grad in expected.items():
        assert v[name].grad == pytest.approx(grad, rel=1e-15)
    assert [r.child for r in wt.backward] == [
        "z",
        "s",
        "w2",
        "w0x0",
        "w1x1",
        "w1",
        "x1",
        "w0",
        "x0",
    ]


def test_the_cs231n_neuron_with_elementary_gates() -> None:
    f, v = build_neuron(gates=True)
    wt = walkthrough(f)
    e = math.exp(-1.0)
    by_child = {r.child: r for r in wt.backward}
    # 1/x gate at d = 1 + e^-1: local -1/d²
    assert by_child["d"].local == pytest.approx(-1.0 / (1.0 + e) ** 2, rel=1e-14)
    assert round(by_child["d"].product, 2) == -0.53
    assert round(by_child["e"].product, 2) == -0.53  # +1 gate passes it on
    assert by_child["-z"].local == pytest.approx(e, rel=1e-15)  # exp gate
    assert round(by_child["-z"].product, 2) == -0.20
    assert by_child["z"].local == -1.0 and round(by_child["z"].product, 2) == 0.20
    # the same gradients as the one-gate sigmoid, up to rounding
    g, w = build_neuron()
    g.backward()
    for name in ("w0", "x0", "w1", "x1", "w2"):
        assert v[name].grad == pytest.approx(w[name].grad, rel=1e-12)


def test_neuron_demo_main_prints_the_walkthrough(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "neuron_gates.svg"  # --out DIR writes the drawing and the steps page
    page = tmp_path / "neuron_gates_steps.html"
    assert neuron_main(["--gates", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "x0: [2] × [0.1966] = 0.3932" in text and "slide: x0: [2] x [0.2] = 0.4" in text
    assert "w0: [-1] × [0.1966] = -0.1966" in text
    assert "upstream ∂L/∂node" in text and "NO" not in text.split("agree (2 d.p.)")[1]
    assert out.read_text(encoding="utf-8").startswith("<?xml")
    text = page.read_text(encoding="utf-8")
    assert text.count("<svg") == 1  # drawn once; the 13 steps are data
    assert text.count('<tr data-step="') == 14  # the seed and 13 steps
    with pytest.raises(SystemExit) as exc:
        neuron_main(["--help"])
    assert exc.value.code == 0


# ---------------------------------------------------------------------------- naming


def test_names_are_unique_and_stable() -> None:
    a = Value(1.0, label="n1")
    b = Value(2.0, label="x")
    c = Value(3.0, label="x")
    out = (a + b) * c + 1.0
    wt = walkthrough(out)
    names = [r.name for r in wt.forward]
    assert len(names) == len(set(names))
    assert names == ["n1", "x", "n2", "x#2", "n3", "1", "n4"]  # the 1.0 is a constant
    assert wt.value_of("x#2") is c
    with pytest.raises(KeyError, match="no node named 'zzz'"):
        wt.value_of("zzz")
    with pytest.raises(ValueError, match="is not a node of this graph"):
        wt.gradient_terms(Value(0.0))


def test_zero_grad_false_keeps_earlier_passes() -> None:
    x = Value(3.0, label="x")
    y = x * 2.0
    y.backward()  # x.grad = 2
    wt = walkthrough(y, zero_grad=False)
    assert x.grad == 4.0
    assert wt.backward[0].child_grad == 4.0
    terms = wt.gradient_terms(x)
    assert terms.initial == 2.0
    assert terms.format() == "∂L/∂x = (earlier passes) + ∂L/∂n1·∂n1/∂x = 2 + 1 × 2 = 4"
    walkthrough(y)
    assert x.grad == 2.0


def test_a_leaf_root_has_no_steps_and_no_frames(tmp_path: Path) -> None:
    x = Value(5.0, label="x")
    wt = walkthrough(x)
    assert wt.backward == [] and x.grad == 1.0
    assert wt.write_frames(tmp_path / "frames") == []
    assert "(no edges: the root is an input)" in wt.format_text()
    page = wt.write_html(tmp_path / "empty.html").read_text(encoding="utf-8")
    assert "no backward steps: the root is an input" in page


# ---------------------------------------------------------------------------- formatting


def test_text_tables_are_aligned_and_use_the_lecture_words() -> None:
    _, L = abc()
    text = walkthrough(L).format_text()
    for header in ("local ∂node/∂child", "upstream ∂L/∂node", "product", "∂L/∂child so far"):
        assert header in text
    lines = text.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("step  node"))
    table = lines[head : head + 6]
    rule = table[1]
    assert set(rule) == {"-", " "}
    assert all(len(row) == len(rule) for row in table[2:])  # right-aligned last column
    assert table[2].split() == ["1", "L", "+", "n1", "∂L/∂n1", "=", "1", "1", "1", "1", "1"]
    assert table[4].split() == ["3", "n1", "*", "a", "∂n1/∂a", "=", "b", "-3", "1", "-3", "-3"]
    assert "∂L/∂a = ∂L/∂n1·∂n1/∂a = 1 × (-3) = -3" in text


def test_markdown_tables_are_well_formed() -> None:
    x = Value(1.5, label="x|y")
    out = (x * x).tanh()
    md = walkthrough(out).format_markdown()
    rows = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert (
        "| step | node | op | child | formula | local ∂node/∂child | upstream ∂L/∂node |"
        " product | ∂L/∂child so far |" in md
    )
    assert "|---:|---|---|---|---|---:|---:|---:|---:|" in md
    assert "| `∂n2/∂n1 = 1 − n2²` |" in md  # tanh's local derivative, as code
    unescaped = [len(re.findall(r"(?<!\\)\|", row)) for row in rows]
    assert set(unescaped) == {6, 10}  # 5-column and 9-column tables, the label's | escaped
    assert r"x\|y" in md


def test_records_as_dicts() -> None:
    _, L = abc()
    wt = walkthrough(L)
    back = wt.to_records()
    assert back[2] == {
        "step": 3,
        "node": "n1",
        "op": "*",
        "child": "a",
        "child_index": 0,
        "local": -3.0,
        "upstream": 1.0,
        "product": -3.0,
        "child_grad": -3.0,
        "formula": "∂n1/∂a = b",
    }
    assert wt.to_records("forward")[2]["expression"] == "a * b"
    grads = wt.to_records("gradients")
    assert [(g["name"], g["grad"]) for g in grads] == [("a", -3.0), ("b", 2.0), ("c", 1.0)]
    with pytest.raises(ValueError, match="table must be"):
        wt.to_records("sideways")  # type: ignore[arg-type]
    assert repr(wt) == "Walkthrough(root='L', nodes=5, steps=4)"
    assert str(wt) == wt.format_text() and wt._repr_markdown_() == wt.format_markdown()


# ---------------------------------------------------------------------------- property


@dataclass
class Graph:
    """A random expression DAG: every node, and the root (the last node)."""

    nodes: list[Value]
    root: Value


UNARY = ("neg", "tanh", "sigmoid", "relu", "abs", "sq", "exp_tanh")
BINARY = ("+", "-", "*", "/safe")


def _apply(op: str, a: Value, b: Value) -> Value:
    """Ops that cannot raise on bounded inputs (division by 1 + b²)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/safe":
        return a / (b * b + 1.0)
    if op == "neg":
        return -a
    if op == "tanh":
        return a.tanh()
    if op == "sigmoid":
        return a.sigmoid()
    if op == "relu":
        return a.relu()
    if op == "abs":
        return abs(a)
    if op == "sq":
        return a.tanh() ** 2
    return a.tanh().exp()


@st.composite
def expression_dags(draw: st.DrawFn) -> Graph:
    """Small random DAGs: 1-4 leaves, 1-10 ops, operands reused freely (a+a, x*x, diamonds)."""
    floats = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
    leaves = [Value(draw(floats), label=f"x{i}") for i in range(draw(st.integers(1, 4)))]
    nodes = list(leaves)
    for _ in range(draw(st.integers(1, 10))):
        op = draw(st.sampled_from(UNARY + BINARY))
        a = nodes[draw(st.integers(0, len(nodes) - 1))]
        b = nodes[draw(st.integers(0, len(nodes) - 1))]
        nodes.append(_apply(op, a, b))
    return Graph(nodes, nodes[-1])


def same(x: float, y: float) -> bool:
    return x == y or (math.isnan(x) and math.isnan(y))


@settings(max_examples=300, deadline=None)
@given(expression_dags())
def test_walkthrough_numbers_are_the_engines(graph: Graph) -> None:
    check_walkthrough(graph.root)


@settings(max_examples=200, deadline=None)
@given(testing.expression_dags())
def test_walkthrough_numbers_are_the_engines_on_all_ops(dag: testing.ExpressionDAG) -> None:
    check_walkthrough(dag(*(Value(x, label=f"x{i}") for i, x in enumerate(dag.inputs))))


def check_walkthrough(root: Value) -> None:
    """The walk-through's numbers are the engine's: grads, products, locals, running sums."""
    wt = walkthrough(root)
    recorded = {v: v.grad for v in wt.nodes}
    # an independent plain backward() gives the same gradients, bit for bit
    for v in wt.nodes:
        v.grad = 0.0
    root.backward()
    assert all(same(v.grad, recorded[v]) for v in wt.nodes)
    # one step per edge, each product = local × upstream, locals are the engine's rules
    assert len(wt.backward) == sum(len(v._prev) for v in wt.nodes)
    for r, (node, k) in zip(wt.backward, wt.edges, strict=True):
        assert same(r.product, r.local * r.upstream)
        assert same(r.local, node.local_grads()[k])
        assert wt.name_of(node) == r.node and wt.name_of(node._prev[k]) == r.child
    # ∂L/∂v is the running sum of its gradient terms, ending at the engine's grad
    for v in wt.nodes:
        terms = wt.gradient_terms(v)
        total = terms.initial
        for t in terms.terms:
            assert same(t.product, t.upstream * t.local)
            total += t.product
        assert same(total, v.grad) and same(terms.total, v.grad)
        # by identity: repeated constants share a name (2, 2)
        edges = zip(wt.backward, wt.edges, strict=True)
        last = [r for r, (node, k) in edges if node._prev[k] is v]
        if last:
            assert same(last[-1].child_grad, v.grad)
    # the backward visit order: a node's upstream is final before it passes it on
    seen_as_node: set[str] = set()
    for r in wt.backward:
        assert r.child not in seen_as_node
        seen_as_node.add(r.node)


# ---------------------------------------------------------------------------- frames


def test_write_frames_numbered_svgs(tmp_path: Path) -> None:
    _, L = abc()
    wt = walkthrough(L)
    paths = wt.write_frames(tmp_path / "frames")
    assert [p.name for p in paths] == [
        "step_001.svg",
        "step_002.svg",
        "step_003.svg",
        "step_004.svg",
    ]
    for p in paths:
        assert p.read_text(encoding="utf-8").startswith("<?xml")


# ---------------------------------------------------------------------------- constants


def test_expression_constants_are_named_by_their_literal_and_are_not_inputs() -> None:
    from gradstep.expr import parse

    root, _ = parse("2*x + 2*y").build({"x": 1.0, "y": 2.0})
    wt = walkthrough(root)
    assert [r.name for r in wt.forward] == ["2", "x", "n1", "2", "y", "n2", "n3"]
    assert [r.expression for r in wt.forward if r.op] == ["2 * x", "2 * y", "n1 + n2"]
    forward_lines = wt.format_text().split("backward pass")[0].splitlines()[3:]
    assert [line.split()[2] for line in forward_lines if line] == [
        "constant",
        "input",
        "*",
        "constant",
        "input",
        "*",
        "+",
    ]
    assert [wt.name_of(v) for v in wt.inputs()] == ["x", "y"]
    assert [v.data for v in wt.constants()] == [2.0, 2.0]
    text = wt.format_text()
    section = text.split("gradients of the inputs", 1)[1]
    assert "∂L/∂(2)" not in section and "#" not in text
    assert "∂L/∂x = ∂L/∂n1·∂n1/∂x = 1 × 2 = 2" in section
    assert "∂L/∂y = ∂L/∂n2·∂n2/∂y = 1 × 2 = 2" in section
    assert "constants (not inputs): 2, 2" in text
    # each constant's backward step still names it, and its own sum sees only its own use
    assert [(r.node, r.child, r.product) for r in wt.backward if r.child == "2"] == [
        ("n2", "2", 2.0),
        ("n1", "2", 1.0),
    ]
    first, second = wt.constants()
    assert wt.gradient_terms(first).total == 1.0 and len(wt.gradient_terms(first).terms) == 1
    assert wt.gradient_terms(second).total == 2.0 and len(wt.gradient_terms(second).terms) == 1
    assert [g["name"] for g in wt.to_records("gradients")] == ["x", "y"]
    markdown = wt.format_markdown()
    assert "- ∂L/∂(2)" not in markdown and "constants (not inputs): 2, 2" in markdown


def test_wrapped_python_numbers_are_constants_named_by_value() -> None:
    x = Value(3.0, label="x")
    out = x * 0.5 + x * 0.5 - 1  # _leaf wraps 0.5, 0.5 and 1: unlabelled constants
    wt = walkthrough(out)
    assert [r.name for r in wt.forward if not r.inputs] == ["x", "0.5", "0.5", "1"]
    assert [r.expression for r in wt.forward if r.op][:2] == ["x * 0.5", "x * 0.5"]
    assert wt.inputs() == [x]
    assert "∂L/∂x = ∂L/∂n2·∂n2/∂x + ∂L/∂n1·∂n1/∂x = 1 × 0.5 + 1 × 0.5 = 1" in str(wt)
    assert "∂L/∂(0.5)" not in str(wt).split("gradients of the inputs", 1)[1]


def test_a_users_unlabelled_value_is_an_input_a_wrapped_number_a_constant() -> None:
    # both are unlabelled leaves holding 2.0; only the engine's wrapping marks the constant
    # (this graph has a named input, and the user's Value(2.0) used to count as a constant)
    x = Value(3.0, label="x")
    w = Value(2.0)
    out = w * x + 2
    wt = walkthrough(out)
    assert wt.inputs() == [w, x]
    (constant,) = wt.constants()
    assert constant is out._prev[1] and constant.data == 2.0 and constant is not w
    assert [wt.name_of(v) for v in (w, x, constant)] == ["2#2", "x", "2"]
    assert "∂L/∂(2#2) = ∂L/∂n1·∂n1/∂(2#2) = 1 × 3 = 3" in str(wt)
    assert "constants (not inputs): 2" in str(wt)


def test_unlabelled_leaves_of_an_unlabelled_graph_are_inputs_named_by_value() -> None:
    a, b, c = Value(2.0), Value(-3.0), Value(2.0)  # micrograd style: nothing labelled
    out = a * b + c
    wt = walkthrough(out)
    assert [r.name for r in wt.forward] == ["2", "-3", "n1", "2#2", "n2"]
    assert wt.inputs() == [a, b, c] and wt.constants() == []
    assert "∂L/∂(-3) = ∂L/∂n1·∂n1/∂(-3) = 1 × 2 = 2" in str(wt)
    assert "constants" not in str(wt)


def test_neuron_gates_plus_one_is_a_constant_named_1() -> None:
    f, _ = build_neuron(gates=True)
    wt = walkthrough(f)
    (one,) = wt.constants()
    assert one.data == 1.0 and one.label == "1" and wt.name_of(one) == "1"
    assert [r.expression for r in wt.forward if r.name == "d"] == ["e + 1"]
    assert [wt.name_of(v) for v in wt.inputs()] == ["w0", "x0", "w1", "x1", "w2"]
    text = str(wt)
    assert "∂L/∂n1" not in text and "constants (not inputs): 1" in text


# ---------------------------------------------------------------------------- formulas


def test_local_formula_names_every_op_and_agrees_with_the_engine() -> None:
    from gradstep.expr import parse

    root, _ = parse(
        "x**2/y - relu(x) + leaky_relu(y, 0.1)*sqrt(x) + log(x)*abs(y) - (x**y)*exp(-x)"
    ).build({"x": 2.0, "y": 3.0})
    wt = walkthrough(root)
    formulas = {r.formula for r in wt.backward}
    for expected in (
        "∂n1/∂x = 2·x^(2 − 1)",
        "∂n2/∂n1 = 1/y",
        "∂n2/∂y = −n1/y²",
        "∂n3/∂x = 1 if x > 0 else 0",
        "∂n4/∂n3 = −1",
        "∂n5/∂y = 1 if y > 0 else 0.1",
        "∂n6/∂x = 1/(2·n6)",
        "∂n7/∂n5 = n6",
        "∂n9/∂x = 1/x",
        "∂n10/∂y = sign(y)",
        "∂n13/∂x = y·x^(y − 1)",
        "∂n13/∂y = n13·ln x",
        "∂n14/∂x = −1",
        "∂n15/∂n14 = n15",
    ):
        assert expected in formulas, (expected, sorted(formulas))
    assert all(r.formula for r in wt.backward)


def test_local_formula_wraps_names_that_are_not_plain() -> None:
    z = Value(1.0, label="-z")
    out = z.tanh()
    wt = walkthrough(out)
    assert wt.backward[0].formula == "∂n1/∂(-z) = 1 − n1²"
    y = z * Value(2.0, label="w")
    assert walkthrough(y).backward[1].formula == "∂n1/∂w = (-z)"
    # a number as a child stands in parentheses too: never ∂d/∂1
    x = Value(3.0, label="x")
    d = 1 + x
    d.label = "d"
    assert walkthrough(d).backward[0].formula == "∂d/∂(1) = 1"


def test_anomaly_messages_name_a_models_values_as_the_walk_through_does() -> None:
    from gradstep import AnomalyError, detect_anomaly
    from gradstep.nn import MLP

    model = MLP(1, [1], seed=0)
    model.layers[0].neurons[0].w[0].data = 1e300
    with detect_anomaly(), pytest.raises(AnomalyError) as forward:
        model([1e10])
    assert str(forward.value).startswith("forward: layer0.neuron0.w0 * x0 = inf is not finite")
    model.layers[0].neurons[0].w[0].data = 1e-5
    with detect_anomaly():
        loss = model.output([1e10]) * 1e299  # 1e304: finite; x0 × 1e299 in backward: inf
        with pytest.raises(AnomalyError) as backward:
            loss.backward()
    message = str(backward.value)
    assert message.startswith(
        "backward: at layer0.neuron0.w0x0 = layer0.neuron0.w0 * x0 (op *), "
        "local ∂layer0.neuron0.w0x0/∂layer0.neuron0.w0 = x0 = 10000000000.0"
    ), message


def test_the_stepping_page_of_the_docs_prints_what_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/stepping.md's Python blocks, run in order in an empty folder: each `# prints`
    comment, in turn, is a line they print."""
    doc = Path(__file__).resolve().parent.parent / "docs" / "stepping.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    expected = [m for b in blocks for m in re.findall(r"# prints (.*)$", b, re.M)]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(doc), "exec"), namespace)
    assert capsys.readouterr().out.splitlines() == expected
