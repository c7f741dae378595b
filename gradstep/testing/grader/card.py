"""One engine's report card: `EngineReport`, a row per check, as text or JSON-ready data."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gradstep.testing.grader.checks import STATUSES, CheckResult

__all__ = ["EngineReport"]


@dataclass(frozen=True)
class EngineReport:
    """The report card: one `CheckResult` per row, in the plan's order."""

    target: str
    class_name: str
    rows: tuple[CheckResult, ...]
    seconds: float
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no row failed."""
        return not any(row.failed for row in self.rows)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        """The FAIL rows."""
        return tuple(row for row in self.rows if row.failed)

    @property
    def counts(self) -> dict[str, int]:
        """How many rows have each status."""
        return {status: sum(row.status == status for row in self.rows) for status in STATUSES}

    def row(self, check_id: str) -> CheckResult:
        """The row of one check, by id ("tanh", "radd", "dags", ...)."""
        for row in self.rows:
            if row.id == check_id:
                return row
        raise KeyError(f"no check {check_id!r} in this report")

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (what ``--json`` prints)."""
        return {
            "target": self.target,
            "class": self.class_name,
            "ok": self.ok,
            "counts": self.counts,
            "seconds": round(self.seconds, 3),
            "options": dict(self.options),
            "checks": [_jsonable(row.to_dict()) for row in self.rows],
        }

    def format(self, width: int = 100) -> str:
        """The report card as text: a table, then every failure with code to reproduce it."""
        title_width = max(len(row.title) for row in self.rows)
        lines = [
            f"gradstep test-engine {self.target}",
            f"{self.class_name} vs gradstep and central differences "
            "(a, b: Values; n: a plain number)",
            "op rows: at each point on leaves, times -1.5 (upstream gradient), on computed",
            "operands (x = a * 1.0) and on operands that reach out by another path too",
            "",
        ]
        for row in self.rows:
            head = f"  {row.status:<11}  {row.title:<{title_width}}  "
            wrapped = textwrap.wrap(
                row.detail, max(30, width - len(head)), break_on_hyphens=False
            ) or [""]
            lines.append(head + wrapped[0])
            lines += [" " * len(head) + more for more in wrapped[1:]]
        failures = [row for row in self.rows if row.failed and row.findings]
        if failures:
            lines += ["", "failures"]
        for row in failures:
            first = row.findings[0]
            lines.append(f"  {row.title}: {first.message}")
            lines += [f"      {line}" for line in first.code.splitlines()]
            if len(row.findings) > 1:
                lines.append(f"    ({len(row.findings) - 1} more: --json lists every one)")
        counts = self.counts
        summary = ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n)
        verdict = "all supported checks pass" if self.ok else f"{counts['FAIL']} failed"
        lines += ["", f"{summary}: {verdict} ({self.seconds:.1f} s)"]
        return "\n".join(lines)

    __str__ = format


def _jsonable(data: Any) -> Any:
    """``data`` with every NaN or infinity as the string "nan", "inf", "-inf" (strict JSON)."""
    if isinstance(data, float) and not math.isfinite(data):
        return repr(data)
    if isinstance(data, dict):
        return {key: _jsonable(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_jsonable(value) for value in data]
    return data
