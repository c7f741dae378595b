"""The engine grader: check anyone's micrograd-style `Value` class (``gradstep test-engine``).

`check_engine` runs every check in a worker process (`runner`, `_worker`) and returns an
`EngineReport` (the report card, `card`); `engine_suite` gives one pytest test per row.
The plan and the op rows are in `checks`, the ops probed in `ops`, whole-graph checks
(fresh builds, random DAGs, repeated backward, the deepest chain) in `graphs`.  A class at a
time: `find_submissions` and `grade_all` (`classroom`), written out as a table, CSV and HTML
page (`class_report`) or as Gradescope's results.json (`gradescope`).
"""

from gradstep.testing.grader.card import EngineReport
from gradstep.testing.grader.checks import CheckResult, Finding
from gradstep.testing.grader.classroom import (
    ClassReport,
    Graded,
    Submission,
    find_submissions,
    grade_all,
)
from gradstep.testing.grader.runner import (
    EngineTargetError,
    Target,
    check_engine,
    engine_suite,
    parse_target,
)

__all__ = [
    "check_engine",
    "engine_suite",
    "EngineReport",
    "EngineTargetError",
    "CheckResult",
    "Finding",
    "Target",
    "parse_target",
    "find_submissions",
    "grade_all",
    "ClassReport",
    "Graded",
    "Submission",
]
