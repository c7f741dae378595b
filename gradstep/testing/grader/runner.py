"""Running the checks on anyone's micrograd-style `Value` class: `check_engine`, `engine_suite`.

``check_engine("engine.py:Value")`` imports the class in a separate worker process
(`gradstep.testing.grader._worker`) and runs every check of `checks.plan` there, each
with a time limit: an infinite loop, a crash or a runaway recursion in the user's code
costs that one check, never the caller.  The result is an `EngineReport` (`card`): one row per op
form and check, PASS / FAIL / UNSUPPORTED / SKIP / INFO, and for each failure the point,
expected vs got, and Python that reproduces it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import re
import signal
import site
import subprocess
import sys
import sysconfig
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from gradstep.testing.grader.card import EngineReport
from gradstep.testing.grader.checks import (
    CheckResult,
    CheckSpec,
    Finding,
    is_ours,
    plan,
)
from gradstep.testing.grader.ops import op_names

__all__ = [
    "check_engine",
    "engine_suite",
    "EngineTargetError",
    "Target",
    "parse_target",
]

#: the defaults of `check_engine` and ``gradstep test-engine``
DEFAULT_EXAMPLES = 100
DEFAULT_MAX_DEPTH = 1_000_000
DEFAULT_DEPTH_SECONDS = 10.0
DEFAULT_TIMEOUT = 10.0
#: ``gradstep test-engine`` on several engines: a shorter chain search, a budget per engine
CLASS_EXAMPLES = 50
CLASS_MAX_DEPTH = 20_000
CLASS_DEPTH_SECONDS = 1.0
CLASS_TIMEOUT = 5.0
CLASS_BUDGET = 120.0
CLASS_MEMORY_MB = 2048
_MAX_WORKERS = 12  # a worker that keeps dying: give up on the remaining checks after this many


class EngineTargetError(Exception):
    """The target cannot be checked (no file, no class, an error importing it): one line."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details  # the traceback from the worker, for --traceback


# =======================================================================================
# the target


@dataclass(frozen=True)
class Target:
    """Where the class lives: a file (``path/engine.py``) or a module (``pkg.engine``)."""

    kind: str  # "file" or "module"
    location: str
    class_name: str
    #: folders the worker puts on sys.path (a class given as an object needs its importer's path)
    path: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.location}:{self.class_name}"


_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\Z")


def parse_target(target: str | type) -> Target:
    """Where the class is: ``path/file.py:Class``, ``package.module:Class`` (``Value`` by
    default), or the class itself."""
    if isinstance(target, type):
        return _class_target(target)
    text = target.strip()
    location, class_name = text, "Value"
    head, sep, tail = text.rpartition(":")
    if sep and not tail:
        raise EngineTargetError(f"no class name after ':' in {text!r}")
    if sep and _DOTTED.match(tail) and head and not re.fullmatch(r"[A-Za-z]", head):
        location, class_name = head, tail
    if not location:
        raise EngineTargetError(
            "no target: give path/to/file.py:ClassName or package.module:ClassName"
        )
    looks_like_file = location.endswith(".py") or "/" in location or os.sep in location
    if looks_like_file or Path(location).is_file():
        path = Path(location)
        if not path.exists():
            raise EngineTargetError(f"no such file: {location}")
        if path.is_dir():
            raise EngineTargetError(f"{location} is a folder: give a .py file inside it")
        return Target("file", str(path), class_name)
    if not _DOTTED.match(location):
        raise EngineTargetError(
            f"{location!r} is neither a file nor a module name: give path/to/file.py:ClassName "
            "or package.module:ClassName"
        )
    return Target("module", location, class_name)


def _class_target(cls: type) -> Target:
    """A class object: its module by name (with this process's sys.path), or its file."""
    module = sys.modules.get(cls.__module__)
    filename = getattr(module, "__file__", None)
    if cls.__module__ == "__main__" or module is None:
        if filename is None:
            raise EngineTargetError(f"cannot tell where the class {cls.__qualname__} is defined")
        return Target("file", filename, cls.__qualname__)
    return Target("module", cls.__module__, cls.__qualname__, tuple(p for p in sys.path if p))


# =======================================================================================
# the worker process

_EOF = object()
_TIMEOUT = object()


class _Worker:
    """One worker process: send it the configuration, read its events with time limits."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        kwargs: dict[str, Any] = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True  # its own process group: kill its children too
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gradstep.testing.grader._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_worker_environment(),
            text=True,
            encoding="utf-8",
            errors="replace",
            **kwargs,
        )
        self.events: queue.Queue[object] = queue.Queue()
        self.stderr: deque[str] = deque(maxlen=80)
        assert self.process.stdin is not None and self.process.stdout is not None
        assert self.process.stderr is not None
        threading.Thread(target=self._read_events, args=(self.process.stdout,), daemon=True).start()
        self._stderr_reader = threading.Thread(
            target=self._read_stderr, args=(self.process.stderr,), daemon=True
        )
        self._stderr_reader.start()
        try:
            self.process.stdin.write(json.dumps(config) + "\n")
            self.process.stdin.close()
        except OSError:  # it died at once: the reader reports the end
            pass

    def _read_events(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                self.events.put(json.loads(line))
            except json.JSONDecodeError:
                continue
        self.events.put(_EOF)

    def _read_stderr(self, stream: IO[str]) -> None:
        """Keep the last lines only, read in chunks: a flood costs no memory."""
        tail = ""
        while chunk := stream.read(8192):
            tail = (tail + chunk)[-4096:]
            *lines, tail = tail.split("\n")
            self.stderr.extend(line[-400:] for line in lines)
        if tail:
            self.stderr.append(tail[-400:])

    def next(self, seconds: float) -> object:
        """The next event (a dict), `_TIMEOUT` after ``seconds``, or `_EOF` when it ended."""
        try:
            return self.events.get(timeout=seconds)
        except queue.Empty:
            return _TIMEOUT

    def stop_and_locate(self) -> str:
        """Ask it for its stack (SIGUSR1: the worker's faulthandler prints it), kill it, and
        return `` (it was in f, engine.py, line 7)``: the user's innermost frame, or ""."""
        if os.name == "posix" and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.process.pid, signal.SIGUSR1)
            self._wait_for_stack(seconds=2.0)
        self.stop()
        self._stderr_reader.join(timeout=2)
        lines = list(self.stderr)
        starts = [i for i, line in enumerate(lines) if "(most recent call first)" in line]
        if not starts:
            return ""
        stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
        for line in lines[starts[-1] + 1 :]:
            frame = _FRAME.match(line)
            if frame is None or is_ours(frame["file"]):
                continue
            if Path(frame["file"]).resolve().is_relative_to(stdlib):
                continue
            name = Path(frame["file"]).name
            return f" (it was in {frame['name']}, {name}, line {frame['line']})"
        return ""

    def _wait_for_stack(self, seconds: float) -> None:
        """Wait (at most ``seconds``) for the stack's header, then until its frames stop coming."""
        until = time.monotonic() + seconds
        seen, quiet_since = -1, time.monotonic()
        while time.monotonic() < until:
            lines = list(self.stderr)
            if len(lines) != seen:
                seen, quiet_since = len(lines), time.monotonic()
            header = any("(most recent call first)" in line for line in lines)
            if header and time.monotonic() - quiet_since > 0.2:
                return
            time.sleep(0.02)

    def how_it_ended(self) -> str:
        """``killed by SIGSEGV`` / ``exit status 3``, and its last line on stderr."""
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "it stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            text = f"killed by {name}"
        else:
            text = f"exit status {code}"
        last = [line for line in self.stderr if line.strip()]
        return text + (f"; its last line on stderr: {last[-1].strip()}" if last else "")

    def stop(self) -> None:
        """Kill it (and its process group) if it still runs."""
        if self.process.poll() is None:
            try:
                if os.name == "posix":
                    os.killpg(self.process.pid, signal.SIGKILL)
                else:
                    self.process.kill()
            except (ProcessLookupError, PermissionError):
                pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


#: a line of faulthandler's stack dump
_FRAME = re.compile(r'\s*File "(?P<file>.+)", line (?P<line>\d+) in (?P<name>.+)')


def _worker_environment() -> dict[str, str]:
    """This environment, with gradstep importable in the worker even from a source checkout."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    installed = {
        str(Path(p).resolve()) for p in [*site.getsitepackages(), site.getusersitepackages()]
    }
    if root not in installed:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


# =======================================================================================
# check_engine


def _time_limit(spec: CheckSpec, timeout: float, examples: int, depth_seconds: float) -> float:
    """How long one check may take before the worker is killed."""
    if spec.kind == "dags":
        return timeout * max(6.0, examples / 20.0)
    if spec.kind == "depth":  # its bound is CPU time: leave room for a busy machine
        return 3.0 * depth_seconds + timeout
    return timeout


def lost_row(spec: CheckSpec, why: str, progress: Sequence[Mapping[str, Any]]) -> CheckResult:
    """The row of a check whose worker hung or died: the depth check reports how far it got."""
    if spec.kind == "depth":
        worked = max((p["ok"] for p in progress if "ok" in p), default=0)
        tried = max((p["trying"] for p in progress if "trying" in p), default=0)
        data = {"depth": worked, "limit": tried, "error": why}
        if "did not finish" in why:
            text = f"at least {worked:,} ops; a chain of {tried:,} {why}"
            return CheckResult(spec.id, spec.title, "INFO", text, data=data)
        text = (
            f"{worked:,} ops; a chain of {tried:,} crashed the process ({why}): likely a "
            "recursive backward() whose raised recursion limit lets it overflow the C stack"
        )
        return CheckResult(spec.id, spec.title, "FAIL", text, "backward", (Finding(text),), data)
    best = [p for p in progress if "best" in p]
    if spec.kind == "dags" and best:
        finding = Finding(**best[-1]["best"])
        stopped = "did not answer" if why.startswith("did not") else f"died ({why})"
        text = (
            f"failing DAG found at example {best[-1]['first']}; the search {stopped} while "
            f"shrinking it (a slow or stuck backward()?), the smallest so far: {finding.message}"
        )
        return CheckResult(
            spec.id, spec.title, "FAIL", text, best[-1]["op"], (finding,), {"stopped": why}
        )
    if spec.kind == "dags" and why.startswith("did not"):
        why = (
            f"{why.removesuffix('; an infinite loop?')}: one random DAG took that long in your "
            "code (the search itself stops at half that time)"
        )
    text = why if why.startswith("did not") else f"the process running this check died ({why})"
    return CheckResult(spec.id, spec.title, "FAIL", text, spec.id, (Finding(text),))


def check_engine(
    target: str | type,
    *,
    ops: Sequence[str] | None = None,
    examples: int = DEFAULT_EXAMPLES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    depth_seconds: float = DEFAULT_DEPTH_SECONDS,
    timeout: float = DEFAULT_TIMEOUT,
    budget: float | None = None,
    memory_mb: int | None = None,
) -> EngineReport:
    """Check a micrograd-style class: every op against gradstep and central differences,
    random DAGs (``examples`` of them), node reuse, repeated backward, the deepest chain.

    ``target`` is ``"path/to/file.py:Class"``, ``"package.module:Class"`` (``Value`` when
    omitted) or the class itself.  ``ops`` limits the op rows and the DAGs (names such as
    ``"tanh"``, or ``"+"``).  Each check runs in the worker with a ``timeout`` (seconds);
    the chain check doubles its depth up to ``max_depth`` within ``depth_seconds`` of CPU time.
    ``budget`` (seconds) bounds the whole run: the checks not reached by then are SKIP rows.
    ``memory_mb`` caps the worker's address space (POSIX): past it the user's code gets a
    MemoryError instead of taking the machine's memory.
    Raises `EngineTargetError` when the class cannot be loaded, ValueError on bad options.
    """
    if examples < 0 or max_depth < 1 or depth_seconds <= 0 or timeout <= 0:
        raise ValueError("examples ≥ 0, max_depth ≥ 1, depth_seconds > 0 and timeout > 0, please")
    if budget is not None and budget <= 0:
        raise ValueError("budget > 0, please")
    if memory_mb is not None and memory_mb < 256:
        raise ValueError("memory_mb ≥ 256, please (the worker itself needs about 200)")
    specs = plan(ops)
    names = list(op_names(ops)) if ops is not None else None
    where = parse_target(target)
    start = time.perf_counter()
    results: dict[str, CheckResult] = {}
    statuses: dict[str, str] = {}
    class_name = where.class_name.rsplit(".", 1)[-1]
    by_id = {spec.id: spec for spec in specs}
    workers = 0
    deadline = math.inf if budget is None else start + budget
    while len(results) < len(specs):
        if time.perf_counter() >= deadline:
            why = f"not run: checking this engine took its whole budget of {budget:g} s"
            for spec in specs:
                results.setdefault(spec.id, CheckResult(spec.id, spec.title, "SKIP", why))
            break
        if workers == _MAX_WORKERS:
            for spec in specs:
                if spec.id not in results:
                    why = f"not run: the worker process died {workers} times"
                    results[spec.id] = CheckResult(spec.id, spec.title, "FAIL", why)
            break
        config = {
            "kind": where.kind,
            "location": where.location,
            "class": where.class_name,
            "path": list(where.path),
            "ops": names,
            "examples": examples,
            "dag_seconds": _time_limit(by_id["dags"], timeout, examples, depth_seconds) / 2,
            "max_depth": max_depth,
            "depth_seconds": depth_seconds,
            "skip": list(results),
            "statuses": statuses,
            "memory_mb": memory_mb,
        }
        worker = _Worker(config)
        workers += 1
        try:
            class_name = _await_ready(worker, where, timeout, first=workers == 1) or class_name
            _collect(worker, by_id, results, statuses, timeout, examples, depth_seconds, deadline)
        finally:
            worker.stop()
    rows = tuple(results[spec.id] for spec in specs)
    options = {
        "ops": names,
        "examples": examples,
        "max_depth": max_depth,
        "depth_seconds": depth_seconds,
        "timeout": timeout,
    }
    return EngineReport(str(where), class_name, rows, time.perf_counter() - start, options)


def _await_ready(worker: _Worker, where: Target, timeout: float, first: bool) -> str:
    """Wait for the worker to import the class; raise `EngineTargetError` if it cannot."""
    limit = 3.0 * timeout
    event = worker.next(limit)
    if event is _TIMEOUT:
        stuck = worker.stop_and_locate()
        raise EngineTargetError(
            f"importing {where} did not finish within {limit:g} s{stuck}: if "
            "the file runs a demo or "
            'trains a model when imported, put that code under `if __name__ == "__main__":`; '
            "or allow more time with --timeout (the import gets 3 times the timeout)"
        )
    if event is _EOF:
        raise EngineTargetError(f"the process importing {where} died ({worker.how_it_ended()})")
    assert isinstance(event, dict)
    if event["event"] == "target-error":
        raise EngineTargetError(event["message"], event.get("traceback", ""))
    return str(event.get("class", ""))


def _collect(
    worker: _Worker,
    by_id: Mapping[str, CheckSpec],
    results: dict[str, CheckResult],
    statuses: dict[str, str],
    timeout: float,
    examples: int,
    depth_seconds: float,
    deadline: float = math.inf,
) -> None:
    """Read results until the worker is done, hangs or dies (then record the check it was on)."""
    current: CheckSpec | None = None
    progress: list[Mapping[str, Any]] = []
    while True:
        limit = (
            timeout if current is None else _time_limit(current, timeout, examples, depth_seconds)
        )
        left = deadline - time.perf_counter()
        event = worker.next(min(limit, max(left, 0.0)))
        if event is _TIMEOUT or event is _EOF:
            if current is None:
                return
            if event is _TIMEOUT and left < limit:
                why = "did not finish before this engine's time budget ran out"
                worker.stop()
            elif event is _TIMEOUT:
                stuck = worker.stop_and_locate()
                why = f"did not finish within {limit:g} s{stuck}; an infinite loop?"
            else:
                why = worker.how_it_ended()
            results[current.id] = lost_row(current, why, progress)
            statuses[current.id] = results[current.id].status
            return
        assert isinstance(event, dict)
        kind = event["event"]
        if kind == "start":
            current, progress = by_id[event["check"]], []
        elif kind == "progress":
            progress.append(event["data"])
        elif kind == "result":
            row = CheckResult.from_dict(event["result"])
            results[row.id] = row
            if by_id[row.id].kind in ("form", "backward"):
                statuses[row.id] = row.status
            current = None
        elif kind == "done":
            return


# =======================================================================================
# pytest


_REPORTS: dict[tuple[object, ...], EngineReport | EngineTargetError] = {}


def engine_suite(
    target: str | type,
    *,
    ops: Sequence[str] | None = None,
    examples: int = DEFAULT_EXAMPLES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    depth_seconds: float = DEFAULT_DEPTH_SECONDS,
    timeout: float = DEFAULT_TIMEOUT,
) -> Callable[[str], None]:
    """A pytest test, parametrised over every check: ``test_it = engine_suite("engine.py")``.

    The checks run once (in one worker process) when the first test runs; each test then
    reports its row: FAIL fails with the op, the point, expected vs got and the code that
    reproduces it; UNSUPPORTED and SKIP rows are skipped; PASS and INFO rows pass.
    """
    import pytest

    ids = [spec.id for spec in plan(ops)]
    where = target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"
    key = (where, tuple(ops or ()), examples, max_depth, depth_seconds, timeout)

    @pytest.mark.parametrize("check", ids)
    def test_engine(check: str) -> None:
        if key not in _REPORTS:
            try:
                _REPORTS[key] = check_engine(
                    target,
                    ops=ops,
                    examples=examples,
                    max_depth=max_depth,
                    depth_seconds=depth_seconds,
                    timeout=timeout,
                )
            except EngineTargetError as error:
                _REPORTS[key] = error
        report = _REPORTS[key]
        if isinstance(report, EngineTargetError):
            pytest.fail(f"cannot check {key[0]}: {report}", pytrace=False)
        row = report.row(check)
        if row.failed:
            pytest.fail(row.message(), pytrace=False)
        if row.status in ("UNSUPPORTED", "SKIP"):
            pytest.skip(f"{row.status} {row.title}: {row.detail}")

    return test_engine
