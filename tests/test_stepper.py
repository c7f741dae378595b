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
