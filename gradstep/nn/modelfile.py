"""The JSON model file: written atomically with a checksum, read with every limit checked first.

A file looks like this (one line per field and per parameter, so it reads and diffs well)::

    {
     "format": "gradstep.model",
     "version": 1,
     "model": {"type": "MLP", "config": {"nin": 2, "nouts": [16, 1], ...}},
     "checksum": "sha256:5f0c…",
     "parameters": {
      "layer0.neuron0.w0": 0.2316,
      ...
     }
    }

Reading never trusts the file: its size, nesting, integers, keys and values are checked
against the limits below before anything is built, and every problem with the contents is
a `ModelFileError` naming the file.  The checksum is the SHA-256 of the model and the
parameters in a canonical form, so a changed weight is caught; a file without one (as
written before checksums existed) still loads.  `gradstep.nn` checks the architecture
against the parameter count before it allocates a single `Value`.

Writing goes to a temporary file ``.NAME.gradstep-tmp.PID.HOST.TOKEN`` in the target's
directory, then `os.replace`; the temporary files of saves that were killed are removed by
the next save into that directory.  A symlink is followed: its target is replaced, the
link is kept.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any, TypeAlias

__all__ = [
    "ModelFileError",
    "ModelFile",
    "read_model_file",
    "write_model_file",
    "document_text",
    "checksum",
    "check_number",
    "short_repr",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_FILE_BYTES",
    "MAX_PARAMETERS",
    "MAX_DEPTH",
    "MAX_CONTAINERS",
    "MAX_INT_DIGITS",
]

PathLike: TypeAlias = "str | os.PathLike[str]"

#: the ``format`` field of every model file
FORMAT_NAME = "gradstep.model"
#: the version of the model file written by `write_model_file` (an integer)
FORMAT_VERSION = 1
#: the largest model file read, in bytes (a million parameters take about 50 MB)
MAX_FILE_BYTES = 64 * 2**20
#: the most parameters a model file may hold (and a module may have to be saved)
MAX_PARAMETERS = 1_000_000
#: the deepest nesting of objects and lists (a gradstep model file nests 4 deep)
MAX_DEPTH = 20
#: the most objects and lists in one file (a gradstep model file has 4 or 5)
MAX_CONTAINERS = 10_000
#: the most digits in an integer (sizes and the version; weights are written as floats)
MAX_INT_DIGITS = 20

_FIELDS = ("format", "version", "model", "checksum", "parameters")
_CHECKSUM_PREFIX = "sha256:"
_CHECKSUM = re.compile(r"sha256:[0-9a-f]{64}")
_TEMP_MARK = ".gradstep-tmp."
_NAME_IN_TEMP = 100  # characters of the target's name kept in a temporary file's name
_ORPHAN_AGE = 3600.0  # seconds after which any temporary file is an orphan (other hosts)
# the temporary files written before this module existed: .NAME.PID.TOKEN.tmp
_OLD_TEMP = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{12}\.tmp")

# JSON with every string, then everything but brackets, taken out (for the nesting check)
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class ModelFileError(ValueError):
    """A model file or state that cannot be loaded: corrupt, wrong version, or mismatched."""


class _Refused(Exception):
    """Raised from inside the JSON parser's hooks; becomes a `ModelFileError`."""


@dataclass(frozen=True)
class ModelFile:
    """A model file that passed every check: the module's type, its config, its parameters."""

    path: str
    type: str
    config: dict[str, Any]
    parameters: dict[str, float]
    checksum: str | None  # "sha256:…", verified; None for a file written without one


# ---------------------------------------------------------------------------------------
# writing


def document_text(
    model_type: str, config: Mapping[str, Any], parameters: Mapping[str, float]
) -> str:
    """The model file's text: one line per top-level field and one per parameter."""
    if len(parameters) > MAX_PARAMETERS:
        raise ValueError(
            f"cannot save: {len(parameters):,} parameters is more than a model file holds "
            f"(MAX_PARAMETERS = {MAX_PARAMETERS:,})"
        )
    for name, value in parameters.items():
        if not math.isfinite(value):
            raise ValueError(f"cannot save: parameter {name} is {value!r} (not finite)")
    model = {"type": model_type, "config": dict(config)}
    head = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "model": model,
        "checksum": checksum(model, parameters),
    }
    lines = [f" {json.dumps(k)}: {json.dumps(v, allow_nan=False)}" for k, v in head.items()]
    params = [f"  {json.dumps(k)}: {json.dumps(float(v))}" for k, v in parameters.items()]
    lines.append(' "parameters": {\n' + ",\n".join(params) + "\n }")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def checksum(model: Mapping[str, Any], parameters: Mapping[str, float]) -> str:
    """``sha256:`` + SHA-256 of the model and parameters as canonical JSON (sorted, compact)."""
    payload = json.dumps(
        {"model": model, "parameters": {k: float(v) for k, v in parameters.items()}},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return _CHECKSUM_PREFIX + hashlib.sha256(payload.encode("ascii")).hexdigest()


def write_model_file(path: PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file + `os.replace`); return ``path``.

    A symlink is followed and its target replaced.  The temporary files of earlier saves
    into the same directory that were killed mid-write are removed afterwards.
    """
    given = Path(path)
    if os.fspath(path) == "":
        raise ValueError("cannot save: the path is empty")
    target = _resolve_target(given)
    if target.is_dir():
        raise IsADirectoryError(f"cannot save to {given}: it is a directory")
    directory = target.parent
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot save to {given}: directory {directory} does not exist")
    prefix = _temp_prefix(target.name)
    # a fresh name opened with "x" (unlike mkstemp's 0600, the file gets the umask's mode)
    tmp = directory / f"{prefix}{os.getpid()}.{_HOST}.{secrets.token_hex(6)}"
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(OSError):  # keep the permissions of the file replaced
            os.chmod(tmp, os.stat(target).st_mode & 0o7777)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_directory(directory)
    _remove_orphans(directory, target.name)
    return given


def _resolve_target(path: Path) -> Path:
    """The file a save replaces: ``path`` itself, or the file a symlink points to."""
    if not path.is_symlink():
        return path
    try:
        return Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:  # a dangling link: create its target
        return Path(os.path.realpath(path))
    except OSError as error:
        raise OSError(f"cannot save to {path}: cannot follow the symlink ({error})") from None


def _host_tag() -> str:
    """Eight hex digits naming this machine (so a save only judges its own host's processes)."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


_HOST = _host_tag()


def _temp_prefix(name: str) -> str:
    """``.NAME.gradstep-tmp.``: the start of every temporary file a save of NAME writes."""
    return f".{name[:_NAME_IN_TEMP]}{_TEMP_MARK}"


def _sync_directory(directory: Path) -> None:
    """fsync the directory, so the rename survives a power cut (POSIX; best effort)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_orphans(directory: Path, name: str) -> None:
    """Delete the temporary files that killed saves of ``name`` left in ``directory``.

    A temporary file is an orphan when the process that wrote it (on this host) has ended,
    or when it is older than an hour; a save in progress in another process is left alone.
    """
    prefix = _temp_prefix(name)
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        owner = _temp_owner(entry.name, prefix, name)
        if owner is None:
            continue
        pid, host = owner
        if host == _HOST and pid is not None and _process_alive(pid):
            continue
        if host != _HOST and not _older_than(entry, _ORPHAN_AGE):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)


def _temp_owner(filename: str, prefix: str, name: str) -> tuple[int | None, str] | None:
    """(pid, host tag) of a temporary file of a save of ``name``; None if it is not one."""
    if filename.startswith(prefix):
        parts = filename[len(prefix) :].split(".")
        if len(parts) == 3 and parts[0].isdigit():
            return int(parts[0]), parts[1]
        return None
    old = _OLD_TEMP.fullmatch(filename)
    if old is not None and old["name"] == name:
        return int(old["pid"]), _HOST
    return None


def _process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (POSIX; elsewhere: assume so)."""
    if os.name != "posix" or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def _older_than(entry: os.DirEntry[str], seconds: float) -> bool:
    """Whether a directory entry was last modified more than ``seconds`` ago."""
    try:
        return time.time() - entry.stat(follow_symlinks=False).st_mtime > seconds
    except OSError:
        return False


# ---------------------------------------------------------------------------------------
# reading


def read_model_file(path: PathLike) -> ModelFile:
    """Read ``path`` and check everything but the architecture (see `gradstep.nn`).

    Raises `FileNotFoundError` for a missing file, `ModelFileError` naming the file and the
    problem for anything wrong with its contents, and `OSError` if it cannot be read.
    """
    if os.fspath(path) == "":
        raise ModelFileError("cannot load a model: the path is empty")
    text = _read_text(path)
    document = _parse(path, text)
    return _check_document(path, document)


def _read_text(path: PathLike) -> str:
    """The file's text, refusing a file over `MAX_FILE_BYTES` before reading it, and anything
    but a regular file (a FIFO would wait forever for a writer; a device may never end)."""
    try:
        # non-blocking: opening a FIFO for reading returns at once instead of waiting
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"model file not found: {path}") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, not a model file") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ModelFileError(f"{path}: a loop of symbolic links, not a model file") from None
        raise
    try:
        status = os.fstat(fd)
        if stat.S_ISDIR(status.st_mode):
            raise ModelFileError(f"{path}: is a directory, not a model file")
        if not stat.S_ISREG(status.st_mode):
            raise ModelFileError(f"{path}: is {_file_kind(status.st_mode)}, not a model file")
        if status.st_size > MAX_FILE_BYTES:
            raise ModelFileError(_too_large(path))
    except BaseException:
        os.close(fd)
        raise
    with open(fd, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)  # (it may have grown since)
    if len(data) > MAX_FILE_BYTES:
        raise ModelFileError(_too_large(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: not a gradstep model file (not UTF-8 text)") from None


def _file_kind(mode: int) -> str:
    """What a file that is not a regular file is: "a FIFO (named pipe)", "a device"…"""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _too_large(path: PathLike) -> str:
    return (
        f"{path}: not a gradstep model file (larger than {MAX_FILE_BYTES:,} bytes, "
        "the limit MAX_FILE_BYTES)"
    )


def _parse(path: PathLike, text: str) -> Any:
    """JSON with the nesting, integer sizes and duplicate keys checked."""
    problem = _structure_problem(text)
    if problem is not None:
        raise ModelFileError(f"{path}: not a gradstep model file ({problem})")
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_int=_bounded_int)
    except json.JSONDecodeError as error:
        raise ModelFileError(
            f"{path}: corrupt model file (invalid JSON at line {error.lineno}, "
            f"column {error.colno}: {error.msg})"
        ) from None
    except _Refused as error:
        raise ModelFileError(f"{path}: corrupt model file ({error})") from None


def _structure_problem(text: str) -> str | None:
    """Too deep or too many objects and lists, found without parsing (so no recursion)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", _ESCAPE.sub("", text)))
    depth = 0
    for ch in brackets[: 2 * MAX_CONTAINERS + 1]:  # at most the limit: a loop in Python
        depth += 1 if ch in "[{" else -1
        if depth > MAX_DEPTH:
            return f"nested more than {MAX_DEPTH} deep, the limit MAX_DEPTH"
    if len(brackets) > 2 * MAX_CONTAINERS:
        return f"more than {MAX_CONTAINERS:,} objects and lists, the limit MAX_CONTAINERS"
    return None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing a key that appears twice."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"the key {key!r} appears twice in one object")
            seen.add(key)
    return out


def _bounded_int(digits: str) -> int:
    """A JSON integer of at most `MAX_INT_DIGITS` digits."""
    n = len(digits) - digits.startswith("-")
    if n > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {n:,} digits, more than MAX_INT_DIGITS = {MAX_INT_DIGITS}")
    return int(digits)


def _check_document(path: PathLike, document: Any) -> ModelFile:
    """Check the envelope, the parameter values and the checksum."""
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ModelFileError(
            f'{path}: not a gradstep model file (no "format": "{FORMAT_NAME}" field)'
        )
    version = document.get("version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format version {short_repr(version)} is not supported "
            f"(this gradstep reads version {FORMAT_VERSION}, an integer)"
        )
    unknown = [key for key in document if key not in _FIELDS]
    if unknown:
        raise ModelFileError(f"{path}: corrupt model file (unknown field {short_repr(unknown[0])})")
    model = document.get("model")
    if (
        not isinstance(model, dict)
        or set(model) != {"type", "config"}
        or not isinstance(model["type"], str)
        or not isinstance(model["config"], dict)
    ):
        raise ModelFileError(
            f'{path}: corrupt model file ("model" needs a type and a config, and nothing else)'
        )
    raw = document.get("parameters")
    if not isinstance(raw, dict):
        raise ModelFileError(f'{path}: corrupt model file ("parameters" must be an object)')
    if len(raw) > MAX_PARAMETERS:
        raise ModelFileError(
            f"{path}: the file holds {len(raw):,} parameters, more than "
            f"MAX_PARAMETERS = {MAX_PARAMETERS:,}"
        )
    try:
        parameters = {name: check_number(name, value) for name, value in raw.items()}
    except ModelFileError as error:
        raise ModelFileError(f"{path}: {error}") from None
    stored = document.get("checksum")
    if stored is not None:
        if not isinstance(stored, str) or not _CHECKSUM.fullmatch(stored):
            raise ModelFileError(
                f'{path}: corrupt model file ("checksum" must be "sha256:" and 64 hex digits, '
                f"got {short_repr(stored)})"
            )
        if checksum(model, parameters) != stored:
            raise ModelFileError(
                f"{path}: the checksum does not match the contents: the file was changed or "
                "damaged after it was saved (if you edited it on purpose, delete the "
                '"checksum" line)'
            )
    return ModelFile(os.fspath(path), model["type"], model["config"], parameters, stored)


def check_number(name: str, value: object) -> float:
    """A parameter value must be a finite real number (not a bool)."""
    x = math.nan
    if not isinstance(value, bool) and isinstance(value, Real):
        with contextlib.suppress(OverflowError, ValueError):  # e.g. an int of 400 digits
            x = float(value)
    if not math.isfinite(x):
        raise ModelFileError(f"parameter {name} must be a finite number, got {short_repr(value)}")
    return x


def short_repr(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters for an error message."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        text = f"<{type(value).__name__} too long to show>"
    return text if len(text) <= limit else text[: limit - 1] + "…"
