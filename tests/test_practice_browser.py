"""The practice page in a real browser (Debian's Chromium driven by Playwright): answers
typed and checked on Enter, the feedback Python wrote, edges lit, progress kept on reload.

Run with ``pytest -m browser``; skipped (saying why) where Playwright, Chromium or Graphviz
is missing.  GRADSTEP_UPDATE_SCREENSHOTS=1 refreshes docs/practice.png.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from gradstep import Value
from gradstep.expr import parse
from gradstep.nn import MLP
from gradstep.viz import make_exercise, practice
from gradstep.viz.exercise import MISTAKES, AnswerError, Exercise, parse_answer

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture(scope="module")
def browser(browser: Any, dot_program: None) -> Any:
    """The shared Chromium (tests/conftest.py); these pages need Graphviz's dot too."""
    return browser


class Tab:
    """A browser tab on a practice page; fails on script errors and outside requests."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "about:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def open(self, path: Path) -> None:
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector(".gp-practice[data-ready]")

    def answer(self, text: str) -> str:
        """Type into the focused field, press Enter; the feedback shown."""
        self.page.keyboard.type(text)
        self.page.keyboard.press("Enter")
        feedback: str = self.page.inner_text(".gp-feedback")
        return feedback

    def current(self) -> str:
        value: str = self.page.get_attribute(".gp-practice", "data-current")
        return value

    def classes(self, element_id: str) -> list[str]:
        found: list[str] = self.page.evaluate(
            "(id) => Array.from(document.getElementById(id).classList)", element_id
        )
        return found

    def close(self) -> None:
        assert self.errors == [], f"script errors: {self.errors}"
        assert self.outside == [], f"requests left the page: {self.outside}"
        self.context.close()


def typed(x: float) -> str:
    return f"{x:.4g}"


def test_right_and_wrong_answers_feedback_lit_edges_and_progress_kept_on_reload(
    browser: Any, tmp_path: Path
) -> None:
    exercise = make_exercise(4, 7)  # L = a / (b / sigmoid(a)): a is used twice
    path = exercise.write_html(tmp_path / "practice.html")
    qs = exercise.questions
    tab = Tab(browser)
    tab.open(path)
    assert tab.current() == "1"
    focused = tab.page.evaluate("document.activeElement.dataset.q")
    assert focused == "1"  # the first field (the first edge's local derivative) has the focus
    mistake = qs[0].mistakes[0]
    said = tab.answer(typed(mistake.value))
    assert said == f"wrong: {exercise.check(qs[0], mistake.value).message}"
    assert tab.current() == "1"
    said = tab.answer(typed(qs[0].answer))
    assert said == f"right: {qs[0].worked}" and tab.current() == "2"
    assert "gp-current" in tab.classes(f"gp-{qs[0].edge}")
    assert "gp-done" not in tab.classes(f"gp-{qs[0].edge}")
    unknown = tab.answer("123")
    assert unknown == f"wrong: {exercise.check(qs[1], 123.0).message}"
    tab.answer(typed(qs[1].answer))
    assert "gp-done" in tab.classes(f"gp-{qs[0].edge}")  # the first edge is answered
    assert tab.answer("?") == f"hint: {qs[2].hint}"
    assert tab.answer("!") == f"the answer: {qs[2].prompt} = {typed(qs[2].answer)}"
    assert tab.current() == "4"
    tab.page.reload()
    tab.page.wait_for_selector(".gp-practice[data-ready]")
    assert tab.current() == "4"  # progress kept
    assert tab.page.input_value('input[data-q="1"]') == typed(qs[0].answer)
    revealed = tab.page.evaluate(
        "Array.from(document.querySelector('input[data-q=\"3\"]').classList)"
    )
    assert "gp-revealed" in revealed
    assert "gp-done" in tab.classes(f"gp-{qs[0].edge}")
    record = tab.page.inner_text(".gp-record")
    assert MISTAKES[mistake.kind] in record and MISTAKES["other"] in record
    assert "3 of" in tab.page.inner_text(".gp-progress")
    for q in qs[3:-1]:
        assert tab.answer(typed(q.answer)) == f"right: {q.worked}", q
    assert tab.answer(typed(qs[-1].answer)).startswith("done: ")
    assert tab.current() == "done"
    summary = tab.page.inner_text(".gp-summary")
    assert summary.startswith(f"{len(qs)} of {len(qs)} numbers done, {len(qs) - 3} right first")
    assert "1 revealed" in summary
    tab.page.click('button[data-do="restart"]')
    assert tab.current() == "1" and tab.page.input_value('input[data-q="1"]') == ""
    tab.close()


def test_the_page_reads_numbers_as_the_terminal_does(browser: Any, tmp_path: Path) -> None:
    exercise = make_exercise(1, 0)
    path = exercise.write_html(tmp_path / "p.html")
    tab = Tab(browser)
    tab.open(path)
    texts = [
        "0.5", "1/2", "-0.5*3", "e", "pi", "π/2", "2^3", "2**-1", "−1", "3 × 2", "1 ÷ 4",
        "1 - 0.76**2", "-2**2", "(1 + 2) * 3", "1e-3", ".25", "2*pi", "x", "1/0", "2 +", "",
    ]  # fmt: skip
    for text in texts:
        got = tab.page.evaluate(
            """(t) => { try { return document.querySelector('.gp-practice').gradstepParse(t); }
                       catch (e) { return 'error'; } }""",
            text,
        )
        try:
            want = parse_answer(text)
        except AnswerError:
            assert got == "error", (text, got)
            continue
        assert isinstance(got, float | int), (text, got)
        assert math.isclose(got, want, rel_tol=1e-12), (text, got, want)
    tab.close()


def _done_in_notebook_output(browser: Any, tmp_path: Path, exercise: Exercise) -> Tab:
    """The exercise's notebook display inside a page, as Jupyter puts it in an output cell."""
    page = tmp_path / "notebook.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        f'<div class="output_area">{exercise._repr_html_()}</div></body></html>',
        encoding="utf-8",
    )
    tab = Tab(browser)
    tab.open(page)
    return tab


def test_a_level_4_exercise_end_to_end_in_a_notebook_output(browser: Any, tmp_path: Path) -> None:
    exercise = make_exercise(4, 3)
    tab = _done_in_notebook_output(browser, tmp_path, exercise)
    tab.page.click('input[data-q="1"]')  # in a notebook the page does not take the focus
    for q in exercise.questions:
        tab.page.fill(f'input[data-q="{q.number}"]', typed(q.answer))
        tab.page.press(f'input[data-q="{q.number}"]', "Enter")
    assert tab.current() == "done"
    n = len(exercise.questions)
    assert tab.page.inner_text(".gp-summary").startswith(f"{n} of {n} numbers done, {n} right")
    tab.close()


def test_an_mlp_graph_page_checks_its_numbers(browser: Any, tmp_path: Path) -> None:
    model = MLP(2, [2, 1], seed=1)
    y = model([Value(1.0, label="x0"), Value(-0.5, label="x1")])
    assert isinstance(y, Value)
    exercise = practice((y - 1.0) ** 2, "an MLP's squared error")
    path = exercise.write_html(tmp_path / "mlp.html")
    tab = Tab(browser)
    tab.open(path)
    first = exercise.questions[0]
    assert tab.answer(typed(first.answer)) == f"right: {first.worked}"
    wrong = first.answer + 1.0  # the second field: forgot to multiply by the upstream
    feedback = exercise.check(exercise.questions[1], wrong)
    assert tab.answer(typed(wrong)) == f"wrong: {feedback.message}"
    tab.close()


def test_screenshot_of_the_page_for_the_docs(browser: Any, tmp_path: Path) -> None:
    root, _ = parse("(a + b) * a").build({"a": 2, "b": -1})
    root.label = "L"
    exercise = practice(root, "L = (a + b) * a   at a = 2, b = -1")
    path = exercise.write_html(tmp_path / "practice.html")
    tab = Tab(browser)
    tab.open(path)
    qs = exercise.questions
    for q in qs[:5]:
        tab.answer(typed(q.answer))
    said = tab.answer("2")  # ∂L/∂a so far: the second use's product alone
    assert said == "wrong: a is used twice: add this product (2) to the 1 it already has"
    shot = tmp_path / "practice.png"
    tab.page.set_viewport_size({"width": 1100, "height": 760})
    tab.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("GRADSTEP_UPDATE_SCREENSHOTS"):
        shutil.copy(shot, DOCS / "practice.png")
    tab.close()


def test_in_a_real_notebook_kernel_the_exercise_displays_its_page(
    browser: Any, tmp_path: Path
) -> None:
    nbformat = pytest.importorskip(
        "nbformat", reason="nbformat is missing: pip install -e '.[dev]'"
    )
    nbclient = pytest.importorskip(
        "nbclient", reason="nbclient is missing: pip install -e '.[dev]'"
    )
    pytest.importorskip("ipykernel", reason="ipykernel is missing: pip install -e '.[dev]'")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from gradstep.viz import make_exercise\nmake_exercise(4, 7)")
    ]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    (out,) = nb.cells[0].outputs
    shown = out["data"]["text/html"]
    assert 'class="gp-practice"' in shown and out["data"]["text/plain"].startswith("Exercise(")
    page = tmp_path / "output.html"  # the output as a notebook front end puts it in the page
    page.write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        f'<div class="jp-OutputArea">{shown}</div></body></html>',
        encoding="utf-8",
    )
    exercise = make_exercise(4, 7)
    tab = Tab(browser)
    tab.open(page)
    first = exercise.questions[0]
    tab.page.fill('input[data-q="1"]', typed(first.mistakes[0].value))
    tab.page.press('input[data-q="1"]', "Enter")
    feedback = exercise.check(first, first.mistakes[0].value).message
    assert tab.page.inner_text(".gp-feedback") == f"wrong: {feedback}"
    tab.close()
