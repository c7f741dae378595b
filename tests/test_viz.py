"""Tests for gradstep.viz.drawing: DOT structure, options, determinism, real rendering, errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import graphviz
import pytest

from gradstep import Value
from gradstep.engine import topological_order
from gradstep.naming import format_number, forward_order
from gradstep.viz.drawing import (
    GraphTooLargeError,
    GraphvizNotFoundError,
    draw_dot,
    render,
    to_svg,
)


def abc() -> tuple[Value, Value, Value, Value, Value]:
    """L = a*b + c with a=2, b=-3, c=10, after backward."""
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = Value(10.0, label="c")
    d = a * b
    d.label = "d"
    L = d + c
    L.label = "L"
    L.backward()
    return a, b, c, d, L


def node_lines(source: str) -> dict[str, str]:
    """Node id → its DOT line (attributes)."""
    out = {}
    for line in source.splitlines():
        m = re.match(r"\s*(\w+) \[(.*)\]$", line)
        if m and m.group(1) not in ("graph", "node", "edge"):
            out[m.group(1)] = m.group(2)
    return out


def edges(source: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) -> (\w+)", source, flags=re.M)


def chain(n: int) -> Value:
    """x + 0.001 + 0.001 … (n additions): 2n + 1 values."""
    x = Value(0.5, label="x")
    for _ in range(n):
        x = x + 0.001
    return x


# ---------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (0.19661193324148185, "0.1966"),
        (2.0, "2"),
        (-0.2, "-0.2"),
        (-0.0, "0"),
        (0.0, "0"),
        (123456.0, "1.235e+05"),
        (1e-10, "1e-10"),
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
        (float("nan"), "nan"),
    ],
)
def test_format_number(x: float, text: str) -> None:
    assert format_number(x) == text


def test_format_number_digits() -> None:
    assert format_number(0.19661193, digits=2) == "0.2"
    assert format_number(0.19661193, digits=6) == "0.196612"
    with pytest.raises(ValueError, match="digits"):
        format_number(1.0, digits=0)


# ---------------------------------------------------------------------------- structure


def test_records_ops_and_edges_of_a_times_b_plus_c() -> None:
    *_, L = abc()
    dot = draw_dot(L)
    assert isinstance(dot, graphviz.Digraph)
    nodes = node_lines(dot.source)
    # ids follow forward order: a, b, d, c, L; an op node per computed value
    assert set(nodes) == {"v0", "v1", "v2", "v2_op", "v3", "v4", "v4_op"}
    assert 'label="{ a | data 2 | grad -3 }"' in nodes["v0"]
    assert 'label="{ b | data -3 | grad 2 }"' in nodes["v1"]
    assert 'label="{ d | data -6 | grad 1 }"' in nodes["v2"]
    assert 'label="{ c | data 10 | grad 1 }"' in nodes["v3"]
    assert 'label="{ L | data 4 | grad 1 }"' in nodes["v4"]
    assert "shape=record" in nodes["v0"]
    assert 'label="*"' in nodes["v2_op"] and "shape=ellipse" in nodes["v2_op"]
    assert 'label="+"' in nodes["v4_op"]
    # data flows child → op → result
    assert edges(dot.source) == [
        ("v0", "v2_op"),
        ("v1", "v2_op"),
        ("v2_op", "v2"),
        ("v2", "v4_op"),
        ("v3", "v4_op"),
        ("v4_op", "v4"),
    ]
    assert "rankdir=LR" in dot.source
    assert dot.format == "svg"


def test_forward_order_is_the_reverse_of_the_engine_topological_order() -> None:
    x = Value(1.5, label="x")
    y = (x * x + x).tanh() * (x - 2.0)
    assert forward_order(y) == list(reversed(topological_order(y)))


def test_show_grad_false_hides_grads() -> None:
    *_, L = abc()
    source = draw_dot(L, show_grad=False).source
    assert "grad" not in source
    assert 'label="{ a | data 2 }"' in source


def test_rankdir_tb_lays_record_fields_without_braces() -> None:
    *_, L = abc()
    source = draw_dot(L, rankdir="TB").source
    assert "rankdir=TB" in source
    assert 'label="a | data 2 | grad -3"' in source


def test_bad_rankdir_and_max_nodes_are_refused() -> None:
    *_, L = abc()
    with pytest.raises(ValueError, match="rankdir must be one of LR, RL, TB, BT, got 'XY'"):
        draw_dot(L, rankdir="XY")
    with pytest.raises(ValueError, match="max_nodes must be a positive integer"):
        draw_dot(L, max_nodes=0)
    with pytest.raises(TypeError, match="expected a gradstep Value as the root, got float"):
        draw_dot(3.0)  # type: ignore[arg-type]


def test_highlight_outlines_only_the_given_values() -> None:
    a, _b, c, _d, L = abc()
    outsider = Value(1.0)
    nodes = node_lines(draw_dot(L, highlight=[a, c, outsider]).source)
    for vid in ("v0", "v3"):
        assert 'color="#d62728"' in nodes[vid] and "penwidth=2.5" in nodes[vid]
        assert 'fillcolor="#fff2a8"' in nodes[vid]
    for vid in ("v1", "v2", "v4", "v2_op", "v4_op"):
        assert "penwidth" not in nodes[vid]


def test_highlight_edges_by_index_picks_one_of_two_parallel_edges() -> None:
    a = Value(3.0, label="a")
    s = a + a
    source = draw_dot(s, highlight_edges=[(s, 1)]).source
    lines = [ln.strip() for ln in source.splitlines() if "->" in ln]
    assert lines == [
        "v0 -> v1_op [id=e1_0]",
        'v0 -> v1_op [color="#d62728" id=e1_1 penwidth=3]',
        "v1_op -> v1 [id=e1]",
    ]
    assert "penwidth=2.5" in node_lines(source)["v1_op"]
    # by child: both parallel edges
    by_child = draw_dot(s, highlight_edges=[(s, a)]).source
    assert by_child.count("penwidth=3") == 2


def fill_of(line: str) -> tuple[int, int, int]:
    hexa = re.search(r'fillcolor="#([0-9a-f]{6})"', line)
    assert hexa is not None, line
    h = hexa.group(1)
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def test_color_by_grad_uses_sign_and_magnitude() -> None:
    x = Value(1.0, label="x")
    y = Value(2.0, label="y")
    z = Value(5.0, label="z")
    out = x * 3.0 - y * 0.5 + z * 0.0  # grads: x 3, y -0.5, z 0
    out.backward()
    nodes = node_lines(draw_dot(out, color_by_grad=True).source)
    ids = {
        name: vid for vid, line in nodes.items() for name in "xyz" if f'label="{{ {name} |' in line
    }
    rx, gx, bx = fill_of(nodes[ids["x"]])
    ry, gy, by = fill_of(nodes[ids["y"]])
    assert rx > bx  # positive → red
    assert by > ry  # negative → blue
    assert fill_of(nodes[ids["z"]]) == (255, 255, 255)  # zero → white
    assert min(rx, gx, bx) < min(ry, gy, by)  # |3| is deeper than |-0.5|
    assert all("style=filled" in line for vid, line in nodes.items() if not vid.endswith("_op"))


def test_color_by_grad_survives_nan_and_inf() -> None:
    x = Value(0.0, label="x")
    y = x.sqrt()  # ∂/∂x = inf at 0
    y.backward()
    source = draw_dot(y, color_by_grad=True).source
    assert 'label="{ x | data 0 | grad inf }"' in source
    x.grad = float("nan")
    assert 'fillcolor="#c7c7c7"' in draw_dot(y, color_by_grad=True).source


def test_grads_override_names_and_title() -> None:
    a, _b, _c, d, L = abc()
    source = draw_dot(L, grads={a: 0.5}, names={d: "a·b"}, title='step "1"').source
    assert 'label="{ a | data 2 | grad 0.5 }"' in source
    assert 'label="{ a·b | data -6 | grad 1 }"' in source
    assert 'label="step \\"1\\""' in source and "labelloc=b" in source


def test_record_labels_escape_record_syntax_and_still_render(tmp_path: Path) -> None:
    x = Value(1.0, label='a|b{c}<d>"e"\\')
    y = x.tanh()
    y.backward()
    source = draw_dot(y).source
    assert r"{ a\|b\{c\}\<d\>\"e\"\\ | data 1" in source
    out = render(draw_dot(y), tmp_path / "escaped.svg")
    assert out.read_text(encoding="utf-8").lstrip().startswith("<?xml")


# ---------------------------------------------------------------------------- clusters


def test_clusters_nest_by_dotted_scope() -> None:
    w = Value(0.5, label="w")
    x = Value(2.0, label="x")
    prod = w * x
    act = prod.tanh()
    prod._scope = "layer0.neuron0"
    act._scope = "layer0"
    w._scope = "layer0.neuron0"
    out = act * 2.0
    out.backward()
    source = draw_dot(out).source
    outer = source.index("subgraph cluster_layer0 {")
    inner = source.index('subgraph "cluster_layer0.neuron0" {')
    assert outer < inner
    assert 'label="layer0.neuron0"' in source and "label=layer0" in source
    # w, prod and its op sit inside the inner cluster; x and the output outside any cluster
    end = re.compile(r"^\s*\}$", re.M).search(source, inner)
    assert end is not None
    inner_body = source[inner : end.start()]
    assert "v0 [" in inner_body and "v2 [" in inner_body and "v2_op [" in inner_body
    assert "v1 [" not in inner_body
    assert "subgraph" not in draw_dot(out, clusters=False).source


def test_clusters_of_an_mlp_are_named_after_its_neurons() -> None:
    from gradstep.nn import MLP

    model = MLP(2, [3, 1], seed=0)
    out = model.output([Value(0.5), Value(-1.0)])
    out.backward()
    source = draw_dot(out).source
    names = re.findall(r'subgraph "?cluster_([\w.]+)"? \{', source)
    for j in range(3):
        assert f"layer0.neuron{j}" in names
    assert "layer0" in names and "layer1" in names
    assert len(names) == len(set(names))
    assert re.search(r"\bv\d+ \[", source)


# ---------------------------------------------------------------------------- determinism


def test_source_is_identical_across_builds_and_processes() -> None:
    def build() -> str:
        x = Value(0.3, label="x")
        h = [(x * w + 0.1).tanh() for w in (0.5, -1.0, 2.0)]
        out = h[0] * h[1] + h[2] * h[2]
        out.backward()
        return str(draw_dot(out, color_by_grad=True).source)

    first = build()
    junk = [Value(float(i)) for i in range(1000)]  # shift the ids of the next build
    assert build() == first
    del junk
    code = (
        "from gradstep import Value\nfrom gradstep.viz.drawing import draw_dot\n"
        "x = Value(0.3, label='x')\n"
        "h = [(x * w + 0.1).tanh() for w in (0.5, -1.0, 2.0)]\n"
        "out = h[0] * h[1] + h[2] * h[2]\nout.backward()\n"
        "print(draw_dot(out, color_by_grad=True).source, end='')\n"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert other == first


# ---------------------------------------------------------------------------- size limits


def test_graph_larger_than_max_nodes_raises_a_clear_error() -> None:
    out = chain(600)  # 1201 values
    with pytest.raises(GraphTooLargeError, match=r"more than max_nodes=500 values") as err:
        draw_dot(out)
    assert isinstance(err.value, ValueError)
    assert "smaller model" in str(err.value) and "max_nodes=2000" in str(err.value)
    small = chain(2)  # x, 0.001, x1, 0.001, x2: 5 values
    assert len(node_lines(draw_dot(small, max_nodes=5).source)) == 5 + 2
    with pytest.raises(GraphTooLargeError):
        draw_dot(small, max_nodes=4)


@pytest.mark.slow
def test_a_10000_deep_chain_draws_without_recursion_error() -> None:
    x = Value(0.5, label="x")
    for _ in range(10_000):
        x = x.tanh()
    dot = draw_dot(x, max_nodes=20_000)
    source = dot.source
    assert source.count("->") == 2 * 10_000
    assert "v10000 [" in source and "v10000_op" in source
    assert len(forward_order(x)) == 10_001


# ---------------------------------------------------------------------------- rendering


def test_renders_real_svg_png_pdf(tmp_path: Path) -> None:
    *_, L = abc()
    dot = draw_dot(L)
    svg = render(dot, tmp_path / "g.svg")
    text = svg.read_text(encoding="utf-8")
    assert text.startswith("<?xml") and "<svg" in text
    assert ">data 2<" in text or "data 2" in text
    assert render(dot, tmp_path / "g.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert render(dot, tmp_path / "g.pdf").read_bytes().startswith(b"%PDF")
    assert to_svg(dot).lstrip().startswith("<?xml")


def test_jupyter_display_returns_svg() -> None:
    *_, L = abc()
    bundle = draw_dot(L)._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]


def test_render_dot_suffix_writes_source_and_bad_suffix_is_refused(tmp_path: Path) -> None:
    *_, L = abc()
    dot = draw_dot(L)
    assert render(dot, tmp_path / "g.dot").read_text(encoding="utf-8") == dot.source
    with pytest.raises(ValueError, match=r"cannot tell the format of .*g\.jpeg.*\.svg, \.png"):
        render(dot, tmp_path / "g.jpeg")


def test_missing_dot_program_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    *_, L = abc()
    dot = draw_dot(L)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    for action in (lambda: render(dot, tmp_path / "g.svg"), lambda: to_svg(dot)):
        with pytest.raises(GraphvizNotFoundError) as err:
            action()
        message = str(err.value)
        assert "'dot' program was not found" in message
        assert "apt-get install graphviz" in message and "brew install graphviz" in message
        assert "conda install" in message and "dot.source" in message
        assert isinstance(err.value, graphviz.ExecutableNotFound)
    assert not (tmp_path / "g.svg").exists()
    # the DOT source needs no Graphviz
    assert "v4_op -> v4" in dot.source
    assert render(dot, tmp_path / "g.gv").read_text(encoding="utf-8") == dot.source


def test_missing_dot_simulated_by_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    *_, L = abc()
    dot = draw_dot(L)

    def no_dot(*args: object, **kwargs: object) -> bytes:
        raise graphviz.ExecutableNotFound(("dot",))

    monkeypatch.setattr(graphviz.Digraph, "pipe", no_dot)
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        render(dot, tmp_path / "g.pdf")


# ---------------------------------------------------------------------------------------
# names: the drawing calls every node what the walk-through's tables call it


def drawn_names(source: str) -> list[str]:
    """The name field of each value's record, in node-id order (v0, v1, …)."""
    return re.findall(r'^\s*v\d+ \[label="\{ (.*?) \| data', source, flags=re.M)


def test_drawing_names_every_node_as_the_walkthrough_does() -> None:
    from gradstep.viz.explain import walkthrough

    a, b = Value(2.0), Value(-3.0)  # micrograd style: nothing labelled
    x = Value(0.5, label="x")
    out = (a * b + 1).tanh() * x  # the 1 is a constant the engine wraps
    names = drawn_names(draw_dot(out).source)
    # the intermediate nodes used to be drawn with an empty name cell
    assert names == ["2", "-3", "n1", "1", "n2", "n3", "x", "n4"]
    wt = walkthrough(out)
    assert names == [wt.name_of(v) for v in wt.nodes] == [r.name for r in wt.forward]


def test_user_labels_win_and_the_shared_rule_fills_the_rest() -> None:
    x = Value(3.0, label="x")
    y = x * x + x
    y.label = "y"
    assert drawn_names(draw_dot(y).source) == ["x", "n1", "y"]
    explicit = drawn_names(draw_dot(y, names={x: "input"}).source)
    assert explicit == ["input", "n1", "y"]  # names= overrides some, the rule names the rest


def test_a_model_is_drawn_with_short_names_in_clusters_named_in_full() -> None:
    from gradstep.nn import MLP

    out = MLP(2, [2, 1], seed=0).output([0.5, -1.0])
    source = draw_dot(out).source
    for name in ("l0n0.w0", "l0n1.b", "l0n1.w1x1", "l0n1.sum1", "l0n1.z", "l0n1.a", "l1n0.z"):
        assert f"{{ {name} | data" in source, name
    assert 'id="c_layer0.neuron1" label="layer0.neuron1"' in source
