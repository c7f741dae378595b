"""The interactive page in a real browser: Debian's Chromium driven by Playwright.

Run with ``pytest -m browser``; skipped (saying why) where Playwright or Chromium is missing.
Set GRADSTEP_UPDATE_SCREENSHOTS=1 to refresh docs/stepper.png from these tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gradstep import Value
from gradstep.demos.neuron import build_neuron
from gradstep.nn import MLP
from gradstep.viz.explain import Walkthrough, walkthrough

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parent.parent / "docs"
MIN_TEXT_PX = 10.0


@pytest.fixture(scope="module")
def browser(browser: Any, dot_program: None) -> Any:
    """The shared Chromium (tests/conftest.py); these pages need Graphviz's dot too."""
    return browser


class Page:
    """A browser tab that fails on any request leaving the machine, and on script errors."""

    def __init__(self, browser: Any, width: int = 1280, height: int = 800) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "about:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def open(self, path: Path, fragment: str = "") -> None:
        self.page.goto(path.resolve().as_uri() + fragment)
        self.page.wait_for_selector(".gs-stepper[data-ready]")

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)

    def state(self, root: str = ".gs-stepper") -> dict[str, Any]:
        """What the page shows: counter, current row, lit edge/child/node, explanation, hash."""
        result: dict[str, Any] = self.page.evaluate(
            """(sel) => {
              const root = document.querySelector(sel);
              const lit = (cls) => Array.from(root.querySelectorAll('.' + cls)).map(e => e.id);
              const row = root.querySelector('tr.gs-current');
              return {
                counter: root.querySelector('.gs-counter').textContent,
                row: row ? row.getAttribute('data-step') : null,
                edge: lit('gs-hl-edge'), child: lit('gs-hl-child'), node: lit('gs-hl-node'),
                explain: root.querySelector('.gs-explain').innerText,
                hash: window.location.hash,
              };
            }""",
            root,
        )
        return result

    def grad_text(self, element_id: str) -> str:
        text: str = self.page.evaluate(
            "(id) => document.getElementById(id).textContent", element_id
        )
        return text

    def smallest_drawn_text_px(self) -> float:
        """The smallest rendered font size of any text in the drawing, in CSS px."""
        px: float = self.page.evaluate(
            """() => Math.min(...Array.from(document.querySelectorAll('.gs-canvas svg text'))
                 .map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a))"""
        )
        return px

    def geometry(self) -> list[list[float]]:
        """Each value's box relative to the drawing, and the drawing's size."""
        boxes: list[list[float]] = self.page.evaluate(
            """() => {
              const svg = document.querySelector('.gs-canvas svg').getBoundingClientRect();
              const out = [[svg.width, svg.height]];
              document.querySelectorAll('.gs-canvas g.node').forEach(g => {
                const r = g.getBoundingClientRect();
                out.push([r.left - svg.left, r.top - svg.top, r.width, r.height]);
              });
              return out;
            }"""
        )
        return boxes

    def close(self) -> None:
        assert self.errors == [], f"script errors: {self.errors}"
        assert self.outside == [], f"requests left the page: {self.outside}"
        self.page.close()


def indices(wt: Walkthrough, step: int) -> tuple[int, int, int]:
    """(node, child, child index) of backward step ``step`` (1-based), as forward indices."""
    index = {v: i for i, v in enumerate(wt.nodes)}
    node, k = wt.edges[step - 1]
    return index[node], index[node._prev[k]], k


def forty_node_graph() -> Value:
    """An MLP 2 → 3 → 1 on one sample: 36 values."""
    model = MLP(2, [3, 1], seed=0, activation="tanh")
    return model([0.5, -1.0])  # type: ignore[return-value]


def test_the_gates_neuron_steps_with_keys_rows_and_the_fragment(
    browser: Any, tmp_path: Path
) -> None:
    f, _ = build_neuron(gates=True)
    wt = walkthrough(f)
    path = wt.write_html(tmp_path / "gates.html")
    tab = Page(browser)
    tab.open(path)
    assert tab.state()["counter"] == "step 0 / 13"
    assert "seed: ∂L/∂f = 1" in tab.state()["explain"]
    tab.press("ArrowRight", "ArrowRight", "ArrowRight", "ArrowRight")
    s = tab.state()
    n, c, k = indices(wt, 4)
    assert s["counter"] == "step 4 / 13" and s["row"] == "4" and s["hash"] == "#step=4"
    assert (
        s["edge"] == [f"gs-e{n}_{k}"] and s["child"] == [f"gs-v{c}"] and s["node"] == [f"gs-v{n}"]
    )
    assert "local gradient   ∂e/∂(-z) = e = 0.3679" in s["explain"]
    assert "upstream gradient   δe = ∂L/∂e = -0.5344" in s["explain"]
    assert tab.grad_text(f"gs-g{c}") == "grad -0.1966"  # the child's grad after step 4
    x0 = wt.nodes.index(wt.value_of("x0"))
    assert tab.grad_text(f"gs-g{x0}") == "grad 0"  # not reached yet
    tab.press("End")
    s = tab.state()
    assert s["counter"] == "step 13 / 13" and s["row"] == "13"
    assert "complete: ∂L/∂x0 = ∂L/∂w0x0·∂w0x0/∂x0 = 0.1966 × 2 = 0.3932" in s["explain"]
    assert tab.grad_text(f"gs-g{x0}") == "grad 0.3932"
    tab.press("ArrowRight")  # stays at the last step
    assert tab.state()["counter"] == "step 13 / 13"
    tab.press("Home", "ArrowLeft")
    assert tab.state()["counter"] == "step 0 / 13" and tab.state()["row"] == "0"
    tab.page.click('tr[data-step="9"]')
    s = tab.state()
    n, c, k = indices(wt, 9)
    assert s["counter"] == "step 9 / 13" and s["edge"] == [f"gs-e{n}_{k}"]
    tab.open(path, "#step=7")  # the fragment keeps the step
    assert tab.state()["counter"] == "step 7 / 13" and tab.state()["row"] == "7"
    tab.close()


@pytest.mark.parametrize("which", ["gates", "forty"])
def test_text_is_readable_and_the_drawing_never_moves(
    browser: Any, tmp_path: Path, which: str
) -> None:
    root = build_neuron(gates=True)[0] if which == "gates" else forty_node_graph()
    wt = walkthrough(root)
    if which == "forty":
        assert 30 <= len(wt.nodes) <= 45
    path = wt.write_html(tmp_path / f"{which}.html")
    tab = Page(browser)
    tab.open(path)
    smallest = tab.smallest_drawn_text_px()
    assert smallest >= MIN_TEXT_PX, f"{which}: drawn text {smallest:.1f} px at 1280×800"
    first = tab.geometry()
    for _ in range(min(6, len(wt.backward))):
        tab.press("ArrowRight")
        now = tab.geometry()  # same size, every value where it was (a lit border is wider)
        assert now[0] == first[0]
        assert len(now) == len(first)
        for box, was in zip(now[1:], first[1:], strict=True):
            assert box == pytest.approx(was, abs=2.0), (box, was)
    tab.page.screenshot(path=str(tmp_path / f"{which}.png"))
    tab.close()


def test_the_page_made_by_the_command_steps_and_stays_offline(browser: Any, tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "gradstep", "explain", "tanh(w*x + b)", "x=0.5", "w=-1.5",
         "b=0.2", "--html", "neuron.html"],
        cwd=tmp_path, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    tab = Page(browser)
    tab.open(tmp_path / "neuron.html")
    assert tab.state()["counter"] == "step 0 / 5"
    tab.press("ArrowRight", "ArrowRight", "ArrowRight", "ArrowRight", "ArrowRight")
    s = tab.state()
    assert s["counter"] == "step 5 / 5" and s["row"] == "5"
    assert "local gradient   ∂n1/∂x = w = -1.5" in s["explain"]
    assert "complete: ∂L/∂x = ∂L/∂n1·∂n1/∂x = 0.7495 × (-1.5) = -1.124" in s["explain"]
    tab.press("ArrowLeft", "ArrowLeft")
    s = tab.state()
    assert s["counter"] == "step 3 / 5" and "local gradient   ∂n2/∂b = 1\n" in s["explain"]
    assert tab.smallest_drawn_text_px() >= MIN_TEXT_PX
    tab.close()


def test_the_readme_screenshot(browser: Any, tmp_path: Path) -> None:
    """README shows docs/neuron_steps.html (the demo's page, with its title) at step 9."""
    tab = Page(browser)
    tab.open(DOCS / "neuron_steps.html", "#step=9")
    shot = tmp_path / "stepper.png"
    tab.page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("GRADSTEP_UPDATE_SCREENSHOTS"):
        shutil.copyfile(shot, DOCS / "stepper.png")
    tab.close()


def test_two_notebook_steppers_do_not_collide(browser: Any, tmp_path: Path) -> None:
    f, _ = build_neuron()
    wt = walkthrough(f)
    cells = wt._repr_html_() + "<p>a markdown cell</p>" + wt._repr_html_()
    path = tmp_path / "notebook.html"
    path.write_text(f"<!DOCTYPE html><html><body>{cells}</body></html>", encoding="utf-8")
    tab = Page(browser, 1100, 1400)
    tab.open(path)
    ids = tab.page.evaluate(
        "() => Array.from(document.querySelectorAll('.gs-stepper')).map(e => e.id)"
    )
    assert len(ids) == 2 and ids[0] != ids[1]
    tab.page.click(f"#{ids[0]} .gs-explain")  # focus the first stepper, then use its keys
    tab.press("ArrowRight", "ArrowRight")
    assert tab.state(f"#{ids[0]}")["counter"] == "step 2 / 9"
    assert tab.state(f"#{ids[1]}")["counter"] == "step 0 / 9"
    assert tab.state(f"#{ids[0]}")["hash"] == ""  # a notebook's URL is left alone
    tab.page.click(f'#{ids[1]} tr[data-step="5"]')
    assert tab.state(f"#{ids[1]}")["counter"] == "step 5 / 9"
    assert tab.state(f"#{ids[0]}")["counter"] == "step 2 / 9"
    tab.close()


def test_narrow_screens_stack_the_drawing_above_the_tables(browser: Any, tmp_path: Path) -> None:
    f, _ = build_neuron()
    path = walkthrough(f).write_html(tmp_path / "narrow.html")
    tab = Page(browser, 600, 900)
    tab.open(path)
    drawing, side = tab.page.evaluate(
        """() => ['.gs-drawing', '.gs-side'].map(s => {
             const r = document.querySelector(s).getBoundingClientRect();
             return [r.top, r.bottom, r.width]; })"""
    )
    assert side[0] >= drawing[1] - 1, (drawing, side)  # below, not beside
    assert side[2] > 500  # full width
    tab.press("ArrowRight")
    assert tab.state()["counter"] == "step 1 / 9"
    tab.close()


# ---------------------------------------------------------------------------- layout, reveal,
# the neuron view (issue 18): the README's gate neuron and an MLP(2, [4, 4, 1]) page


def readme_neuron() -> Value:
    """The README's gate-level cs231n neuron 1/(1 + exp(-(w0*x0 + w1*x1 + w2))): 13 steps."""
    return build_neuron(gates=True)[0]


def mlp_loss() -> Value:
    """MLP(2, [4, 4, 1]) (tanh) on one point, squared error: 123 steps in 9 neurons."""
    model = MLP(2, [4, 4, 1], seed=2, activation="tanh")
    return (model.output([0.3, 0.7]) - 1.0) ** 2


LAYOUT_PROBE = """() => {
  const root = document.querySelector('.gs-stepper');
  const pane = root.querySelector('.gs-drawing');
  const canvas = [...root.querySelectorAll('.gs-canvas')].find(c => !c.hidden);
  const texts = [...canvas.querySelectorAll('svg text')];
  const smallest = Math.min(...texts.map(
    t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a));
  const tables = root.querySelector('.gs-tables');
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom];
  };
  const cut = [];
  root.querySelectorAll('.gs-tables table').forEach(t => {
    t.querySelectorAll('th').forEach(th => {
      const r = th.getBoundingClientRect(), c = tables.getBoundingClientRect();
      const reachable = getComputedStyle(tables).overflowX === 'auto'
        || getComputedStyle(tables).overflowX === 'scroll';
      if ((r.right > c.right + 1 || r.left < c.left - 1) && !reachable) cut.push(th.textContent);
      if (th.scrollWidth > th.clientWidth + 1) cut.push('clipped: ' + th.textContent);
    });
  });
  return {
    smallest: smallest,
    pane: [pane.clientWidth, pane.clientHeight, pane.scrollWidth, pane.scrollHeight],
    page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
    tables: [tables.clientWidth, tables.scrollWidth],
    drawing: box(pane), side: box(root.querySelector('.gs-side')),
    cut: cut,
  };
}"""


@pytest.mark.parametrize("width", [1280, 420])
@pytest.mark.parametrize("which", ["neuron", "mlp"])
def test_the_page_fits_with_readable_text_and_no_cut_column(
    browser: Any, tmp_path: Path, which: str, width: int
) -> None:
    wt = walkthrough(readme_neuron() if which == "neuron" else mlp_loss())
    path = wt.write_html(tmp_path / f"{which}.html")
    tab = Page(browser, width, 800)
    tab.open(path)
    tab.press("ArrowRight", "ArrowRight")
    got = tab.page.evaluate(LAYOUT_PROBE)
    where = f"{which} at {width}×800"
    assert got["smallest"] >= MIN_TEXT_PX, f"{where}: drawn text {got['smallest']:.1f} px"
    assert got["cut"] == [], f"{where}: columns cut: {got['cut']}"
    assert got["page"][0] <= got["page"][1], f"{where}: the page scrolls sideways {got['page']}"
    if width == 1280:
        assert got["tables"][1] <= got["tables"][0], f"{where}: the tables scroll {got['tables']}"
    if which == "neuron" and width == 1280:  # the whole drawing, without scrolling
        w, h, sw, sh = got["pane"]
        assert sw <= w and sh <= h, f"{where}: the drawing needs scrolling {got['pane']}"
    if width == 420:  # stacked: the explanation and tables below the drawing, full width
        assert got["side"][1] >= got["drawing"][3] - 1, (got["drawing"], got["side"])
        assert got["side"][2] - got["side"][0] >= 400
    tab.page.screenshot(path=str(tmp_path / f"{which}_{width}.png"))
    tab.close()


def answers(tab: Page, step: int) -> list[str]:
    """The answer cells (local, upstream, product, so far) of backward row ``step``."""
    cells: list[str] = tab.page.evaluate(
        "(k) => [...document.querySelectorAll(`tr[data-step='${k}'] td.gs-ans`)]"
        ".map(td => td.textContent)",
        step,
    )
    return cells


def test_answers_are_revealed_as_you_go_and_the_toggle_shows_them_all(
    browser: Any, tmp_path: Path
) -> None:
    wt = walkthrough(readme_neuron())
    rows = wt.backward_rows()
    tab = Page(browser)
    tab.open(wt.write_html(tmp_path / "reveal.html"))
    assert answers(tab, 1) == ["", "", "", ""] and answers(tab, 13) == ["", "", "", ""]
    op_child = tab.page.evaluate(
        "() => [...document.querySelectorAll(`tr[data-step='13'] td`)].slice(1, 4)"
        ".map(td => td.textContent)"
    )
    assert op_child == rows[12][1:4]  # a later row still shows its node, op and child
    tab.press("ArrowRight", "ArrowRight", "ArrowRight")
    assert [answers(tab, k) for k in (1, 2, 3)] == [r[5:] for r in rows[:3]]
    assert answers(tab, 4) == ["", "", "", ""]
    tab.page.click("button[data-toggle='reveal']")
    assert answers(tab, 13) == rows[12][5:]
    assert tab.page.inner_text("button[data-toggle='reveal']") == "answers: all"
    tab.page.click("button[data-toggle='reveal']")
    assert answers(tab, 13) == ["", "", "", ""]
    tab.close()
    tab = Page(browser)
    tab.open(wt.write_html(tmp_path / "all.html", reveal="all"))
    assert answers(tab, 13) == rows[12][5:]
    tab.close()


def test_the_neuron_view_steps_neurons_and_opens_and_closes_one(
    browser: Any, tmp_path: Path
) -> None:
    wt = walkthrough(mlp_loss())
    neurons = wt.neurons()
    outside = len(wt.backward) - sum(len(n.steps) for n in neurons)
    units = outside + len(neurons)
    tab = Page(browser)
    tab.open(wt.write_html(tmp_path / "mlp.html"))
    assert tab.state()["counter"] == f"step 0 / {units}"
    visible = (
        "() => [...document.querySelectorAll('.gs-canvas')].filter(c => !c.hidden)"
        ".map(c => c.dataset.drawing)"
    )
    assert tab.page.evaluate(visible) == ["neurons"]
    tab.press(*["ArrowRight"] * (outside + 1))  # the loss's edges, then the output neuron
    s = tab.state()
    first = neurons[0]
    assert s["counter"] == f"step {outside + 1} / {units}"
    assert s["node"][-1] == "gs-nb0" and f"neuron {first.scope}" in s["explain"]
    assert f"receives   ∂L/∂{first.output} = " in s["explain"]
    current = tab.page.evaluate(
        "() => [...document.querySelectorAll('tr.gs-current')].map(r => +r.dataset.step)"
    )
    assert sorted(current) == list(first.steps)  # all its rows
    for name, _ in first.passes:  # the values it passes gradients to, lit in the box drawing
        i = wt.nodes.index(wt.value_of(name))
        box = tab.page.evaluate(f"() => document.getElementById('gs-h{i}').textContent")
        assert box == f"grad {float(f'{wt.gradient_terms(name).terms[0].product:.4g}'):g}" or (
            box.startswith("grad ")
        )
    tab.press("Enter")  # open it: its edges one by one, on the edge drawing
    s = tab.state()
    assert s["counter"] == f"step {outside + 1} / {units + len(first.steps) - 1}"
    assert f"(edge 1 of neuron {first.scope})" in s["explain"]
    assert tab.page.evaluate(visible) == ["edges"]
    assert tab.page.inner_text("button[data-toggle='open']") == "close neuron"
    tab.press("ArrowRight")
    assert f"(edge 2 of neuron {first.scope})" in tab.state()["explain"]
    tab.press("Enter")  # close it again: back on the neuron
    s = tab.state()
    assert (
        s["counter"] == f"step {outside + 1} / {units}" and f"neuron {first.scope}" in s["explain"]
    )
    assert tab.page.evaluate(visible) == ["neurons"]
    tab.page.click("#gs-nb3")  # a click on a box goes to that neuron, a second opens it
    assert f"neuron {neurons[3].scope}" in tab.state()["explain"]
    tab.page.click("#gs-nb3")
    assert f"(edge 1 of neuron {neurons[3].scope})" in tab.state()["explain"]
    tab.page.click("button[data-toggle='open']")
    assert tab.page.evaluate(visible) == ["neurons"]
    tab.page.click("button[data-toggle='view']")  # layer by layer
    assert tab.state()["counter"].endswith(f"/ {outside + 3}")
    tab.press("Home", *["ArrowRight"] * (outside + 2))
    assert "layer layer1: 4 neurons" in tab.state()["explain"]
    assert len(tab.state()["node"]) >= 4  # the layer's boxes
    tab.press("Enter")  # its neurons
    assert f"neuron {neurons[1].scope}:" in tab.state()["explain"]
    tab.press("Escape")  # closed again
    assert "layer layer1: 4 neurons" in tab.state()["explain"]
    tab.page.click("button[data-toggle='view']")  # edge by edge
    assert tab.state()["counter"].endswith(f"/ {len(wt.backward)}")
    assert tab.page.evaluate(visible) == ["edges"]
    tab.page.screenshot(path=str(tmp_path / "neuron_view.png"))
    tab.close()


def test_the_neuron_view_screenshot(browser: Any, tmp_path: Path) -> None:
    """README shows the moons_step demo's page on a hidden neuron (docs/neuron_view.png)."""
    from gradstep.demos import moons_step

    _, loss, _, _ = moons_step.one_point(0, 1)
    wt = walkthrough(loss, name="loss")
    tab = Page(browser)
    tab.open(wt.write_html(tmp_path / "moons_step.html"))
    want = f"neuron {wt.neurons()[2].scope}:"  # the output neuron, then two hidden ones
    for _ in range(len(wt.backward)):
        tab.press("ArrowRight")
        if want in tab.state()["explain"]:
            break
    assert want in tab.state()["explain"]
    shot = tmp_path / "neuron_view.png"
    tab.page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("GRADSTEP_UPDATE_SCREENSHOTS"):
        shutil.copyfile(shot, DOCS / "neuron_view.png")
    tab.close()


def test_without_scripts_the_notebook_block_is_a_static_copy(browser: Any, tmp_path: Path) -> None:
    """A shared notebook (untrusted, or rendered on a website) runs no script: the block shows
    the drawing and the tables, a note to run the cell, and no dead button."""
    block = walkthrough(readme_neuron())._repr_html_()
    path = tmp_path / "static.html"
    path.write_text(f"<!DOCTYPE html><html><body>{block}</body></html>", encoding="utf-8")
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 800}
    )
    page = context.new_page()
    page.goto(path.resolve().as_uri())
    seen = page.evaluate(
        """() => ({
          note: document.querySelector('.gs-static-note').innerText,
          buttons: [...document.querySelectorAll('button')].filter(b => b.offsetParent).length,
          drawing: document.querySelector('.gs-canvas svg').getBoundingClientRect().width,
          rows: document.querySelectorAll('tr[data-step]').length,
        })"""
    )
    assert "run this cell" in seen["note"]
    assert seen["buttons"] == 0 and seen["drawing"] > 300 and seen["rows"] == 14
    shown = page.evaluate(
        "() => [...document.querySelectorAll('.gs-drawing > * > svg, .gs-drawing > img')]"
        ".filter(e => e.getBoundingClientRect().width > 0).length"
    )
    assert shown == 1  # the inline drawing, not its copy as an image too
    context.close()


#: what JupyterLab 4's notebook styles do to HTML outputs (its rendermime rules, restated)
JUPYTERLAB_LIKE_CSS = """
.jp-RenderedHTMLCommon table { border-collapse: collapse; border: none; table-layout: fixed;
  margin-left: auto; margin-right: auto; font-size: 13px; }
.jp-RenderedHTMLCommon.jp-RenderedHTML td, .jp-RenderedHTMLCommon.jp-RenderedHTML th,
.jp-RenderedHTMLCommon.jp-RenderedHTML tr { text-align: right; vertical-align: middle;
  padding: 0.5em; line-height: normal; white-space: normal; max-width: none; border: none; }
.jp-RenderedHTMLCommon.jp-RenderedHTML tbody tr:nth-child(odd) { background: #eeeeee; }
.jp-RenderedHTMLCommon.jp-RenderedHTML tbody tr:hover { background: #cce5ff; }
.jp-RenderedHTMLCommon svg, .jp-RenderedHTMLCommon img { max-width: 100%; height: auto; }
.jp-OutputArea-output { overflow-x: auto; width: 900px; }
"""


def test_the_stepper_keeps_its_styling_inside_jupyterlab_like_css(
    browser: Any, tmp_path: Path
) -> None:
    block = walkthrough(readme_neuron())._repr_html_()
    path = tmp_path / "lab.html"
    path.write_text(
        f"<!DOCTYPE html><html><head><style>{JUPYTERLAB_LIKE_CSS}</style></head><body>"
        f'<div class="jp-OutputArea-output jp-RenderedHTMLCommon jp-RenderedHTML">{block}</div>'
        "</body></html>",
        encoding="utf-8",
    )
    tab = Page(browser)
    tab.open(path)
    tab.press("Tab")
    tab.page.click(".gs-explain")
    tab.press("ArrowRight", "ArrowRight")
    seen = tab.page.evaluate(
        """() => {
          const root = document.querySelector('.gs-stepper');
          const svg = root.querySelector('.gs-canvas svg');
          const name = root.querySelector('tr[data-step="3"] td.gs-name');
          const current = root.querySelector('tr.gs-current');
          return {
            align: getComputedStyle(name).textAlign,
            layout: getComputedStyle(root.querySelector('table')).tableLayout,
            current: getComputedStyle(current).backgroundColor,
            odd: getComputedStyle(root.querySelector('tr[data-step="5"]')).backgroundColor,
            svg: [svg.getBoundingClientRect().width, parseFloat(svg.getAttribute('width'))],
            pane: root.querySelector('.gs-drawing').clientWidth,
          };
        }"""
    )
    assert seen["align"] == "left" and seen["layout"] == "auto"
    assert seen["current"] == "rgb(255, 242, 168)"  # the step's row, not the host's stripes
    assert seen["odd"] in ("rgba(0, 0, 0, 0)", "transparent")
    assert seen["svg"][0] == pytest.approx(seen["svg"][1], abs=1)  # the host's max-width: none
    assert tab.smallest_drawn_text_px() >= MIN_TEXT_PX
    tab.close()


# ---------------------------------------------------------------------------- JupyterLab


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server on 127.0.0.1 with a token, serving an empty folder."""
    pytest.importorskip("jupyterlab", reason="JupyterLab is missing: pip install -e '.[notebook]'")
    import secrets
    import socket
    import time
    import urllib.request

    folder = tmp_path_factory.mktemp("lab")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", "--allow-root",
         f"--ServerApp.root_dir={folder}", "--ServerApp.open_browser=False",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within a minute")
        yield f"{base}/lab/tree/{{}}?token={token}", folder
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: it is only being slow to shut down
            server.kill()
            server.wait(timeout=30)


def test_a_notebook_in_a_real_jupyterlab_steps_through_a_model(
    browser: Any, jupyterlab: tuple[str, Path]
) -> None:
    """The stepper in JupyterLab 4, the notebook run in the browser: its own styling, the
    drawing as wide as it is drawn, the neuron view steps and opens."""
    import json

    url, folder = jupyterlab
    source = (
        "from gradstep.nn import MLP\n"
        "from gradstep.viz import walkthrough\n"
        "model = MLP(2, [3, 1], seed=1)\n"
        "walkthrough((model.output([0.5, -1.0]) - 1.0) ** 2)"
    )
    notebook = {
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                   "source": source}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    (folder / "steps.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url.format("steps.ipynb"))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    for _ in range(6):  # run the cell once the kernel answers (it may still be starting)
        page.click(".jp-Notebook .jp-Cell .jp-InputArea-editor")
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_selector(".gs-stepper[data-ready]", state="attached", timeout=15_000)
            break
        except Exception:  # Playwright's TimeoutError: try again
            continue
    page.wait_for_selector(".gs-stepper[data-ready]", state="attached", timeout=5_000)
    seen = page.evaluate(
        """() => {
          const root = document.querySelector('.gs-stepper');
          const td = root.querySelector('tr[data-step="3"] td.gs-name');
          const svg = [...root.querySelectorAll('.gs-canvas')].find(c => !c.hidden)
            .querySelector('svg');
          return {
            align: getComputedStyle(td).textAlign,
            buttons: [...root.querySelectorAll('button')].filter(b => b.offsetParent).length,
            note: !!root.querySelector('.gs-static-note'),
            svg: [svg.getBoundingClientRect().width, parseFloat(svg.getAttribute('width'))],
            counter: root.querySelector('.gs-counter').textContent,
          };
        }"""
    )
    assert seen["align"] == "left" and seen["buttons"] >= 6 and not seen["note"], seen
    assert seen["svg"][0] == pytest.approx(seen["svg"][1], abs=1), seen
    page.click(".gs-stepper .gs-explain")
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    explain = page.inner_text(".gs-stepper .gs-explain")
    assert "neuron layer1.neuron0:" in explain, explain
    page.keyboard.press("Enter")
    assert "(edge 1 of neuron layer1.neuron0)" in page.inner_text(".gs-stepper .gs-explain")
    assert errors == [], errors
    page.close()


def test_a_shared_notebook_opened_untrusted_shows_the_static_copy(
    browser: Any, jupyterlab: tuple[str, Path]
) -> None:
    """docs/tutorial.ipynb as shared (stored outputs, not trusted here): JupyterLab runs none of
    its scripts, so each stepper shows its drawing and tables, and says to run the cell."""
    url, folder = jupyterlab
    shutil.copyfile(DOCS / "tutorial.ipynb", folder / "shared.ipynb")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(url.format("shared.ipynb"))
    page.wait_for_selector(".jp-Notebook .jp-OutputArea-output", timeout=60_000)
    page.wait_for_timeout(1000)
    seen = page.evaluate(
        """() => [...document.querySelectorAll('.jp-OutputArea-output')]
             .filter(o => o.textContent.includes('run this cell'))
             .map(o => ({
               svg: [...o.querySelectorAll('svg, img')]
                 .filter(e => e.getBoundingClientRect().width > 100).length,
               tables: o.querySelectorAll('table').length,
               buttons: [...o.querySelectorAll('button')].filter(b => b.offsetParent).length,
             }))"""
    )
    assert len(seen) == 2, seen  # the tutorial's two steppers
    for block in seen:
        assert block["svg"] >= 1 and block["tables"] == 2 and block["buttons"] == 0, block
    page.close()
