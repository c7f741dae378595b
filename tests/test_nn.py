"""Tests for gradstep.nn: shapes, parameter counts, activations, init, names, scopes, training."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradstep import Value
from gradstep.engine import topological_order
from gradstep.nn import MLP, Layer, Module, Neuron
from gradstep.nn.datasets import make_moons
from gradstep.nn.losses import hinge_loss, l2_penalty
from gradstep.nn.optim import SGD
from gradstep.testing import gradcheck

# ---------------------------------------------------------------------------------------
# shapes and parameter counts


def test_mlp_3_4_4_1_has_41_parameters() -> None:
    model = MLP(3, [4, 4, 1])
    # (3+1)·4 + (4+1)·4 + (4+1)·1 = 16 + 20 + 5
    assert len(model.parameters()) == 41
    assert model.num_parameters() == 41


@pytest.mark.parametrize(
    ("nin", "nouts", "expected"),
    [(2, [16, 16, 1], 337), (1, [1], 2), (5, [3], 18), (2, [16, 16, 3], 371)],
)
def test_mlp_parameter_counts(nin: int, nouts: list[int], expected: int) -> None:
    assert len(MLP(nin, nouts).parameters()) == expected


def test_neuron_and_layer_parameter_counts() -> None:
    assert len(Neuron(5).parameters()) == 6
    assert len(Layer(3, 4).parameters()) == 16


def test_layer_returns_list_or_single_value() -> None:
    out = Layer(2, 3, seed=0)([1.0, 2.0])
    assert isinstance(out, list)
    assert len(out) == 3
    assert all(isinstance(v, Value) for v in out)
    single = Layer(2, 1, seed=0)([1.0, 2.0])
    assert isinstance(single, Value)


def test_mlp_returns_list_for_several_outputs() -> None:
    out = MLP(2, [4, 3], seed=0)([0.5, -0.5])
    assert isinstance(out, list)
    assert len(out) == 3


def test_last_layer_is_linear_and_hidden_relu() -> None:
    model = MLP(2, [3, 3, 1])
    assert [n.activation for n in model.layers[0].neurons] == ["relu"] * 3
    assert [n.activation for n in model.layers[1].neurons] == ["relu"] * 3
    assert model.layers[2].neurons[0].activation == "linear"
    assert model.layers[2].neurons[0].nonlin is False


def test_bad_sizes_raise_value_error() -> None:
    with pytest.raises(ValueError, match="nin must be a positive integer, got 0"):
        MLP(0, [1])
    with pytest.raises(ValueError, match="nouts must be a non-empty list"):
        MLP(2, [])
    with pytest.raises(ValueError, match="nouts must be a non-empty list"):
        MLP(2, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nout must be a positive integer"):
        Layer(2, 0)
    with pytest.raises(ValueError, match="nin must be a positive integer"):
        Neuron(True)


# ---------------------------------------------------------------------------------------
# the neuron's arithmetic


def test_neuron_computes_relu_of_weighted_sum() -> None:
    n = Neuron(3, seed=1)
    w = [p.data for p in n.w]
    x = [0.5, -1.0, 2.0]
    pre = 0.0 + w[0] * x[0] + w[1] * x[1] + w[2] * x[2]
    out = n(x)
    assert out.data == max(pre, 0.0)
    assert out._op == ("ReLU")


def test_neuron_gradients_are_the_inputs() -> None:
    n = Neuron(3, nonlin=False, seed=1)
    x = [Value(0.5), Value(-1.0), Value(2.0)]
    out = n(x)
    out.backward()
    assert [p.grad for p in n.w] == [0.5, -1.0, 2.0]
    assert n.b.grad == 1.0
    assert [xi.grad for xi in x] == [p.data for p in n.w]


@pytest.mark.parametrize(
    ("activation", "f"),
    [
        ("relu", lambda a: max(a, 0.0)),
        ("tanh", math.tanh),
        ("sigmoid", lambda a: 1.0 / (1.0 + math.exp(-a))),
        ("leaky_relu", lambda a: a if a > 0 else 0.01 * a),
        ("linear", lambda a: a),
    ],
)
def test_activations(activation: str, f: object) -> None:
    n = Neuron(2, activation=activation, seed=3)
    n.b.data = -0.25
    for x in ([1.0, 2.0], [-1.0, -2.0]):
        pre = -0.25 + n.w[0].data * x[0] + n.w[1].data * x[1]
        assert n(x).data == pytest.approx(f(pre), rel=1e-12, abs=1e-15)  # type: ignore[operator]


def test_activation_overrides_nonlin_and_unknown_is_refused() -> None:
    assert Neuron(2, nonlin=False, activation="tanh").activation == "tanh"
    assert Neuron(2, nonlin=False).activation == "linear"
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        Neuron(2, activation="gelu")
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(2, [3, 1], activation="swish")


def test_inputs_may_be_floats_ints_or_values() -> None:
    model = MLP(2, [3, 1], seed=4)
    a = model([1.0, -2.0])
    b = model([1, -2])
    c = model([Value(1.0), Value(-2.0)])
    d = model((1.0, -2.0))
    assert isinstance(a, Value)
    assert a.data == b.data == c.data == d.data  # type: ignore[union-attr]


def test_single_input_may_be_a_bare_scalar() -> None:
    model = MLP(1, [4, 1], seed=0)
    assert model(0.5).data == model([0.5]).data  # type: ignore[union-attr]
    # a hidden layer of width 1 feeds a bare Value to the next layer
    narrow = MLP(2, [1, 2], seed=0)
    out = narrow([0.3, 0.4])
    assert isinstance(out, list)
    assert len(out) == 2


def test_wrong_input_length_names_expected_and_got() -> None:
    with pytest.raises(ValueError, match="expected 3 inputs, got 2"):
        Neuron(3)([1.0, 2.0])
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):
        MLP(2, [4, 1])([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="expected 2 inputs, got 1"):
        MLP(2, [4, 1])(1.0)


def test_non_numeric_inputs_raise_type_error() -> None:
    with pytest.raises(TypeError, match="inputs must be a list of numbers or Values"):
        MLP(2, [1])(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str"):
        MLP(2, [1])(["a", 1.0])  # type: ignore[list-item]


def test_float_inputs_become_one_shared_leaf_per_layer() -> None:
    layer = Layer(2, 3, seed=0)
    outs = layer([1.5, -2.0])
    assert isinstance(outs, list)
    leaves = {id(v) for out in outs for v in topological_order(out) if v.data in (1.5, -2.0)}
    assert len(leaves) == 2


def test_value_inputs_get_gradients_summed_over_neurons() -> None:
    layer = Layer(2, 3, nonlin=False, seed=0)
    x = [Value(1.5), Value(-2.0)]
    outs = layer(x)
    assert isinstance(outs, list)
    total = outs[0] + outs[1] + outs[2]
    total.backward()
    for i in range(2):
        assert x[i].grad == pytest.approx(sum(n.w[i].data for n in layer.neurons), rel=1e-15)


# ---------------------------------------------------------------------------------------
# initialisation


def test_default_init_is_uniform_minus1_1_with_zero_bias() -> None:
    model = MLP(4, [32, 32, 1], seed=0)
    for layer in model.layers:
        for n in layer.neurons:
            assert n.b.data == 0.0
            assert all(-1.0 <= w.data <= 1.0 for w in n.w)
    weights = [w.data for layer in model.layers for n in layer.neurons for w in n.w]
    assert max(weights) > 0.9  # the whole range is used
    assert min(weights) < -0.9


def test_xavier_and_he_bounds() -> None:
    model = MLP(8, [24, 4], init="xavier", seed=0)
    bound0 = math.sqrt(6.0 / (8 + 24))
    bound1 = math.sqrt(6.0 / (24 + 4))
    w0 = [w.data for n in model.layers[0].neurons for w in n.w]
    w1 = [w.data for n in model.layers[1].neurons for w in n.w]
    assert max(abs(w) for w in w0) <= bound0
    assert max(abs(w) for w in w0) > 0.8 * bound0
    assert max(abs(w) for w in w1) <= bound1
    he = MLP(8, [24, 4], init="he", seed=0)
    hw = [w.data for n in he.layers[1].neurons for w in n.w]
    assert max(abs(w) for w in hw) <= math.sqrt(6.0 / 24)
    assert max(abs(w) for w in hw) > 0.8 * math.sqrt(6.0 / 24)
    with pytest.raises(ValueError, match="unknown init 'normal'"):
        MLP(2, [1], init="normal")


def test_seed_makes_init_reproducible() -> None:
    a = MLP(2, [8, 1], seed=7).state_dict()
    b = MLP(2, [8, 1], seed=7).state_dict()
    c = MLP(2, [8, 1], seed=8).state_dict()
    assert a == b
    assert a != c
    d = MLP(2, [8, 1], rng=random.Random(7)).state_dict()
    assert d == a


def test_rng_and_seed_together_are_refused() -> None:
    with pytest.raises(ValueError, match="either rng or seed"):
        MLP(2, [1], rng=random.Random(0), seed=0)
    with pytest.raises(TypeError, match=r"rng must be a random\.Random"):
        MLP(2, [1], rng=0)  # type: ignore[arg-type]


def test_without_seed_the_global_random_module_is_used_like_micrograd() -> None:
    random.seed(1234)
    a = MLP(2, [3, 1]).state_dict()
    random.seed(1234)
    b = MLP(2, [3, 1]).state_dict()
    assert a == b


# ---------------------------------------------------------------------------------------
# names, repr, scopes, zero_grad


def test_named_parameters_match_parameters() -> None:
    model = MLP(2, [3, 1])
    named = model.named_parameters()
    assert [p for _, p in named] == model.parameters()
    names = [name for name, _ in named]
    assert names[:4] == [
        "layer0.neuron0.w0",
        "layer0.neuron0.w1",
        "layer0.neuron0.b",
        "layer0.neuron1.w0",
    ]
    assert names[-1] == "layer1.neuron0.b"
    assert len(set(names)) == len(names) == 13
    assert [n for n, _ in Neuron(2).named_parameters()] == ["w0", "w1", "b"]
    assert [n for n, _ in Layer(1, 2).named_parameters()] == [
        "neuron0.w0",
        "neuron0.b",
        "neuron1.w0",
        "neuron1.b",
    ]


def test_repr_is_readable() -> None:
    assert repr(Neuron(2)) == "ReLUNeuron(2)"
    assert repr(Neuron(2, nonlin=False)) == "LinearNeuron(2)"
    assert repr(Neuron(3, activation="tanh")) == "TanhNeuron(3)"
    assert repr(Layer(2, 16)) == "Layer of 16 × ReLUNeuron(2)"
    assert repr(MLP(2, [16, 16, 1])) == (
        "MLP of [Layer of 16 × ReLUNeuron(2), Layer of 16 × ReLUNeuron(16), "
        "Layer of 1 × LinearNeuron(16)]"
    )


def test_nodes_built_by_a_neuron_carry_its_scope() -> None:
    model = MLP(2, [3, 2], seed=0)
    out = model([1.0, 2.0])
    assert isinstance(out, list)
    assert out[1]._scope == "layer1.neuron1"
    nodes = topological_order(out[1])
    interior = [v for v in nodes if v._prev]
    scopes = {v._scope for v in interior}
    assert scopes == {"layer0.neuron0", "layer0.neuron1", "layer0.neuron2", "layer1.neuron1"}
    for v in interior:  # the products, partial sums and activations of one neuron
        assert v._op in ("*", "+", "ReLU")
    assert model.layers[0].neurons[2].w[1]._scope == "layer0.neuron2"
    assert Neuron(2)([1.0, 1.0])._scope == "neuron"
    assert Layer(2, 2, name="enc")([1.0, 1.0])[1]._scope == "enc.neuron1"  # type: ignore[index]


def test_parameters_are_labelled() -> None:
    n = Neuron(2)
    assert [p.label for p in n.parameters()] == ["w0", "w1", "b"]


def test_zero_grad_resets_every_parameter() -> None:
    model = MLP(2, [4, 1], seed=0)
    out = model([1.0, -1.0])
    assert isinstance(out, Value)
    (out * out).backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_custom_module_gets_parameters_from_named_parameters() -> None:
    class Scale(Module):
        def __init__(self) -> None:
            self.k = Value(2.0)

        def named_parameters(self) -> list[tuple[str, Value]]:
            return [("k", self.k)]

    m = Scale()
    assert m.parameters() == [m.k]
    assert m.state_dict() == {"k": 2.0}


# ---------------------------------------------------------------------------------------
# properties against a pure-float forward pass


def _float_forward(model: MLP, x: list[float]) -> list[float]:
    """The MLP's forward pass with plain floats, from its weights."""
    acts = {"relu": lambda a: max(a, 0.0), "linear": lambda a: a, "tanh": math.tanh}
    h = x
    for layer in model.layers:
        h = [
            acts[n.activation](sum((w.data * xi for w, xi in zip(n.w, h, strict=True)), n.b.data))
            for n in layer.neurons
        ]
    return h


finite = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    x=st.lists(finite, min_size=3, max_size=3),
    activation=st.sampled_from(["relu", "tanh", "linear"]),
)
def test_mlp_forward_matches_float_arithmetic(seed: int, x: list[float], activation: str) -> None:
    model = MLP(3, [5, 4, 2], activation=activation, seed=seed)
    out = model(x)
    assert isinstance(out, list)
    expected = _float_forward(model, x)
    # both sum left to right starting from the bias, so they agree to the last bit
    assert [o.data for o in out] == expected


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 10**6), x=st.lists(finite, min_size=2, max_size=2))
def test_mlp_parameter_gradients_match_central_differences(seed: int, x: list[float]) -> None:
    model = MLP(2, [3, 1], activation="tanh", seed=seed)
    out = model(x)
    assert isinstance(out, Value)
    out.backward()
    h = 1e-6
    for p in model.parameters():
        original = p.data
        p.data = original + h
        up = _float_forward(model, x)[0]
        p.data = original - h
        down = _float_forward(model, x)[0]
        p.data = original
        numeric = (up - down) / (2 * h)
        assert p.grad == pytest.approx(numeric, rel=1e-5, abs=1e-7)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 10**6), x=st.lists(finite, min_size=3, max_size=3))
def test_mlp_input_gradients_pass_gradcheck(seed: int, x: list[float]) -> None:
    model = MLP(3, [4, 1], activation="tanh", seed=seed)
    gradcheck(lambda *v: model.output(list(v)), x)


# ---------------------------------------------------------------------------------------
# micrograd compatibility


def test_micrograd_code_runs_unchanged_and_gives_micrograd_numbers() -> None:
    mg = pytest.importorskip("micrograd.nn", reason="micrograd is not installed")
    X, y = make_moons(20, noise=0.1, seed=3)

    def train(module: object) -> list[float]:
        # micrograd's demo loop, written against micrograd's API only
        random.seed(1337)
        model = module.MLP(2, [8, 8, 1])  # type: ignore[attr-defined]
        losses = []
        for k in range(5):
            scores = [model(x) for x in X]
            data_loss = sum((1 + -yi * si).relu() for yi, si in zip(y, scores, strict=True)) * (
                1.0 / len(y)
            )
            reg_loss = 1e-4 * sum(p * p for p in model.parameters())
            total = data_loss + reg_loss
            model.zero_grad()
            total.backward()
            lr = 1.0 - 0.9 * k / 100
            for p in model.parameters():
                p.data -= lr * p.grad
            losses.append(total.data)
        return losses

    import gradstep.nn as gn

    ours = train(gn)
    theirs = train(mg)
    assert ours == pytest.approx(theirs, rel=1e-12)
    assert ours[-1] < ours[0]


def test_same_seed_gives_micrograd_weights() -> None:
    mg = pytest.importorskip("micrograd.nn", reason="micrograd is not installed")
    random.seed(42)
    ours = MLP(3, [4, 4, 1])
    random.seed(42)
    theirs = mg.MLP(3, [4, 4, 1])
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]


# ---------------------------------------------------------------------------------------
# a short training run


@pytest.mark.slow
def test_training_on_small_moons_reaches_100_percent() -> None:
    X, y = make_moons(40, noise=0.1, seed=0)
    model = MLP(2, [8, 8, 1], seed=0)
    opt = SGD(model.parameters(), lr=lambda t: 1.0 - 0.9 * t / 100)
    accuracy = 0.0
    for _ in range(100):
        scores = [model.output(x) for x in X]
        loss = hinge_loss(scores, y) + l2_penalty(model.parameters(), 1e-4)
        opt.zero_grad()
        loss.backward()
        opt.step()
        correct = [(s.data > 0) == (yi > 0) for s, yi in zip(scores, y, strict=True)]
        accuracy = sum(correct) / len(y)
    assert accuracy == 1.0


def test_layer_sizes_may_be_numpy_integers() -> None:
    # sizes often come from an array's shape: np.int64 is an Integral, like int
    np = pytest.importorskip("numpy", reason="NumPy is not installed")
    model = MLP(np.int64(3), [np.int64(4), np.int64(1)], seed=0)
    assert model.num_parameters() == 4 * 4 + 5 * 1
    assert model.config()["nouts"] == [4, 1] and type(model.config()["nin"]) is int
    with pytest.raises(ValueError, match=r"nin must be a positive integer, got 2\.0"):
        MLP(2.0, [1])  # type: ignore[arg-type]


def test_plain_number_inputs_become_shared_leaves_named_x0_x1() -> None:
    """A layer wraps float inputs once, labelled by position, so drawings can name them."""
    model = MLP(2, [3, 1], seed=0)
    out = model([0.5, -1.5])
    assert isinstance(out, Value)
    leaves = [v for v in topological_order(out) if not v._prev and v.label.startswith("x")]
    assert sorted(v.label for v in leaves) == ["x0", "x1"]
    assert {v.label: v.data for v in leaves} == {"x0": 0.5, "x1": -1.5}


def test_mlp_output_and_outputs_are_typed_views_of_a_call() -> None:
    one = MLP(2, [3, 1], seed=0)
    out = one.output([0.5, -1.0])
    assert isinstance(out, Value)
    assert out.data == one([0.5, -1.0]).data  # type: ignore[union-attr]
    assert [v.data for v in one.outputs([0.5, -1.0])] == [out.data]
    three = MLP(2, [3, 3], seed=0)
    assert [v.data for v in three.outputs([0.5, -1.0])] == [
        v.data
        for v in three([0.5, -1.0])  # type: ignore[union-attr]
    ]
    with pytest.raises(ValueError, match=r"this one has 3: use outputs\(\)"):
        three.output([0.5, -1.0])


def test_layer_refuses_a_fan_out_in_the_neuron_options_with_a_clear_message() -> None:
    # it used to be Neuron's raw "got multiple values for keyword argument 'fan_out'"
    with pytest.raises(TypeError, match=r"Layer sets each neuron's fan_out itself \(to nout = 3\)"):
        Layer(2, 3, fan_out=4)
    layer = Layer(2, 3, name="hidden", activation="tanh")  # a layer's name names its neurons
    assert [n.name for n in layer.neurons] == ["hidden.neuron0", "hidden.neuron1", "hidden.neuron2"]
    assert {n.activation for n in layer.neurons} == {"tanh"}
