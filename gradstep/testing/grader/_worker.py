"""The worker process of `gradstep test-engine`: imports the user's class and runs the checks.

Run as ``python -m gradstep.testing.grader._worker``.  It reads its configuration as one
JSON line on stdin and writes events as JSON lines on its original stdout, which it keeps
for itself: the user's code prints into the void.  Events, in order::

    {"event": "target-error", "message": ..., "traceback": ...}   (then it exits)
    {"event": "ready", "class": "Value"}
    {"event": "start", "check": id}       {"event": "progress", "check": id, "data": {...}}
    {"event": "result", "check": id, "result": {...}}          ...      {"event": "done"}

The parent (`gradstep.testing.grader.runner`) gives each check a time limit; if the worker hangs
or dies it records that check and starts a new worker that skips the checks already done.
"""

from __future__ import annotations

import faulthandler
import gc
import importlib
import importlib.util
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from gradstep.testing.grader.checks import (
    CheckResult,
    CheckSpec,
    Engine,
    check_backward,
    check_case,
    check_form,
    check_methods,
    describe_error,
    misspelled,
    plan,
    user_frames,
)
from gradstep.testing.grader.graphs import (
    check_dags,
    check_depth,
    check_repeatable,
    check_repeated,
    check_reset,
)
from gradstep.testing.grader.ops import op_names

__all__ = ["main", "load_class", "TargetError", "Options", "run_check"]


@dataclass(frozen=True)
class Options:
    """What the checks may spend: DAG examples and seconds, the chain's depth and seconds."""

    ops: tuple[str, ...]  # the op names the rows and the DAGs cover
    examples: int
    dag_seconds: float
    max_depth: int
    depth_seconds: float


def run_check(
    engine: Engine,
    spec: CheckSpec,
    options: Options,
    progress: Callable[[Mapping[str, Any]], None],
) -> CheckResult:
    """Run one check of the plan on the foreign class (an error from its code fails the row)."""
    try:
        result = _dispatch(engine, spec, options, progress)
    except (Exception, SystemExit) as error:
        result = CheckResult(spec.id, spec.title, "FAIL", f"raised {describe_error(error)}")
    if spec.kind in ("form", "backward"):
        engine.statuses[spec.id] = result.status
    return result


def _dispatch(
    engine: Engine,
    spec: CheckSpec,
    options: Options,
    progress: Callable[[Mapping[str, Any]], None],
) -> CheckResult:
    """The check of the spec's kind."""
    if spec.kind == "backward":
        return check_backward(engine, spec)
    if spec.kind == "form":
        return check_form(engine, spec)
    if spec.kind == "methods":
        return check_methods(engine, spec)
    if spec.kind == "repeatable":
        return check_repeatable(engine, spec)
    if spec.kind == "case":
        return check_case(engine, spec)
    if spec.kind == "dags":
        return check_dags(
            engine, spec, options.ops, options.examples, options.dag_seconds, progress
        )
    if spec.kind == "repeated":
        return check_repeated(engine, spec)
    if spec.kind == "reset":
        return check_reset(engine, spec)
    return check_depth(engine, spec, options.max_depth, options.depth_seconds, progress)


class TargetError(Exception):
    """The target cannot be loaded: the message is one line for the user."""


def _claim_stdout() -> IO[str]:
    """Keep the real stdout for events; point fd 1 and sys.stdout at the null device."""
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    sys.stdout.flush()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (lives as long as the process)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115
    return channel


def _import_file(path: Path) -> Any:
    """Import a Python file as a module (its folder first on sys.path, for its own imports)."""
    if not path.exists():
        raise TargetError(f"no such file: {path}")
    if path.is_dir():
        raise TargetError(f"{path} is a folder: give a .py file, or a module as package.module")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = (
        path.stem
        if path.stem.isidentifier() and path.stem not in sys.modules
        else "_gradstep_target"
    )
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise TargetError(
            f"cannot import {path}: SyntaxError: {error.msg} (line {error.lineno})"
        ) from error
    except BaseException as error:
        raise TargetError(f"cannot import {path}: {_one_line(error, path.name)}") from error
    return module


def _import_module(name: str) -> Any:
    """Import ``package.module`` (the current folder is first on sys.path, as for python -m)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and name.startswith(error.name):
            raise TargetError(
                f"no module named {error.name!r} (from the target {name!r})"
            ) from error
        raise TargetError(f"cannot import {name}: {_one_line(error, None)}") from error
    except BaseException as error:
        raise TargetError(f"cannot import {name}: {_one_line(error, None)}") from error


def _one_line(error: BaseException, filename: str | None) -> str:
    """``NameError: name 'mth' is not defined (engine.py, line 12)``: the line in the user's
    file (``filename``, or any file that is not gradstep's testing code)."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    frames = user_frames(error)
    user = [f for f in frames if filename is None or Path(f.filename).name == filename]
    if user:
        text += f" ({Path(user[-1].filename).name}, line {user[-1].lineno})"
    return " ".join(text.split())


def load_class(kind: str, location: str, class_name: str) -> tuple[type, str]:
    """The class, and the import line a reproduction starts with."""
    if kind == "file":
        module = _import_file(Path(location))
        import_line = f"from {Path(location).stem} import {class_name.split('.')[0]}"
    else:
        module = _import_module(location)
        import_line = f"from {location} import {class_name.split('.')[0]}"
    found: Any = module
    for part in class_name.split("."):
        found = getattr(found, part, None)
        if found is None:
            classes = sorted(
                name
                for name, obj in vars(module).items()
                if isinstance(obj, type) and obj.__module__ == module.__name__
            )
            offer = f" (it defines {', '.join(classes)})" if classes else " (it defines no class)"
            raise TargetError(f"{location} has no class {class_name!r}{offer}")
    if not isinstance(found, type):
        raise TargetError(f"{location}:{class_name} is a {type(found).__name__}, not a class")
    from gradstep.engine import Value

    if found is Value and not (kind == "module" and location.startswith("gradstep")):
        raise TargetError(
            f"{location}:{class_name} is gradstep's own Value ({location} imports it from "
            f"gradstep): test-engine checks a class you wrote; define {class_name} in "
            f"{location}, or give the file that does"
        )
    _check_shape(found)
    return found, import_line


def _check_shape(cls: type) -> None:
    """Refuse a class that is not micrograd-shaped: Value(1.5) with .data, .grad, .backward()."""
    name = cls.__name__
    try:
        v = cls(1.5)
    except BaseException as error:
        raise TargetError(
            f"{name}(1.5) raised {_one_line(error, None)}: test-engine needs {name}(data)"
            + misspelled(cls, "__init__")
        ) from error
    for attribute in ("data", "grad"):
        if not hasattr(v, attribute):
            raise TargetError(f"{name}(1.5) has no .{attribute}: not a micrograd-style Value class")
    if not callable(getattr(v, "backward", None)):
        raise TargetError(
            f"{name}(1.5) has no backward() method: not a micrograd-style Value class"
        )


def _stack_on_request() -> None:
    """On SIGUSR1 print the stack to stderr (POSIX): the parent asks before killing a check
    that hangs, to say where the user's code was."""
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=False)


def _cap_memory(megabytes: int | None) -> None:
    """Limit this process's address space (POSIX): the user's code then gets a MemoryError."""
    if megabytes is None:
        return
    try:
        import resource
    except ImportError:  # not POSIX: no cap
        return
    limit = megabytes * 2**20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _send(channel: IO[str], event: Mapping[str, Any]) -> None:
    """One event, one line."""
    channel.write(json.dumps(event, allow_nan=True) + "\n")
    channel.flush()


def main() -> int:
    """Read the configuration, load the class, run every check not yet done."""
    _stack_on_request()
    config = json.loads(sys.stdin.readline())
    channel = _claim_stdout()
    for entry in reversed(config.get("path", [])):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    import hypothesis  # noqa: F401  (before the user's folder can shadow it)

    _cap_memory(config.get("memory_mb"))

    try:
        cls, import_line = load_class(config["kind"], config["location"], config["class"])
    except TargetError as error:
        cause = error.__cause__
        details = "".join(traceback.format_exception(cause)) if cause is not None else ""
        _send(channel, {"event": "target-error", "message": str(error), "traceback": details})
        return 0
    gc.freeze()  # what is loaded now stays: the chain check's collections scan only its graphs
    _send(channel, {"event": "ready", "class": cls.__name__})
    engine = Engine(cls, import_line, dict(config.get("statuses", {})))
    options = Options(
        ops=op_names(config.get("ops")),
        examples=int(config["examples"]),
        dag_seconds=float(config["dag_seconds"]),
        max_depth=int(config["max_depth"]),
        depth_seconds=float(config["depth_seconds"]),
    )
    done = set(config.get("skip", []))
    for spec in plan(config.get("ops")):
        if spec.id in done:
            continue
        _send(channel, {"event": "start", "check": spec.id})

        def progress(data: Mapping[str, Any], check: str = spec.id) -> None:
            _send(channel, {"event": "progress", "check": check, "data": dict(data)})

        result = run_check(engine, spec, options, progress)
        _send(channel, {"event": "result", "check": spec.id, "result": result.to_dict()})
    _send(channel, {"event": "done"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
