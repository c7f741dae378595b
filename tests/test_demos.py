"""The training demos (moons, spiral, regression) run end to end with small settings."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from gradstep.datasets import make_moons, make_spiral
from gradstep.demos import moons, newton, regression, spiral
from gradstep.nn import MLP

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DEMOS = Path(__file__).resolve().parent.parent / "demos"


def _is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 2000


# ---------------------------------------------------------------------------------------
# moons


def test_moons_reaches_100_percent_and_writes_its_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--samples", "40", "--epochs", "50", "--out", str(tmp_path), "--no-progress"]
    assert moons.main(args) == 0
    out = capsys.readouterr().out
    assert "training accuracy 100.0%" in out
    for name in ("model.json", "decision_boundary.png", "loss_curve.png"):
        assert str(tmp_path / name) in out  # it says where its pictures went
    assert _is_png(tmp_path / "decision_boundary.png")
    assert _is_png(tmp_path / "loss_curve.png")
    # the saved model really classifies every training point correctly
    model = MLP.load(tmp_path / "model.json")
    X, y = make_moons(40, noise=0.1, seed=0)
    scores = [model(x).data for x in X]  # type: ignore[union-attr]
    assert all((s > 0) == (label > 0) for s, label in zip(scores, y, strict=True))


def test_moons_is_deterministic_under_seed(tmp_path: Path) -> None:
    def run(seed: int, folder: str) -> bytes:
        out = tmp_path / folder
        args = ["--samples", "20", "--epochs", "5", "--seed", str(seed), "--out", str(out)]
        moons.main([*args, "--no-progress"])
        return (out / "model.json").read_bytes()

    assert run(3, "a") == run(3, "b")
    assert run(3, "a") != run(4, "c")


def test_moons_progress_bar_shows_loss_and_accuracy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm", reason="tqdm is not installed")
    moons.main(["--samples", "20", "--epochs", "3", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert "loss=" in err
    assert "acc=" in err
    assert "3/3" in err


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


# ---------------------------------------------------------------------------------------
# spiral and regression


def test_spiral_learns_three_classes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--per-class", "10", "--epochs", "40", "--out", str(tmp_path), "--no-progress"]
    assert spiral.main(args) == 0
    out = capsys.readouterr().out
    assert "training accuracy" in out
    assert _is_png(tmp_path / "decision_regions.png")
    assert _is_png(tmp_path / "loss_curve.png")
    model = MLP.load(tmp_path / "model.json")
    assert model.config()["nouts"] == [16, 16, 3]
    X, y = make_spiral(10, 3, noise=0.2, seed=0)
    logits = [[z.data for z in model(x)] for x in X]  # type: ignore[union-attr]
    acc = spiral.accuracy(logits, y)
    assert acc >= 0.9  # 30 points, 40 Adam steps: measured 93.3%
    assert f"training accuracy {acc:.1%}" in out


def test_regression_fits_the_curve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--samples", "15", "--epochs", "60", "--out", str(tmp_path), "--no-progress"]
    assert regression.main(args) == 0
    out = capsys.readouterr().out
    assert "final MSE" in out
    assert _is_png(tmp_path / "fit.png")
    assert _is_png(tmp_path / "loss_curve.png")
    model = MLP.load(tmp_path / "model.json")
    X, y = regression.make_curve(15, noise=0.1, seed=0)
    mse = sum((model([x]).data - t) ** 2 for x, t in zip(X, y, strict=True)) / len(X)  # type: ignore[union-attr]
    assert mse < 0.05  # sin(x) has variance ≈ 0.5 on [-3, 3]: the fit explains > 90%
    assert f"final MSE {mse:.4f}" in out


def test_make_curve() -> None:
    X, y = regression.make_curve(5, noise=0.0)
    assert X == [-3.0, -1.5, 0.0, 1.5, 3.0]
    assert y == [math.sin(x) for x in X]
    with pytest.raises(ValueError, match="at least 2 samples"):
        regression.make_curve(1)


# ---------------------------------------------------------------------------------------
# command lines


@pytest.mark.parametrize("demo", [moons, spiral, regression], ids=["moons", "spiral", "regression"])
def test_help_and_bad_arguments(demo: object, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        demo.main(["--help"])  # type: ignore[attr-defined]
    assert exit_.value.code == 0
    help_text = capsys.readouterr().out
    assert "--seed" in help_text
    assert "--out" in help_text
    with pytest.raises(SystemExit) as exit_:
        demo.main(["--epochs", "0"])  # type: ignore[attr-defined]
    assert exit_.value.code == 2


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


@pytest.mark.parametrize(
    "args",
    [["--lr", "-1"], ["--lr", "nan"], ["--lr", "0"], ["--noise", "nan"], ["--noise", "-1"]],
    ids=["lr<0", "lr=nan", "lr=0", "noise=nan", "noise<0"],
)
@pytest.mark.parametrize("demo", [spiral, regression], ids=["spiral", "regression"])
def test_bad_numbers_are_usage_errors_not_tracebacks(
    demo: object, args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        demo.main([*args, "--epochs", "1", "--out", str(tmp_path)])  # type: ignore[attr-defined]
    assert exit_.value.code == 2
    assert f"error: {args[0]} must be" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing trained, nothing written


@pytest.mark.parametrize("demo", [spiral, regression], ids=["spiral", "regression"])
def test_an_output_folder_that_cannot_be_made_is_one_error_line(
    demo: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        demo.main(["--epochs", "1", "--out", str(blocker / "sub")])  # type: ignore[attr-defined]
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"cannot create the output folder {blocker / 'sub'}" in err
    assert "Traceback" not in err


def test_neuron_demo_reports_bad_output_paths_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gradstep.demos import neuron

    with pytest.raises(SystemExit) as exit_:
        neuron.main(["--out", str(tmp_path / "graph.txt")])
    assert exit_.value.code == 2
    assert "--out: cannot tell the format of" in capsys.readouterr().err
    missing = tmp_path / "no" / "such" / "graph.svg"
    assert neuron.main(["--out", str(missing)]) == 1
    assert f"could not write {missing}" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    assert neuron.main(["--frames", str(blocker / "frames")]) == 1
    assert "could not write" in capsys.readouterr().err
    assert neuron.main(["--html", str(missing.with_suffix(".html"))]) == 1
    assert "could not write" in capsys.readouterr().err


def test_neuron_demo_digits_are_capped_at_what_a_float_holds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gradstep.demos import neuron

    with pytest.raises(SystemExit) as exit_:
        neuron.main(["--digits", "100"])
    assert exit_.value.code == 2
    assert "--digits must be between 1 and 17" in capsys.readouterr().err


@pytest.mark.parametrize("make", [make_moons, make_spiral], ids=["moons", "spiral"])
@pytest.mark.parametrize("noise", [math.nan, math.inf, -0.1])
def test_datasets_refuse_a_noise_that_is_not_a_finite_non_negative_number(
    make: object, noise: float
) -> None:
    # a NaN noise used to give NaN points, and so a model trained to NaN
    with pytest.raises(ValueError, match=rf"noise must be a finite number >= 0, got {noise!r}"):
        make(noise=noise)  # type: ignore[operator]


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


def test_newton_is_deterministic_under_seed_and_listed_by_the_command(tmp_path: Path) -> None:
    def run(seed: int, folder: str) -> str:
        newton.main(["--seed", str(seed), "--out", str(tmp_path / folder)])
        return (tmp_path / folder / "iterates.csv").read_text(encoding="utf-8")

    assert run(1, "a") == run(1, "b") != run(2, "c")
    listed = subprocess.run(
        [sys.executable, "-m", "gradstep", "demo"], capture_output=True, text=True, check=True
    ).stdout
    assert "newton  " in listed and "Newton's method with exact Hessians" in listed
