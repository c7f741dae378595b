"""`gradstep test-engine` / `check_engine`: checking someone else's micrograd-style Value class.

The engines under tests/engines/ were written for these tests: good.py is correct, and every
other file makes one common mistake (its docstring says which).  Each must be caught, the
report naming the op; gradstep itself and good.py pass everything; micrograd 0.1.0 gets an
accurate description.  The checks run in worker processes: two engines at a time.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from gradstep import Value
from gradstep.cli import main
from gradstep.testing import (
    DAG_OPS,
    EngineReport,
    EngineTargetError,
    ExpressionDAG,
    check_engine,
    expression_dags,
    gradcheck,
)
from gradstep.testing.grader.checks import plan
from gradstep.testing.grader.graphs import prune
from gradstep.testing.grader.ops import FORMS, NOT_PROBED, PROBED_OPS, dag_op, op_names
from gradstep.testing.grader.runner import parse_target

ENGINES = Path(__file__).parent / "engines"
#: small budgets: most broken engines fail in their op rows; the random DAGs run where they
#: add something (node reuse) and on the good engines
QUICK = {"examples": 0, "max_depth": 500}
DAGS: dict[str, Any] = {"examples": 15}


def _finite_stack() -> bool:
    """Whether the C stack is bounded (as usual: 8 MiB), so deep C recursion crashes."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_STACK)
    return soft != resource.RLIM_INFINITY and soft <= 64 * 2**20


@dataclass(frozen=True)
class Broken:
    """A broken engine, the rows that must fail, and whether no other row may."""

    name: str
    fails: frozenset[str]
    only: bool = True  # no row outside `fails` fails (the random DAGs may)
    options: tuple[tuple[str, object], ...] = ()


def broken(name: str, *fails: str, only: bool = True, **options: object) -> Broken:
    return Broken(name, frozenset(fails), only, tuple(options.items()))


BROKEN = [
    # = instead of += in +: a + a, and + on operands that also reach out another way
    broken(
        "assign_not_accumulate",
        *("add", "add_n", "radd", "sub", "sub_n", "reuse_add", "shared_node"),
        **DAGS,
    ),
    broken("add_assigns_self", "add", "add_n", "radd", "sub", "sub_n", "shared_node"),
    broken("exp_writes_self", "exp", "pow_value", "rpow"),  # its a ** b is exp(b·ln a)
    broken("tanh_returns_none", "tanh"),
    broken("misspelled_add", "add"),
    broken("nondeterministic_walk", "nondeterminism", only=False, **DAGS),
    broken("pow_derivative", "pow", "div", "rdiv"),  # its / is built from ** -1
    broken("tanh_from_input", "tanh"),
    broken("relu_output_as_slope", "relu"),
    broken("relu_in_place", "relu"),
    broken("topo_revisits_shared", "shared_node", **DAGS),
    broken("no_radd", "radd"),  # and sum() is UNSUPPORTED, needing n + a
    broken("no_rsub", "rsub"),
    broken("no_seed", "seed", only=False),  # every gradient is 0
    broken("div_detached", "div", "rdiv"),
    broken("exp_from_input", "exp", "pow_value", "rpow"),  # its a ** b is exp(b·ln a)
    broken("rsub_backwards", "rsub"),
    broken("rtruediv_swapped", "rdiv"),
    broken("grad_starts_at_one", "birth", only=False),
    broken("forward_order", "order", only=False),
    broken("sigmoid_from_input", "sigmoid"),
    broken("mul_forgets_upstream", "mul", "mul_n", "rmul", only=False),
    broken("neg_detached", "neg", "sub", "rsub"),  # its a - b is a + (-b)
    broken("int_constants", "ints", "sum", "neg", "sub", "sub_n", "rsub"),  # -b is b * -1
    broken("prev_set", "reuse_add", "reuse_mul", **DAGS),
    broken("stale_interior", "repeated_backward"),
    broken("log_never_returns", "log", ops=["log"], timeout=1.0),
    broken("crash_in_sqrt", "sqrt"),
]


@pytest.fixture(scope="module")
def reports() -> dict[str, EngineReport]:
    """Every broken engine's report, two workers at a time."""

    def run(engine: Broken) -> tuple[str, EngineReport]:
        options = {**QUICK, **dict(engine.options)}
        return engine.name, check_engine(str(ENGINES / f"{engine.name}.py"), **options)  # type: ignore[arg-type]

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, BROKEN))


def failed(report: EngineReport) -> set[str]:
    return {row.id for row in report.failed}


@pytest.mark.slow
@pytest.mark.parametrize("engine", BROKEN, ids=lambda e: e.name)
def test_every_broken_engine_is_caught_and_the_report_names_the_op(
    reports: dict[str, EngineReport], engine: Broken
) -> None:
    report = reports[engine.name]
    got = failed(report)
    assert not report.ok
    assert engine.fails <= got, (
        f"{engine.name}: expected {sorted(engine.fails)} to fail, got\n{report}"
    )
    if engine.only:
        extra = got - engine.fails - {"dags"}
        assert not extra, f"{engine.name}: unexpected failures {sorted(extra)}\n{report}"
    for row_id in engine.fails:
        row = report.row(row_id)
        assert row.findings, f"{engine.name}: {row_id} failed without a finding"
        # every failure names its op (a form's op, or what a fixed expression points at)
        assert row.op, f"{engine.name}: {row_id} names no op"
        if row.id in {f.id for f in FORMS}:
            assert row.op == next(f.op for f in FORMS if f.id == row.id)


@pytest.mark.slow
def test_what_each_failure_says(reports: dict[str, EngineReport]) -> None:
    tanh = reports["tanh_from_input"].row("tanh")
    assert tanh.op == "tanh"
    first = tanh.findings[0]
    # 1 − tanh²(0.6) expected, 1 − 0.6² got; the central difference of its own forward agrees
    assert first.expected == pytest.approx(1 - math.tanh(0.6) ** 2)
    assert first.got == pytest.approx(1 - 0.6**2)
    assert "∂out/∂a at a = 0.6" in first.message and "central difference" in first.message
    assert first.code.splitlines()[:3] == [
        "from tanh_from_input import Value",
        "a = Value(0.6)",
        "out = a.tanh()",
    ]

    no_radd = reports["no_radd"].row("radd")
    assert "a + n works but n + a does not" in no_radd.detail and "__radd__" in no_radd.detail
    assert "__rsub__" in reports["no_rsub"].row("rsub").detail
    no_sum = reports["no_radd"].row("sum")
    assert (no_sum.status, no_sum.detail) == ("UNSUPPORTED", "needs n + a: Value has no __radd__")

    seed = reports["no_seed"].row("seed")
    assert seed.op == "backward" and "out.grad is 0" in seed.detail

    born = reports["grad_starts_at_one"].row("birth")
    assert "a.grad = 1" in born.detail and "out.grad = 1" in born.detail

    order = reports["forward_order"].row("order")
    assert order.op == "backward" and "walk the topological order in reverse" in order.detail

    mul = reports["mul_forgets_upstream"].row("mul")
    assert any("alone it is right" in f.message and "out.grad" in f.message for f in mul.findings)

    shared = reports["topo_revisits_shared"].row("shared_node")
    assert shared.op == "backward"
    assert shared.findings[0].expected == pytest.approx(-0.63)  # ∂out/∂a
    assert shared.findings[0].got == pytest.approx(-0.945)

    div = reports["div_detached"].row("div")
    assert any(f.message.startswith("∂out/∂b") and f.got == 0.0 for f in div.findings)

    ints = reports["int_constants"].row("ints")
    assert "AttributeError: 'int' object has no attribute 'data' (good.py, line" in ints.detail
    assert ints.op == "mul"  # a * 3 raised in __mul__

    none = reports["tanh_returns_none"].row("tanh")
    assert none.detail.startswith(
        "a.tanh() returned None: tanh must end with `return out` (the new Value it built) "
        "(at a = 0.6)"
    )
    assert "AttributeError" not in none.detail

    misspelled = reports["misspelled_add"]
    assert misspelled.row("add").detail.endswith("it defines _add_: did you mean `__add__`?")
    assert "_add_ (did you mean `__add__`?)" in misspelled.row("methods").detail
    assert misspelled.row("sum").status == "UNSUPPORTED"  # no __radd__: sum() is unsupported
    assert "did you mean `__add__`?" in misspelled.row("sum").detail

    # the op that writes to self (not out) fails on computed operands, in its own row
    exp = reports["exp_writes_self"].row("exp")
    assert exp.op == "exp" and "x = a * 1.0" in exp.findings[0].code
    assert "not to an operand (self._backward)" in exp.detail
    # = instead of += in one operand: the + row, when a also reaches out another way
    add = reports["add_assigns_self"].row("add")
    assert add.op == "add" and "add into each operand's gradient (+=), not assign it" in add.detail
    assert add.findings[0].expected == pytest.approx(3.0)  # 1 + 2 (the path a * 2.0)
    assert add.findings[0].got == pytest.approx(1.0)

    in_place = reports["relu_in_place"].row("relu").findings[0]
    assert in_place.message.startswith("the forward pass changed the operand a.data from -1.1")

    stale = reports["stale_interior"].row("repeated_backward")
    assert stale.data["behaviour"] == "inconsistent" and stale.op == "backward"


@pytest.mark.slow
def test_a_hang_or_a_crash_costs_one_row(reports: dict[str, EngineReport]) -> None:
    hang = reports["log_never_returns"]
    # where it hung: the user's innermost frame in the stack the worker printed in time
    # (line 8 or 9: the stack is sampled somewhere in the two-line loop)
    detail = hang.row("log").detail
    assert detail.startswith("did not finish within 1 s (it was in log, log_never_returns.py, "), (
        detail
    )
    assert re.search(r"log_never_returns\.py, line [89]\)", detail), detail
    assert [r.id for r in hang.rows if r.status == "FAIL"] == ["log"]

    crash = reports["crash_in_sqrt"]
    detail = crash.row("sqrt").detail
    assert "the process" in detail
    if os.name == "posix":
        assert "SIGSEGV" in detail
    # the worker was started again: every row after sqrt still ran and passed
    assert crash.counts["PASS"] == len(crash.rows) - 5, crash.format()  # not sqrt, DAGs, 3 INFO


@pytest.mark.slow
@pytest.mark.skipif(
    os.name != "posix" or not _finite_stack(), reason="needs a bounded C stack to overflow"
)
def test_a_deep_chain_that_kills_the_interpreter_is_reported_with_its_depth() -> None:
    report = check_engine(
        str(ENGINES / "recursion_limit_raised.py"), ops=["add"], examples=0, max_depth=10**6
    )
    chain = report.row("deepest_chain")
    assert chain.status == "FAIL" and chain.op == "backward", report.format()
    assert "crashed the process (killed by SIGSEGV)" in chain.detail
    assert chain.data["limit"] == 2 * chain.data["depth"] > 1000  # past Python's usual limit
    assert [row.id for row in report.failed] == ["deepest_chain"]  # the rest ran and passed


@pytest.mark.slow
def test_the_reproducing_code_runs_and_prints_what_the_report_says(
    reports: dict[str, EngineReport],
) -> None:
    for name, row_id in [
        ("tanh_from_input", "tanh"),
        ("prev_set", "reuse_mul"),
        ("prev_set", "dags"),
    ]:
        finding = reports[name].row(row_id).findings[0]
        done = subprocess.run(
            [sys.executable, "-c", finding.code],
            cwd=ENGINES,
            capture_output=True,
            text=True,
            check=True,
        )
        printed = [float(line) for line in done.stdout.split()]
        assert finding.got in printed, f"{finding.code}\nprinted {printed}"


@pytest.mark.slow
def test_gradstep_itself_passes_every_check() -> None:
    report = check_engine("gradstep.engine:Value", examples=50, max_depth=20_000)
    statuses = {row.id: row.status for row in report.rows}
    assert report.ok, report.format()
    assert {k for k, v in statuses.items() if v != "PASS"} == {
        "methods",
        "repeated_backward",
        "deepest_chain",
    }
    methods = report.row("methods")
    assert "leaky_relu" in methods.data["methods"]
    assert "leaky_relu() (its slope's default differs between engines)" in methods.detail
    repeated = report.row("repeated_backward")
    assert repeated.data["behaviour"] == "leaves"
    assert "interior nodes hold the last pass" in repeated.detail
    assert report.row("deepest_chain").data == {"depth": 20_000, "limit": None}


def test_the_good_engine_passes_every_check() -> None:
    report = check_engine(str(ENGINES / "good.py"), **{**QUICK, **DAGS})
    assert report.ok and report.counts["PASS"] == len(report.rows) - 3, report.format()
    assert report.row("methods").detail == "every method of Value is checked"
    assert report.row("nondeterminism").status == "PASS"
    assert report.row("repeated_backward").data["behaviour"] == "all"  # it resets nothing
    assert report.row("deepest_chain").data["depth"] == 500


@pytest.mark.slow
def test_micrograd_is_described_accurately() -> None:
    pytest.importorskip("micrograd", reason="micrograd 0.1.0 comes with the dev extra")
    report = check_engine("micrograd.engine:Value", examples=50, max_depth=5000)
    unsupported = {row.id for row in report.rows if row.status == "UNSUPPORTED"}
    # no tanh, sigmoid, exp, log, sqrt or abs; ** takes only a number exponent (an assert)
    assert unsupported == {"pow_value", "rpow", "tanh", "sigmoid", "exp", "log", "sqrt", "abs"}
    assert "only supporting int/float powers" in report.row("pow_value").detail
    assert "no __rpow__" in report.row("rpow").detail
    assert report.ok, report.format()  # everything it has is right
    repeated = report.row("repeated_backward")
    assert repeated.status == "INFO" and repeated.data["behaviour"] == "all"
    # a second backward() re-sends the stale interior gradients: a.grad −0.63 → −1.155, not −1.26
    assert repeated.data["first"]["a"] == pytest.approx(-0.63)
    assert repeated.data["second"]["a"] == pytest.approx(-1.155)
    depth = report.row("deepest_chain")
    assert depth.status == "INFO" and depth.data["error"] == "RecursionError"
    assert 900 < depth.data["depth"] < 1000 and depth.data["limit"] == depth.data["depth"] + 1
    assert report.row("dags").detail.startswith("50 DAGs") and report.row("dags").data["ops"] == [
        "+",
        "-",
        "*",
        "/",
        "neg",
        "**",
        "relu",
    ]


# ---------------------------------------------------------------------------------------
# the command


def gradstep(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradstep", "test-engine", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_command_report_card_and_exit_status() -> None:
    done = gradstep(str(ENGINES / "tanh_from_input.py"), "--examples", "10", "--max-depth", "500")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"gradstep test-engine {ENGINES / 'tanh_from_input.py'}:Value"
    assert any(line.split()[:2] == ["FAIL", "a.tanh()"] for line in lines)
    assert "      out = a.tanh()" in lines
    assert lines[-1].startswith(f"{len(plan()) - 4} pass, 1 fail, 3 info: 1 failed")

    assert lines[-1].endswith("s)")


@pytest.mark.slow
def test_command_json_and_ops() -> None:
    done = gradstep(
        str(ENGINES / "rsub_backwards.py"), "--json", "--examples", "5", "--max-depth", "300"
    )
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["ok"] is False and data["class"] == "Value"
    assert [c["id"] for c in data["checks"]] == [spec.id for spec in plan()]
    rsub = next(c for c in data["checks"] if c["id"] == "rsub")
    assert rsub["status"] == "FAIL" and rsub["op"] == "sub"
    assert rsub["findings"][0]["expected"] == pytest.approx(2.2)  # 1.5 - (-0.7)
    assert rsub["findings"][0]["got"] == pytest.approx(-2.2)
    assert data["counts"]["FAIL"] == 1 and data["options"]["examples"] == 5

    done = gradstep(
        str(ENGINES / "good.py"),
        "--json",
        "--ops",
        "+,tanh",
        "--examples",
        "5",
        "--max-depth",
        "300",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    forms = [c["id"] for c in data["checks"] if c["id"] in {f.id for f in FORMS}]
    assert forms == ["add", "add_n", "radd", "tanh"]
    assert data["ok"] is True and data["options"]["ops"] == ["add", "tanh"]
    dags = next(c for c in data["checks"] if c["id"] == "dags")
    assert dags["data"]["ops"] == ["+", "tanh"]


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        (None, "missing.py", "no such file: missing.py"),
        (
            "class Value:\n    pass\n",
            "engine.py:Scalar",
            "engine.py has no class 'Scalar' (it defines Value)",
        ),
        (
            "import math\nx = mth.pi\n",
            "engine.py",
            "cannot import engine.py: NameError: name 'mth' is not defined (engine.py, line 2)",
        ),
        (
            "class Value:\n    def f(self)\n",
            "engine.py",
            "cannot import engine.py: SyntaxError: expected ':' (line 2)",
        ),
        (
            "class Value:\n    def __init__(self, data):\n        self.data = data\n",
            "engine.py",
            "Value(1.5) has no .grad: not a micrograd-style Value class",
        ),
        (
            None,
            "no_such_package.engine:Value",
            "no module named 'no_such_package' (from the target 'no_such_package.engine')",
        ),
        (None, "engine.py:", "no class name after ':' in 'engine.py:'"),
    ],
)
def test_a_bad_target_is_one_line_and_status_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    source: str | None,
    target: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    if source is not None:
        (tmp_path / "engine.py").write_text(source)
    assert main(["test-engine", target]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"gradstep test-engine: error: {message}\n"


@pytest.mark.slow
def test_traceback_on_request_and_a_hanging_import(tmp_path: Path) -> None:
    (tmp_path / "engine.py").write_text("import math\nx = mth.pi\n")
    done = gradstep("engine.py", "--traceback", cwd=tmp_path)
    assert done.returncode == 2
    assert 'engine.py", line 2, in <module>' in done.stderr and "NameError" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("gradstep test-engine: error: cannot import")

    (tmp_path / "engine.py").write_text("while True:\n    pass\n")
    done = gradstep("engine.py", "--timeout", "1", cwd=tmp_path)
    assert done.returncode == 2
    # the loop is on lines 1-2: the stack printed before the limit shows one of them
    assert re.match(
        r"gradstep test-engine: error: importing engine\.py:Value did not finish within 3 s "
        r"\(it was in <module>, engine\.py, line [12]\): if the file runs a demo or trains a "
        r'model when imported, put that code under `if __name__ == "__main__":`; or allow '
        r"more time with --timeout",
        done.stderr,
    ), done.stderr


@pytest.mark.slow
def test_a_slow_import_misspelled_init_or_gradstep_own_value_say_what_to_do(
    tmp_path: Path,
) -> None:
    done = gradstep(str(ENGINES / "slow_import.py"), "--timeout", "1")
    assert done.returncode == 2 and '`if __name__ == "__main__":`' in done.stderr
    assert "(it was in <module>, slow_import.py, line 18)" in done.stderr
    assert "--timeout" in done.stderr

    done = gradstep(str(ENGINES / "misspelled_init.py"))
    assert done.returncode == 2
    assert done.stderr == (
        "gradstep test-engine: error: Value(1.5) raised TypeError: Value() takes no arguments: "
        "test-engine needs Value(data); it defines _init_: did you mean `__init__`?\n"
    )

    (tmp_path / "mine.py").write_text("from gradstep import Value\n")
    done = gradstep("mine.py", cwd=tmp_path)
    assert done.returncode == 2
    assert "mine.py:Value is gradstep's own Value (mine.py imports it from gradstep)" in (
        done.stderr
    )


def test_bad_options_are_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--ops", "tanh,cosh"], ["--examples", "-1"], ["--timeout", "0"]):
        assert main(["test-engine", str(ENGINES / "good.py"), *args]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and err.startswith(
            "gradstep test-engine: error: argument"
        )
    main(["test-engine", "good.py", "--ops", "cosh"])
    assert "unknown op 'cosh'" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------
# from pytest


@pytest.mark.slow
def test_engine_suite_gives_one_test_per_check(tmp_path: Path) -> None:
    pytest.importorskip("micrograd")
    for name in ("good", "tanh_from_input"):
        (tmp_path / f"{name}.py").write_text((ENGINES / f"{name}.py").read_text())
    (tmp_path / "test_mine.py").write_text(
        "from gradstep.testing import engine_suite\n\n"
        'test_engine = engine_suite("tanh_from_input.py", examples=10, max_depth=500)\n'
    )
    (tmp_path / "test_micrograd.py").write_text(  # a class object works too
        "from micrograd.engine import Value\n"
        "from gradstep.testing import engine_suite\n\n"
        "test_engine = engine_suite(Value, ops=['tanh', 'relu'], examples=5, max_depth=200)\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout
    n_mine, n_micrograd = len(plan()), len(plan(["tanh", "relu"]))
    assert f"1 failed, {n_mine + n_micrograd - 2} passed, 1 skipped" in done.stdout
    # the failure names the op, the point, expected vs got, and the code
    assert "test_mine.py::test_engine[tanh]" in done.stdout
    assert "FAIL a.tanh(): ∂out/∂a at a = 0.6: expected 0.7115777626, got 0.64" in done.stdout
    assert "out = a.tanh()" in done.stdout
    # what the class does not have is skipped, with the reason
    assert "UNSUPPORTED a.tanh(): Value has no tanh" in done.stdout


# ---------------------------------------------------------------------------------------
# the parts


def test_parse_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "engine.py").write_text("")
    assert parse_target("engine.py") == parse_target("engine.py:Value")
    assert parse_target("engine.py:Scalar").class_name == "Scalar"
    assert parse_target("pkg.engine:Value").kind == "module"
    assert parse_target("pkg.engine").class_name == "Value"
    assert parse_target("engine").kind == "module"  # no file called engine: a module name
    assert parse_target(Value) == parse_target(Value)
    assert parse_target(Value).location == "gradstep.engine"
    with pytest.raises(EngineTargetError, match=r"no such file: sub/engine\.py"):
        parse_target("sub/engine.py:Value")
    with pytest.raises(EngineTargetError, match="neither a file nor a module"):
        parse_target("not a module")


def test_op_names_take_names_or_symbols() -> None:
    assert op_names(["*", "tanh", "+"]) == ("add", "mul", "tanh")
    assert op_names(["**"]) == ("pow", "pow_value")
    assert op_names(None) == tuple(op.name for op in PROBED_OPS)
    assert "leaky_relu" in NOT_PROBED and "leaky_relu" not in op_names(None)
    with pytest.raises(ValueError, match="unknown op 'cosh'"):
        op_names(["cosh"])
    ids = [spec.id for spec in plan()]
    assert len(ids) == len(set(ids))
    assert [s.id for s in plan(["tanh"]) if s.kind == "form"] == ["tanh"]


def test_every_probed_op_is_a_dag_op_and_its_points_are_safe() -> None:
    assert {dag_op(spec.name) for spec in PROBED_OPS} <= set(DAG_OPS)
    # every record but leaky_relu, every operator in its three forms (a ** n has its own record)
    assert [f.expression for f in FORMS if f.op in {"sub", "pow", "pow_value", "neg"}] == [
        "a - b", "a - n", "n - a", "-a", "a ** n", "a ** b", "n ** a"
    ]  # fmt: skip
    for form in FORMS:
        for point in form.points:
            bound = dict(zip(form.names, point, strict=True))
            names = [n for n in form.names if n != "n"]

            def f(
                *xs: Value,
                form_: Any = form,
                bound_: dict[str, Any] = bound,
                names_: list[str] = names,
            ) -> Value:
                env = {**bound_, **dict(zip(names_, xs, strict=True))}
                out: Value = eval(form_.expression, {}, env)  # our own fixed expressions
                return out

            # away from kinks and domain edges: central differences agree with backward()
            gradcheck(f, [bound[n] for n in names])


@settings(max_examples=50, deadline=None)
@given(dag=expression_dags(forms={"**": ["value-number"], "-": ["value-value", "number-value"]}))
def test_expression_dags_keep_to_the_forms_given(dag: ExpressionDAG) -> None:
    for step in dag.steps:
        assert step.op in DAG_OPS
        if step.op == "**":
            assert len(step.args) == 1 and not step.const_first
        if step.op == "-" and len(step.args) == 1:
            assert step.const_first


def test_expression_dags_refuse_bad_forms() -> None:
    with pytest.raises(ValueError, match="non-empty subset"):
        expression_dags(forms={"**": ["sideways"]})
    with pytest.raises(ValueError, match="not a binary op"):
        expression_dags(forms={"tanh": ["value-value"]})


def test_prune_drops_what_the_root_does_not_use() -> None:
    from gradstep.testing import DAGStep

    dag = ExpressionDAG(
        (1.5, -0.7, 2.0),
        (DAGStep("tanh", (1,)), DAGStep("*", (0, 0)), DAGStep("+", (4, 0))),  # tanh(b), c unused
    )
    pruned = prune(dag)
    assert pruned.inputs == (1.5,)
    assert pruned.steps == (DAGStep("*", (0, 0)), DAGStep("+", (1, 0)))
    assert pruned.evaluate_float() == dag.evaluate_float() == 1.5 * 1.5 + 1.5


@settings(max_examples=30, deadline=None)
@given(dag=expression_dags(ops=["relu", "*"]))
def test_expression_dags_use_only_the_ops_given(dag: ExpressionDAG) -> None:
    assert dag.steps and {step.op for step in dag.steps} <= {"relu", "*"}


@pytest.mark.slow
def test_the_readme_report_card_is_a_real_run() -> None:
    """README.md and docs/grading.md show the same card; it is what the command prints."""
    root = Path(__file__).parents[1]
    cards = []
    for page in (root / "README.md", root / "docs" / "grading.md"):
        text = page.read_text(encoding="utf-8")
        start = text.index("$ gradstep test-engine tanh_from_input.py --ops +,*,tanh\n")
        cards.append(text[start : text.index("```", start)].splitlines()[1:])
    assert cards[0] == cards[1], "README.md and docs/grading.md show different cards"
    shown = cards[0]
    command = ["gradstep", "test-engine", "tanh_from_input.py", "--ops", "+,*,tanh"]
    # the chain row and the seconds depend on the machine: a small chain, and both masked
    done = subprocess.run(
        [sys.executable, "-m", *command, "--max-depth", "2000"],
        cwd=ENGINES,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1

    def steady(lines: list[str]) -> list[str]:
        kept, in_chain_row = [], False
        for line in lines:
            in_chain_row = "deepest chain" in line or (in_chain_row and line.startswith(" " * 30))
            if not in_chain_row:
                kept.append(line.rsplit(" (", 1)[0] if "failed (" in line else line)
        return kept

    assert steady(done.stdout.splitlines()) == steady(shown)


# ---------------------------------------------------------------------------------------
# what a student can act on


#: what no row may show: Hypothesis's and gradstep's own internals
INTERNALS = ("Flaky", "hypothesis", "Hypothesis", "core.py", "_worker.py", "gradstep/testing")


@pytest.mark.slow
def test_no_report_shows_tool_internals(reports: dict[str, EngineReport]) -> None:
    for name, report in reports.items():
        text = report.format() + json.dumps(report.to_dict())
        shown = [word for word in INTERNALS if word in text]
        assert not shown, f"{name} shows {shown}:\n{report}"


@pytest.mark.slow
def test_a_nondeterministic_engine_is_named_with_both_results_and_a_loop_that_shows_it(
    reports: dict[str, EngineReport],
) -> None:
    row = reports["nondeterministic_walk"].row("nondeterminism")
    assert row.status == "FAIL" and row.op == "backward"
    assert row.detail.startswith("nondeterministic: c = a * b; d = c + a; out = d * c built 16")
    assert "_prev is a set" in row.detail and "visited twice" in row.detail
    finding = row.findings[0]
    assert finding.expected != finding.got
    done = subprocess.run(
        [sys.executable, "-c", finding.code],
        cwd=ENGINES,
        capture_output=True,
        text=True,
        check=True,
    )
    printed = {tuple(map(float, line.split())) for line in done.stdout.splitlines()}
    assert len(printed) > 1, f"the loop printed one result only:\n{finding.code}"


def test_the_dag_search_stops_at_its_deadline_with_the_smallest_failure_so_far() -> None:
    """A search cut short by its time limit reports a failing DAG, never a 'flaky' test."""
    sys.path.insert(0, str(ENGINES))
    try:
        from topo_revisits_shared import Value as Revisits  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ENGINES))
    from gradstep.testing.grader.checks import CheckSpec, Engine
    from gradstep.testing.grader.graphs import check_dags

    engine = Engine(Revisits, "from topo_revisits_shared import Value", {"add": "PASS"})
    heard: list[dict[str, Any]] = []
    spec = CheckSpec("dags", "random DAGs", "dags")
    row = check_dags(engine, spec, ["add"], 10_000, 0.3, lambda data: heard.append(dict(data)))
    assert row.status == "FAIL", row
    assert "the smallest found before the time limit (0.3 s)" in row.detail
    assert row.findings[0].code.startswith("from topo_revisits_shared import Value")
    assert heard and "best" in heard[-1]  # sent as progress, for a worker killed mid-search
    assert not any(word in row.detail for word in INTERNALS)


# ---------------------------------------------------------------------------------------
# a class at a time


def _classroom(tmp_path: Path) -> Path:
    """A folder of submissions: good, wrong tanh, misspelled __init__, a hang, a crash and a
    flood at import, and a helper file that only imports the class (not a submission)."""
    folder = tmp_path / "class"
    good = (ENGINES / "good.py").read_text()
    tanh = "lambda x, y: 1 - y * y"
    assert tanh in good
    for student, source in [
        ("ada", good),
        ("bo", good.replace(tanh, "lambda x, y: 1 - x * x")),  # tanh's derivative from x
        ("cy", (ENGINES / "misspelled_init.py").read_text()),
    ]:
        (folder / student).mkdir(parents=True)
        (folder / student / "engine.py").write_text(source)
        (folder / student / "train.py").write_text("from engine import Value\n")
    odd = {
        "hangs": "while True:\n    pass\n\nclass Value:\n    pass\n",
        "crashes": "import os\nos._exit(3)\n\nclass Value:\n    pass\n",
        "floods": "import sys\nfor _ in range(20000):\n    print('x' * 500)\n"
        "    print('y' * 500, file=sys.stderr)\n\n" + (ENGINES / "good.py").read_text(),
    }
    for student, source in odd.items():
        (folder / student).mkdir()
        (folder / student / "engine.py").write_text(source)
    return folder


@pytest.mark.slow
def test_a_folder_is_graded_in_parallel_into_a_table_a_csv_and_a_page(tmp_path: Path) -> None:
    folder = _classroom(tmp_path)
    out = tmp_path / "report"
    done = gradstep(
        str(folder), "--class", "Value", "--jobs", "2", "--timeout", "3", "--examples", "10",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    names = ["ada/engine.py", "bo/engine.py", "crashes/engine.py", "cy/engine.py",
             "floods/engine.py", "hangs/engine.py"]  # fmt: skip
    table: dict[str, str] = {}
    for line in done.stdout.splitlines()[1:]:
        if not line.strip():
            break
        if line.startswith("   "):  # a wrapped line goes on with the entry above
            table[list(table)[-1]] += " " + line.strip()
        else:
            table[line.split()[0]] = line
    assert sorted(table) == names, done.stdout
    assert table["ada/engine.py"].split()[1] == f"{len(plan()) - 3}/{len(plan()) - 3}"
    assert table["bo/engine.py"].split()[-1] == "a.tanh()"
    assert table["cy/engine.py"].endswith("it defines _init_: did you mean `__init__`?")
    assert (
        "the process importing crashes/engine.py died (exit status 3)" in table["crashes/engine.py"]
    )
    assert "did not finish within 9 s" in table["hangs/engine.py"]
    assert table["floods/engine.py"].split()[1] == table["ada/engine.py"].split()[1]
    assert "6 submissions: 2 pass, 1 fail, 3 could not be checked" in done.stdout
    assert done.stderr.count("[") == 6  # one progress line per submission

    import csv

    with (out / "grades.csv").open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["submission"] for row in rows] == names
    assert rows[1]["tanh"] == "FAIL" and rows[1]["add"] == "PASS" and rows[1]["status"] == "fail"
    assert rows[3]["status"] == "error" and "__init__" in rows[3]["error"]
    assert set(rows[0]) >= {spec.id for spec in plan()}

    page = (out / "grades.html").read_text(encoding="utf-8")
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    assert page.count("<section") == 6
    assert "print(a.grad)  # expected 0.7115777626, got 0.64" in page
    assert "from engine import Value" in page


def test_gradescope_results_json_with_weights(tmp_path: Path) -> None:
    weights = tmp_path / "weights.json"
    weights.write_text(json.dumps({"tanh": 3, "sigmoid": 0, "*": 1}))
    results = tmp_path / "results" / "results.json"
    done = gradstep(
        str(ENGINES / "tanh_from_input.py"), "--examples", "5", "--max-depth", "300",
        "--gradescope", str(results), "--weights", str(weights),
    )  # fmt: skip
    assert done.returncode == 1
    data = json.loads(results.read_text())
    tests = {t["name"]: t for t in data["tests"]}
    assert len(data["tests"]) == len(plan())
    assert tests["a.tanh()"]["score"] == 0 and tests["a.tanh()"]["max_score"] == 3
    assert tests["a.tanh()"]["status"] == "failed"
    assert "print(a.grad)  # expected 0.7115777626, got 0.64" in tests["a.tanh()"]["output"]
    assert tests["a.sigmoid()"]["max_score"] == 0
    assert tests["deepest chain"]["max_score"] == 0  # INFO rows are worth 0 unless weighted
    judged = [t for t in data["tests"] if t["max_score"]]
    assert data["score"] == sum(t["score"] for t in judged) == len(judged) - 1
    assert data["output"].startswith(f"{data['score']:g} of {data['score'] + 3:g} points")

    done = gradstep(str(ENGINES / "misspelled_init.py"), "--gradescope", str(results))
    assert done.returncode == 2
    data = json.loads(results.read_text())
    assert data["score"] == 0 and "did you mean `__init__`?" in data["output"]
    assert all(t["score"] == 0 for t in data["tests"]) and len(data["tests"]) == len(plan())

    weights.write_text(json.dumps({"tanhh": 1}))
    done = gradstep(
        str(ENGINES / "good.py"), "--gradescope", str(results), "--weights", str(weights)
    )
    assert done.returncode == 2 and "names no check 'tanhh'" in done.stderr
    done = gradstep(str(ENGINES / "good.py"), str(ENGINES / "tanh_from_input.py"),
                    "--gradescope", str(results))  # fmt: skip
    assert done.returncode == 2 and "--gradescope takes one engine" in done.stderr


def test_find_submissions_takes_the_files_that_define_the_class(tmp_path: Path) -> None:
    from gradstep.testing.grader import find_submissions

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "engine.py").write_text("class Value:\n    pass\n")
    (tmp_path / "a" / "train.py").write_text("from engine import Value\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "broken.py").write_text("class Value:\n    def f(self)\n")  # no parse
    (tmp_path / "b" / "scalar.py").write_text("class Scalar:\n    pass\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.py").write_text("class Value:\n    pass\n")
    found = find_submissions([str(tmp_path)])
    assert [s.name for s in found] == ["a/engine.py", "b/broken.py"]
    assert found[0].target == f"{tmp_path / 'a' / 'engine.py'}:Value"
    assert [s.name for s in find_submissions([str(tmp_path)], "Scalar")] == ["b/scalar.py"]
    assert find_submissions(["x.py", "m.engine:V"], "Scalar")[0].target == "x.py:Scalar"
    assert find_submissions(["x.py", "m.engine:V"], "Scalar")[1].target == "m.engine:V"
    with pytest.raises(EngineTargetError, match=r"no \.py file in .* defines a class Tensor"):
        find_submissions([str(tmp_path)], "Tensor")


@pytest.mark.slow
def test_a_budget_bounds_an_engine_whose_every_op_hangs(tmp_path: Path) -> None:
    (tmp_path / "stuck.py").write_text(
        "class Value:\n"
        "    def __init__(self, data):\n        self.data, self.grad = data, 0.0\n"
        "    def backward(self):\n        pass\n"
        "    def __add__(self, other):\n        while True:\n            pass\n"
    )
    report = check_engine(str(tmp_path / "stuck.py:Value"), timeout=0.5, budget=3.0)
    assert report.seconds < 8, report.format()
    skipped = [r for r in report.rows if "took its whole budget of 3 s" in r.detail]
    assert skipped and all(r.status == "SKIP" for r in skipped)
    assert report.row("add").status == "FAIL" or report.row("add") in skipped


def test_a_dag_search_killed_mid_way_reports_the_smallest_failure_it_sent() -> None:
    from gradstep.testing.grader.checks import CheckSpec
    from gradstep.testing.grader.runner import lost_row

    spec = CheckSpec("dags", "random DAGs", "dags")
    best = {"message": "out = a + a: ∂out/∂a expected 2, got 1", "expected": 2.0, "got": 1.0,
            "code": "a = Value(0.0)\nout = a + a", "op": ""}  # fmt: skip
    progress = [{"best": best, "op": "backward", "first": 3}]
    row = lost_row(spec, "did not finish within 60 s; an infinite loop?", progress)
    assert row.status == "FAIL" and row.op == "backward"
    assert row.detail == (
        "failing DAG found at example 3; the search did not answer while shrinking it (a slow "
        "or stuck backward()?), the smallest so far: out = a + a: ∂out/∂a expected 2, got 1"
    )
    assert row.findings[0].code.endswith("out = a + a")
    nothing = lost_row(spec, "did not finish within 60 s; an infinite loop?", [])
    assert nothing.detail == (
        "did not finish within 60 s: one random DAG took that long in your code (the search "
        "itself stops at half that time)"
    )


@pytest.mark.skipif(os.name != "posix", reason="the memory cap is RLIMIT_AS (POSIX)")
def test_a_memory_cap_turns_a_runaway_allocation_into_a_memory_error(tmp_path: Path) -> None:
    good = (ENGINES / "good.py").read_text()
    head = "    def tanh(self):\n"
    assert head in good
    (tmp_path / "hog.py").write_text(good.replace(head, head + "        bytearray(1536 * 2**20)\n"))
    report = check_engine(str(tmp_path / "hog.py"), ops=["+", "tanh"], examples=0, max_depth=200,
                          memory_mb=1024)  # fmt: skip
    assert [row.id for row in report.failed] == ["tanh"], report.format()
    assert "raised MemoryError (hog.py, line" in report.row("tanh").detail
    with pytest.raises(ValueError, match="memory_mb ≥ 256"):
        check_engine(str(tmp_path / "hog.py"), memory_mb=100)
