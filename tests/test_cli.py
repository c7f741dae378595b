"""Tests for the ``gradstep`` command: the installed script in a subprocess, main() in-process."""

from __future__ import annotations

import contextlib
import html
import io
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradstep
from gradstep.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's 'dot' program is not installed"
)


def _command() -> list[str]:
    """The installed console script of this interpreter's environment, else python -m."""
    script = Path(sys.executable).parent / ("gradstep.exe" if os.name == "nt" else "gradstep")
    if script.exists():
        return [str(script)]
    found = shutil.which("gradstep")
    return [found] if found else [sys.executable, "-m", "gradstep"]


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``gradstep`` command."""
    return subprocess.run(
        [*_command(), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def run_main(*args: str) -> tuple[int, str, str]:
    """main() in-process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


def printed_gradients(stdout: str) -> dict[str, float]:
    """The 'input gradients' section: {name: ∂L/∂name}."""
    section = stdout.split("input gradients", 1)[1]
    return {m[1]: float(m[2]) for m in re.finditer(r"∂L/∂(\w+) = (\S+)", section)}


# the neuron of the README, by hand: z = w·x + b = -1.5·0.5 + 0.2 = -0.55, L = tanh z,
# ∂L/∂z = 1 - tanh²z; ∂L/∂x = w·∂L/∂z, ∂L/∂w = x·∂L/∂z, ∂L/∂b = ∂L/∂z
NEURON = ("tanh(w*x + b)", "x=0.5", "w=-1.5", "b=0.2")
_DZ = 1.0 - math.tanh(-0.55) ** 2
NEURON_GRADS = {"w": 0.5 * _DZ, "x": -1.5 * _DZ, "b": _DZ}


# ---------------------------------------------------------------------------------------
# the installed command


def test_explain_prints_tables_and_hand_checked_gradients() -> None:
    result = run("explain", *NEURON)
    assert result.returncode == EXIT_OK, result.stderr
    assert result.stderr == ""
    out = result.stdout
    lines = out.splitlines()
    assert lines[0] == "L = tanh(w*x + b)   at w = -1.5, x = 0.5, b = 0.2"
    assert lines[1] == f"L = {math.tanh(-0.55):.10g}"
    # the forward table: every node, its formula and value
    assert re.search(r"^\s+3\s+n1\s+\*\s+w \* x\s+-0\.75$", out, re.M)
    assert re.search(r"^\s+5\s+n2\s+\+\s+n1 \+ b\s+-0\.55$", out, re.M)
    assert re.search(r"^\s+6\s+L\s+tanh\s+tanh\(n2\)\s+-0\.5005$", out, re.M)
    # the backward table: at n1 (= w*x), x gets local w = -1.5 times upstream 0.7495
    assert re.search(
        r"^\s+5\s+n1\s+\*\s+x\s+∂n1/∂x = w\s+-1\.5\s+0\.7495\s+-1\.124\s+-1\.124$", out, re.M
    )
    grads = printed_gradients(out)
    assert grads.keys() == NEURON_GRADS.keys()
    for name, expected in NEURON_GRADS.items():
        assert grads[name] == pytest.approx(expected, rel=1e-9), name


@pytest.mark.slow
def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gradstep", "explain", *NEURON],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert result.returncode == EXIT_OK
    assert result.stdout == run("explain", *NEURON).stdout


def test_a_variable_used_twice_adds_its_gradients() -> None:
    result = run("explain", "x*x + x", "x=3", "--markdown")
    assert result.returncode == EXIT_OK
    assert result.stdout.startswith("**`L = x*x + x`** at x = 3\n")
    assert "| 4 | n1 | `*` | x | `∂n1/∂x = x` | 3 | 1 | 3 | 7 |" in result.stdout  # 1 + 3 + 3
    assert "- ∂L/∂x = ∂L/∂L·∂L/∂x + ∂L/∂n1·∂n1/∂x + ∂L/∂n1·∂n1/∂x = 1 × 1 + 1 × 3 + 1 × 3 = 7" in (
        result.stdout
    )
    assert result.stdout.rstrip().endswith("- ∂L/∂x = 7")


@needs_dot
def test_explain_draws_svg_png_pdf_dot_and_frames(tmp_path: Path) -> None:
    result = run(
        "explain",
        *NEURON,
        "--svg",
        "g",
        "--png",
        "g.png",
        "--pdf",
        "g.pdf",
        "--dot",
        "g.dot",
        "--html",
        "steps.html",
        cwd=tmp_path,
    )
    assert result.returncode == EXIT_OK, result.stderr
    svg = html.unescape((tmp_path / "g.svg").read_text(encoding="utf-8"))
    assert "<svg" in svg
    for text in (">L<", ">data -0.5005<", ">n1<", ">data -0.75<", ">x<", ">grad -1.124<"):
        assert text in svg, text
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "g.pdf").read_bytes()[:5] == b"%PDF-"
    dot = (tmp_path / "g.dot").read_text(encoding="utf-8")
    assert dot.startswith("digraph") and "rankdir=LR" in dot
    page = (tmp_path / "steps.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 1 and page.count('<tr data-step="') == 6  # seed + 5 edges
    assert "backward pass of L = tanh(w*x + b) at w = -1.5, x = 0.5, b = 0.2" in page
    assert result.stderr.splitlines() == [
        "wrote g.dot",
        "wrote g.svg",
        "wrote g.png",
        "wrote g.pdf",
        "wrote steps.html",
    ]
    frames = run("explain", "x*y", "x=2", "y=3", "--frames", "frames", cwd=tmp_path)
    assert frames.returncode == EXIT_OK
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [
        "step_001.svg",
        "step_002.svg",
    ]
    assert frames.stderr == "wrote 2 frames to frames\n"  # no progress line off a terminal


@needs_dot
def test_frames_to_an_html_path_writes_the_page_and_says_so(tmp_path: Path) -> None:
    result = run("explain", "x*y", "x=2", "y=3", "--frames", "old.html", cwd=tmp_path)
    assert result.returncode == EXIT_OK
    assert result.stderr.splitlines() == [
        "gradstep explain: note: --frames old.html writes the interactive page, now made by "
        "--html PAGE; --frames DIR writes SVG files",
        "wrote old.html",
    ]
    assert 'class="gs-stepper gs-page"' in (tmp_path / "old.html").read_text(encoding="utf-8")


@pytest.mark.slow
@needs_dot
def test_a_walkthrough_above_the_step_limit_names_the_option_that_raises_it(
    tmp_path: Path,
) -> None:
    expression = "+".join(["x*x"] * 50)  # 198 backward steps
    result = run(
        "explain", expression, "x=1.5", "--html", "p.html", "--max-steps", "100", cwd=tmp_path
    )
    assert result.returncode == EXIT_USAGE
    assert result.stderr == (
        "gradstep explain: error: 198 backward steps is more than the 100 allowed for one "
        "page; walk through a smaller expression, or raise the limit with --max-steps 198\n"
    )
    assert not (tmp_path / "p.html").exists()
    frames = run(
        "explain", expression, "x=1.5", "--frames", "f", "--max-steps", "150", cwd=tmp_path
    )
    assert frames.returncode == EXIT_USAGE and "for the frames" in frames.stderr
    ok = run("explain", expression, "x=1.5", "--frames", "f", cwd=tmp_path)  # 198 <= 200
    assert ok.returncode == EXIT_OK, ok.stderr
    assert len(list((tmp_path / "f").iterdir())) == 198


def test_help_lists_every_command_with_a_line_and_an_example() -> None:
    helped = run("--help")
    out = helped.stdout
    listed = out.split("positional arguments:", 1)[1].split("options:", 1)[0]
    for name in ("explain", "check", "demo", "test-engine"):
        line = re.search(rf"^    {name} +(\S.*)$", listed, re.MULTILINE)
        assert line, f"gradstep --help lists no one-liner for {name!r}:\n{listed}"
        assert f"\n  gradstep {name} " in out, f"no example of {name!r} in:\n{out}"
    assert helped.returncode == EXIT_OK


def test_help_states_the_step_limits_the_library_uses() -> None:
    from gradstep.viz.stepper import MAX_FRAMES, MAX_PAGE_STEPS

    text = " ".join(run("explain", "--help").stdout.split())
    assert f"--html (default {MAX_PAGE_STEPS}) or --frames (default {MAX_FRAMES})" in text


def test_missing_graphviz_still_prints_the_tables_and_says_how_to_install(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}  # no 'dot' on PATH
    result = subprocess.run(
        [sys.executable, "-m", "gradstep", "explain", *NEURON, "--svg", "g.svg", "--dot", "g.dot"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == EXIT_FAILED
    assert printed_gradients(result.stdout) == pytest.approx(NEURON_GRADS, rel=1e-9)
    wrote, error = result.stderr.splitlines()
    assert wrote == "wrote g.dot"  # the DOT source needs no Graphviz
    assert error.startswith("gradstep explain: error: cannot write 'g.svg': Graphviz's 'dot'")
    assert "apt-get install graphviz" in error and "--dot PATH" in error
    assert (tmp_path / "g.dot").exists() and not (tmp_path / "g.svg").exists()


def test_check_prints_analytic_and_numeric_gradients_and_passes() -> None:
    result = run("check", *NEURON)
    assert result.returncode == EXIT_OK, result.stderr
    rows = {
        line.split()[0]: line.split()
        for line in result.stdout.splitlines()
        if line.split()[:1] in (["w"], ["x"], ["b"])
    }
    assert rows.keys() == {"w", "x", "b"}
    for name, expected in NEURON_GRADS.items():
        _, _, analytic, numeric, _, verdict = rows[name]
        assert float(analytic) == pytest.approx(expected, rel=1e-9)
        assert float(numeric) == pytest.approx(expected, rel=1e-6)
        assert verdict == "PASS"
    assert result.stdout.rstrip().endswith("PASS")
    assert "local derivatives of each op: 5 checked, 0 failed, 0 skipped" in result.stdout


def test_check_fails_with_status_1_where_the_gradient_disagrees() -> None:
    # relu at its kink: backward() says 0, the central difference (h - 0) / 2h says 0.5
    result = run("check", "relu(x)", "x=0")
    assert result.returncode == EXIT_FAILED
    row = next(line.split() for line in result.stdout.splitlines() if line.startswith("x "))
    assert row == ["x", "0", "0", "0.5", "-0.5", "FAIL"]
    assert result.stdout.rstrip().endswith("FAIL: the gradients above disagree")
    assert result.stderr == ""


def test_check_options_reach_gradcheck() -> None:
    # with a coarse step the numeric slope of x³ at 1 is 3 + h² = 3.01 (h = 0.1)
    loose = run("check", "x**3", "x=1", "--eps", "0.1", "--rtol", "0.01")
    assert loose.returncode == EXIT_OK
    assert "3.01" in loose.stdout
    strict = run("check", "x**3", "x=1", "--eps", "0.1", "--rtol", "0", "--atol", "1e-3")
    assert strict.returncode == EXIT_FAILED


@pytest.mark.slow
def test_demo_lists_runs_and_passes_arguments() -> None:
    listing = run("demo")
    assert listing.returncode == EXIT_OK
    names = [line.split()[0] for line in listing.stdout.splitlines()[1:]]
    assert {"neuron", "quickstart"} <= set(names)
    assert names == sorted(names)
    assert "Quickstart: build an expression, run backward(), read every gradient." in (
        listing.stdout
    )
    quick = run("demo", "quickstart")
    assert quick.returncode == EXIT_OK
    assert f"= {math.tanh(2.0 * -3.0 + 10.0):.4f}" in quick.stdout  # tanh(a*b + c), as printed
    helped = run("demo", "neuron", "--help")
    assert helped.returncode == EXIT_OK
    assert helped.stdout.startswith("usage: gradstep demo neuron")
    unknown = run("demo", "nope")
    assert unknown.returncode == EXIT_USAGE
    assert unknown.stderr.startswith("gradstep demo: error: unknown demo 'nope'; the demos are: ")
    assert unknown.stderr.count("\n") == 1


def test_plain_gradstep_prints_its_usage_not_only_an_error_line() -> None:
    plain = run()
    assert plain.returncode == EXIT_USAGE
    usage = re.match(r"usage: gradstep \[-h\] \[--version\] \{([\w,-]+)\}", plain.stderr)
    assert usage, plain.stderr
    commands = usage[1].split(",")
    assert {"explain", "check", "demo"} <= set(commands)
    for command in commands:  # every command, with what it does
        assert re.search(rf"^    {command}\s+\w", plain.stderr, re.MULTILINE), plain.stderr
    assert "examples:" in plain.stderr
    assert run_main()[0] == EXIT_USAGE  # main([]) too, not only an empty sys.argv


def test_version_and_help() -> None:
    version = run("--version")
    assert (version.returncode, version.stdout) == (EXIT_OK, f"gradstep {gradstep.__version__}\n")
    helped = run("explain", "--help")
    assert helped.returncode == EXIT_OK
    assert "usage: gradstep explain" in helped.stdout
    assert "tanh, sigmoid, relu, leaky_relu, exp, log, sqrt, abs" in helped.stdout


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["explain", "x.tanh()", "x=1"],
            "gradstep explain: error: attribute access is not allowed: write tanh(x), not x.tanh() "
            "at column 2",
        ),
        (
            ["explain", "__import__('os').system('echo hacked')"],
            "gradstep explain: error: attribute access ('.system') is not allowed at column 17",
        ),
        (["explain", "lambda: 1"], "gradstep explain: error: lambda is not allowed at column 1"),
        (
            ["explain", "x ** 10000", "x=2"],
            "gradstep explain: error: exponent 10000 is too large (the limit is ±100) at column 6",
        ),
        (
            ["explain", "tanh(w*x + b)", "x=0.5", "w=1"],
            "gradstep explain: error: no value given for variable 'b' (give it as b=NUMBER) "
            "at column 12",
        ),
        (
            ["explain", "log(x)", "x=-1"],
            "gradstep explain: error: log of a non-positive number: log(x=-1.0) at column 1",
        ),
        (
            ["check", "x", "x=abc"],
            "gradstep check: error: invalid value for 'x': 'abc' is not a number",
        ),
        (
            ["explain", "-x*y", "x=1", "y=2"],
            "gradstep: error: unrecognized arguments: -x*y; an expression that starts with '-' "
            "goes after '--', as in gradstep explain -- \"-x*y\" x=2 y=3",
        ),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_status_2(args: list[str], line: str) -> None:
    result = run(*args)
    assert result.returncode == EXIT_USAGE
    assert result.stderr == line + "\n"
    assert result.stdout == ""
    assert "hacked" not in result.stdout + result.stderr


def test_an_expression_after_double_dash_may_start_with_minus() -> None:
    result = run("explain", "--digits", "3", "--", "-x*y", "x=2", "y=3")
    assert result.returncode == EXIT_OK
    assert printed_gradients(result.stdout) == {"x": -3.0, "y": -2.0}


def test_a_closed_pipe_stops_quietly() -> None:
    # like `gradstep explain ... | head -1`: the reader is gone before the first line
    with subprocess.Popen(
        [*_command(), "explain", "+".join(["x"] * 250), "x=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8")
        status = proc.wait(timeout=120)
    assert (status, err) == (EXIT_FAILED, "")


def test_a_console_without_unicode_gets_escapes_not_a_crash() -> None:
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    result = subprocess.run(
        [*_command(), "explain", "x*y", "x=2", "y=3"],
        capture_output=True,
        text=True,
        encoding="ascii",
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert "\\u2202L/\\u2202x = 3" in result.stdout


# ---------------------------------------------------------------------------------------
# main() in-process: every refusal, quickly


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["explain", "foo + 1"],
            "no value given for variable 'foo' (give it as foo=NUMBER) at column 1",
        ),
        (
            ["explain", "foo(x)", "x=1"],
            "unknown function 'foo' (known: tanh, sigmoid, relu, "
            "leaky_relu, exp, log, sqrt, abs) at column 1",
        ),
        (["explain", "x[0]", "x=1"], "indexing with [...] is not allowed at column 1"),
        (["explain", "'rm -rf'"], "strings are not allowed at column 1"),
        (["explain", "(x", "x=1"], "'(' was never closed at column 1"),
        (["explain", "x +", "x=1"], "unexpected end of expression at column 4"),
        (
            ["explain", "x" * 2001],
            "the expression is too long (2001 characters; the limit is 2000)",
        ),
        (
            ["explain", "0+" + "-" * 600 + "x", "x=1"],  # term k is at column k
            "the expression has too many terms (more than 500) at column 501",
        ),
        (
            ["explain", "x + 1e400", "x=1"],
            "this number is too large to be a finite float at column 5",
        ),
        (["explain", "x", "x=1", "x=2"], "variable 'x' is given twice"),
        (["explain", "x", "x=1", "y=2"], "unknown variable 'y': the expression uses x"),
        (["explain", "x", "x"], "expected NAME=VALUE (like x=0.5), got 'x'"),
        (["explain", "x", "x=nan"], "the value of 'x' must be a finite number, got nan"),
        (["explain", "1/x", "x=0"], "division by zero: 1.0 / x=0.0 at column 2"),
        (["explain", "exp(x)", "x=1000"], "exp(x) = inf is not a finite number at column 1"),
        (
            ["explain", "x", "x=1", "--svg", "g.png"],
            "--svg writes a .svg file, but the path 'g.png' ends in '.png'",
        ),
        (["check", "2 + 3"], "the expression has no variables: there is no gradient to check"),
        (
            ["check", "x", "x=1", "--eps", "0"],
            "gradcheck: eps must be a positive finite number, got 0.0",
        ),
    ],
)
def test_main_refuses_bad_input_in_one_line(args: list[str], message: str) -> None:
    status, out, err = run_main(*args)
    assert status == EXIT_USAGE
    assert out == ""
    assert err == f"gradstep {args[0]}: error: {message}\n"


def test_main_check_domain_error_at_the_perturbed_point() -> None:
    status, out, err = run_main("check", "sqrt(x)", "x=0")
    assert (status, out) == (EXIT_USAGE, "")
    assert err.startswith("gradstep check: error: gradcheck: f fails at x = 0.0 ± 1e-06 ")
    assert err.count("\n") == 1


def test_main_explain_returns_0_and_prints_the_gradients() -> None:
    status, out, err = run_main("explain", "x*y + sigmoid(x)", "x=1", "y=-2")
    s = 1 / (1 + math.exp(-1.0))
    assert (status, err) == (EXIT_OK, "")
    assert printed_gradients(out) == pytest.approx({"x": -2 + s * (1 - s), "y": 1.0}, rel=1e-9)


def test_main_warns_about_infinite_gradients() -> None:
    status, out, err = run_main("explain", "sqrt(x)", "x=0")
    assert status == EXIT_OK
    assert printed_gradients(out) == {"x": math.inf}
    assert err.startswith("gradstep explain: warning: some gradients are not finite")


def test_main_names_the_root_f_when_L_is_a_variable() -> None:
    status, out, _ = run_main("explain", "L * 2", "L=3")
    assert status == EXIT_OK
    assert out.startswith("f = L * 2   at L = 3\nf = 6\n")
    assert printed_gradients(out.replace("∂f/", "∂L/")) == {"L": 2.0}


def test_main_could_not_write_is_status_1_after_the_tables(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "g.dot"
    status, out, err = run_main("explain", "x*2", "x=1", "--dot", str(target))
    assert status == EXIT_FAILED
    assert printed_gradients(out) == {"x": 2.0}
    assert err.startswith("gradstep explain: error: could not write the drawing: ")
    assert err.count("\n") == 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_main_never_raises_on_any_expression(text: str) -> None:
    status, out, err = run_main("explain", text, "x=0.5")
    if status == EXIT_OK:
        assert "input gradients" in out or out.startswith("usage:")  # "-h" is --help
    else:
        assert status == EXIT_USAGE
        assert err.count("\n") == 1
        assert err.startswith(("gradstep explain: error: ", "gradstep: error: "))
        assert "Traceback" not in err


def test_explain_single_variable_names_the_root_L_everywhere() -> None:
    status, out, _ = run_main("explain", "x", "x=1")
    assert status == EXIT_OK
    assert out.splitlines()[:2] == ["L = x   at x = 1", "L = 1"]
    assert "seed: ∂L/∂x = 1  (L = x)" in out
    assert printed_gradients(out) == {"x": 1.0}
    assert "∂x/∂x" not in out
    status, out, _ = run_main("explain", "--markdown", "y", "y=-2")
    assert status == EXIT_OK and "- ∂L/∂y = 1" in out and "∂y/∂y" not in out
    # a constant expression: the root is L too, and it has no input
    status, out, _ = run_main("explain", "2")
    assert status == EXIT_OK and out.splitlines()[:2] == ["L = 2", "L = 2"]


def test_check_explains_a_step_that_crosses_a_pole() -> None:
    status, out, _ = run_main("check", "x/y", "x=1", "y=1e-300")
    assert status == EXIT_FAILED
    assert "y ± h = [-1e-06, 1e-06] crosses 0" in out
    assert "the analytic gradient -inf is not finite" in out
    status, out, _ = run_main("check", "1/x", "x=1e-7")  # checked again on one side of 0
    assert status == EXIT_OK and "crossed 0 (a pole or kink of f): checked with h = 1e-10" in out
    status, out, _ = run_main("check", "1/x", "x=1e-7", "--eps", "1e-10")
    assert status == EXIT_OK and "crosses" not in out


# ---------------------------------------------------------------------------------------
# issue 17: hostile command lines give one clear line, never a traceback

_HUGE = "1" + "0" * 310  # an integer literal over 1e309: float() of it overflows


@pytest.mark.parametrize(
    ("expression", "column"),
    [
        (f"x**{_HUGE}", 4),
        (f"x**-{_HUGE}", 5),
        (f"leaky_relu(x, {_HUGE})", 15),
        (f"leaky_relu(x, -{_HUGE})", 16),
    ],
)
def test_a_huge_integer_exponent_or_slope_is_a_usage_error(expression: str, column: int) -> None:
    for command in ("explain", "check"):
        status, _out, err = run_main(command, expression, "x=1")
        assert status == EXIT_USAGE, (command, status, err)
        assert f"number too large (the limit is ±1e+100) at column {column}" in err, err
        assert "Traceback" not in err


def test_test_engine_with_a_target_name_too_long_for_the_file_system() -> None:
    for target in ("a" * 300, "a" * 300 + ".py", "pkg." + "a" * 300 + ":Value"):
        status, _out, err = run_main("test-engine", target)
        assert status == EXIT_USAGE, (target[:20], status, err)
        assert "File name too long" in err and "characters)" in err, err
        assert len(err.splitlines()) == 1, err


def test_check_one_over_x_near_its_pole_passes_with_a_step_on_one_side() -> None:
    """The default step 1e-6 spans the pole at 0 for x = 1e-100; the check retries with
    h = |x|/1000 and says so, instead of reporting a correct gradient as FAIL."""
    status, out, _err = run_main("check", "1/x", "x=1e-100")
    assert status == EXIT_OK, out
    assert "checked with h = 1e-103, on one side of 0" in out, out
    assert out.rstrip().endswith("PASS"), out
    # a wrong gradient near the pole still fails
    status, out, _ = run_main("check", "1/x", "x=0")
    assert status != EXIT_OK


@pytest.mark.parametrize("expression", ["relu(x)", "abs(x)", "1e-300 / x"])
def test_check_at_the_smallest_subnormal_fails_cleanly(expression: str) -> None:
    """Found by `python -m bench.stress`: at x = 5e-324 no step fits on one side of 0 (|x|/1000
    is 0), which divided by zero; now the input fails with a note, never a traceback."""
    status, out, err = run_main("check", expression, "x=5e-324")
    assert status == EXIT_FAILED, (status, err)
    assert "crosses 0" in out and "eps=0" not in out, out
