"""Tests for saving and loading modules: JSON round trips, atomic writes, every failure mode."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradstep.nn import FORMAT_VERSION, MLP, Layer, ModelFileError, Neuron

# ---------------------------------------------------------------------------------------
# round trips


def test_mlp_round_trip(tmp_path: Path) -> None:
    model = MLP(2, [4, 3, 1], activation="tanh", seed=1)
    path = model.save(tmp_path / "model.json")
    assert path == tmp_path / "model.json"
    loaded = MLP.load(path)
    assert loaded.state_dict() == model.state_dict()
    assert loaded.config() == model.config()
    assert repr(loaded) == repr(model)
    x = [0.3, -0.7]
    assert loaded(x).data == model(x).data  # type: ignore[union-attr]


def test_load_weights_into_an_existing_model(tmp_path: Path) -> None:
    model = MLP(2, [5, 1], seed=1)
    model.save(tmp_path / "m.json")
    other = MLP(2, [5, 1], seed=2)
    assert other.state_dict() != model.state_dict()
    other.load_weights(tmp_path / "m.json")
    assert other.state_dict() == model.state_dict()


@pytest.mark.parametrize(
    "module",
    [Neuron(3, activation="sigmoid", seed=0), Layer(2, 3, activation="tanh", seed=0)],
    ids=["neuron", "layer"],
)
def test_neuron_and_layer_round_trip(tmp_path: Path, module: Neuron | Layer) -> None:
    module.save(tmp_path / "m.json")
    loaded = type(module).load(tmp_path / "m.json")
    assert loaded.state_dict() == module.state_dict()
    assert loaded.config() == module.config()


def test_file_is_human_readable_json_with_a_version(tmp_path: Path) -> None:
    model = MLP(2, [2, 1], seed=0)
    model.save(tmp_path / "m.json")
    text = (tmp_path / "m.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc["format"] == "gradstep.model"
    assert doc["version"] == FORMAT_VERSION == 1
    assert doc["model"] == {
        "type": "MLP",
        "config": {"nin": 2, "nouts": [2, 1], "activation": "relu", "output_activation": "linear"},
    }
    assert list(doc["parameters"]) == [name for name, _ in model.named_parameters()]
    assert doc["parameters"]["layer0.neuron1.w0"] == model.layers[0].neurons[1].w[0].data
    assert '\n "parameters": {\n  "layer0.neuron0.w0": ' in text  # one parameter per line


@settings(max_examples=200, deadline=None)
@given(weights=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=4, max_size=4))
def test_every_finite_float_survives_a_round_trip_exactly(weights: list[float]) -> None:
    n = Neuron(3)
    for p, w in zip(n.parameters(), weights, strict=True):
        p.data = w
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "n.json"
        n.save(path)
        loaded = Neuron.load(path)
    assert [p.data for p in loaded.parameters()] == weights


def test_state_dict_round_trip_in_memory() -> None:
    a = MLP(3, [4, 2], seed=0)
    b = MLP(3, [4, 2], seed=5)
    b.load_state_dict(a.state_dict())
    assert b.state_dict() == a.state_dict()


# ---------------------------------------------------------------------------------------
# atomic writes


def test_a_crash_while_saving_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.json"
    MLP(2, [2, 1], seed=0).save(path)
    good = path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        MLP(2, [2, 1], seed=1).save(path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


def test_a_crash_while_writing_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        MLP(2, [2, 1]).save(tmp_path / "m.json")
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_saving_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a demo interrupted while it writes its model file (see tests/test_demos.py)
    path = tmp_path / "m.json"
    MLP(2, [2, 1], seed=0).save(path)
    good = path.read_bytes()

    def interrupt(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        MLP(2, [2, 1], seed=1).save(path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


def test_saving_overwrites_atomically(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    MLP(2, [2, 1], seed=0).save(path)
    second = MLP(2, [2, 1], seed=1)
    second.save(path)
    assert MLP.load(path).state_dict() == second.state_dict()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


def test_saved_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        MLP(2, [1]).save(tmp_path / "m.json")
    finally:
        os.umask(old)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644  # not a temp file's 0600


def test_saving_into_a_missing_directory_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"directory .* does not exist"):
        MLP(2, [1]).save(tmp_path / "nowhere" / "m.json")


def test_non_finite_parameters_are_not_saved(tmp_path: Path) -> None:
    model = MLP(2, [1])
    model.layers[0].neurons[0].w[1].data = math.nan
    with pytest.raises(ValueError, match=r"parameter layer0\.neuron0\.w1 is nan"):
        model.save(tmp_path / "m.json")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------
# failure modes: a clear error, and the model in memory untouched


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "m.json"
    MLP(2, [3, 1], seed=0).save(path)
    return path


def _edit(path: Path, change: object) -> None:
    """Change the saved document as someone editing it by hand would (checksum removed)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc.pop("checksum", None)
    change(doc)  # type: ignore[operator]
    path.write_text(json.dumps(doc), encoding="utf-8")


def _expect_untouched(model: MLP, path: Path, error: type[Exception], match: str) -> None:
    before = model.state_dict()
    with pytest.raises(error, match=match):
        model.load_weights(path)
    assert model.state_dict() == before


def test_missing_file(tmp_path: Path) -> None:
    model = MLP(2, [3, 1], seed=9)
    _expect_untouched(model, tmp_path / "absent.json", FileNotFoundError, "model file not found")
    with pytest.raises(FileNotFoundError, match=r"absent\.json"):
        MLP.load(tmp_path / "absent.json")


def test_truncated_file_is_reported_corrupt(saved: Path) -> None:
    text = saved.read_text(encoding="utf-8")
    saved.write_text(text[: len(text) // 2], encoding="utf-8")
    _expect_untouched(MLP(2, [3, 1], seed=9), saved, ModelFileError, "corrupt model file")
    with pytest.raises(ModelFileError, match=r"invalid JSON at line \d+"):
        MLP.load(saved)


def test_binary_garbage_is_not_a_model_file(saved: Path) -> None:
    saved.write_bytes(b"\xff\xfe\x00garbage")
    _expect_untouched(MLP(2, [3, 1], seed=9), saved, ModelFileError, "not a gradstep model file")


def test_other_json_is_not_a_model_file(saved: Path) -> None:
    saved.write_text("[1, 2, 3]", encoding="utf-8")
    _expect_untouched(MLP(2, [3, 1], seed=9), saved, ModelFileError, "not a gradstep model file")


def test_wrong_version(saved: Path) -> None:
    _edit(saved, lambda d: d.update(version=99))
    _expect_untouched(
        MLP(2, [3, 1], seed=9), saved, ModelFileError, "format version 99 is not supported"
    )


def test_shape_mismatch_names_both_architectures(saved: Path) -> None:
    model = MLP(2, [4, 1], seed=9)
    _expect_untouched(
        model,
        saved,
        ModelFileError,
        r"holds MLP\(nin=2, nouts=\[3, 1\].*but this model is MLP\(nin=2, nouts=\[4, 1\]",
    )


def test_wrong_module_type(saved: Path) -> None:
    with pytest.raises(ModelFileError, match=r"holds a MLP, not a Layer \(use MLP\.load\)"):
        Layer.load(saved)
    layer = Layer(2, 3, seed=9)
    before = layer.state_dict()
    with pytest.raises(ModelFileError, match="the file holds MLP"):
        layer.load_weights(saved)
    assert layer.state_dict() == before


def test_missing_and_unexpected_parameters(saved: Path) -> None:
    def tamper(d: dict[str, dict[str, object]]) -> None:
        del d["parameters"]["layer1.neuron0.b"]
        d["parameters"]["layer9.neuron0.w0"] = 1.0

    _edit(saved, tamper)
    _expect_untouched(
        MLP(2, [3, 1], seed=9),
        saved,
        ModelFileError,
        r"missing 1 parameter\(s\): layer1\.neuron0\.b; unexpected 1 parameter\(s\): layer9",
    )


@pytest.mark.parametrize("bad", ["0.5", None, True, [1.0], 1e400])
def test_a_bad_value_late_in_the_file_changes_nothing(saved: Path, bad: object) -> None:
    # every earlier parameter is fine: loading must still be all-or-nothing
    _edit(saved, lambda d: d["parameters"].update({"layer1.neuron0.b": bad}))
    _expect_untouched(
        MLP(2, [3, 1], seed=9),
        saved,
        ModelFileError,
        r"parameter layer1\.neuron0\.b must be a finite number",
    )


def test_nan_written_by_hand_is_refused(saved: Path) -> None:
    text = saved.read_text(encoding="utf-8")
    name = '"layer0.neuron0.w0": '
    start = text.index(name) + len(name)
    end = text.index(",", start)
    saved.write_text(text[:start] + "NaN" + text[end:], encoding="utf-8")
    _expect_untouched(MLP(2, [3, 1], seed=9), saved, ModelFileError, "must be a finite number")


def test_broken_model_section(saved: Path) -> None:
    _edit(saved, lambda d: d.update(model="MLP"))
    _expect_untouched(MLP(2, [3, 1], seed=9), saved, ModelFileError, "needs a type and a config")
    _edit(saved, lambda d: d.update(model={"type": "MLP", "config": {"nin": 2}}))
    with pytest.raises(ModelFileError, match="cannot build a MLP from config"):
        MLP.load(saved)


def test_load_state_dict_is_all_or_nothing() -> None:
    model = MLP(2, [2, 1], seed=0)
    before = model.state_dict()
    state: dict[str, object] = {name: value + 1.0 for name, value in before.items()}
    state["layer1.neuron0.b"] = "x"
    with pytest.raises(ModelFileError, match="must be a finite number, got 'x'"):
        model.load_state_dict(state)
    assert model.state_dict() == before
    with pytest.raises(ModelFileError, match="a state must be a mapping"):
        model.load_state_dict([1.0])  # type: ignore[arg-type]


def test_model_file_error_is_a_value_error() -> None:
    assert issubclass(ModelFileError, ValueError)
