"""Hostile model files and interrupted saves (issue 13): check before building, never blow up.

Every case the issue measured is a test here; a Hypothesis fuzz test feeds the loader random
bytes and mutated valid files; a fault-injection test kills a saving process 30 times.
``python -m bench.hostile_inputs`` prints the same numbers at the issue's sizes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gradstep.nn import MLP, Layer, ModelFileError, Neuron, modelfile

# ---------------------------------------------------------------------------------------
# helpers


@contextmanager
def count_built_parameters() -> Iterator[list[int]]:
    """Count the weights every `Neuron` built inside the block allocates (+1 for its bias)."""
    built = [0]
    original = Neuron.__init__

    def spy(self: Neuron, nin: int, *args: Any, **kwargs: Any) -> None:
        built[0] += int(nin) + 1
        original(self, nin, *args, **kwargs)

    Neuron.__init__ = spy  # type: ignore[method-assign]
    try:
        yield built
    finally:
        Neuron.__init__ = original  # type: ignore[method-assign]


def header(config: str, parameters: str = "{}", version: str = "1") -> str:
    """A model file written by hand around a config and parameters."""
    return (
        f'{{"format": "gradstep.model", "version": {version}, '
        f'"model": {{"type": "MLP", "config": {config}}}, "parameters": {parameters}}}'
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def without_checksum(path: Path, change: Callable[[dict[str, Any]], object]) -> Path:
    """Edit a saved file's document by hand (so without its checksum)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc.pop("checksum", None)
    change(doc)
    return write(path, json.dumps(doc))


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "m.json"
    MLP(2, [3, 1], seed=0).save(path)
    return path


# ---------------------------------------------------------------------------------------
# the cases: sizes checked before anything is built


def test_a_200_byte_file_asking_for_a_billion_inputs_is_refused_before_building(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "m.json", header('{"nin": 1000000000, "nouts": [1000000000]}'))
    assert path.stat().st_size < 200
    with count_built_parameters() as built, pytest.raises(ModelFileError) as caught:
        MLP.load(path)
    assert built[0] == 0, f"built {built[0]} parameters before refusing"
    message = str(caught.value)
    assert str(path) in message
    assert "nin must be an integer from 1 to 1,000,000, got 1000000000" in message


def test_a_million_parameters_with_an_empty_parameter_object_builds_nothing(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "m.json", header('{"nin": 1000, "nouts": [1000]}'))
    with count_built_parameters() as built, pytest.raises(ModelFileError) as caught:
        MLP.load(path)
    assert built[0] == 0
    assert "more than 1,000,000 parameters, the limit MAX_PARAMETERS" in str(caught.value)


def test_the_parameter_count_is_compared_with_the_file_before_building(tmp_path: Path) -> None:
    # 10,100 parameters is within every limit: only the count can refuse it early
    path = write(tmp_path / "m.json", header('{"nin": 100, "nouts": [100]}'))
    existing = MLP(100, [100])
    for load in (lambda: MLP.load(path), lambda: existing.load_weights(path)):
        with count_built_parameters() as built, pytest.raises(ModelFileError) as caught:
            load()
        assert built[0] == 0
        assert "has 10,100 parameters, but the file holds 0" in str(caught.value)


def test_json_nested_990_deep_is_a_model_file_error_not_a_recursion_error(
    tmp_path: Path,
) -> None:
    deep = "[" * 990 + "]" * 990
    path = write(tmp_path / "m.json", header('{"nin": 1, "nouts": [1]}', f'{{"a": {deep}}}'))
    with pytest.raises(ModelFileError, match=r"m\.json: .*nested more than 20 deep"):
        MLP.load(path)
    # 100,000 deep, brackets inside strings ignored
    path = write(tmp_path / "m.json", '{"a": "[[[[", "b": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ModelFileError, match="nested more than 20 deep"):
        MLP.load(path)


@pytest.mark.parametrize("digits", [401, 5000])
def test_a_weight_written_as_a_huge_integer_is_a_model_file_error(saved: Path, digits: int) -> None:
    without_checksum(saved, lambda d: d["parameters"].update({"layer0.neuron0.w0": 0}))
    text = saved.read_text(encoding="utf-8").replace(
        '"layer0.neuron0.w0": 0', '"layer0.neuron0.w0": ' + "9" * digits
    )
    write(saved, text)
    with pytest.raises(ModelFileError) as caught:
        MLP.load(saved)
    assert str(caught.value) == (
        f"{saved}: corrupt model file (an integer of {digits:,} digits, more than "
        "MAX_INT_DIGITS = 20)"
    )


@pytest.mark.parametrize("version", ["1.0", "true", '"1"', "2", "0"])
def test_only_the_integer_version_1_is_accepted(saved: Path, version: str) -> None:
    text = saved.read_text(encoding="utf-8")
    assert '"version": 1,' in text
    write(saved, text.replace('"version": 1,', f'"version": {version},'))
    shown = {"true": "True", '"1"': "'1'"}.get(version, version)
    with pytest.raises(ModelFileError, match=f"format version {shown} is not supported"):
        MLP.load(saved)


def test_a_duplicate_key_is_refused_not_silently_the_last(saved: Path) -> None:
    text = saved.read_text(encoding="utf-8")
    write(
        saved, text.replace('"parameters": {', '"parameters": {\n  "layer0.neuron0.w0": 123.0,', 1)
    )
    with pytest.raises(ModelFileError, match=r"the key 'layer0\.neuron0\.w0' appears twice"):
        MLP.load(saved)
    write(saved, text.replace('"version": 1,', '"version": 1, "version": 1,'))
    with pytest.raises(ModelFileError, match="the key 'version' appears twice"):
        MLP.load(saved)


@pytest.mark.parametrize("bad", [2.0, True, "2", -1, 0, [2]])
def test_load_and_load_weights_refuse_a_non_integer_size_alike(saved: Path, bad: object) -> None:
    without_checksum(saved, lambda d: d["model"]["config"].update(nin=bad))
    model = MLP(2, [3, 1], seed=9)
    before = model.state_dict()
    messages = []
    for load in (lambda: MLP.load(saved), lambda: model.load_weights(saved)):
        with pytest.raises(ModelFileError) as caught:
            load()
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert f"nin must be an integer from 1 to 1,000,000, got {bad!r}" in messages[0]
    assert model.state_dict() == before


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ('{"nin": 2, "nouts": []}', "nouts must be a non-empty list of layer sizes, got []"),
        ('{"nin": 2, "nouts": 3}', "nouts must be a non-empty list of layer sizes, got 3"),
        ('{"nin": 2, "nouts": [3, 1.5]}', "nouts[1] must be an integer"),
        ('{"nin": 2, "nouts": [1], "activation": "swish"}', "linear, got 'swish'"),
        ('{"nin": 2, "nouts": [1], "seed": 3}', "unknown setting 'seed'"),
        ('{"nouts": [1]}', "missing nin"),
        ('{"nin": 2, "nouts": [' + ",".join(["1000"] * 1001) + "]}", "more than 1,000,000"),
    ],
)
def test_a_bad_config_is_named(tmp_path: Path, config: str, problem: str) -> None:
    path = write(tmp_path / "m.json", header(config))
    with count_built_parameters() as built, pytest.raises(ModelFileError) as caught:
        MLP.load(path)
    assert built[0] == 0
    assert f"{path}: cannot build a MLP from config" in str(caught.value)
    assert problem in str(caught.value)


def test_layer_and_neuron_configs_are_checked_too(tmp_path: Path) -> None:
    doc = {"format": "gradstep.model", "version": 1, "parameters": {}}
    doc["model"] = {"type": "Layer", "config": {"nin": 3, "nout": 10**7, "activation": "relu"}}
    path = write(tmp_path / "l.json", json.dumps(doc))
    with count_built_parameters() as built, pytest.raises(ModelFileError, match="nout must be"):
        Layer.load(path)
    doc["model"] = {"type": "Neuron", "config": {"nin": 4, "activation": "tanh"}}
    write(path, json.dumps(doc))
    with pytest.raises(
        ModelFileError, match=r"Neuron\(nin=4, .*has 5 parameters, but the file holds 0"
    ):
        Neuron.load(path)
    assert built[0] == 0


def test_unknown_fields_are_refused(saved: Path) -> None:
    without_checksum(saved, lambda d: d.update(comment="hi"))
    with pytest.raises(ModelFileError, match="unknown field 'comment'"):
        MLP.load(saved)
    without_checksum(saved, lambda d: (d.pop("comment"), d["model"].update(extra=1)))
    with pytest.raises(ModelFileError, match='"model" needs a type and a config, and nothing else'):
        MLP.load(saved)


def test_limits_on_size_and_containers(
    saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = write(tmp_path / "many.json", "[" + ",".join(["[]"] * 10_001) + "]")
    with pytest.raises(ModelFileError, match="more than 10,000 objects and lists"):
        MLP.load(many)
    monkeypatch.setattr(modelfile, "MAX_FILE_BYTES", 100)
    with pytest.raises(ModelFileError, match="larger than 100 bytes"):
        MLP.load(saved)
    if Path("/dev/zero").exists():  # endless: refused before reading, as not a regular file
        with pytest.raises(ModelFileError, match="/dev/zero: is a device, not a model file"):
            MLP.load("/dev/zero")


def test_a_model_over_the_parameter_limit_is_not_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(modelfile, "MAX_PARAMETERS", 10)
    with pytest.raises(ValueError, match="13 parameters is more than a model file holds"):
        MLP(2, [3, 1]).save(tmp_path / "m.json")
    assert list(tmp_path.iterdir()) == []


def test_paths_that_are_not_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="cannot save: the path is empty"):
        MLP(2, [1]).save("")
    with pytest.raises(IsADirectoryError, match=f"cannot save to {tmp_path}: it is a directory"):
        MLP(2, [1]).save(tmp_path)
    with pytest.raises(ModelFileError, match="the path is empty"):
        MLP.load("")
    with pytest.raises(ModelFileError, match="is a directory, not a model file"):
        MLP.load(tmp_path)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------
# the checksum


def test_the_checksum_is_written_and_a_changed_weight_is_caught(saved: Path) -> None:
    text = saved.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc["checksum"] == modelfile.checksum(doc["model"], doc["parameters"])
    assert doc["checksum"].startswith("sha256:") and len(doc["checksum"]) == 7 + 64
    w = json.dumps(doc["parameters"]["layer0.neuron0.w1"])
    write(saved, text.replace(w, json.dumps(float(w) + 1e-12)))
    model = MLP(2, [3, 1], seed=9)
    before = model.state_dict()
    with pytest.raises(ModelFileError, match="the checksum does not match the contents"):
        model.load_weights(saved)
    assert model.state_dict() == before


def test_the_checksum_covers_the_architecture(saved: Path) -> None:
    text = saved.read_text(encoding="utf-8")
    write(saved, text.replace('"activation": "relu"', '"activation": "tanh"'))
    with pytest.raises(ModelFileError, match="checksum does not match"):
        MLP.load(saved)


def test_the_checksum_ignores_how_numbers_are_written(saved: Path) -> None:
    text = saved.read_text(encoding="utf-8")
    write(saved, text.replace('"layer0.neuron0.b": 0.0', '"layer0.neuron0.b": 0E+00'))
    assert MLP.load(saved).state_dict() == MLP(2, [3, 1], seed=0).state_dict()


@pytest.mark.parametrize("bad", ["sha256:00", "md5:" + "0" * 64, 7, "SHA256:" + "0" * 64])
def test_a_malformed_checksum_is_refused(saved: Path, bad: object) -> None:
    doc = json.loads(saved.read_text(encoding="utf-8"))
    doc["checksum"] = bad
    write(saved, json.dumps(doc))
    with pytest.raises(ModelFileError, match='"checksum" must be "sha256:" and 64 hex digits'):
        MLP.load(saved)


# written by gradstep 0.1.0 before checksums existed (byte for byte)
OLD_FILE = """{
 "format": "gradstep.model",
 "version": 1,
 "model": {"type": "MLP", "config": {"nin": 2, "nouts": [2, 1], "activation": "tanh", \
"output_activation": "linear"}},
 "parameters": {
  "layer0.neuron0.w0": -0.5240707458162173,
  "layer0.neuron0.w1": 0.08845845059190371,
  "layer0.neuron0.b": 0.0,
  "layer0.neuron1.w0": -0.2600896669038415,
  "layer0.neuron1.w1": 0.20784007719238895,
  "layer0.neuron1.b": 0.0,
  "layer1.neuron0.w0": 0.25144060821610803,
  "layer1.neuron0.w1": -0.8689422815203738,
  "layer1.neuron0.b": 0.0
 }
}
"""


def test_a_file_written_before_checksums_still_loads(tmp_path: Path) -> None:
    path = write(tmp_path / "old.json", OLD_FILE)
    model = MLP.load(path)
    assert model.state_dict() == MLP(2, [2, 1], activation="tanh", seed=3).state_dict()
    other = MLP(2, [2, 1], activation="tanh", seed=4)
    other.load_weights(path)
    assert other.state_dict() == model.state_dict()
    # saving it again writes the same lines, plus the checksum
    model.save(tmp_path / "new.json")
    new = (tmp_path / "new.json").read_text(encoding="utf-8").splitlines()
    assert [line for line in new if '"checksum"' not in line] == OLD_FILE.splitlines()


# ---------------------------------------------------------------------------------------
# saving: symlinks, permissions, temporary files


@pytest.mark.skipif(os.name != "posix", reason="symlinks and modes are POSIX here")
def test_saving_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "store"
    real.mkdir()
    target = real / "model.json"
    MLP(2, [1], seed=0).save(target)
    target.chmod(0o600)
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    second = MLP(2, [1], seed=1)
    assert second.save(link) == link
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert MLP.load(target).state_dict() == second.state_dict()
    assert target.stat().st_mode & 0o777 == 0o600  # the replaced file's mode is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.json", "store"]
    assert [p.name for p in real.iterdir()] == ["model.json"]


@pytest.mark.skipif(os.name != "posix", reason="symlinks are POSIX here")
def test_a_dangling_symlink_gets_its_target_created(tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "target.json")
    MLP(2, [1], seed=0).save(link)
    assert link.is_symlink() and (tmp_path / "target.json").is_file()
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    with pytest.raises(OSError, match="cannot follow the symlink"):
        MLP(2, [1]).save(loop)


def _dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.skipif(os.name != "posix", reason="process ids are checked on POSIX")
def test_a_save_removes_the_temporary_files_of_killed_saves_only(tmp_path: Path) -> None:
    host = modelfile._HOST
    dead, alive = _dead_pid(), os.getpid()
    files = {
        f".m.json.gradstep-tmp.{dead}.{host}.0123456789ab": False,  # killed save: removed
        f".m.json.{dead}.0123456789ab.tmp": False,  # killed save of gradstep 0.1.0: removed
        f".m.json.gradstep-tmp.{alive}.{host}.0123456789ab": True,  # running save: kept
        f".m.json.gradstep-tmp.{dead}.0badc0de.0123456789ab": True,  # recent, other host: kept
        f".other.json.gradstep-tmp.{dead}.{host}.0123456789ab": True,  # another file's: kept
        ".m.json.gradstep-tmp.notes": True,  # not a temporary file's name: kept
        "m.json.bak": True,
    }
    for name in files:
        (tmp_path / name).write_text("{", encoding="utf-8")
    stale = tmp_path / ".m.json.gradstep-tmp.1.0badc0de.0123456789ab"  # other host, 2 h old
    stale.write_text("{", encoding="utf-8")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    MLP(2, [1]).save(tmp_path / "m.json")
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {name for name, kept in files.items() if kept} | {"m.json"}


def test_a_failed_write_leaves_no_temporary_file_and_a_long_name_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long = tmp_path / ("m" * 240 + ".json")  # the temporary name must stay under 255 bytes
    MLP(2, [1], seed=0).save(long)
    assert MLP.load(long).state_dict() == MLP(2, [1], seed=0).state_dict()

    def full(fd: int) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        MLP(2, [1], seed=1).save(long)
    assert [p.name for p in tmp_path.iterdir()] == [long.name]


_SAVER = """
import sys
from gradstep.nn import MLP
models = [MLP(2, [8, 8, 1], seed=1), MLP(2, [8, 8, 1], seed=2)]
models[0].save(sys.argv[1])
print("ready", flush=True)
k = 0
while True:
    k += 1
    models[k % 2].save(sys.argv[1])
"""


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_killing_a_save_30_times_never_leaves_a_bad_file_or_orphans(tmp_path: Path) -> None:
    rng = random.Random(13)
    path = tmp_path / "m.json"
    states = [MLP(2, [8, 8, 1], seed=s).state_dict() for s in (1, 2)]
    left_one = 0
    for kill in range(30):
        proc = subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.02))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        proc.stdout.close()
        state = MLP.load(path).state_dict()
        assert state in states, f"after kill {kill + 1} the file holds neither model"
        temporary = len(list(tmp_path.iterdir())) - 1
        # the killed process's own first save removed the kills' temporary files before it
        assert temporary <= 1, f"after kill {kill + 1}: {temporary} temporary files"
        left_one += temporary
    MLP(2, [8, 8, 1], seed=1).save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"], (
        f"orphans survived a save ({left_one} of 30 kills left a temporary file)"
    )


# ---------------------------------------------------------------------------------------
# fuzz: anything the loader is given loads a valid model or raises ModelFileError


def _load_outcome(path: Path) -> tuple[MLP | None, int]:
    """MLP.load(path), or None if it raised ModelFileError; and the parameters it built."""
    with count_built_parameters() as built:
        try:
            model = MLP.load(path)
        except ModelFileError:
            model = None
    return model, built[0]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=600))
@example(data=b"")
@example(data=b'{"format": "gradstep.model", "version": 1, "model": ' + b"[" * 5000)
@example(data=b'"\\' + b'\\"' * 3000)  # an escaped quote after another: no backtracking
def test_fuzz_random_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.json"
    path.write_bytes(data)
    model, built = _load_outcome(path)
    assert model is None, f"random bytes loaded as a model: {data!r}"
    assert built == 0


@st.composite
def saved_models(draw: st.DrawFn) -> tuple[str, MLP]:
    """A small random MLP and the text its save writes."""
    nin = draw(st.integers(1, 3))
    nouts = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    activation = draw(st.sampled_from(["relu", "tanh", "linear"]))
    model = MLP(nin, nouts, activation=activation, seed=draw(st.integers(0, 2**16)))
    text = modelfile.document_text("MLP", model.config(), model.state_dict())
    return text, model


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(saved=saved_models(), flips=st.lists(st.integers(min_value=0), min_size=1, max_size=4))
def test_fuzz_bit_flips_never_load_different_weights(
    tmp_path: Path, saved: tuple[str, MLP], flips: list[int]
) -> None:
    text, model = saved
    data = bytearray(text.encode("utf-8"))
    for bit in flips:
        bit %= len(data) * 8
        data[bit // 8] ^= 1 << (bit % 8)
    path = tmp_path / "fuzz.json"
    path.write_bytes(bytes(data))
    loaded, built = _load_outcome(path)
    if loaded is not None:  # e.g. 'e' → 'E' in an exponent: the same numbers
        assert loaded.config() == model.config()
        assert loaded.state_dict() == model.state_dict(), f"flips {flips} changed weights"
    assert built <= model.num_parameters()


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def edited_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A saved model's document, checksum removed, with one value somewhere replaced."""
    text, _ = draw(saved_models())
    doc: dict[str, Any] = json.loads(text)
    del doc["checksum"]
    where = draw(st.sampled_from(["top", "model", "config", "nouts", "parameters"]))
    new = draw(_json_values | st.integers(-(10**7), 10**7))
    containers: dict[str, Any] = {
        "top": doc,
        "model": doc["model"],
        "config": doc["model"]["config"],
        "nouts": doc["model"]["config"]["nouts"],
        "parameters": doc["parameters"],
    }
    target = containers[where]
    if isinstance(target, list):
        target[draw(st.integers(0, len(target) - 1))] = new
    else:
        keys = [*target, "extra"]
        target[draw(st.sampled_from(keys))] = new
    return doc


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=edited_documents())
def test_fuzz_edited_documents_load_exactly_what_they_say_or_raise(
    tmp_path: Path, doc: dict[str, Any]
) -> None:
    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    loaded, built = _load_outcome(path)
    params = doc.get("parameters")
    n = len(params) if isinstance(params, dict) else 0
    assert built <= n, f"built {built} parameters for a file holding {n}"
    if loaded is not None:
        assert isinstance(params, dict)
        assert loaded.state_dict() == {k: float(v) for k, v in params.items()}
        assert type(doc["version"]) is int
        config = doc["model"]["config"]
        assert all(type(v) is int for v in [config["nin"], *config["nouts"]])


# ---------------------------------------------------------------------------------------
# issue 17: files that are not regular files


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo (POSIX)")
def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path: Path) -> None:
    """Opening a FIFO for reading used to wait forever for a writer."""
    fifo = tmp_path / "m.json"
    os.mkfifo(fifo)
    (tmp_path / "link.json").symlink_to(fifo)
    for name in ("m.json", "link.json"):
        path = tmp_path / name
        outcome = run_with_timeout(lambda p=path: MLP.load(p), seconds=10)  # type: ignore[misc]
        assert isinstance(outcome, ModelFileError), (name, outcome)
        assert "is a FIFO (named pipe), not a model file" in str(outcome), outcome


def test_a_symlink_loop_is_a_model_file_error(tmp_path: Path) -> None:
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    with pytest.raises(ModelFileError, match="a loop of symbolic links"):
        MLP.load(tmp_path / "a.json")
    model = MLP(2, [1], seed=0)
    before = [p.data for p in model.parameters()]
    with pytest.raises(ModelFileError):
        model.load_weights(tmp_path / "a.json")
    assert [p.data for p in model.parameters()] == before


def test_a_directory_is_a_model_file_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="is a directory"):
        MLP.load(tmp_path)


def run_with_timeout(call: Callable[[], object], seconds: float) -> object:
    """call() in a daemon thread: its result or exception, or TimeoutError if it hangs."""
    box: list[object] = []

    def target() -> None:
        try:
            box.append(call())
        except BaseException as error:
            box.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    return box[0] if box else TimeoutError(f"still waiting after {seconds} s")
