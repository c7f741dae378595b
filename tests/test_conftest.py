"""The optional-install markers: skips say why; GRADSTEP_REQUIRE turns them into failures."""

from __future__ import annotations

from pathlib import Path

import pytest

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
