"""Hostile model files and killed saves: the loader's numbers in issue 13, reproducible.

    python -m bench.hostile_inputs [--flips 1000] [--random 1000] [--kills 220] [--seed 0]

It measures whichever gradstep is importable, so ``PYTHONPATH=<old checkout>`` gives the
numbers before a change.  Every case runs in a subprocess of its own with its address
space capped (``RLIMIT_AS``, 2 GiB) and a timeout, so a loader that allocates without
bound is reported ("timeout", "MemoryError") instead of taking the machine down.  Each
line says what came out: ``ModelFileError`` is the only acceptable failure for a file's
contents; any other exception, a timeout or a file that loads with different weights is
a finding.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMORY_CAP = 2 * 2**30
TIMEOUT = 20.0

# ---------------------------------------------------------------------------------------
# the cases (each runs in a child process; returns what happened, in one line)


def _valid_text(directory: Path) -> tuple[Path, dict[str, float]]:
    """A model file written by this gradstep's own save, and the weights it holds."""
    from gradstep.nn import MLP

    model = MLP(2, [3, 1], seed=0)
    path = directory / "valid.json"
    model.save(path)
    return path, model.state_dict()


def _header(config: str, parameters: str = "{}", version: str = "1") -> str:
    """A model file's text around a config and parameters written by hand."""
    return (
        f'{{"format": "gradstep.model", "version": {version}, '
        f'"model": {{"type": "MLP", "config": {config}}}, "parameters": {parameters}}}'
    )


def _load(path: Path) -> str:
    """MLP.load(path): "loaded" or the exception's type and message."""
    from gradstep.nn import MLP

    MLP.load(path)
    return "loaded"


def _write(directory: Path, text: str) -> Path:
    path = directory / "case.json"
    path.write_text(text, encoding="utf-8")
    return path


def case_nin_1e9(d: Path) -> str:
    """nin = nouts[0] = 10⁹ and no parameters: a 200-byte file."""
    return _load(_write(d, _header('{"nin": 1000000000, "nouts": [1000000000]}')))


def case_nin_1000_empty(d: Path) -> str:
    """nin = 1000, nouts = [1000] (a million parameters) and an empty parameter object."""
    return _load(_write(d, _header('{"nin": 1000, "nouts": [1000]}')))


def case_nin_100_empty(d: Path) -> str:
    """nin = 100, nouts = [100] (10,100 parameters, under every limit), no parameters."""
    return _load(_write(d, _header('{"nin": 100, "nouts": [100]}')))


def case_nesting_990(d: Path) -> str:
    """A parameter value nested 990 lists deep."""
    deep = "[" * 990 + "]" * 990
    return _load(_write(d, _header('{"nin": 1, "nouts": [1]}', f'{{"a": {deep}}}')))


def _digits_case(d: Path, digits: int) -> str:
    path, _ = _valid_text(d)
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc.pop("checksum", None)
    text = json.dumps(doc).replace(
        json.dumps(doc["parameters"]["layer0.neuron0.w0"]), "9" * digits, 1
    )
    return _load(_write(d, text))


def case_int_401_digits(d: Path) -> str:
    """A weight written as a 401-digit integer."""
    return _digits_case(d, 401)


def case_int_5000_digits(d: Path) -> str:
    """A weight written as a 5,000-digit integer."""
    return _digits_case(d, 5000)


def _version_case(d: Path, version: str) -> str:
    path, _ = _valid_text(d)
    text = path.read_text(encoding="utf-8").replace('"version": 1,', f'"version": {version},')
    return _load(_write(d, text))


def case_version_float(d: Path) -> str:
    """ "version": 1.0"""
    return _version_case(d, "1.0")


def case_version_true(d: Path) -> str:
    """ "version": true"""
    return _version_case(d, "true")


def case_duplicate_key(d: Path) -> str:
    """A weight given twice with different values."""
    path, _ = _valid_text(d)
    text = path.read_text(encoding="utf-8")
    text = text.replace('"parameters": {', '"parameters": {\n  "layer0.neuron0.w0": 123.0,', 1)
    return _load(_write(d, text))


def case_nin_float(d: Path) -> str:
    """ "nin": 2.0, through MLP.load and through load_weights."""
    from gradstep.nn import MLP

    path, _ = _valid_text(d)
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc.pop("checksum", None)
    doc["model"]["config"]["nin"] = 2.0
    case = _write(d, json.dumps(doc))
    results = []
    for how, run in (
        ("load", lambda: _load(case)),
        ("load_weights", lambda: MLP(2, [3, 1]).load_weights(case)),
    ):
        results.append(f"{how}: {_outcome(run)}")
    return "; ".join(results)


def case_symlink(d: Path) -> str:
    """Save through a symlink: is the link kept and its target replaced?"""
    from gradstep.nn import MLP

    target = d / "target.json"
    MLP(2, [1], seed=0).save(target)
    link = d / "link.json"
    link.symlink_to(target)
    MLP(2, [1], seed=1).save(link)
    kept = link.is_symlink()
    replaced = MLP.load(target).state_dict() == MLP(2, [1], seed=1).state_dict()
    return f"link kept: {kept}, target replaced: {replaced}"


def case_save_empty_path(d: Path) -> str:
    """save("")"""
    from gradstep.nn import MLP

    os.chdir(d)
    MLP(2, [1]).save("")
    return "saved"


CASES: dict[str, Callable[[Path], str]] = {
    name[len("case_") :]: fn for name, fn in globals().items() if name.startswith("case_")
}


def _outcome(run: Callable[[], object]) -> str:
    """What calling ``run`` did, in one line."""
    try:
        result = run()
    except Exception as error:  # the point is to see every kind
        message = " ".join(str(error).split())
        return f"{type(error).__name__}: {message[:110]}"
    return str(result) if isinstance(result, str) else "ok"


# ---------------------------------------------------------------------------------------
# fuzz batches (also in a child): counts of outcomes


def fuzz_bit_flips(d: Path, n: int, seed: int) -> Counter[str]:
    """Flip one random bit of a checksummed valid file, n times: what does load do?"""
    from gradstep.nn import MLP, ModelFileError

    path, state = _valid_text(d)
    good = path.read_bytes()
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    case = d / "flip.json"
    for _ in range(n):
        data = bytearray(good)
        i = rng.randrange(len(data) * 8)
        data[i // 8] ^= 1 << (i % 8)
        case.write_bytes(bytes(data))
        try:
            loaded = MLP.load(case).state_dict()
        except ModelFileError:
            counts["ModelFileError"] += 1
        except Exception as error:
            counts[f"other: {type(error).__name__}"] += 1
        else:
            counts["loaded, same weights" if loaded == state else "loaded, DIFFERENT weights"] += 1
    return counts


def fuzz_random_bytes(d: Path, n: int, seed: int) -> Counter[str]:
    """Random bytes (0-400 of them, half the time after a valid file's first 60): load?"""
    from gradstep.nn import MLP, ModelFileError

    path, _ = _valid_text(d)
    start = path.read_bytes()[:60]
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    case = d / "random.json"
    for k in range(n):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(400)))
        case.write_bytes(start + data if k % 2 else data)
        try:
            MLP.load(case)
        except ModelFileError:
            counts["ModelFileError"] += 1
        except Exception as error:
            counts[f"other: {type(error).__name__}"] += 1
        else:
            counts["loaded"] += 1
    return counts


# ---------------------------------------------------------------------------------------
# running children


def _child(kind: str, name: str, n: int, seed: int) -> None:
    """In the child: cap memory, run one case or batch, print a JSON line."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        if kind == "case":
            result: object = _outcome(lambda: CASES[name](Path(tmp)))
        elif name == "flips":
            result = dict(fuzz_bit_flips(Path(tmp), n, seed))
        else:
            result = dict(fuzz_random_bytes(Path(tmp), n, seed))
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"result": result, "seconds": seconds, "peak_mb": peak}))


def run_child(
    kind: str, name: str, n: int = 0, seed: int = 0, timeout: float = TIMEOUT
) -> dict[str, object]:
    """Run `_child` in a subprocess; a timeout or a crash is an outcome too."""
    code = (
        f"import sys; sys.path.append({str(ROOT)!r}); "
        "from bench.hostile_inputs import _child; "
        "_child(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))"
    )
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, kind, name, str(n), str(seed)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {
            "result": f"timeout (killed after {timeout:g} s)",
            "seconds": timeout,
            "peak_mb": None,
        }
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {
            "result": f"crashed (exit {proc.returncode}): {last[:100]}",
            "seconds": time.perf_counter() - start,
            "peak_mb": None,
        }
    out: dict[str, object] = json.loads(lines[-1])
    return out


# ---------------------------------------------------------------------------------------
# SIGKILL during save


_SAVER = """
import sys
from gradstep.nn import MLP
path = sys.argv[1]
models = [MLP(2, [8, 8, 1], seed=1), MLP(2, [8, 8, 1], seed=2)]
models[0].save(path)
print("ready", flush=True)
k = 0
while True:
    k += 1
    models[k % 2].save(path)
"""


def sigkill_saves(kills: int, seed: int) -> dict[str, int]:
    """Kill a process that saves in a loop, ``kills`` times: is the file always whole, and
    are the temporary files the kills leave removed by the next save?"""
    from gradstep.nn import MLP

    rng = random.Random(seed)
    states = [MLP(2, [8, 8, 1], seed=s).state_dict() for s in (1, 2)]
    counts = {"kills": 0, "file old or new": 0, "file bad": 0, "kills that left a temp file": 0}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.json"
        for _ in range(kills):
            proc = subprocess.Popen(
                [sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE, text=True
            )
            assert proc.stdout is not None
            proc.stdout.readline()  # "ready": its first save (which cleans up) has finished
            time.sleep(rng.uniform(0.0, 0.02))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
            counts["kills"] += 1
            try:
                ok = MLP.load(path).state_dict() in states
            except Exception:
                ok = False
            counts["file old or new" if ok else "file bad"] += 1
            counts["kills that left a temp file"] += len(list(Path(tmp).iterdir())) > 1
        counts["temp files before the last save"] = len(list(Path(tmp).iterdir())) - 1
        MLP(2, [8, 8, 1], seed=1).save(path)
        counts["temp files after it"] = len(list(Path(tmp).iterdir())) - 1
    return counts


# ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.hostile_inputs", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--flips", type=int, default=1000, help="single-bit flips of a valid file")
    parser.add_argument("--random", type=int, default=1000, help="files of random bytes")
    parser.add_argument("--kills", type=int, default=220, help="SIGKILLs during save")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import gradstep

    print(f"# gradstep from {Path(gradstep.__file__).parent}, Python {sys.version.split()[0]}")
    cap = f"memory capped at {MEMORY_CAP // 2**30} GiB"
    print(f"# each case in its own process, {cap}, {TIMEOUT:g} s timeout\n")
    print("| case | what happened | time | peak memory |")
    print("|---|---|---:|---:|")
    for name, fn in CASES.items():
        r = run_child("case", name)
        peak = f"{r['peak_mb']:.0f} MB" if r["peak_mb"] is not None else "–"
        doc = (fn.__doc__ or name).strip()
        print(f"| {doc} | {r['result']} | {r['seconds']:.2f} s | {peak} |", flush=True)
    print()
    for batch, n in (("flips", args.flips), ("random", args.random)):
        r = run_child("batch", batch, n, args.seed, timeout=600)
        what = "single-bit flips of a valid file" if batch == "flips" else "files of random bytes"
        print(f"{n} {what}: {r['result']}  ({r['seconds']:.1f} s)", flush=True)
    if args.kills:
        print(f"SIGKILL during save: {sigkill_saves(args.kills, args.seed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
