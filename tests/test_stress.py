"""The stress harness `bench.stress` at CI size (issue 17): random DAGs against PyTorch (first
and second order), compiled replays after updates, mutated model files and threads.  The
full size is one command, ``python -m bench.stress``; docs/performance.md gives its last numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def stress(tmp_path: Path, *args: str) -> dict[str, object]:
    """Run ``python -m bench.stress --quick`` with these arguments; its JSON report."""
    report = tmp_path / "stress.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.stress", "--quick", "--json", str(report), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"stress findings:\n{proc.stdout}\n{proc.stderr}"
    result: dict[str, object] = json.loads(report.read_text(encoding="utf-8"))
    assert result["findings"] == [], result["findings"]
    return result


def counts(result: dict[str, object], section: str) -> dict[str, int]:
    sections = result["sections"]
    assert isinstance(sections, dict) and section in sections, sections
    return sections[section]["counts"]  # type: ignore[no-any-return]


@pytest.mark.slow
def test_replays_files_command_lines_and_threads(tmp_path: Path) -> None:
    result = stress(tmp_path, "--sections", "replays,files,cli,threads", "--seed", "7")
    replays = counts(result, "replays")
    assert replays["replay == eager"] >= 4 * 20, replays  # 4 points per graph, most graphs
    files = counts(result, "files")
    assert files["flips: ModelFileError"] + files.get("flips: loaded, same weights", 0) == 60
    assert files["kills during save"] == files["kills: file old or new"] == 3, files
    cli = counts(result, "cli")
    assert sum(cli.values()) == 100 and cli.get("exit 0", 0) > 0, cli
    assert counts(result, "threads")["thread rounds"] == 5


@pytest.mark.slow
@pytest.mark.torch
def test_random_dags_against_pytorch_first_and_second_order(
    tmp_path: Path, torch: ModuleType
) -> None:
    """The differential run needs PyTorch in this interpreter (the `torch` fixture skips)."""
    result = stress(tmp_path, "--sections", "dags,hessians", "--seed", "7")
    first, second = counts(result, "dags"), counts(result, "hessians")
    assert first["exact"] > 10 * first.get("close (≤ 4 ulp)", 0), first
    assert second["graphs"] >= 20 and second["exact"] > 0, second


def test_unknown_sections_are_refused() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.stress", "--sections", "dags,nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "unknown sections ['nope']" in proc.stderr, proc.stderr
