"""docs/tutorial.ipynb runs top to bottom, prints the lecture's numbers (nbclient), and is
stored with the outputs it makes now (`make tutorial` refreshes them)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "tutorial.ipynb"

nbformat = pytest.importorskip("nbformat", reason="nbformat is missing: pip install -e '.[dev]'")
nbclient = pytest.importorskip("nbclient", reason="nbclient is missing: pip install -e '.[dev]'")
pytest.importorskip("ipykernel", reason="ipykernel is missing: pip install -e '.[dev]'")


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The notebook run fresh (raises CellExecutionError, with the cell, on any error)."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is missing")
    from tutorial_outputs import fresh

    return fresh(NOTEBOOK, tmp_path_factory.mktemp("tutorial"))


@pytest.mark.slow
def test_the_notebook_is_stored_with_the_outputs_it_makes_now(ran: Any) -> None:
    from tutorial_outputs import normalised

    stored = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in stored.cells if c.cell_type == "code"]
    assert len(code) >= 10 and all(c.outputs for c in code[:3])
    want, got = normalised(ran), normalised(stored)
    stale = [i for i, (w, g) in enumerate(zip(want, got, strict=True)) if w != g]
    assert not stale, f"the stored outputs of code cells {stale} are stale: run make tutorial"


@pytest.mark.slow
def test_the_tutorial_runs_and_shows_the_lecture_numbers(ran: Any) -> None:
    nb = ran
    text: list[str] = []
    html: list[str] = []
    svg: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                text.append(out.text)
            data = out.get("data", {})
            html.append(data.get("text/html", ""))
            svg.append(data.get("image/svg+xml", ""))
    printed = "".join(text)
    for expected in (
        "(f(x + h, y) - f(x, y)) / h = -3.0000",
        "f = -12;  ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3",  # (x + y)·z at -2, 5, -4
        "f = 0.7311",  # the sigmoid neuron from gates
        "∂f/∂x0 = 0.3932",
        "∂f/∂w0 = -0.1966",
        "f = 0.7311, ∂f/∂x0 = 0.3932, ∂f/∂w0 = -0.1966",  # the sigmoid as one gate
        "by hand:  f = 1.545645, ∂f/∂x = 2.059570, ∂f/∂y = 1.592233",  # staged computation
        "gradstep: f = 1.545645, ∂f/∂x = 2.059570, ∂f/∂y = 1.592233",
        "40 random neurons: backward() agrees with central differences",
    ):
        assert expected in printed, f"missing {expected!r} in the notebook's output"
    assert "accuracy" in printed
    steppers = [h for h in html if 'class="gs-stepper gs-embedded"' in h]
    assert len(steppers) == 2  # (x + y)·z and the neuron, inline
    assert any("<svg" in s for s in svg)  # draw_dot draws the neuron's graph
