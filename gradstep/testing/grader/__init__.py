"""The engine grader: check anyone's micrograd-style `Value` class (``gradstep test-engine``).

`check_engine` runs every check in a worker process and returns an `EngineReport` (the
report card); `engine_suite` gives one pytest test per row.  The plan and the rows are in
`checks`, the ops probed in `ops`, whole-graph checks in `graphs`, the worker in `_worker`.
"""

from gradstep.testing.grader.checks import CheckResult, Finding
from gradstep.testing.grader.runner import (
    EngineReport,
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
]
