"""The benchmark at tiny sizes (so it cannot rot) and the engine properties it reports.

Timings are never asserted: CI does not fail on speed.  What is asserted is that the
documented command runs, that the table has a row for every backend and workload, that
the floor and gradstep rows hold numbers, and the untimed facts the benchmark relies on
(graphs freed by reference counting, the collector setting restored).
"""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest
from fresh_process import run_fresh

from gradstep import Value
from gradstep.nn import MLP

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = [
    "pure-float floor",
    "gradstep eager",
    "gradstep eager (GC off)",
    "gradstep compiled",
    "micrograd",
    "micrograd (recursion limit 1e7)",
    "PyTorch scalar",
    "PyTorch batched",
]


def table_rows(stdout: str) -> dict[tuple[str, str, str], list[str]]:
    """(workload, size, backend) -> the row's cells, from the Markdown table."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 11 and cells[0] not in ("workload", "---"):
            rows[(cells[0], cells[1], cells[2])] = cells
    return rows


@pytest.fixture(scope="module")
def quick_run() -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.slow
def test_quick_run_has_every_backend_and_workload_row(quick_run: str) -> None:
    rows = table_rows(quick_run)
    sizes = {"moons_step": ["1 step"], "chain": ["1e+02", "1e+03"], "wide": ["5e+02"]}
    sizes["memory"] = ["5e+02"]
    for workload, labels in sizes.items():
        for label in labels:
            for backend in BACKENDS:
                assert (workload, label, backend) in rows, (workload, label, backend)
    assert len(rows) == len(BACKENDS) * 5
    assert quick_run.startswith("# Python ")


@pytest.mark.slow
def test_floor_and_gradstep_rows_hold_numbers(quick_run: str) -> None:
    rows = table_rows(quick_run)
    for backend in ["pure-float floor", "gradstep eager", "gradstep compiled"]:
        cells = rows[("moons_step", "1 step", backend)]
        assert cells[10] == "ok"
        assert cells[3].endswith(("µs", "ms", " s")), cells
        assert cells[4].endswith("×"), cells
    assert rows[("moons_step", "1 step", "pure-float floor")][4] == "1.00×"
    chain = rows[("chain", "1e+03", "gradstep eager")]
    assert chain[10] == "ok" and float(chain[7]) > 0.0
    memory = rows[("memory", "5e+02", "gradstep eager")]
    assert 50.0 < float(memory[8]) < 250.0  # bytes per node: the ≤ 250 target
    assert rows[("chain", "1e+02", "gradstep compiled")][10].startswith(
        "n/a: compile is for repeated"
    )


@pytest.mark.slow
def test_a_crash_is_reported_not_omitted(quick_run: str) -> None:
    """micrograd's recursive backward fails on a chain of 1,000 (when micrograd is installed)."""
    status = table_rows(quick_run)[("chain", "1e+03", "micrograd")][10]
    assert status.startswith(("failed: RecursionError", "n/a: micrograd not installed")), status


@pytest.mark.slow
def test_the_script_form_runs_too() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--quick",
            "--workloads",
            "memory",
            "--backends",
            "gradstep eager,pure-float floor",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows = table_rows(proc.stdout)
    assert set(rows) == {
        ("memory", "5e+02", "gradstep eager"),
        ("memory", "5e+02", "pure-float floor"),
    }


def test_bad_arguments_are_refused_with_the_choices() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--workloads", "moons"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "unknown workload(s) ['moons']" in proc.stderr


# ---------------------------------------------------------------------------------------
# untimed engine properties the benchmark reports


@pytest.mark.slow
def test_a_dropped_graph_is_freed_by_reference_counting() -> None:
    """No node is in a reference cycle: memory comes back without the cyclic collector.

    Measured in a fresh interpreter (`fresh_process`): in this one, other tests' threads and
    garbage would count too."""
    built, kept, unreachable = run_fresh(
        """
        import gc, json, tracemalloc
        from gradstep import Value

        xs = [Value(float(i)) for i in range(20_000)]
        gc.collect()
        gc.disable()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        out = sum(x * x for x in xs).tanh()
        out.backward()
        built = tracemalloc.get_traced_memory()[0] - before
        del out
        kept = tracemalloc.get_traced_memory()[0] - before
        unreachable = gc.collect()  # what only the cyclic collector could have freed
        tracemalloc.stop()
        print(json.dumps([built, kept, unreachable]))
        """
    )
    assert built > 40_000 * 150, built  # the graph was really there: 40,001 nodes
    # what stays: the leaves' new grads (24 bytes each) and CPython's free list of 2-tuples
    assert kept < 20_000 * 24 + 2_000 * 64, (built, kept)
    assert unreachable == 0


@pytest.mark.parametrize("enabled", [True, False])
def test_building_a_layer_restores_the_collector_setting(enabled: bool) -> None:
    model = MLP(3, [4, 1], seed=0)
    was_enabled = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        out = model([1.0, 2.0, 3.0])
        assert gc.isenabled() is enabled
        with pytest.raises(ValueError):
            model([1.0, 2.0])  # an error inside the layer restores it too
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was_enabled else gc.disable)()
    assert isinstance(out, Value)
