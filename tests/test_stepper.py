"""Tests for the interactive page and the fast frames (gradstep.viz.stepper), without a browser."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from gradstep import Value
from gradstep.demos.neuron import build_neuron
from gradstep.viz.explain import walkthrough
from gradstep.viz.stepper import TooManyStepsError

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")
pytestmark = needs_dot


def page_data(page: str) -> dict[str, Any]:
    """The steps' JSON embedded in a page."""
    found = re.search(r'<script type="application/json" class="gs-data">(.*?)</script>', page, re.S)
    assert found is not None, "no step data in the page"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def x_times_x_terms(terms: int) -> Value:
    """x*x + x*x + … (``terms`` terms): 4 × terms - 2 backward steps."""
    x = Value(1.5, label="x")
    out = x * x
    for _ in range(terms - 1):
        out = out + x * x
    return out


def test_the_page_draws_the_graph_once_and_keeps_every_step_as_data(tmp_path: Path) -> None:
    f, _ = build_neuron(gates=True)
    wt = walkthrough(f)
    page = wt.write_html(tmp_path / "neuron.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 1
    data = page_data(page)
    assert len(data["steps"]) == len(wt.backward) == 13
    index = {v: i for i, v in enumerate(wt.nodes)}
    for step, r, (node, k) in zip(data["steps"], wt.backward, wt.edges, strict=True):
        assert (step["n"], step["c"]) == (index[node], index[node._prev[k]])
        assert f'id="gs-{step["e"]}"' in page  # the edge is in the drawing, by id
        assert step["g"] == f"grad {float(f'{r.child_grad:.4g}'):g}"
    for i in range(len(wt.nodes)):
        assert f'id="gs-g{i}"' in page and f'id="gs-v{i}"' in page
    # step 4: the exp gate, its local derivative as a formula with its number
    four = data["steps"][3]["lines"]
    assert four[1] == "local gradient   ∂e/∂(-z) = e = 0.3679"
    assert four[2] == "upstream gradient   δe = ∂L/∂e = -0.5344"
    assert four[3] == "product = local × upstream = 0.3679 × (-0.5344) = -0.1966"
    # a value's last contribution completes it: its sum over parents
    last = data["steps"][12]
    assert last["done"] and last["lines"][-1] == (
        "complete: ∂L/∂x0 = ∂L/∂w0x0·∂w0x0/∂x0 = 0.1966 × 2 = 0.3932"
    )
    # the tables: the seed row and one row per step, clickable by data-step
    assert re.findall(r'<tr data-step="(\d+)"', page) == [str(k) for k in range(14)]
    assert "∂w0x0/∂x0 = w0" in page


def test_the_page_is_self_contained_and_offline(tmp_path: Path) -> None:
    f, _ = build_neuron()
    page = walkthrough(f).write_html(tmp_path / "p.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=|<link|<img|<iframe|@import|url\(", page)
    assert not re.search(r"""(src|href)=["']""", page)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        'xmlns:xlink="http://www.w3.org/1999/xlink"', ""
    )
    assert "https://" not in page
    assert page.count("<script>") == 1 and page.count("<style>") == 1


def test_a_200_step_page_is_small_and_the_limit_names_its_option(tmp_path: Path) -> None:
    root = x_times_x_terms(50)
    wt = walkthrough(root)
    assert len(wt.backward) == 198
    size = wt.write_html(tmp_path / "big.html").stat().st_size
    assert size < 1_000_000, f"a 198-step page is {size} bytes"
    with pytest.raises(TooManyStepsError, match=r"198 backward steps is more than max_steps=100"):
        wt.write_html(tmp_path / "no.html", max_steps=100)
    assert not (tmp_path / "no.html").exists()


def test_jupyter_shows_a_scoped_stepper_and_two_do_not_collide() -> None:
    f, _ = build_neuron()
    wt = walkthrough(f)
    one, two = wt._repr_html_(), wt._repr_html_()
    for block in (one, two):
        assert "<html" not in block and "<body" not in block
        assert 'class="gs-stepper gs-embedded"' in block
        assert len(page_data(block)["steps"]) == 9
    ids_one = set(re.findall(r'id="([^"]+)"', one))
    ids_two = set(re.findall(r'id="([^"]+)"', two))
    assert ids_one and not ids_one & ids_two  # every element id is unique per output
    assert page_data(one)["embedded"] is True  # keys on the block, no URL fragment


def test_jupyter_falls_back_to_tables_above_the_limit() -> None:
    wt = walkthrough(x_times_x_terms(130))  # 518 steps
    block = wt._repr_html_()
    assert "no interactive stepper" in block and "max_steps=500" in block
    assert "backward pass (visit order" in block


# ---------------------------------------------------------------------------- frames


def strip_step(svg: str) -> str:
    """A frame without what changes from step to step: its style, caption and grad texts."""
    svg = re.sub(r"<style>.*?</style>", "", svg, flags=re.S)
    svg = re.sub(r'(class="gs-grad" id="[^"]+">)[^<]*', r"\1", svg)
    return re.sub(
        r'(<text text-anchor="middle" x="[^"]+" y="[^"]+" [^>]*font-size="12.00">)'
        r"[^<]*",
        r"\1",
        svg,
    )


def test_frames_share_one_layout_and_light_each_step(tmp_path: Path) -> None:
    f, _ = build_neuron()
    wt = walkthrough(f)
    seen: list[tuple[int, int]] = []
    paths = wt.write_frames(tmp_path / "frames", progress=lambda k, n: seen.append((k, n)))
    assert [p.name for p in paths] == [f"step_{k:03d}.svg" for k in range(1, 10)]
    assert seen == [(k, 9) for k in range(1, 10)]
    frames = [p.read_text(encoding="utf-8") for p in paths]
    assert all(fr.startswith("<?xml") for fr in frames)
    assert len({strip_step(fr) for fr in frames}) == 1  # the same drawing: nothing moves
    index = {v: i for i, v in enumerate(wt.nodes)}
    for frame, r, (node, k) in zip(frames, wt.backward, wt.edges, strict=True):
        i, c = index[node], index[node._prev[k]]
        style = re.search(r"<style>(.*?)</style>", frame, re.S)
        assert style is not None
        assert f"#gs-e{i}_{k} path{{stroke:#d62728" in style.group(1)
        assert f"#gs-v{c} polygon{{stroke:#d62728" in style.group(1)
        grad = re.search(rf'id="gs-g{c}">([^<]*)<', frame)
        assert grad is not None and grad.group(1) == f"grad {float(f'{r.child_grad:.4g}'):g}"
        assert f"step {r.step}/9: at {r.node}" in frame
    # before its edge, x0 still shows 0
    x0 = index[wt.value_of("x0")]
    assert re.search(rf'id="gs-g{x0}">grad 0<', frames[0])


def test_frames_refuse_above_their_limit(tmp_path: Path) -> None:
    wt = walkthrough(x_times_x_terms(3))
    with pytest.raises(TooManyStepsError, match="more than max_frames=5"):
        wt.write_frames(tmp_path / "f", max_frames=5)
    assert not (tmp_path / "f").exists()


# ---------------------------------------------------------------------------- Jupyter


def test_a_value_shows_its_graph_in_jupyter() -> None:
    x = Value(2.0, label="x")
    y = (x * x).tanh()
    y.backward()
    bundle = y._repr_mimebundle_()
    assert bundle["text/plain"] == repr(y)
    svg = bundle["image/svg+xml"]
    assert svg.startswith("<svg") and "<?xml" not in svg
    for text in (">x<", ">data 2<", ">tanh<", ">grad 1<"):
        assert text in svg, text


def test_a_large_graph_gets_a_message_not_a_drawing() -> None:
    from gradstep.viz.drawing import INLINE_MAX_NODES

    z = Value(0.0, label="z")
    for _ in range(INLINE_MAX_NODES):
        z = z + 1.0
    bundle = z._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert f"more than {INLINE_MAX_NODES} values, too many to draw inline" in bundle["text/plain"]
    assert "draw_dot(v, max_nodes=N)" in bundle["text/html"]


def test_without_graphviz_a_value_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no 'dot' here
    bundle = Value(1.0, label="x")._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert "Graphviz's 'dot' program was not found" in bundle["text/plain"]
    assert "apt-get install graphviz" in bundle["text/plain"]


def test_the_engine_does_not_import_viz() -> None:
    import subprocess
    import sys

    code = "import sys, gradstep.engine; print('gradstep.viz.drawing' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# ---------------------------------------------------------------------------- nn graphs


def nn_graphs() -> list[tuple[str, Value]]:
    """A neuron, MLP(2, [3, 1]) and MLP(2, [4, 4, 1]) with a squared-error loss, seeded."""
    from gradstep.nn import MLP, Neuron

    neuron = Neuron(2, activation="tanh", seed=3)([0.5, -1.5])
    small = MLP(2, [3, 1], seed=1)
    large = MLP(2, [4, 4, 1], seed=2, activation="tanh")
    return [
        ("Neuron(2)", neuron),
        ("MLP(2, [3, 1])", (small.output([0.5, -1.0]) - 1.0) ** 2),
        ("MLP(2, [4, 4, 1])", (large.output([0.3, 0.7]) - 1.0) ** 2),
    ]


def shown_grads(svg: str, prefix: str = "gs-") -> dict[int, str]:
    """value index → the grad text a drawing shows for it, read from the SVG by id."""
    return {int(i): t for i, t in re.findall(rf'id="{prefix}g(\d+)">([^<]*)<', svg)}


def grad_text(x: float) -> str:
    return f"grad {float(f'{x:.4g}'):g}"


@pytest.mark.parametrize("which", range(3), ids=["neuron", "mlp-3-1", "mlp-4-4-1"])
def test_nn_frames_and_pages_show_the_records_gradients_on_the_right_nodes(
    which: int, tmp_path: Path
) -> None:
    name, root = nn_graphs()[which]
    wt = walkthrough(root)
    index = {v: i for i, v in enumerate(wt.nodes)}
    expected = {i: wt.initial[v] for i, v in enumerate(wt.nodes)}  # the records, step by step
    paths = wt.write_frames(tmp_path / "frames", max_frames=500)
    assert len(paths) == len(wt.backward)
    page = wt.write_html(tmp_path / "page.html", view="edges")
    data = page_data(page.read_text(encoding="utf-8"))
    assert shown_grads(page.read_text(encoding="utf-8")) == {
        i: grad_text(g) for i, g in expected.items()
    }, f"{name}: the page's drawing before step 1"
    assert [n["g"] for n in data["nodes"]] == [grad_text(expected[i]) for i in expected]
    for path, r, (node, k), step in zip(paths, wt.backward, wt.edges, data["steps"], strict=True):
        expected[index[node._prev[k]]] = r.child_grad
        want = {i: grad_text(g) for i, g in expected.items()}
        got = shown_grads(path.read_text(encoding="utf-8"))
        wrong = {i: (want[i], got.get(i)) for i in want if got.get(i) != want[i]}
        assert not wrong, f"{name}, frame {r.step}: value → (expected, shown): {wrong}"
        assert (step["c"], step["g"]) == (index[node._prev[k]], grad_text(r.child_grad))
    # the neuron view: each neuron's edges at once; every value ends at the engine's grad
    neurons = wt.neurons()
    assert neurons and all(n.scope for n in neurons)
    assert sorted(s for n in neurons for s in n.steps) == sorted(
        r.step for r, (node, _) in zip(wt.backward, wt.edges, strict=True) if node._scope
    )
    running = {i: wt.initial[v] for i, v in enumerate(wt.nodes)}
    for unit in data["units"]:
        steps = [unit] if unit > 0 else data["neurons"][-unit - 1]["steps"]
        for s in steps:
            r = wt.backward[s - 1]
            c = data["steps"][s - 1]["c"]
            running[c] = running[c] + r.product
            assert data["steps"][s - 1]["gn"] == grad_text(running[c]), f"{name}, step {s}"
    assert all(grad_text(running[index[v]]) == grad_text(v.grad) for v in wt.nodes)


def test_a_model_is_named_as_its_parameters_are() -> None:
    from gradstep.nn import MLP

    model = MLP(2, [3, 1], seed=1)
    loss = (model.output([0.5, -1.0]) - 1.0) ** 2
    wt = walkthrough(loss)
    names = set(wt.names.values())
    assert {name for name, _ in model.named_parameters()} <= names
    for part in ("w0x0", "sum1", "z", "a"):
        assert f"layer0.neuron1.{part}" in names
    assert "layer1.neuron0.z" in names  # the linear output neuron: z is its output
    assert not any(re.fullmatch(r"n\d+|.*#\d+", n) for n in names - {"L", "n1"}), names
    assert wt.title() == "backward pass of L = (layer1.neuron0.z - 1)**2"
    assert wt.short_names[wt.value_of("layer0.neuron1.w0")] == "l0n1.w0"
    assert walkthrough(loss, name="loss").title().startswith("backward pass of loss = ")
    with pytest.raises(ValueError, match="already the name of another value"):
        walkthrough(loss, name="x0")
    # the drawing uses the short names, inside clusters named in full
    svg = wt.draw()
    assert ">l0n1.w0<" in svg and ">layer0.neuron1<" in svg
    # a plain expression keeps its names
    x = Value(2.0, label="x")
    assert walkthrough(x * x + 1).title() == "backward pass of n2 = (x * x) + 1"


def test_the_page_reveals_answers_as_you_go_by_default(tmp_path: Path) -> None:
    f, _ = build_neuron()
    wt = walkthrough(f)
    page = wt.to_html()
    assert page_data(page)["reveal"] == "step"
    assert page.count('class="num gs-ans"') == 4 * len(wt.backward)  # blanked by the script
    assert page_data(wt.to_html(reveal="all"))["reveal"] == "all"
    with pytest.raises(ValueError, match="reveal must be one of step, all"):
        wt.to_html(reveal="some")
    with pytest.raises(ValueError, match="view must be one of auto, edges, neurons, layers"):
        wt.to_html(view="trees")
    assert page_data(wt.to_html(view="layers"))["view"] == "edges"  # no layers: the edges


def test_a_model_page_steps_neuron_by_neuron(tmp_path: Path) -> None:
    from gradstep.nn import MLP

    model = MLP(2, [4, 4, 1], seed=2)
    wt = walkthrough((model.output([0.3, 0.7]) - 1.0) ** 2)
    page = wt.to_html()
    data = page_data(page)
    assert data["view"] == "neurons"
    assert len(data["neurons"]) == 9
    for neuron in data["neurons"]:
        assert f'id="gs-{neuron["cluster"]}"' in page  # its box in the drawing, by id
    first = data["neurons"][0]
    assert first["scope"] == "layer2.neuron0"
    assert first["lines"][1].startswith("receives   ∂L/∂layer2.neuron0.z = ")
    assert "∂L/∂layer1.neuron3.a += " in first["lines"][2]
    assert "∂L/∂layer2.neuron0.w3 = " in first["lines"][3]
    # units cover every step once, in an order the pass allows
    covered = [
        s for u in data["units"] for s in ([u] if u > 0 else data["neurons"][-u - 1]["steps"])
    ]
    assert sorted(covered) == list(range(1, len(wt.backward) + 1))
    assert page_data(wt.to_html(view="edges"))["view"] == "edges"
    # layer by layer: each layer's neurons one after another, three layers
    layered = page_data(wt.to_html(view="layers"))
    assert layered["view"] == "layers" and len(layered["layers"]) == 3
    assert [u for u in layered["layerUnits"] if u < 0] == [-1, -2, -3]
    assert layered["layers"][1]["lines"][0].startswith("layer layer1: 4 neurons, ")
    # an expression has no neurons: the edge view, and the buttons stay hidden
    f, _ = build_neuron()
    plain = walkthrough(f).to_html()
    assert page_data(plain)["view"] == "edges" and page_data(plain)["neurons"] == []


def test_without_its_script_the_block_is_a_readable_static_copy() -> None:
    f, _ = build_neuron()
    block = walkthrough(f)._repr_html_()
    assert 'data-static="1"' in block
    assert "run this cell" in block
    assert block.count("<svg") == 1 and block.count("<table") == 2
    # the script makes the controls (no dead buttons without it), from its data
    markup = re.sub(r"<script.*?</script>", "", block, flags=re.S)
    assert "<button" not in markup and "<button" in page_data(block)["controls"]
    # the drawing again as an image, for hosts that drop inline SVG from untrusted output
    assert block.count('class="gs-static-img"') == 1
    assert 'src="data:image/svg+xml;base64,' in block


def test_the_moons_step_demo_walks_one_point_neuron_by_neuron(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gradstep.demos import moons_step

    assert moons_step.main(["--out", str(tmp_path), "--point", "3"]) == 0
    out = capsys.readouterr().out
    _, loss, _, _ = moons_step.one_point(3, 1)
    wt = walkthrough(loss, name="loss")
    assert f"{len(wt.backward)} backward steps in 9 neurons:" in out
    first = wt.neurons()[0]
    assert first.scope == "layer2.neuron0" and f"  {first.scope}: ∂L/∂z = " in out
    page = (tmp_path / "moons_step.html").read_text(encoding="utf-8")
    data = page_data(page)
    assert data["view"] == "neurons" and len(data["neurons"]) == 9
    assert "backward pass of loss = " in page
    assert (tmp_path / "moons_step_worksheet.html").exists()


def test_the_command_writes_a_page_that_reveals_as_you_go_or_all(tmp_path: Path) -> None:
    from gradstep.cli import main

    for reveal in ("step", "all"):
        page = tmp_path / f"{reveal}.html"
        args = ["explain", "w*x + b", "w=2", "x=3", "b=1", "--html", str(page)]
        assert main([*args, "--reveal", reveal] if reveal == "all" else args) == 0
        assert page_data(page.read_text(encoding="utf-8"))["reveal"] == reveal
