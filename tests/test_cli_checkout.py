"""The command from a source checkout, and its progress line on a terminal (issue 13)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradstep import Value
from gradstep.cli import main
from gradstep.naming import forward_order
from gradstep.viz.drawing import QUICK_LAYOUT_ABOVE, draw_dot, layout_work

ROOT = Path(__file__).resolve().parent.parent


def _from_checkout(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -S -m gradstep ARGS`` with only the checkout on PYTHONPATH: no site-packages,
    so no installed (or editable) gradstep and no gradstep.demos package."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-S", "-m", "gradstep", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_demo_runs_from_a_source_checkout_without_installing(tmp_path: Path) -> None:
    check = subprocess.run(
        [sys.executable, "-S", "-c", "import importlib.util as u; print(u.find_spec('graphviz'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.strip() == "None", "site-packages still visible under -S"

    listing = _from_checkout("demo", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    for name in ("moons", "neuron", "quickstart", "regression", "spiral"):
        assert f"  {name} " in listing.stdout, listing.stdout

    quick = _from_checkout("demo", "quickstart", cwd=tmp_path)
    assert quick.returncode == 0, quick.stderr
    assert "∂f/∂a = -0.0040" in quick.stdout

    # a demo that imports its helpers as gradstep.demos._training, and saves a model
    out = tmp_path / "moons"
    moons = _from_checkout(
        "demo",
        "moons",
        "--samples",
        "20",
        "--epochs",
        "2",
        "--no-progress",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert moons.returncode == 0, moons.stderr
    assert "trained 2 epochs" in moons.stdout
    assert (out / "model.json").is_file()


def test_unknown_demo_from_a_checkout_is_one_line(tmp_path: Path) -> None:
    proc = _from_checkout("demo", "nope", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("gradstep demo: error: unknown demo 'nope'; the demos are: ")
    assert len(proc.stderr.strip().splitlines()) == 1


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False])
def test_drawing_shows_a_progress_line_only_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, terminal: bool
) -> None:
    err = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    dot_path, svg_path = tmp_path / "g.dot", tmp_path / "g.svg"
    status = main(["explain", "x*y", "x=2", "y=3", "--dot", str(dot_path), "--svg", str(svg_path)])
    assert status == 0, err.getvalue()
    shown = f"gradstep: drawing {svg_path} (3 values; Graphviz lays out large graphs for seconds)…"
    wrote = f"wrote {dot_path}\n{shown}\r\x1b[Kwrote {svg_path}\n"
    assert err.getvalue() == (wrote if terminal else f"wrote {dot_path}\nwrote {svg_path}\n")


def test_large_drawings_ask_graphviz_for_a_quick_layout() -> None:
    x, y = Value(0.5, label="x"), Value(2.0, label="y")
    out = x * y
    for _ in range(30):
        out = out + x * y
    small = forward_order(out)
    assert layout_work(small) < QUICK_LAYOUT_ABOVE
    assert "nslimit" not in draw_dot(out).source
    for _ in range(60):  # x and y now span ~180 ranks, each used ~90 times
        out = out + x * y
    assert layout_work(forward_order(out)) > QUICK_LAYOUT_ABOVE
    source = draw_dot(out).source
    assert "mclimit=0.01" in source and "nslimit=1" in source and "nslimit1=1" in source


def test_layout_work_counts_the_ranks_each_edge_spans() -> None:
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    c = a * b  # ranks: a, b 0; op 1; c 2.  edges a→op, b→op span 1 each; op→c 1
    assert layout_work(forward_order(c)) == 3
    d = c + a  # op at 3: c→op 1, a→op 3; op→d 1
    assert layout_work(forward_order(d)) == 3 + 5
