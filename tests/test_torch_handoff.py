"""The torch_handoff demo: gradstep → PyTorch mid-training, both copies stay the same network."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from gradstep import no_grad
from gradstep.cli import _available_demos
from gradstep.demos import torch_handoff
from gradstep.nn import MLP
from gradstep.nn.datasets import make_moons

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _number_after(text: str, prefix: str) -> float:
    """The first number in scientific notation after ``prefix`` on its line."""
    match = re.search(re.escape(prefix) + r"[^\n]*?([0-9][0-9.]*e[+-][0-9]+)", text)
    assert match, f"no {prefix!r} in the output:\n{text}"
    return float(match.group(1))


@pytest.mark.torch
def test_both_copies_end_as_the_same_network(
    torch: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--samples", "20", "--epochs", "4", "--torch-epochs", "4", "--no-progress"]
    assert torch_handoff.main([*args, "--seed", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert _number_after(out, "max |gradstep − torch| over the 20 scores") < 1e-12
    assert _number_after(out, "max |Δ weight| between the two copies") < 1e-12
    assert _number_after(out, "60×60 grid: max |gradstep − torch| score") < 1e-12
    assert "the same class at 3600/3600 points" in out
    for name in ("model.json", "model.pt", "boundaries.png"):
        assert str(tmp_path / name) in out
    png = tmp_path / "boundaries.png"
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000

    # the two files hold the two copies: the same weights, to rounding
    ours = MLP.load(tmp_path / "model.json")
    net = ours.to_torch()
    net.load_state_dict(torch.load(tmp_path / "model.pt"))
    theirs = MLP.from_torch(net)
    gaps = [
        abs(a.data - b.data) for a, b in zip(ours.parameters(), theirs.parameters(), strict=True)
    ]
    assert max(gaps) < 1e-12, f"max weight gap {max(gaps)}"
    X, _ = make_moons(20, noise=0.1, seed=2)
    with no_grad():
        assert [ours(x).data > 0 for x in X] == [theirs(x).data > 0 for x in X]  # type: ignore[union-attr]


def test_without_torch_it_exits_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    assert torch_handoff.main(["--out", str(tmp_path / "o"), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "the torch_handoff demo needs PyTorch, which is not installed: "
        "pip install 'gradstep[torch]' (or just: pip install torch==2.13.0)"
    ]
    assert not (tmp_path / "o").exists()  # it stopped before doing anything


def test_help_works_without_torch(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(SystemExit) as exit_:
        torch_handoff.main(["--help"])
    assert exit_.value.code == 0
    assert "--torch-epochs" in capsys.readouterr().out


def test_it_is_listed_by_gradstep_demo() -> None:
    summary = _available_demos()["torch_handoff"]
    assert summary.startswith("Graduate to PyTorch")
