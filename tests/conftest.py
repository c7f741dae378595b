"""The suite's two speeds, and its optional installs.

Fast and full.  ``make test`` is the check a contributor runs after every change (under two
minutes on two cores): it leaves out the tests marked ``slow`` and ``browser`` and loads the
Hypothesis profile ``fast``, which caps every property at `FAST_EXAMPLES` examples, whatever
its ``@settings(max_examples=...)`` says.  ``make test-all`` (and CI) runs everything, each
property at its own budget (the profile ``full``, the default of a plain ``pytest``).
The rule for a new test: mark it ``@pytest.mark.slow`` (or a module's ``pytestmark``) when
it takes more than about a second on its own (`pytest --durations=20` shows): training runs,
graphs of 10⁵ nodes and more, growth measurements, demos and commands run in subprocesses,
kill loops.  A Hypothesis property needs no mark: write the budget it deserves, the fast
profile caps it.

Optional installs: a test that needs one is marked and skips without it, saying why.
Markers (registered in pyproject.toml): ``torch`` (PyTorch as an oracle), ``browser``
(Chromium driven by Playwright), ``docs`` (the docs extra: MkDocs and its plugins).  Where a
skip would hide a missing install step, as in CI, list the markers in the environment
variable ``GRADSTEP_REQUIRE`` (e.g. ``torch,browser,docs``): then a skipped test carrying
one of them fails instead, with the skip's reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator, Iterator
from types import ModuleType
from typing import Any

import pytest
from hypothesis import settings

pytest_plugins = ["pytester"]  # tests/test_conftest.py runs pytest on small test files

#: the markers that stand for an optional install
OPTIONAL = ("torch", "browser", "docs")
REQUIRE_VARIABLE = "GRADSTEP_REQUIRE"
#: fixtures that import an optional install, and the marker a test using one must carry
FIXTURE_MARKERS = {"torch": "torch", "browser": "browser"}

#: the most examples a Hypothesis property runs under the ``fast`` profile (``make test``)
FAST_EXAMPLES = 25
settings.register_profile("full", settings.get_profile("default"))
settings.register_profile("fast", max_examples=FAST_EXAMPLES)
settings.load_profile("full")  # pytest --hypothesis-profile=fast (make test) overrides it


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
    """Check the fixture markers; under the ``fast`` profile, cap every property's examples."""
    _check_fixture_markers(items)
    if settings.get_current_profile_name() == "fast":
        for item in items:
            _cap_examples(item, FAST_EXAMPLES)


def _cap_examples(item: pytest.Item, most: int) -> None:
    """Run a Hypothesis test's property on at most ``most`` examples (its other settings kept)."""
    test = getattr(item, "obj", None)
    if not getattr(test, "is_hypothesis_test", False):
        return
    # @given keeps the test's settings here, read on each call (@settings cannot be applied twice)
    own: settings = test._hypothesis_internal_use_settings  # type: ignore[union-attr]
    if own.max_examples > most:
        test._hypothesis_internal_use_settings = settings(own, max_examples=most)  # type: ignore[union-attr]


def _check_fixture_markers(items: list[pytest.Item]) -> None:
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
        "the CPU wheel, or see docs/getting-started.md)",
    )
    return torch


#: Debian's Chromium as the tests start it: no sandbox (root in CI), and none of the
#: background connections this machine's closed network refuses
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, for the tests marked ``browser``."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is missing: pip install -e '.[browser]'"
    )
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is missing: apt-get install chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def dot_program() -> None:
    """Skips, saying why, where Graphviz's ``dot`` program is missing."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is missing: apt-get install graphviz")
