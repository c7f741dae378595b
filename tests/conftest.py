"""Optional installs: a test that needs one is marked and skips without it, saying why.

Markers (registered in pyproject.toml): ``torch`` (PyTorch as an oracle), ``browser``
(Chromium driven by Playwright).  Where a skip would hide a missing install step, as in CI,
list the markers in the environment variable ``GRADSTEP_REQUIRE`` (e.g. ``torch,browser``):
then a skipped test carrying one of them fails instead, with the skip's reason.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from types import ModuleType

import pytest

pytest_plugins = ["pytester"]  # tests/test_conftest.py runs pytest on small test files

#: the markers that stand for an optional install
OPTIONAL = ("torch", "browser")
REQUIRE_VARIABLE = "GRADSTEP_REQUIRE"
#: fixtures that import an optional install, and the marker a test using one must carry
FIXTURE_MARKERS = {"torch": "torch"}


def required_markers() -> set[str]:
    """The markers named in ``GRADSTEP_REQUIRE`` (comma-separated); an unknown one is an error."""
    names = {n.strip() for n in os.environ.get(REQUIRE_VARIABLE, "").split(",") if n.strip()}
    unknown = sorted(names - set(OPTIONAL))
    if unknown:
        raise pytest.UsageError(
            f"{REQUIRE_VARIABLE} names unknown marker(s) {', '.join(unknown)}; "
            f"the optional-install markers are: {', '.join(OPTIONAL)}"
        )
    return names


def pytest_configure(config: pytest.Config) -> None:
    """Check ``GRADSTEP_REQUIRE`` once, before any test runs."""
    config.stash[_REQUIRED] = required_markers()


_REQUIRED = pytest.StashKey[set[str]]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test using the ``torch`` fixture must be marked ``torch`` (or CI could not require it)."""
    for item in items:
        marks = {m.name for m in item.iter_markers()}
        for fixture in getattr(item, "fixturenames", ()):
            marker = FIXTURE_MARKERS.get(fixture)
            if marker is not None and marker not in marks:
                raise pytest.UsageError(
                    f"{item.nodeid} uses the {fixture!r} fixture but is not marked: "
                    f"add @pytest.mark.{marker}"
                )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Turn the skip of a test whose marker is required into a failure naming the reason."""
    report = yield
    required = item.config.stash.get(_REQUIRED, set())
    if not (report.skipped and required) or hasattr(report, "wasxfail"):
        return report
    needed = sorted(required & {m.name for m in item.iter_markers()})
    if needed:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        reason = str(reason).removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = (
            f"{REQUIRE_VARIABLE}={','.join(sorted(required))} requires the "
            f"{', '.join(needed)} test(s) to run, but this one was skipped: {reason}"
        )
    return report


@pytest.fixture(scope="session")
def torch() -> ModuleType:
    """PyTorch, for the tests marked ``torch`` (they skip, saying why, where it is missing)."""
    torch: ModuleType = pytest.importorskip(
        "torch",
        reason="PyTorch is not installed (the oracle tests need it: pip install torch==2.13.0, "
        "the CPU wheel, or see the README)",
    )
    return torch
