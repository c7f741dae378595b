"""Grading a class: every engine found in folders, checked in parallel worker processes.

`find_submissions` turns folders and files into targets (every ``.py`` file that defines
the class); `grade_all` checks them ``jobs`` at a time, each with `check_engine` (its own
worker process, time limits and budget), and returns a `ClassReport`: one `Graded` per
submission, written out by `gradstep.testing.grader.class_report`.
"""

from __future__ import annotations

import ast
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradstep.testing.grader.card import EngineReport
from gradstep.testing.grader.checks import STATUSES, CheckSpec, plan
from gradstep.testing.grader.runner import EngineTargetError, check_engine

__all__ = ["Submission", "Graded", "ClassReport", "find_submissions", "grade_all"]

#: folders never searched for submissions
_SKIPPED = frozenset({"__pycache__", "node_modules", "site-packages", "venv", ".venv", "env"})


@dataclass(frozen=True)
class Submission:
    """One engine to grade: the name shown (its path under the folder) and the target."""

    name: str
    target: str


@dataclass(frozen=True)
class Graded:
    """A submission's report card, or why it could not be checked."""

    submission: Submission
    report: EngineReport | None
    error: str = ""
    seconds: float = 0.0

    @property
    def status(self) -> str:
        """``pass`` (no row fails), ``fail``, or ``error`` (the class could not be loaded)."""
        if self.report is None:
            return "error"
        return "pass" if self.report.ok else "fail"

    @property
    def score(self) -> tuple[int, int]:
        """Rows passed, out of the rows judged (PASS or FAIL)."""
        if self.report is None:
            return 0, 0
        counts = self.report.counts
        return counts["PASS"], counts["PASS"] + counts["FAIL"]


@dataclass(frozen=True)
class ClassReport:
    """Every submission's result, in the order found, and the checks they ran."""

    graded: tuple[Graded, ...]
    checks: tuple[CheckSpec, ...]
    seconds: float
    jobs: int
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every submission passes every check it supports."""
        return all(g.status == "pass" for g in self.graded)

    def counts(self) -> dict[str, int]:
        """How many submissions pass, fail, or could not be loaded."""
        return {s: sum(g.status == s for g in self.graded) for s in ("pass", "fail", "error")}


def _defines(path: Path, class_name: str) -> bool:
    """Whether the file defines the class at its top level (by its text, without running it);
    a file that does not parse counts if a line starts ``class <name>``."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return re.search(rf"^class\s+{re.escape(class_name)}\b", text, re.MULTILINE) is not None
    return any(isinstance(n, ast.ClassDef) and n.name == class_name for n in tree.body)


def _python_files(folder: Path) -> list[Path]:
    """Every .py file under the folder, sorted, skipping hidden and environment folders."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED)
        found += [Path(root) / f for f in sorted(files) if f.endswith(".py")]
    return found


def find_submissions(paths: Sequence[str], class_name: str | None = None) -> list[Submission]:
    """The engines to grade: in each folder every .py file defining the class (``Value`` by
    default), named by its path under the folder; a file or module given is taken as is.
    Raises `EngineTargetError` for a folder where no file defines the class."""
    wanted = class_name or "Value"
    submissions: list[Submission] = []
    for given in paths:
        folder = Path(given)
        if folder.is_dir():
            found = [p for p in _python_files(folder) if _defines(p, wanted)]
            if not found:
                raise EngineTargetError(
                    f"no .py file in {given} defines a class {wanted} (give its name with --class)"
                )
            for path in found:
                name = path.relative_to(folder).as_posix()
                name = name if len(paths) == 1 else f"{folder.name}/{name}"
                submissions.append(Submission(name, f"{path}:{wanted}"))
        elif class_name and not re.search(r":[A-Za-z_][\w.]*\Z", given):
            submissions.append(Submission(given, f"{given}:{class_name}"))
        else:
            submissions.append(Submission(given, given))
    return submissions


def grade_all(
    submissions: Sequence[Submission],
    *,
    jobs: int | None = None,
    on_done: Callable[[Graded], None] | None = None,
    **options: Any,
) -> ClassReport:
    """Check every submission, ``jobs`` at a time (the CPU count by default), each in its
    own worker process with `check_engine`'s ``options``; ``on_done`` hears each result."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    start = time.perf_counter()

    def grade(submission: Submission) -> Graded:
        began = time.perf_counter()
        try:
            report = check_engine(submission.target, **options)
        except EngineTargetError as error:
            graded = Graded(submission, None, str(error), time.perf_counter() - began)
        else:
            graded = Graded(submission, report, "", report.seconds)
        if on_done is not None:
            on_done(graded)
        return graded

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        graded = tuple(pool.map(grade, submissions))
    checks = tuple(plan(options.get("ops")))
    shown = {k: v for k, v in options.items() if k != "ops"} | {"ops": options.get("ops")}
    return ClassReport(graded, checks, time.perf_counter() - start, jobs, shown)


#: a status's one-letter form in the class table
LETTER = {status: status[0] for status in STATUSES}
