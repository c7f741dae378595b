"""Run the benchmark and print a table of medians and ratios (``python -m bench [--quick]``).

Every (workload, size) is measured in this one process: each repeat times every backend
once, in turn (A B C A B C ...), and a ratio is the median over repeats of the pairwise
ratios t_backend / t_reference taken within the same repeat, so load from other processes
on a shared machine mostly cancels.  A backend that raises (RecursionError...) is reported
as failed; a backend marked risky is first run once in a subprocess, so a crash of the
interpreter (segfault) is reported as failed too instead of ending the benchmark.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

if __package__ in (None, ""):  # run as a script: python bench/run.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.backends import Backend, NotApplicable, all_backends
from bench.workloads import moons_problem

__all__ = ["main", "run_benchmark", "Row", "format_table"]

WORKLOADS = ("moons_step", "chain", "wide", "memory")


@dataclass
class Config:
    """Sizes and repeats of one benchmark run."""

    moons_samples: int = 100
    moons_hidden: int = 16
    chain_sizes: tuple[int, ...] = (10**3, 10**4, 10**5, 10**6)
    wide_size: int = 10**5
    memory_size: int = 10**5
    repeats: int = 7
    #: consecutive moons steps per timing, as in a training loop (the time is per step)
    burst: int = 5
    #: repeats for the largest sizes (chain 10⁶ takes seconds per call for some backends)
    big_repeats: int = 3
    #: slow backends are skipped above this many chain ops (they would take minutes)
    slow_chain_limit: int = 10**5

    @classmethod
    def quick(cls) -> Config:
        """Tiny sizes for the CI smoke run: every row, a few seconds in all."""
        return cls(
            moons_samples=4,
            moons_hidden=4,
            chain_sizes=(100, 1000),
            wide_size=500,
            memory_size=500,
            repeats=2,
            big_repeats=2,
            burst=2,
        )


@dataclass
class Row:
    """One backend on one workload and size: median seconds, ratios, or why it has none."""

    workload: str
    size: str
    backend: str
    times: list[float] = field(default_factory=list)
    #: seconds to set the workload up (for gradstep compiled: recording and compiling)
    setup: float | None = None
    status: str = "ok"  # "ok", "failed: ...", "n/a: ..."
    vs_floor: float | None = None
    vs_micrograd: float | None = None
    vs_torch: float | None = None
    per_node_ns: float | None = None
    bytes_per_node: float | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None


def _pairwise_ratio(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Median over repeats of a[i] / b[i]."""
    pairs = [x / y for x, y in zip(a, b, strict=True) if y > 0.0]
    return statistics.median(pairs) if pairs else None


def _describe_error(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"failed: {type(exc).__name__}" + (f" ({text[:60]})" if text else "")


def _probe_in_subprocess(backend: Backend, workload: str, size: int, quick: bool) -> str | None:
    """Run one call in a fresh interpreter; return a failure status if the interpreter died."""
    cmd = [sys.executable, "-m", "bench.run", "--probe", backend.name, workload, str(size)]
    if quick:
        cmd.append("--quick")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode < 0:
        return f"failed: killed by signal {-proc.returncode} (segfault?)"
    if proc.returncode != 0 and "Traceback" not in proc.stderr and "failed:" not in proc.stdout:
        return f"failed: exit status {proc.returncode}"
    return None


def _make_run(backend: Backend, workload: str, size: int, config: Config) -> Callable[[], object]:
    if workload == "moons_step":
        step = backend.moons(moons_problem(config.moons_samples, config.moons_hidden))
        return _burst(step, config.burst)
    if workload == "chain":
        return backend.chain(size)
    if workload == "wide":
        return backend.wide(size)
    raise ValueError(f"unknown workload {workload!r}")


class _burst:
    """Call ``step`` ``count`` times in a row; `_time_once` divides by ``count``."""

    def __init__(self, step: Callable[[], object], count: int) -> None:
        self.step, self.count = step, count

    def __call__(self) -> None:
        for _ in range(self.count):
            self.step()


def _time_once(run: Callable[[], object]) -> float:
    """Seconds for one call; the previous call's garbage is collected first, untimed."""
    gc.collect()
    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    return elapsed / run.count if isinstance(run, _burst) else elapsed


def _measure(
    workload: str,
    size: int,
    label: str,
    backends: list[Backend],
    config: Config,
    repeats: int,
    quick: bool,
    log: Callable[[str], None],
) -> list[Row]:
    rows = {b.name: Row(workload, label, b.name) for b in backends}
    runs: dict[str, Callable[[], object]] = {}
    for b in backends:
        row = rows[b.name]
        reason = b.unavailable()
        if reason:
            row.status = f"n/a: {reason}"
            continue
        slow = b.name.startswith("micrograd (")
        if workload == "chain" and slow and size > config.slow_chain_limit:
            row.status = f"skipped above {config.slow_chain_limit:.0e} ops (minutes per call)"
            continue
        torch_slow = b.name == "PyTorch scalar" and size > config.slow_chain_limit * 10
        if workload == "chain" and torch_slow:
            row.status = "skipped (minutes per call)"
            continue
        try:
            start = time.perf_counter()
            run = _make_run(b, workload, size, config)
            row.setup = time.perf_counter() - start
        except NotApplicable as exc:
            row.status = f"n/a: {exc}"
            continue
        if b.risky:
            crashed = _probe_in_subprocess(b, workload, size, quick)
            if crashed:
                row.status = crashed
                continue
        try:
            for _ in range(b.warmup):
                _time_once(run)  # warm-up, and the first place a failure shows
        except (Exception, RecursionError) as exc:
            row.status = _describe_error(exc)
            continue
        runs[b.name] = run
    # Everything alive now (imports: PyTorch's alone makes ~150,000 objects; every backend's
    # model, and generated code) goes to the collector's permanent generation,
    # so the collections during a timed call scan only what that call creates, as in a
    # script that has only that library and that model.
    gc.collect()
    gc.freeze()
    try:
        for rep in range(repeats):
            for name, run in list(runs.items()):
                try:
                    rows[name].times.append(_time_once(run))
                except (Exception, RecursionError) as exc:
                    rows[name].status = _describe_error(exc)
                    del runs[name]
            log(f"  {workload} {label}: repeat {rep + 1}/{repeats}")
    finally:
        gc.unfreeze()
    floor = rows.get("pure-float floor")
    micro = rows.get("micrograd")
    torch_scalar = rows.get("PyTorch scalar")
    for row in rows.values():
        if not row.times:
            continue
        if floor and floor.times:
            row.vs_floor = _pairwise_ratio(row.times, floor.times)
        if micro and micro.times and row.backend != "micrograd":
            row.vs_micrograd = _pairwise_ratio(row.times, micro.times)
        if torch_scalar and torch_scalar.times and row is not torch_scalar:
            row.vs_torch = _pairwise_ratio(row.times, torch_scalar.times)
        if workload == "chain":
            row.per_node_ns = row.median / (2 * size) * 1e9  # type: ignore[operator]
    return list(rows.values())


def _measure_memory(size: int, backends: list[Backend]) -> list[Row]:
    rows = []
    for b in backends:
        row = Row("memory", f"{size:.0e}", b.name)
        reason = b.unavailable()
        if reason:
            row.status = f"n/a: {reason}"
        else:
            try:
                gc.collect()
                row.bytes_per_node = b.memory(size)
            except NotApplicable as exc:
                row.status = f"n/a: {exc}"
            except Exception as exc:
                row.status = _describe_error(exc)
        rows.append(row)
    return rows


def run_benchmark(
    config: Config,
    workloads: Sequence[str] = WORKLOADS,
    backends: list[Backend] | None = None,
    quick: bool = False,
    log: Callable[[str], None] = lambda s: None,
) -> list[Row]:
    """Measure every backend on every workload; return the table's rows."""
    backends = backends if backends is not None else all_backends()
    for b in backends:
        if b.unavailable() is None:
            for module in b.modules:
                importlib.import_module(module)
    return _run_workloads(config, workloads, backends, quick, log)


def _run_workloads(
    config: Config,
    workloads: Sequence[str],
    backends: list[Backend],
    quick: bool,
    log: Callable[[str], None],
) -> list[Row]:
    rows: list[Row] = []
    if "moons_step" in workloads:
        log("moons_step")
        rows += _measure("moons_step", 0, "1 step", backends, config, config.repeats, quick, log)
    if "chain" in workloads:
        for n in config.chain_sizes:
            log(f"chain {n}")
            repeats = config.big_repeats if n >= 10**6 else config.repeats
            rows += _measure("chain", n, f"{n:.0e}", backends, config, repeats, quick, log)
    if "wide" in workloads:
        log("wide")
        n = config.wide_size
        rows += _measure("wide", n, f"{n:.0e}", backends, config, config.repeats, quick, log)
    if "memory" in workloads:
        rows += _measure_memory(config.memory_size, backends)
    return rows


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def _fmt_ratio(r: float | None) -> str:
    return "" if r is None else (f"{r:.2f}×" if r < 10 else f"{r:.1f}×" if r < 100 else f"{r:.0f}×")


def format_table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| workload | size | backend | median | × floor | × micrograd | × PyTorch scalar "
        "| ns/node | bytes/node | setup | status |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r.workload} | {r.size} | {r.backend} | {_fmt_time(r.median)} | "
            f"{_fmt_ratio(r.vs_floor)} | {_fmt_ratio(r.vs_micrograd)} | {_fmt_ratio(r.vs_torch)} | "
            f"{'' if r.per_node_ns is None else f'{r.per_node_ns:.0f}'} | "
            f"{'' if r.bytes_per_node is None else f'{r.bytes_per_node:.0f}'} | "
            f"{_fmt_time(r.setup) if r.workload == 'moons_step' else ''} | {r.status} |"
        )
    return "\n".join(lines)


def machine_description() -> str:
    """Python, OS and CPU of this run."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        if names:
            cpu = f"{names[0]} ({len(names)} logical CPUs)"
    except OSError:
        pass
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}, {cpu}"
    )


def _probe(argv: list[str], quick: bool) -> int:
    name, workload, size = argv
    config = Config.quick() if quick else Config()
    backend = next(b for b in all_backends() if b.name == name)
    try:
        _make_run(backend, workload, int(size), config)()
    except (Exception, RecursionError) as exc:
        print(_describe_error(exc))
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time gradstep against micrograd, PyTorch and the pure-float floor.",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI smoke run)")
    parser.add_argument("--repeats", type=int, help="repeats per measurement (default 7; quick 2)")
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated subset of {','.join(WORKLOADS)}",
    )
    parser.add_argument("--backends", help="comma-separated backend names (default: all)")
    parser.add_argument(
        "--probe", nargs=3, metavar=("BACKEND", "WORKLOAD", "SIZE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.probe:
        return _probe(args.probe, args.quick)
    config = Config.quick() if args.quick else Config()
    if args.repeats is not None:
        if args.repeats < 1:
            parser.error("--repeats must be at least 1")
        config.repeats = config.big_repeats = args.repeats
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")
    backends = all_backends()
    if args.backends:
        wanted = [n.strip() for n in args.backends.split(",")]
        names = {b.name for b in backends}
        missing = [n for n in wanted if n not in names]
        if missing:
            parser.error(f"unknown backend(s) {missing}; choose from {sorted(names)}")
        backends = [b for b in backends if b.name in wanted]
    print(f"# {machine_description()}", flush=True)
    print(
        f"# command: python -m bench {' '.join(argv if argv is not None else sys.argv[1:])}",
        flush=True,
    )
    rows = run_benchmark(
        config,
        workloads,
        backends,
        quick=args.quick,
        log=lambda s: print(f"# {s}", file=sys.stderr, flush=True),
    )
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
