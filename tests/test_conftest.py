"""The optional-install markers: skips say why; GRADSTEP_REQUIRE turns them into failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

CONFTEST = (Path(__file__).parent / "conftest.py").read_text(encoding="utf-8")
INI = """
[pytest]
addopts = --strict-markers -p no:cacheprovider
markers =
    torch: needs PyTorch
    browser: needs Chromium
"""
TESTS = """
import pytest

@pytest.mark.torch
def test_needs_torch():
    pytest.skip("PyTorch is not installed")

@pytest.mark.browser
def test_needs_a_browser():
    pytest.skip("Chromium is not installed")

def test_plain():
    pytest.skip("a skip that no marker asks to require")

@pytest.mark.torch
@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False

@pytest.mark.torch
def test_that_runs():
    assert True
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_optional=TESTS)
    return pytester


def test_without_gradstep_require_the_tests_skip_saying_why(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRADSTEP_REQUIRE", raising=False)
    result = project.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
    result.stdout.fnmatch_lines(["*PyTorch is not installed*", "*Chromium is not installed*"])


def test_a_required_marker_turns_its_skips_into_failures_with_the_reason(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADSTEP_REQUIRE", "torch")
    result = project.runpytest()
    # only the torch test fails; the browser and unmarked skips stay skips, xfail stays xfail
    result.assert_outcomes(passed=1, failed=1, skipped=2, xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "*GRADSTEP_REQUIRE=torch requires the torch test(s) to run, but this one was "
            "skipped: PyTorch is not installed*"
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_several_markers_and_spaces_are_accepted(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADSTEP_REQUIRE", " torch , browser ")
    project.runpytest().assert_outcomes(passed=1, failed=2, skipped=1, xfailed=1)


def test_an_unknown_marker_in_gradstep_require_is_a_usage_error(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADSTEP_REQUIRE", "torhc")
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*GRADSTEP_REQUIRE names unknown marker(s) torhc*"])


def test_a_test_using_the_torch_fixture_must_carry_the_marker(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRADSTEP_REQUIRE", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_unmarked="def test_forgot(torch):\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*uses the 'torch' fixture but is not marked*"])


PROPERTIES = """
from hypothesis import given, settings, strategies as st

CALLS = {"big": 0, "small": 0}

@settings(max_examples=400, deadline=None)
@given(st.integers())
def test_big_budget(n):
    CALLS["big"] += 1

@given(st.integers())
@settings(max_examples=10)
def test_small_budget(n):
    CALLS["small"] += 1

def test_zz_report():
    print("calls", CALLS["big"], CALLS["small"])
"""


@pytest.fixture
def properties(pytester: pytest.Pytester) -> Iterator[pytest.Pytester]:
    """A project of Hypothesis tests; the profile the in-process run loads is put back after."""
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_properties=PROPERTIES)
    profile = settings.get_current_profile_name()
    yield pytester
    settings.load_profile(profile)


@pytest.mark.parametrize(("profile", "big", "small"), [("fast", 25, 10), ("full", 400, 10)])
def test_the_fast_profile_caps_every_property_and_full_keeps_its_budget(
    properties: pytest.Pytester, profile: str, big: int, small: int
) -> None:
    result = properties.runpytest("-s", f"--hypothesis-profile={profile}")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([f"*calls {big} {small}*"])


def test_a_plain_pytest_run_is_the_full_profile(properties: pytest.Pytester) -> None:
    result = properties.runpytest("-s")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*calls 400 10*"])
