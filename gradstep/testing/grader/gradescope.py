"""Gradescope's ``results.json`` for one submission: a test per row of the report card.

Each row is worth its weight in points (1 by default; INFO rows 0): a PASS or INFO row
scores its weight, any other row 0.  Weights come as ``{"tanh": 2, "sigmoid": 0, "*": 1}``
(check ids, ``"*"`` for the rest).  A class that cannot be loaded scores 0 on every row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gradstep.testing.grader.card import EngineReport
from gradstep.testing.grader.checks import CheckResult, CheckSpec

__all__ = ["results_json", "write_results", "read_weights", "weight_of"]


def read_weights(path: str | Path, checks: Sequence[CheckSpec]) -> dict[str, float]:
    """Weights from a JSON file: check id → points (``"*"``: every other check); a check id
    that is not in the plan, or a weight that is not a number ≥ 0, raises ValueError."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read the weights file {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"the weights file {path} is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"the weights file {path} must hold an object: {{check id: points}}")
    known = {spec.id for spec in checks} | {"*"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(
            f"the weights file {path} names no check {', '.join(map(repr, unknown))}; "
            f"the checks: {', '.join(spec.id for spec in checks)}"
        )
    weights = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ValueError(f"the weight of {key!r} in {path} must be a number ≥ 0, not {value!r}")
        weights[key] = float(value)
    return weights


def weight_of(check_id: str, status: str, weights: Mapping[str, float]) -> float:
    """The points a row is worth: its own weight, else ``"*"``'s, else 1 (INFO rows: 0)."""
    if check_id in weights:
        return weights[check_id]
    if status == "INFO":
        return 0.0
    return weights.get("*", 1.0)


def _test(row: CheckResult, weights: Mapping[str, float]) -> dict[str, Any]:
    """One Gradescope test: name, score, max_score, status, output."""
    points = weight_of(row.id, row.status, weights)
    earned = points if row.status in ("PASS", "INFO") else 0.0
    output = row.message() if row.failed else f"{row.status}: {row.detail}"
    return {
        "name": row.title,
        "score": earned,
        "max_score": points,
        "status": "passed" if row.status in ("PASS", "INFO") else "failed",
        "output": output,
    }


def results_json(
    report: EngineReport | None,
    checks: Sequence[CheckSpec],
    weights: Mapping[str, float] | None = None,
    error: str = "",
) -> dict[str, Any]:
    """The results.json data: ``score`` (the sum of the tests' scores), ``execution_time``,
    ``tests`` (one per row: name, score, max_score, status, output) and an ``output`` summary;
    with no report (``error`` says why) every check scores 0."""
    weights = dict(weights or {})
    tests: list[dict[str, Any]]
    if report is None:
        tests = [
            {
                "name": spec.title,
                "score": 0.0,
                "max_score": weight_of(spec.id, "", weights),
                "status": "failed",
                "output": f"not run: {error}",
            }
            for spec in checks
        ]
        output = f"gradstep test-engine could not check your class: {error}"
        time = 0.0
    else:
        tests = [_test(row, weights) for row in report.rows]
        counts = report.counts
        output = ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n)
        time = report.seconds
    score = math.fsum(t["score"] for t in tests)
    most = math.fsum(t["max_score"] for t in tests)
    return {
        "score": score,
        "execution_time": round(time, 1),
        "output": f"{score:g} of {most:g} points. {output}",
        "tests": tests,
    }


def write_results(data: Mapping[str, Any], path: str | Path) -> Path:
    """Write results.json (creating its folder); return its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return target
