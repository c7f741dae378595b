"""The demos: the training ones run end to end with small settings, and every demo behaves
the same from the command line, whether run as ``gradstep demo NAME`` or as a script."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import math
import os
import pkgutil
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import gradstep.demos
from gradstep.demos import _cli, moons, newton, regression, spiral
from gradstep.demos._training import save_decision_regions
from gradstep.nn import MLP
from gradstep.nn.datasets import make_moons, make_spiral

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DEMOS = Path(__file__).resolve().parent.parent / "demos"
#: every demo the `gradstep demo` command lists (a new one is covered without editing this)
DEMO_NAMES = sorted(
    m.name for m in pkgutil.iter_modules(gradstep.demos.__path__) if not m.name.startswith("_")
)
TRAINING = {"moons": moons, "spiral": spiral, "regression": regression}

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="matplotlib is not installed: the demos' plots need pip install 'gradstep[demo]'",
)
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's 'dot' program is not installed"
)


def _is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 2000


# ---------------------------------------------------------------------------------------
# the training demos, each run once per module


@dataclass
class Run:
    """One run of a demo's main(): its output folder, what it printed, its decision plots."""

    out: Path
    stdout: str
    figures: list[Any]


def _run(module: ModuleType, args: list[str], out: Path) -> Run:
    """Run ``module.main`` in-process, catching stdout and the decision-region figures."""
    figures: list[Any] = []
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(stdout):
        if hasattr(module, "save_decision_regions"):

            def spy(*args: Any, **kwargs: Any) -> Any:
                figures.append(save_decision_regions(*args, **kwargs))
                return figures[-1]

            patch.setattr(module, "save_decision_regions", spy)
        status = module.main([*args, "--out", str(out), "--no-progress"])
    assert status == 0, stdout.getvalue()
    return Run(out, stdout.getvalue(), figures)


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(moons, ["--samples", "40", "--epochs", "50"], tmp_path_factory.mktemp("moons"))


@pytest.fixture(scope="module")
def spiral_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    args = ["--per-class", "10", "--epochs", "40"]
    return _run(spiral, args, tmp_path_factory.mktemp("spiral"))


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    args = ["--samples", "15", "--epochs", "60"]
    return _run(regression, args, tmp_path_factory.mktemp("regression"))


def _summary_numbers(stdout: str) -> tuple[float, float]:
    """(loss, accuracy in %) from the summary line about the trained model."""
    match = re.search(
        r"the trained model \(after the last update\): loss (\S+), training accuracy (\S+)%",
        stdout,
    )
    assert match, stdout
    return float(match[1]), float(match[2])


@pytest.mark.slow
def test_moons_reaches_100_percent_and_saves_the_model(moons_run: Run) -> None:
    assert "training accuracy 100.0%" in moons_run.stdout
    assert str(moons_run.out / "model.json") in moons_run.stdout  # it says where it went
    model = MLP.load(moons_run.out / "model.json")
    X, y = make_moons(40, noise=0.1, seed=0)
    scores = [model.output(x).data for x in X]
    assert all((s > 0) == (label > 0) for s, label in zip(scores, y, strict=True))


@pytest.mark.slow
def test_moons_summary_reports_one_state_the_trained_model(tmp_path: Path) -> None:
    # after 3 epochs the last epoch line (before its update) and the trained model differ:
    # the summary used to mix the loss of the one with the accuracy of the other
    run = _run(moons, ["--samples", "20", "--epochs", "3"], tmp_path)
    loss, acc = _summary_numbers(run.stdout)
    model = MLP.load(tmp_path / "model.json")
    X, y = make_moons(20, noise=0.1, seed=0)
    saved_loss, saved_acc = moons.evaluate(model, X, y, alpha=1e-4)
    assert (loss, acc) == (round(saved_loss, 4), round(100 * saved_acc, 1)), run.stdout
    last_epoch = [line for line in run.stdout.splitlines() if line.startswith("epoch 3/3")]
    assert last_epoch and f"loss {saved_loss:.4g}" not in last_epoch[0]  # a different state


@pytest.mark.slow
def test_spiral_learns_three_classes_and_reports_the_trained_model(spiral_run: Run) -> None:
    model = MLP.load(spiral_run.out / "model.json")
    assert model.config()["nouts"] == [16, 16, 3]
    X, y = make_spiral(10, 3, noise=0.2, seed=0)
    loss, acc = spiral.evaluate(model, X, y)
    assert acc >= 0.9  # 30 points, 40 Adam steps: measured 93.3%
    assert _summary_numbers(spiral_run.stdout) == (round(loss, 4), round(100 * acc, 1))


@pytest.mark.slow
def test_regression_fits_the_curve(regression_run: Run) -> None:
    model = MLP.load(regression_run.out / "model.json")
    X, y = regression.make_curve(15, noise=0.1, seed=0)
    mse = sum((model.output([x]).data - t) ** 2 for x, t in zip(X, y, strict=True)) / len(X)
    assert mse < 0.05  # sin(x) has variance ≈ 0.5 on [-3, 3]: the fit explains > 90%
    assert f"the trained model (after the last update): MSE {mse:.4f} on the data" in (
        regression_run.stdout
    )


# ---------------------------------------------------------------------------------------
# pictures


def _check_decision_plot(figure: Any, class_names: list[str]) -> None:
    """Axis labels, a legend naming every class and the boundary, a smooth boundary line."""
    (ax,) = figure.axes
    assert ax.get_xlabel() and ax.get_ylabel()
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [*class_names, "decision\nboundary"]
    lines = [c for c in ax.collections if hasattr(c, "levels") and not c.filled]
    assert lines, "no boundary line was drawn"
    steps = [
        segment
        for line in lines
        for path in line.get_paths()
        for segment in zip(path.vertices[:-1], path.vertices[1:], strict=True)
    ]
    # a boundary read off class ids on a grid is a staircase of horizontal and vertical
    # steps; interpolated margins give a line in every direction
    staircase = sum(abs(b[0] - a[0]) < 1e-12 or abs(b[1] - a[1]) < 1e-12 for a, b in steps)
    assert len(steps) > 20 and staircase / len(steps) < 0.2, (staircase, len(steps))


@pytest.mark.slow
@needs_matplotlib
def test_moons_pictures(moons_run: Run) -> None:
    for name in ("decision_boundary.png", "loss_curve.png"):
        assert _is_png(moons_run.out / name)
        assert str(moons_run.out / name) in moons_run.stdout
    (figure,) = moons_run.figures
    _check_decision_plot(figure, ["class -1", "class +1"])


@pytest.mark.slow
@needs_matplotlib
def test_spiral_pictures(spiral_run: Run) -> None:
    assert _is_png(spiral_run.out / "decision_regions.png")
    assert _is_png(spiral_run.out / "loss_curve.png")
    (figure,) = spiral_run.figures
    _check_decision_plot(figure, ["arm 0", "arm 1", "arm 2"])


@pytest.mark.slow
@needs_matplotlib
def test_regression_pictures(regression_run: Run) -> None:
    assert _is_png(regression_run.out / "fit.png")
    assert _is_png(regression_run.out / "loss_curve.png")


@pytest.mark.slow
@needs_matplotlib
def test_decision_regions_of_three_classes_have_smooth_boundaries(tmp_path: Path) -> None:
    def scores(p: list[float]) -> list[float]:  # three sectors around the origin
        angle = math.atan2(p[1], p[0])
        return [math.cos(angle - k * 2 * math.pi / 3) for k in range(3)]

    X = [[math.cos(t), math.sin(t)] for t in (0.0, 2.1, 4.2)]
    figure = save_decision_regions(
        tmp_path / "r.png", scores, X, [0, 1, 2], [0, 1, 2], ["a", "b", "c"], "sectors"
    )
    _check_decision_plot(figure, ["a", "b", "c"])
    assert _is_png(tmp_path / "r.png")


@pytest.mark.slow
def test_progress_bar_shows_loss_and_accuracy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip(
        "tqdm", reason="tqdm is not installed: the progress bar needs pip install 'gradstep[demo]'"
    )
    moons.main(["--samples", "20", "--epochs", "3", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert "loss=" in err
    assert "acc=" in err
    assert "3/3" in err


@pytest.mark.slow
def test_without_tqdm_a_line_is_printed_per_tenth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` fail
    moons.main(["--samples", "20", "--epochs", "20", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "tqdm is not installed" in out
    assert "pip install 'gradstep[demo]'" in out
    lines = [line for line in out.splitlines() if line.startswith("epoch")]
    assert len(lines) == 10
    assert lines[-1].startswith("epoch 20/20  loss ")
    assert "acc " in lines[-1]


def test_without_matplotlib_the_model_is_still_saved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert moons.main(["--samples", "20", "--epochs", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "matplotlib is not installed, so no plots were drawn" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


@pytest.mark.slow
def test_moons_is_deterministic_under_seed(tmp_path: Path) -> None:
    def run(seed: int, folder: str) -> bytes:
        out = tmp_path / folder
        args = ["--samples", "20", "--epochs", "5", "--seed", str(seed), "--out", str(out)]
        with contextlib.redirect_stdout(io.StringIO()):
            moons.main([*args, "--no-progress"])
        return (out / "model.json").read_bytes()

    assert run(3, "a") == run(3, "b")
    assert run(3, "a") != run(4, "c")


def test_make_curve() -> None:
    X, y = regression.make_curve(5, noise=0.0)
    assert X == [-3.0, -1.5, 0.0, 1.5, 3.0]
    assert y == [math.sin(x) for x in X]
    with pytest.raises(ValueError, match="at least 2 samples"):
        regression.make_curve(1)


# ---------------------------------------------------------------------------------------
# every demo's command line


def _demo(name: str) -> Callable[[list[str]], int]:
    main: Callable[[list[str]], int] = importlib.import_module(f"gradstep.demos.{name}").main
    return main


def test_every_demo_is_covered() -> None:
    assert {"moons", "neuron", "quickstart", "regression", "spiral"} <= set(DEMO_NAMES)


@pytest.mark.parametrize("name", DEMO_NAMES)
def test_every_demo_takes_seed_out_and_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        _demo(name)(["--help"])
    assert exit_.value.code == 0
    help_text = capsys.readouterr().out
    assert help_text.startswith(f"usage: gradstep demo {name} [-h] [--seed N] [--out DIR]")
    assert "--seed N" in help_text and "--out DIR" in help_text


@pytest.mark.parametrize("name", DEMO_NAMES)
def test_every_demo_refuses_unknown_arguments(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        _demo(name)(["--no-such-option"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: gradstep demo {name} ")
    assert f"gradstep demo {name}: error: unrecognized arguments: --no-such-option" in err


@pytest.mark.parametrize("name", DEMO_NAMES)
def test_as_a_script_every_demo_names_itself_as_run(name: str) -> None:
    script = DEMOS / f"{name}.py"
    result = subprocess.run(
        [sys.executable, str(script), "--no-such-option"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"usage: {name}.py [-h] [--seed N] [--out DIR]"), result.stderr
    assert f"{name}.py: error: unrecognized arguments: --no-such-option" in result.stderr
    assert "gradstep demo" not in result.stderr


@pytest.mark.parametrize("name", DEMO_NAMES)
def test_every_demo_script_runs_through_run_script(name: str) -> None:
    # run_script is what turns Ctrl-C into one line and status 130 (tested below)
    source = (DEMOS / f"{name}.py").read_text(encoding="utf-8")
    main_block = 'if __name__ == "__main__":\n    raise SystemExit(run_script(main))'
    assert source.rstrip().endswith(main_block)


def test_run_script_turns_ctrl_c_into_one_line_and_status_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(argv: list[str] | None) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(sys, "argv", ["demos/neuron.py"])
    assert _cli.run_script(interrupted) == 130
    assert capsys.readouterr().err == "neuron.py: interrupted\n"


@contextlib.contextmanager
def _started(command: list[str]) -> Iterator[subprocess.Popen[str]]:
    """A demo process with its stdout unbuffered, killed if the test leaves it running.

    Ctrl-C is restored to its default in the child first: a shell's background job starts
    with it ignored, and Python then never raises KeyboardInterrupt.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
@pytest.mark.parametrize("way", ["script", "command"])
@pytest.mark.parametrize("name", sorted(TRAINING))
def test_ctrl_c_during_training_is_one_line_status_130_and_the_model_file_stays_whole(
    name: str, way: str, tmp_path: Path
) -> None:
    model_file = tmp_path / "model.json"
    MLP(2, [3, 1], seed=0).save(model_file)  # a model from an earlier run
    before = model_file.read_bytes()
    args = ["--epochs", "100000", "--no-progress", "--out", str(tmp_path)]
    if way == "script":
        command, expected = [sys.executable, str(DEMOS / f"{name}.py"), *args], f"{name}.py"
    else:
        command = [sys.executable, "-m", "gradstep", "demo", name, *args]
        expected = "gradstep demo: error"
    with _started(command) as process:
        assert process.stdout is not None
        first = process.stdout.readline()  # "model: ...": training starts next
        assert first.startswith("model: "), (first, process.stderr and process.stderr.read())
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert err == f"{expected}: interrupted\n"  # one line, no traceback
    assert model_file.read_bytes() == before  # untouched: the run never got to save
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


@pytest.mark.slow
def test_demo_runs_as_a_script(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *(sys.executable, str(DEMOS / "moons.py")),
            *("--samples", "10", "--epochs", "2", "--out", str(tmp_path), "--no-progress"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "trained 2 epochs" in result.stdout
    doc = json.loads((tmp_path / "model.json").read_text(encoding="utf-8"))
    assert doc["model"]["config"]["nouts"] == [16, 16, 1]


@pytest.mark.parametrize("demo", list(TRAINING.values()), ids=list(TRAINING))
def test_zero_epochs_is_a_usage_error(demo: ModuleType) -> None:
    with pytest.raises(SystemExit) as exit_:
        demo.main(["--epochs", "0"])
    assert exit_.value.code == 2


@pytest.mark.parametrize(
    "args",
    [["--lr", "-1"], ["--lr", "nan"], ["--lr", "0"], ["--noise", "nan"], ["--noise", "-1"]],
    ids=["lr<0", "lr=nan", "lr=0", "noise=nan", "noise<0"],
)
@pytest.mark.parametrize("demo", [spiral, regression], ids=["spiral", "regression"])
def test_bad_numbers_are_usage_errors_not_tracebacks(
    demo: ModuleType, args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        demo.main([*args, "--epochs", "1", "--out", str(tmp_path)])
    assert exit_.value.code == 2
    assert f"error: {args[0]} must be" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing trained, nothing written


@pytest.mark.parametrize("demo", list(TRAINING.values()), ids=list(TRAINING))
def test_an_output_folder_that_cannot_be_made_is_one_error_line(
    demo: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        demo.main(["--epochs", "1", "--out", str(blocker / "sub")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"cannot create the output folder {blocker / 'sub'}" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------
# neuron and quickstart


@needs_dot
def test_neuron_demo_out_is_a_folder_for_the_drawing_and_the_steps_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gradstep.demos import neuron

    assert neuron.main(["--out", str(tmp_path / "pictures")]) == 0
    assert sorted(p.name for p in (tmp_path / "pictures").iterdir()) == [
        "neuron.svg",
        "neuron_steps.html",
    ]
    out = capsys.readouterr().out
    assert f"drawing written to {tmp_path / 'pictures' / 'neuron.svg'}" in out


def test_neuron_demo_reports_bad_output_paths_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gradstep.demos import neuron

    with pytest.raises(SystemExit) as exit_:
        neuron.main(["--out", str(tmp_path / "graph.svg")])  # the old --out FILE
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"--out takes a folder, got '{tmp_path / 'graph.svg'}'" in err
    assert err.rstrip().endswith(f"so write --out {tmp_path}")
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    assert neuron.main(["--out", str(blocker / "sub")]) == 1
    assert "gradstep demo neuron: error: could not write" in capsys.readouterr().err
    assert neuron.main(["--frames", str(blocker / "frames")]) == 1
    assert "could not write" in capsys.readouterr().err
    missing = tmp_path / "no" / "such" / "page.html"
    assert neuron.main(["--html", str(missing)]) == 1
    assert "could not write" in capsys.readouterr().err


def test_neuron_demo_seed_draws_new_numbers_to_practise_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gradstep.demos import neuron

    assert neuron.main(["--seed", "1"]) == 0
    first = capsys.readouterr().out
    assert neuron.main(["--seed", "1"]) == 0
    assert capsys.readouterr().out == first  # deterministic under --seed
    drawn = neuron.random_inputs(1)
    assert drawn != neuron.SLIDE_INPUTS and all(round(x, 1) == x for x in drawn.values())
    z = drawn["w0"] * drawn["x0"] + drawn["w1"] * drawn["x1"] + drawn["w2"]
    assert abs(z) <= 3.0  # σ'(z) is not vanishingly small
    f, _ = neuron.build_neuron(inputs=drawn)
    assert first.startswith(f"f = σ(w0·x0 + w1·x1 + w2) = {f.data:.4g}")
    assert "inputs and weights drawn with --seed 1: w0=" in first
    assert "slide" not in first  # the slide's numbers are not these
    assert neuron.main(["--seed", "2"]) == 0
    assert capsys.readouterr().out != first


def test_neuron_demo_digits_are_capped_at_what_a_float_holds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gradstep.demos import neuron

    with pytest.raises(SystemExit) as exit_:
        neuron.main(["--digits", "100"])
    assert exit_.value.code == 2
    assert "--digits must be between 1 and 17" in capsys.readouterr().err


def test_quickstart_seed_draws_a_b_c(capsys: pytest.CaptureFixture[str]) -> None:
    from gradstep.demos import quickstart

    assert quickstart.main([]) == 0
    assert capsys.readouterr().out.startswith(
        f"f = tanh(a*b + c) = {math.tanh(2 * -3 + 10):.4f}   at a = 2, b = -3, c = 10\n"
    )
    assert quickstart.main(["--seed", "5"]) == 0
    first = capsys.readouterr().out
    assert quickstart.main(["--seed", "5"]) == 0
    assert capsys.readouterr().out == first
    a, b, c = (float(v) for v in re.findall(r"[abc] = (-?[\d.]+)", first.splitlines()[0]))
    assert first.startswith(f"f = tanh(a*b + c) = {math.tanh(a * b + c):.4f}")
    assert (a, b, c) != (2.0, -3.0, 10.0)


@needs_dot
def test_quickstart_out_draws_the_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gradstep.demos import quickstart

    assert quickstart.main(["--out", str(tmp_path)]) == 0
    svg = (tmp_path / "quickstart.svg").read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and ">f<" in svg.replace(" ", "")
    assert f"drawing written to {tmp_path / 'quickstart.svg'}" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------
# the datasets


@pytest.mark.parametrize("make", [make_moons, make_spiral], ids=["moons", "spiral"])
@pytest.mark.parametrize("noise", [math.nan, math.inf, -0.1])
def test_datasets_refuse_a_noise_that_is_not_a_finite_non_negative_number(
    make: Callable[..., object], noise: float
) -> None:
    # a NaN noise used to give NaN points, and so a model trained to NaN
    with pytest.raises(ValueError, match=rf"noise must be a finite number >= 0, got {noise!r}"):
        make(noise=noise)


@pytest.mark.parametrize("bad", [10.0, "10", True])
def test_datasets_refuse_a_sample_count_that_is_not_an_int(bad: object) -> None:
    with pytest.raises(TypeError, match=rf"n_samples must be an int, got {bad!r}"):
        make_moons(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=rf"n_per_class must be an int, got {bad!r}"):
        make_spiral(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=rf"n_classes must be an int, got {bad!r}"):
        make_spiral(5, bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# newton


def test_newton_reaches_the_minimum_with_exact_hessians(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert newton.main(["--start", "-1.2", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Newton: 22 steps to (1.0000000000, 1.0000000000)" in out
    rows = (tmp_path / "iterates.csv").read_text(encoding="utf-8").splitlines()
    last_newton = [r for r in rows if r.startswith("newton,")][-1].split(",")
    assert abs(float(last_newton[2]) - 1.0) < 1e-10 and abs(float(last_newton[3]) - 1.0) < 1e-10
    if (tmp_path / "paths.png").exists() or "no plots" not in out:
        assert _is_png(tmp_path / "paths.png")


def test_newtons_hessian_is_the_closed_form() -> None:
    """∇f and ∂²f of Rosenbrock's function from gradstep.grad, against the formulas."""
    x, y = -1.2, 1.0
    value, gradient, hessian = newton.gradient_and_hessian(newton.rosenbrock, [x, y])
    assert value == pytest.approx((1 - x) ** 2 + 100 * (y - x**2) ** 2, rel=1e-15)
    assert gradient == pytest.approx(
        [-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)], rel=1e-14
    )
    assert hessian == [
        pytest.approx([2 - 400 * (y - x**2) + 800 * x**2, -400 * x], rel=1e-14),
        pytest.approx([-400 * x, 200.0], rel=1e-14),
    ]


@pytest.mark.slow
def test_newton_is_deterministic_under_seed_and_listed_by_the_command(tmp_path: Path) -> None:
    def run(seed: int, folder: str) -> str:
        newton.main(["--seed", str(seed), "--out", str(tmp_path / folder)])
        return (tmp_path / folder / "iterates.csv").read_text(encoding="utf-8")

    assert run(1, "a") == run(1, "b") != run(2, "c")
    listed = subprocess.run(
        [sys.executable, "-m", "gradstep", "demo"], capture_output=True, text=True, check=True
    ).stdout
    assert "newton  " in listed and "Newton's method with exact Hessians" in listed
