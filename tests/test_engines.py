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
from gradstep.testing.engine_checks import plan
from gradstep.testing.engine_graphs import _prune
from gradstep.testing.engine_ops import FORMS, NOT_PROBED, PROBED_OPS, dag_op, op_names
from gradstep.testing.engines import parse_target

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
    broken("assign_not_accumulate", "reuse_add", "shared_node", **DAGS),
    broken("pow_derivative", "pow", "div", "rdiv"),  # its / is built from ** -1
    broken("tanh_from_input", "tanh"),
    broken("relu_output_as_slope", "relu"),
    broken("relu_in_place", "relu"),
    broken("topo_revisits_shared", "shared_node", **DAGS),
    broken("no_radd", "radd", "sum"),
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

    in_place = reports["relu_in_place"].row("relu").findings[0]
    assert in_place.message.startswith("the forward pass changed the operand a.data from -1.1")

    stale = reports["stale_interior"].row("repeated_backward")
    assert stale.data["behaviour"] == "inconsistent" and stale.op == "backward"


@pytest.mark.slow
def test_a_hang_or_a_crash_costs_one_row(reports: dict[str, EngineReport]) -> None:
    hang = reports["log_never_returns"]
    assert "did not finish within 1 s" in hang.row("log").detail
    assert [r.id for r in hang.rows if r.status == "FAIL"] == ["log"]

    crash = reports["crash_in_sqrt"]
    detail = crash.row("sqrt").detail
    assert "the process" in detail
    if os.name == "posix":
        assert "SIGSEGV" in detail
    # the worker was started again: every row after sqrt still ran and passed
    assert crash.counts["PASS"] == len(crash.rows) - 4, crash.format()  # not sqrt, DAGs, 2 INFO


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
    assert {k for k, v in statuses.items() if v != "PASS"} == {"repeated_backward", "deepest_chain"}
    repeated = report.row("repeated_backward")
    assert repeated.data["behaviour"] == "leaves"
    assert "interior nodes hold the last pass" in repeated.detail
    assert report.row("deepest_chain").data == {"depth": 20_000, "limit": None}


def test_the_good_engine_passes_every_check() -> None:
    report = check_engine(str(ENGINES / "good.py"), **{**QUICK, **DAGS})
    assert report.ok and report.counts["PASS"] == len(report.rows) - 2, report.format()
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
    assert lines[-1].startswith(f"{len(plan()) - 3} pass, 1 fail, 2 info: 1 failed")

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
    done = gradstep("engine.py", "--timeout", "0.5", cwd=tmp_path)
    assert done.returncode == 2
    assert (
        done.stderr
        == "gradstep test-engine: error: importing engine.py:Value did not finish within 1.5 s\n"
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
    pruned = _prune(dag)
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
