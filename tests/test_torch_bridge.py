"""MLP.to_torch / MLP.from_torch: exact round trips, and agreement with PyTorch to 1e-12.

Tests marked ``torch`` skip (with the reason) where PyTorch is not installed; the tests of
the error without PyTorch simulate its absence, so they run everywhere.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from gradstep import Value
from gradstep.engine import topological_order
from gradstep.nn import ACTIVATIONS, INITS, MLP
from gradstep.nn.datasets import make_moons
from gradstep.nn.losses import mse_loss
from gradstep.nn.optim import SGD, Adam, Optimizer
from gradstep.nn.torch_bridge import TORCH_ACTIVATIONS
from gradstep.ops import LEAKY_RELU

TOLERANCE = 1e-12


def _close(ours: float, theirs: float) -> bool:
    """|ours - theirs| ≤ 1e-12 · max(1, |theirs|)."""
    return abs(ours - theirs) <= TOLERANCE * max(1.0, abs(theirs))


def _assert_all_close(what: str, ours: Sequence[float], theirs: Sequence[float]) -> None:
    """Every pair within `TOLERANCE`; the message lists the pairs that are not."""
    assert len(ours) == len(theirs), f"{what}: {len(ours)} values vs {len(theirs)}"
    bad = [(i, a, b) for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if not _close(a, b)]
    assert not bad, f"{what} differ beyond {TOLERANCE} (index, gradstep, torch): {bad[:5]}"


def _torch_flat(linears: Sequence[Any], attribute: str) -> list[float]:
    """The weights (or their grads) of torch Linear layers in gradstep's parameter order:
    layer by layer, neuron (row) by neuron, its weights then its bias."""
    out: list[float] = []
    for linear in linears:
        weight = getattr(linear.weight, attribute).tolist()
        bias = getattr(linear.bias, attribute).tolist()
        for row, b in zip(weight, bias, strict=True):
            out += [*row, b]
    return out


def _linears(torch: ModuleType, net: Any) -> list[Any]:
    return [m for m in net if isinstance(m, torch.nn.Linear)]


def _outputs(out: Value | list[Value]) -> list[Value]:
    return out if isinstance(out, list) else [out]


# ---------------------------------------------------------------------------------------
# export: the module PyTorch gets


@pytest.mark.torch
def test_to_torch_builds_named_float64_layers_with_the_same_weights(torch: ModuleType) -> None:
    model = MLP(3, [4, 2], activation="tanh", output_activation="sigmoid", seed=1)
    net = model.to_torch()
    assert isinstance(net, torch.nn.Sequential)
    assert [(name, type(m).__name__) for name, m in net.named_children()] == [
        ("layer0", "Linear"),
        ("tanh0", "Tanh"),
        ("layer1", "Linear"),
        ("sigmoid1", "Sigmoid"),
    ]
    assert all(p.dtype == torch.float64 and p.requires_grad for p in net.parameters())
    neuron = model.layers[1].neurons[1]
    assert net.layer1.weight[1].tolist() == [w.data for w in neuron.w]
    assert net.layer1.bias[1].item() == neuron.b.data


@pytest.mark.torch
def test_to_torch_leaves_torchs_random_stream_alone(torch: ModuleType) -> None:
    torch.manual_seed(5)
    state = torch.get_rng_state()
    MLP(3, [8, 8, 1], seed=0).to_torch()
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.torch
def test_a_layer_with_mixed_activations_is_refused(torch: ModuleType) -> None:
    model = MLP(2, [3, 1], seed=0)
    model.layers[0].neurons[1].activation = "tanh"  # hand-edited: no Linear layer does this
    with pytest.raises(ValueError, match=r"layer 0 mixes activations \['relu', 'tanh'\]"):
        model.to_torch()


@pytest.mark.torch
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_exports_as_its_torch_module(torch: ModuleType, activation: str) -> None:
    net = MLP(2, [3, 1], activation=activation, seed=0).to_torch()
    kinds = [type(m).__name__ for m in net]
    expected = TORCH_ACTIVATIONS[activation]
    assert kinds == ["Linear", *([expected] if expected else []), "Linear"]  # linear output
    if activation == "leaky_relu":
        assert net[1].negative_slope == LEAKY_RELU.default == 0.01


def test_every_activation_record_names_its_torch_module() -> None:
    assert set(TORCH_ACTIVATIONS) == set(ACTIVATIONS)
    missing = [
        name for name, module in TORCH_ACTIVATIONS.items() if name != "linear" and not module
    ]
    assert not missing, f"activation op records without torch_module: {missing}"


# ---------------------------------------------------------------------------------------
# round trips are exact

architectures = st.fixed_dictionaries(
    {
        "nin": st.integers(1, 4),
        "nouts": st.lists(st.integers(1, 4), min_size=1, max_size=3),
        "activation": st.sampled_from(list(ACTIVATIONS)),
        "output_activation": st.sampled_from(list(ACTIVATIONS)),
        "init": st.sampled_from(INITS),
        "seed": st.integers(0, 2**32 - 1),
    }
)


@pytest.mark.torch
@settings(max_examples=60, deadline=None)
@given(arch=architectures)
def test_gradstep_torch_gradstep_round_trip_is_exact(
    torch: ModuleType, arch: dict[str, Any]
) -> None:
    model = MLP(**arch)
    back = MLP.from_torch(model.to_torch())
    assert back.state_dict() == model.state_dict()  # == on floats: bit for bit
    expected = model.config()
    if len(arch["nouts"]) == 1:  # no hidden layer: the hidden activation is never seen
        expected["activation"] = "relu"
    assert back.config() == expected


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_gradstep_torch_round_trip_is_exact(torch: ModuleType, dtype: str) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(3, 5), torch.nn.LeakyReLU(), torch.nn.Linear(5, 2), torch.nn.Sigmoid()
    ).to(getattr(torch, dtype))
    model = MLP.from_torch(net)
    assert model.config() == {
        "nin": 3,
        "nouts": [5, 2],
        "activation": "leaky_relu",
        "output_activation": "sigmoid",
    }
    again = model.to_torch()
    for (name, theirs), (_, ours) in zip(
        net.state_dict().items(), again.state_dict().items(), strict=True
    ):
        # float32 → Python float (float64) is exact, so the values come back unchanged
        assert torch.equal(ours, theirs.to(torch.float64)), name


@pytest.mark.torch
def test_identity_and_shared_activations_are_read(torch: ModuleType) -> None:
    nn = torch.nn
    relu = nn.ReLU()  # one module used twice: named_children() would list it once
    net = nn.Sequential(
        nn.Identity(), nn.Linear(2, 3), relu, nn.Linear(3, 3), relu, nn.Linear(3, 1), nn.Identity()
    ).double()
    model = MLP.from_torch(net)
    assert model.config()["nouts"] == [3, 3, 1]
    assert model.config()["activation"] == "relu"
    assert model.config()["output_activation"] == "linear"
    x = [0.25, -0.5]
    assert model(x).data == pytest.approx(net(torch.tensor(x, dtype=torch.float64)).item(), 1e-12)  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------
# outputs and gradients agree to 1e-12


def _kinks_are_clear(roots: Sequence[Value], margin: float = 1e-9) -> bool:
    """Whether every ReLU / LeakyReLU argument is at least ``margin`` from the kink at 0.

    Both sides round the weighted sums differently (torch sums in another order), so an
    argument within rounding of 0 may fall on different sides of the kink.
    """
    return all(
        abs(node._prev[0].data) >= margin
        for root in roots
        for node in topological_order(root)
        if node._op in ("ReLU", "LeakyReLU")
    )


@pytest.mark.torch
@settings(max_examples=100, deadline=None)
@given(arch=architectures, data=st.data())
def test_outputs_and_gradients_agree_with_torch(
    torch: ModuleType, arch: dict[str, Any], data: st.DataObject
) -> None:
    model = MLP(**arch)
    net = model.to_torch()
    nout = arch["nouts"][-1]
    numbers = st.floats(-3.0, 3.0, allow_nan=False)
    x = data.draw(st.lists(numbers, min_size=arch["nin"], max_size=arch["nin"]), label="x")
    coefficients = data.draw(st.lists(numbers, min_size=nout, max_size=nout), label="c")

    # gradstep: L = Σⱼ cⱼ·outⱼ, gradients for the parameters and the inputs
    xs = [Value(v) for v in x]
    outs = _outputs(model(xs))
    assume(_kinks_are_clear(outs))
    loss = sum((c * o for c, o in zip(coefficients, outs, strict=True)), Value(0.0))
    loss.backward()

    # torch: the same
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tout = net(tx)
    (tout * torch.tensor(coefficients, dtype=torch.float64)).sum().backward()

    note(f"model config {model.config()}")
    _assert_all_close("outputs", [o.data for o in outs], tout.tolist())
    _assert_all_close("input gradients", [v.grad for v in xs], tx.grad.tolist())
    _assert_all_close(
        "parameter gradients",
        [p.grad for p in model.parameters()],
        _torch_flat(_linears(torch, net), "grad"),
    )


OPTIMIZERS: dict[str, tuple[Callable[[list[Value]], Optimizer], Callable[[Any, Any], Any]]] = {
    "SGD momentum + weight decay": (
        lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
        lambda optim, ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
    ),
    "SGD nesterov": (
        lambda ps: SGD(ps, lr=0.05, momentum=0.5, nesterov=True),
        lambda optim, ps: optim.SGD(ps, lr=0.05, momentum=0.5, nesterov=True),
    ),
    "Adam + weight decay": (
        lambda ps: Adam(ps, lr=0.01, betas=(0.8, 0.99), weight_decay=1e-3),
        lambda optim, ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), weight_decay=1e-3),
    ),
}


@pytest.mark.torch
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_training_steps_agree_with_torch_optim(
    torch: ModuleType, optimizer: str, activation: str
) -> None:
    """Six steps of full-batch training on two moons (squared error against ±1 labels).

    Not the hinge loss here: with it a bias gradient can be a sum of equal and opposite
    terms, exactly 0 in one summation order and 7e-18 in another, and Adam's step
    η·m̂/(√v̂ + ε) ≈ η·g/(|g| + ε) turns that rounding into a 7e-12 step (η/ε = 10⁶).
    """
    X, y = make_moons(24, noise=0.1, seed=1)
    model = MLP(2, [8, 8, 1], activation=activation, seed=2)
    net = model.to_torch()
    make_ours, make_theirs = OPTIMIZERS[optimizer]
    ours, theirs = make_ours(model.parameters()), make_theirs(torch.optim, net.parameters())
    tX = torch.tensor(X, dtype=torch.float64)
    ty = torch.tensor(y, dtype=torch.float64)
    linears = _linears(torch, net)
    for step in range(6):
        # forward
        scores = [model.output(x) for x in X]
        assert _kinks_are_clear(scores), f"step {step}: a ReLU argument within 1e-9 of 0"
        loss = mse_loss(scores, y)
        tloss = torch.nn.functional.mse_loss(net(tX).squeeze(1), ty)
        # backward
        ours.zero_grad()
        loss.backward()
        theirs.zero_grad()
        tloss.backward()
        # update
        ours.step()
        theirs.step()
        _assert_all_close(f"step {step} loss", [loss.data], [tloss.item()])
        grads = [p.grad for p in model.parameters()]
        _assert_all_close(f"step {step} gradients", grads, _torch_flat(linears, "grad"))
        weights = [p.data for p in model.parameters()]
        _assert_all_close(f"step {step} weights", weights, _torch_flat(linears, "data"))
    assert loss.data > 0.0 and any(g != 0.0 for g in grads)  # the steps really trained


# ---------------------------------------------------------------------------------------
# refusals name the layer


def _refusal_cases(nn: Any) -> list[tuple[Any, str]]:
    """(Sequential, what the error must say), one per way of not being a gradstep MLP."""

    class MyLinear(nn.Linear):  # type: ignore[misc]  # a subclass may compute something else
        pass

    def seq(*modules: Any) -> Any:
        return nn.Sequential(*modules).double()

    return [
        (seq(nn.Linear(2, 3), nn.ReLU(), nn.Dropout(0.5), nn.Linear(3, 1)), "layer 2 (Dropout)"),
        (seq(nn.Linear(2, 3), nn.GELU(), nn.Linear(3, 1)), "layer 1 (GELU)"),
        (seq(nn.Linear(2, 3), nn.Sequential(nn.Linear(3, 1))), "layer 1 (Sequential)"),
        (seq(MyLinear(2, 1)), "layer 0 (MyLinear)"),
        (seq(nn.Linear(2, 3, bias=False), nn.ReLU()), "layer 0 (Linear): it has no bias"),
        (
            seq(nn.Linear(2, 3), nn.LeakyReLU(0.2), nn.Linear(3, 1)),
            "layer 1 (LeakyReLU): its negative_slope is 0.2, but gradstep's leaky_relu has "
            "slope 0.01",
        ),
        (
            seq(nn.Linear(2, 3), nn.ReLU(), nn.Tanh()),
            "layer 2 (Tanh): an activation must follow a Linear layer, but it follows "
            "layer 1 (ReLU)",
        ),
        (seq(nn.ReLU(), nn.Linear(2, 1)), "layer 0 (ReLU): an activation must follow a Linear "),
        (
            seq(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1)),
            "layer 3 (Tanh): the hidden layers use ReLU before it",
        ),
        (
            seq(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3), nn.Linear(3, 1)),
            "layer 2 (Linear): the hidden layers use ReLU before it",
        ),
        (
            seq(nn.Linear(2, 3), nn.Linear(4, 1)),
            "layer 1 (Linear): it takes 4 inputs, but layer 0 (Linear) gives 3",
        ),
        (
            nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("drop", nn.Dropout())])),
            "layer 1 ('drop': Dropout)",
        ),
    ]


@pytest.mark.torch
def test_unsupported_layers_are_refused_with_their_index_and_type(torch: ModuleType) -> None:
    for net, message in _refusal_cases(torch.nn):
        with pytest.raises(ValueError) as error:
            MLP.from_torch(net)
        assert message in str(error.value), f"expected {message!r} in {str(error.value)!r}"


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:Complex modules are a new feature")
def test_bad_weights_and_empty_or_wrong_modules_are_refused(torch: ModuleType) -> None:
    nn = torch.nn
    with pytest.raises(TypeError, match=r"needs a torch\.nn\.Sequential .*got Linear"):
        MLP.from_torch(nn.Linear(2, 1))
    with pytest.raises(ValueError, match="no Linear layer"):
        MLP.from_torch(nn.Sequential())
    with pytest.raises(ValueError, match="no Linear layer"):
        MLP.from_torch(nn.Sequential(nn.Identity()))
    nan = nn.Sequential(nn.Linear(2, 1)).double()
    with torch.no_grad():
        nan[0].bias[0] = math.nan
    with pytest.raises(ValueError, match=r"layer 0 \(Linear\): its bias holds nan \(not finite\)"):
        MLP.from_torch(nan)
    complex_net = nn.Sequential(nn.Linear(2, 1)).to(torch.complex128)
    with pytest.raises(ValueError, match=r"layer 0 \(Linear\): its weights are torch.complex128"):
        MLP.from_torch(complex_net)


# ---------------------------------------------------------------------------------------
# without PyTorch


def test_without_torch_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    for call, name in (
        (lambda: MLP(2, [1], seed=0).to_torch(), "MLP.to_torch()"),
        (lambda: MLP.from_torch(object()), "MLP.from_torch()"),
    ):
        with pytest.raises(ImportError) as error:
            call()
        message = str(error.value)
        assert message.startswith(f"{name} needs PyTorch, which is not installed"), message
        assert "pip install 'gradstep[torch]'" in message
        assert "pip install torch==2.13.0" in message


def test_importing_gradstep_never_imports_torch() -> None:
    code = (
        "import sys, gradstep, gradstep.nn, gradstep.nn.torch_bridge; print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "False"
