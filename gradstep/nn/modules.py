"""Neural networks built from `Value`s: Module, Neuron, Layer, MLP, and saving/loading them.

The API is micrograd's (``Neuron(nin, nonlin=True)``, ``Layer(nin, nout, **kwargs)``,
``MLP(nin, nouts)``, ``parameters()``, ``zero_grad()``), so micrograd code runs unchanged;
on top of it: a choice of activation, seedable Xavier/He initialisation, named parameters,
and a human-readable JSON file format.  Losses live in `gradstep.nn.losses`, optimizers in
`gradstep.nn.optim`.

A neuron computes  out = act(b + Σᵢ wᵢ·xᵢ),  one ``*`` and one ``+`` node per weight, so a
backward walk-through shows every product and every partial sum.
"""

from __future__ import annotations

import functools
import math
import os
import random
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from gradstep.engine import Value, _CollectorPaused, apply
from gradstep.nn.modelfile import (
    FORMAT_VERSION,
    MAX_PARAMETERS,
    ModelFile,
    ModelFileError,
    check_number,
    document_text,
    read_model_file,
    short_repr,
    write_model_file,
)
from gradstep.ops import BUILTIN_OPS, OpSpec

if TYPE_CHECKING:  # torch is optional: only gradstep.nn.torch_bridge imports it, when called
    import torch

__all__ = [
    "Module",
    "Neuron",
    "Layer",
    "MLP",
    "ACTIVATIONS",
    "INITS",
    "FORMAT_VERSION",
    "ModelFileError",
]

Input: TypeAlias = "Sequence[Value | float] | Value | float"
Output: TypeAlias = "Value | list[Value]"
PathLike: TypeAlias = "str | os.PathLike[str]"
M = TypeVar("M", bound="Module")
N = TypeVar("N", bound="MLP")

#: the op records a neuron may use as its activation (``activation=True`` in gradstep.ops)
_ACTIVATION_OPS: dict[str, OpSpec] = {spec.name: spec for spec in BUILTIN_OPS if spec.activation}

#: activation name → the `Value` method applying it (None: the identity)
ACTIVATIONS: dict[str, Callable[[Value], Value] | None] = {
    **{
        name: getattr(Value, name, None) or functools.partial(apply, spec)
        for name, spec in _ACTIVATION_OPS.items()
    },
    "linear": None,
}
#: how a neuron's repr names its activation: ReLU, Tanh, Sigmoid, LeakyReLU, Linear
_ACTIVATION_TITLES = {
    **{
        name: spec.symbol if spec.symbol != name else name.capitalize()
        for name, spec in _ACTIVATION_OPS.items()
    },
    "linear": "Linear",
}
#: weight initialisations (biases always start at 0, as in micrograd)
INITS = ("uniform", "xavier", "he")
# ---------------------------------------------------------------------------------------
# modules


class Module:
    """Base class: something with parameters (`Value` leaves) that can be trained and saved."""

    def parameters(self) -> list[Value]:
        """All trainable parameters, in a fixed order."""
        return [p for _, p in self.named_parameters()]

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``(name, parameter)`` pairs, e.g. ``("layer0.neuron3.w1", Value(...))``."""
        return []

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0 (call before each backward pass)."""
        for p in self.parameters():
            p.grad = 0.0

    def num_parameters(self) -> int:
        """How many scalar parameters the module has."""
        return len(self.named_parameters())

    def config(self) -> dict[str, Any]:
        """The constructor arguments that fix the architecture (saved with the weights)."""
        return {}

    # ---- state: parameter values by name -------------------------------------------

    def state_dict(self) -> dict[str, float]:
        """Parameter values by name: ``{"layer0.neuron0.w0": 0.12, ...}``."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        """Copy parameter values from ``state`` (names as in `state_dict`).

        Every name must be present, no other name may be, and every value must be a
        finite real number; otherwise `ModelFileError` is raised and no parameter changes.
        """
        named = self.named_parameters()
        _check_names(state, [name for name, _ in named])
        values = [check_number(name, state[name]) for name, _ in named]
        for (_, p), value in zip(named, values, strict=True):
            p.data = value

    # ---- files ---------------------------------------------------------------------

    def save(self, path: PathLike) -> Path:
        """Write architecture, parameters and their checksum to ``path`` as JSON, atomically.

        The file is written to a temporary file in the same directory and moved into
        place with `os.replace`, so a crash never leaves a half-written file behind (see
        `gradstep.nn.modelfile`).  A symlink is followed: its target is replaced.
        """
        text = document_text(type(self).__name__, self.config(), self.state_dict())
        return write_model_file(path, text)

    def load_weights(self, path: PathLike) -> None:
        """Load parameters saved by `save` into this module (same type and architecture).

        A missing, corrupt or mismatched file raises (`FileNotFoundError`,
        `ModelFileError`) and leaves every parameter as it was.
        """
        self._load_file(read_model_file(path))

    @classmethod
    def load(cls: type[M], path: PathLike) -> M:
        """Build a new module of the architecture saved in ``path`` and load its parameters.

        The architecture is checked against the limits and the number of parameters in
        the file before anything is built (`gradstep.nn.modelfile.MAX_PARAMETERS`).
        """
        file = read_model_file(path)
        if file.type != cls.__name__:
            raise ModelFileError(
                f"{path}: the file holds a {file.type}, not a {cls.__name__} (use {file.type}.load)"
            )
        kwargs = cls._checked_file_config(file)
        module = cls(**kwargs)
        module._load_file(file)
        return module

    @classmethod
    def _checked_config(cls, config: Mapping[str, object]) -> tuple[dict[str, Any], int | None]:
        """The constructor arguments ``config`` gives, checked, and how many parameters they
        make (None: unknown until built).  Raises `ValueError` saying what is wrong."""
        return dict(config), None

    @classmethod
    def _checked_file_config(cls, file: ModelFile) -> dict[str, Any]:
        """`_checked_config` of a file's config, with its parameter count checked too."""
        try:
            kwargs, count = cls._checked_config(file.config)
        except (TypeError, ValueError) as error:
            raise ModelFileError(
                f"{file.path}: cannot build a {cls.__name__} from config "
                f"{short_repr(file.config)}: {error}"
            ) from None
        if count is not None and count != len(file.parameters):
            raise ModelFileError(
                f"{file.path}: {_describe(cls.__name__, kwargs)} has {count:,} parameters, "
                f"but the file holds {len(file.parameters):,}"
            )
        return kwargs

    def _load_file(self, file: ModelFile) -> None:
        """Check a read model file against this module, then copy its parameters in."""
        mine = type(self).__name__
        if file.type != mine or type(self)._checked_file_config(file) != self.config():
            raise ModelFileError(
                f"{file.path}: the file holds {_describe(file.type, file.config)}, "
                f"but this model is {_describe(mine, self.config())}"
            )
        try:
            self.load_state_dict(file.parameters)
        except ModelFileError as error:
            raise ModelFileError(f"{file.path}: {error}") from None


class Neuron(Module):
    """One neuron: act(b + Σᵢ wᵢ·xᵢ) with ``nin`` weights ``w`` and a bias ``b``.

    ``Neuron(nin)`` is micrograd's ReLU neuron and ``Neuron(nin, nonlin=False)`` its linear
    one; ``activation`` ("relu", "tanh", "sigmoid", "leaky_relu", "linear") overrides
    ``nonlin``.  Weights start uniform in [-1, 1] (``init="uniform"``, micrograd), or
    Xavier/Glorot uniform in ±√(6/(nin+fan_out)) (``"xavier"``), or He uniform in ±√(6/nin)
    (``"he"``); the bias starts at 0.  Randomness comes from ``rng`` (a `random.Random`),
    else from ``random.Random(seed)``, else from the `random` module (as micrograd).
    ``name`` labels the nodes the neuron builds (``_scope``) so drawings can group them.
    """

    def __init__(
        self,
        nin: int,
        nonlin: bool = True,
        *,
        activation: str | None = None,
        init: str = "uniform",
        rng: random.Random | None = None,
        seed: int | None = None,
        fan_out: int = 1,
        name: str = "neuron",
    ) -> None:
        _check_size("nin", nin)
        activation = _check_activation(activation, nonlin)
        uniform = _uniform_source(rng, seed)
        bound = _init_bound(init, nin, fan_out)
        self.w = [Value(uniform(-bound, bound), label=f"w{i}") for i in range(nin)]
        self.b = Value(0.0, label="b")
        self.activation = activation
        self.nonlin = activation != "linear"
        self.name = name
        for p in self.w:
            p._scope = name
        self.b._scope = name
        self._act = ACTIVATIONS[activation]

    def __call__(self, x: Input) -> Value:
        """act(b + Σᵢ wᵢ·xᵢ) for inputs ``x`` (floats or Values; a bare scalar if nin = 1)."""
        w = self.w
        xs = x if type(x) is list else _as_inputs(x)
        if len(xs) != len(w):
            raise ValueError(f"{self.name}: expected {len(w)} inputs, got {len(xs)}")
        scope = self.name
        act = self.b
        for wi, xi in zip(w, xs, strict=True):
            prod = wi * xi
            act = act + prod
            prod._scope = act._scope = scope
        f = self._act
        if f is not None:
            act = f(act)
            act._scope = scope
        return act

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``("w0", w0), …, ("b", b)``."""
        return [*((f"w{i}", w) for i, w in enumerate(self.w)), ("b", self.b)]

    def parameters(self) -> list[Value]:
        """The weights, then the bias (micrograd's order)."""
        return [*self.w, self.b]

    def config(self) -> dict[str, Any]:
        """``{"nin": …, "activation": …}``."""
        return {"nin": len(self.w), "activation": self.activation}

    @classmethod
    def _checked_config(cls, config: Mapping[str, object]) -> tuple[dict[str, Any], int]:
        """nin weights and a bias: nin + 1 parameters."""
        _config_keys(config, required=("nin",), optional=("activation",))
        nin = _config_size(config, "nin")
        activation = _config_activation(config, "activation", "relu")
        return {"nin": nin, "activation": activation}, _bounded_count(nin + 1)

    def __repr__(self) -> str:
        return f"{_ACTIVATION_TITLES[self.activation]}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs; ``kwargs`` go to each `Neuron`.

    Calling it returns a list of ``nout`` Values, or one Value if ``nout == 1`` (micrograd).
    ``name`` names the layer, and its neurons ``{name}.neuron0``, …; the layer gives each
    neuron its ``rng``, ``fan_out`` (= ``nout``) and name, so ``kwargs`` cannot.
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        *,
        rng: random.Random | None = None,
        seed: int | None = None,
        name: str = "layer",
        **kwargs: Any,
    ) -> None:
        _check_size("nin", nin)
        _check_size("nout", nout)
        if "fan_out" in kwargs:
            raise TypeError(
                f"Layer sets each neuron's fan_out itself (to nout = {nout}), so it cannot "
                "be passed in the neuron options"
            )
        rng = _shared_rng(rng, seed)
        self.name = name
        self.neurons = [
            Neuron(nin, rng=rng, fan_out=nout, name=f"{name}.neuron{j}", **kwargs)
            for j in range(nout)
        ]

    def __call__(self, x: Input) -> Output:
        """Each neuron applied to ``x``; plain numbers become one shared leaf per input,
        labelled ``x0``, ``x1``, … (so drawings and walk-throughs name them).

        The cyclic garbage collector is paused while the layer builds its nodes (they form no
        cycles; a collection here would only re-scan the growing graph): ~40% off a forward
        pass, see bench/RESULTS.md.  The caller's setting is restored.
        """
        xs = [
            xi if isinstance(xi, Value) else Value(xi, label=f"x{i}")
            for i, xi in enumerate(_as_inputs(x))
        ]
        with _CollectorPaused():
            out = [n(xs) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``("neuron{j}.w{i}", w), …`` for each neuron j."""
        return [
            (f"neuron{j}.{name}", p)
            for j, n in enumerate(self.neurons)
            for name, p in n.named_parameters()
        ]

    def parameters(self) -> list[Value]:
        """Every neuron's parameters, neuron by neuron."""
        return [p for n in self.neurons for p in n.parameters()]

    def config(self) -> dict[str, Any]:
        """``{"nin": …, "nout": …, "activation": …}``."""
        first = self.neurons[0]
        return {"nin": len(first.w), "nout": len(self.neurons), "activation": first.activation}

    @classmethod
    def _checked_config(cls, config: Mapping[str, object]) -> tuple[dict[str, Any], int]:
        """nout neurons of nin + 1 parameters: nout·(nin + 1)."""
        _config_keys(config, required=("nin", "nout"), optional=("activation",))
        nin, nout = _config_size(config, "nin"), _config_size(config, "nout")
        activation = _config_activation(config, "activation", "relu")
        count = _bounded_count(nout * (nin + 1))
        return {"nin": nin, "nout": nout, "activation": activation}, count

    def __repr__(self) -> str:
        names = [repr(n) for n in self.neurons]
        if len(set(names)) == 1:
            return f"Layer of {len(names)} × {names[0]}"
        return f"Layer of [{', '.join(names)}]"


class MLP(Module):
    """A multi-layer perceptron: ``MLP(nin, [h1, h2, …, nout])``.

    Hidden layers use ``activation`` (ReLU by default, as micrograd); the last layer uses
    ``output_activation`` (linear by default, as micrograd).  ``init``, ``rng`` and ``seed``
    as for `Neuron`; one random stream initialises every layer in order.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        *,
        activation: str = "relu",
        output_activation: str = "linear",
        init: str = "uniform",
        rng: random.Random | None = None,
        seed: int | None = None,
    ) -> None:
        _check_size("nin", nin)
        if isinstance(nouts, int) or not nouts:
            raise ValueError(f"nouts must be a non-empty list of layer sizes, got {nouts!r}")
        sizes = [nin, *nouts]
        rng = _shared_rng(rng, seed)
        self.activation = _check_activation(activation, True)
        self.output_activation = _check_activation(output_activation, False)
        last = len(nouts) - 1
        self.layers = [
            Layer(
                sizes[i],
                sizes[i + 1],
                activation=output_activation if i == last else activation,
                init=init,
                rng=rng,
                name=f"layer{i}",
            )
            for i in range(len(nouts))
        ]

    def __call__(self, x: Input) -> Output:
        """The layers applied in turn: a list of outputs, or one Value if there is one."""
        out: Input = x
        for layer in self.layers:
            out = layer(out)
        return out  # type: ignore[return-value]

    def output(self, x: Input) -> Value:
        """The one output, typed as a `Value` (``model(x)`` is a Value or a list, as micrograd)."""
        out = self(x)
        if isinstance(out, list):
            raise ValueError(
                f"output() is for an MLP with one output, this one has {len(out)}: use outputs()"
            )
        return out

    def outputs(self, x: Input) -> list[Value]:
        """Every output as a list, even when there is one (typed: ``list[Value]``)."""
        out = self(x)
        return out if isinstance(out, list) else [out]

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``("layer{k}.neuron{j}.w{i}", w), …``."""
        return [
            (f"layer{k}.{name}", p)
            for k, layer in enumerate(self.layers)
            for name, p in layer.named_parameters()
        ]

    def parameters(self) -> list[Value]:
        """Every layer's parameters, layer by layer."""
        return [p for layer in self.layers for p in layer.parameters()]

    def config(self) -> dict[str, Any]:
        """``{"nin": …, "nouts": […], "activation": …, "output_activation": …}``."""
        return {
            "nin": len(self.layers[0].neurons[0].w),
            "nouts": [len(layer.neurons) for layer in self.layers],
            "activation": self.activation,
            "output_activation": self.output_activation,
        }

    @classmethod
    def _checked_config(cls, config: Mapping[str, object]) -> tuple[dict[str, Any], int]:
        """Σₖ nₖ·(nₖ₋₁ + 1) over the layers, n₀ = nin; the sum stops at the limit."""
        _config_keys(
            config, required=("nin", "nouts"), optional=("activation", "output_activation")
        )
        nin = _config_size(config, "nin")
        nouts = config["nouts"]
        if not isinstance(nouts, list) or not nouts:
            raise ValueError(
                f"nouts must be a non-empty list of layer sizes, got {short_repr(nouts)}"
            )
        sizes: list[int] = []
        count, fan_in = 0, nin
        for k, n in enumerate(nouts):
            size = _config_size({f"nouts[{k}]": n}, f"nouts[{k}]")
            count = _bounded_count(count + size * (fan_in + 1))
            sizes.append(size)
            fan_in = size
        kwargs = {
            "nin": nin,
            "nouts": sizes,
            "activation": _config_activation(config, "activation", "relu"),
            "output_activation": _config_activation(config, "output_activation", "linear"),
        }
        return kwargs, count

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(repr(layer) for layer in self.layers)}]"

    # ---- PyTorch (optional: pip install 'gradstep[torch]') -----------------------------

    def to_torch(self) -> torch.nn.Sequential:
        """This network as a float64 ``torch.nn.Sequential`` with the same weights.

        ``layer{k}.neuron{j}.w{i}`` becomes ``weight[j, i]`` of the k-th Linear layer, each
        followed by its activation module; see `gradstep.nn.torch_bridge`.  Needs PyTorch.
        """
        from gradstep.nn.torch_bridge import mlp_to_torch

        return mlp_to_torch(self)

    @classmethod
    def from_torch(cls: type[N], module: torch.nn.Sequential) -> N:
        """The MLP equal to a ``torch.nn.Sequential`` of Linear layers and ReLU / Tanh /
        Sigmoid / LeakyReLU(0.01) activations; anything else raises an error naming the
        layer.  Needs PyTorch."""
        from gradstep.nn.torch_bridge import mlp_from_torch

        return mlp_from_torch(module, cls)


# ---------------------------------------------------------------------------------------
# construction helpers


def _as_inputs(x: Input) -> Sequence[Value | float]:
    """A module's inputs as a sequence: a lone Value or number becomes a 1-element list."""
    if isinstance(x, (Value, int, float)):
        return [x]
    if isinstance(x, Real):  # e.g. a Fraction
        return [float(x)]
    try:
        len(x)
    except TypeError:
        raise TypeError(
            f"inputs must be a list of numbers or Values, got {type(x).__name__}"
        ) from None
    return x


def _check_size(what: str, n: object) -> None:
    """A layer size must be a positive integer (an int, or an Integral such as np.int64)."""
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n!r}")


def _config_keys(
    config: Mapping[str, object], required: Sequence[str], optional: Sequence[str]
) -> None:
    """A saved config must have every required key and no key the constructor lacks."""
    missing = [key for key in required if key not in config]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    unknown = [key for key in config if key not in required and key not in optional]
    if unknown:
        raise ValueError(f"unknown setting {short_repr(unknown[0])}")


def _config_size(config: Mapping[str, object], key: str) -> int:
    """A saved size: an int (not 2.0, not true) from 1 to MAX_PARAMETERS."""
    n = config[key]
    if type(n) is not int or not 1 <= n <= MAX_PARAMETERS:
        raise ValueError(
            f"{key} must be an integer from 1 to {MAX_PARAMETERS:,}, got {short_repr(n)}"
        )
    return n


def _config_activation(config: Mapping[str, object], key: str, default: str) -> str:
    """A saved activation: one of the names in `ACTIVATIONS`."""
    name = config.get(key, default)
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"{key} must be one of {', '.join(ACTIVATIONS)}, got {short_repr(name)}")
    return name


def _bounded_count(count: int) -> int:
    """A parameter count, refused above MAX_PARAMETERS (before anything is built)."""
    if count > MAX_PARAMETERS:
        raise ValueError(
            f"it would have more than {MAX_PARAMETERS:,} parameters, the limit MAX_PARAMETERS"
        )
    return count


def _check_activation(activation: str | None, nonlin: bool) -> str:
    """The activation's name: ``activation`` if given, else relu/linear from ``nonlin``."""
    if activation is None:
        return "relu" if nonlin else "linear"
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
        )
    return activation


def _init_bound(init: str, fan_in: int, fan_out: int) -> float:
    """Half-width a of the uniform U(-a, a) the weights are drawn from."""
    if init == "uniform":
        return 1.0
    if init == "xavier":
        return math.sqrt(6.0 / (fan_in + fan_out))
    if init == "he":
        return math.sqrt(6.0 / fan_in)
    raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")


def _shared_rng(rng: random.Random | None, seed: int | None) -> random.Random | None:
    """One stream for a whole layer or network: ``rng``, or a new one from ``seed``."""
    if rng is not None and seed is not None:
        raise ValueError("give either rng or seed, not both")
    if rng is not None and not isinstance(rng, random.Random):
        raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
    return random.Random(seed) if seed is not None else rng


def _uniform_source(rng: random.Random | None, seed: int | None) -> Callable[[float, float], float]:
    """The ``uniform(a, b)`` to draw weights with (the `random` module's if no rng/seed)."""
    shared = _shared_rng(rng, seed)
    return shared.uniform if shared is not None else random.uniform


# ---------------------------------------------------------------------------------------
# saving and loading


def _check_names(state: Mapping[str, object], expected: list[str]) -> None:
    """Raise `ModelFileError` listing missing and unexpected parameter names."""
    if not isinstance(state, Mapping):
        raise ModelFileError(f"a state must be a mapping of names to numbers, got {state!r}")
    missing = [name for name in expected if name not in state]
    wanted = set(expected)
    unexpected = [name for name in state if name not in wanted]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} parameter(s): {_first(missing)}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} parameter(s): {_first(unexpected)}")
        raise ModelFileError(f"parameters do not match the model: {'; '.join(parts)}")


def _first(names: list[str], limit: int = 5) -> str:
    """The first few names, comma-separated, with '…' if there are more."""
    shown = ", ".join(names[:limit])
    return shown + (", …" if len(names) > limit else "")


def _describe(kind: object, config: object) -> str:
    """``MLP(nin=2, nouts=[16, 16, 1], …)`` for error messages (long values cut short)."""
    if isinstance(config, dict):
        args = ", ".join(f"{k}={short_repr(v)}" for k, v in config.items())
        return f"{kind}({args})"
    return f"{kind}({short_repr(config)})"
