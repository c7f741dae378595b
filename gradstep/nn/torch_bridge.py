"""The bridge to PyTorch: an `MLP` as a float64 ``torch.nn.Sequential``, and back.

gradstep's ``MLP(nin, [h1, …, nout])`` is, in PyTorch, the Sequential

    Linear(nin, h1), act, Linear(h1, h2), act, …, Linear(·, nout)[, output act]

in which neuron j of layer k is row j of the k-th Linear layer:
``layer{k}.neuron{j}.w{i}`` ↔ ``weight[j, i]`` and ``layer{k}.neuron{j}.b`` ↔ ``bias[j]``.
A linear activation is no module at all (or ``nn.Identity``).  Weights travel as float64,
the type of a Python float, so nothing is rounded in either direction.

torch is imported only when one of these functions is called, and `gradstep.nn` imports
this module only from `MLP.to_torch` / `MLP.from_torch`: ``import gradstep`` never loads torch.
"""

from __future__ import annotations

import inspect
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from gradstep.nn.modules import MLP
from gradstep.ops import BUILTIN_OPS, OpSpec

if TYPE_CHECKING:
    import torch

__all__ = ["TORCH_INSTALL_HINT", "require_torch", "mlp_to_torch", "mlp_from_torch"]

TORCH_INSTALL_HINT = "pip install 'gradstep[torch]' (or just: pip install torch==2.13.0)"

Net = TypeVar("Net", bound=MLP)

#: the op records an MLP may use as activations; each names its ``torch.nn`` module
_ACTIVATION_OPS: dict[str, OpSpec] = {spec.name: spec for spec in BUILTIN_OPS if spec.activation}

#: gradstep activation name → the ``torch.nn`` module computing it (from the op records;
#: made with the op's constant, e.g. ``LeakyReLU(0.01)``); "linear": none
TORCH_ACTIVATIONS: dict[str, str | None] = {
    **{name: spec.torch_module for name, spec in _ACTIVATION_OPS.items()},
    "linear": None,
}


def require_torch(feature: str) -> None:
    """Import torch, or raise `ImportError` saying what ``feature`` needs installed."""
    try:
        import torch  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"{feature} needs PyTorch, which is not installed: {TORCH_INSTALL_HINT}"
        ) from error


# ---------------------------------------------------------------------------------------
# gradstep → PyTorch


def mlp_to_torch(model: MLP) -> torch.nn.Sequential:
    """``model`` as a float64 ``torch.nn.Sequential`` with the same weights (see module doc).

    Modules are named after gradstep's layers, so ``state_dict()`` keys read
    ``layer0.weight``, ``layer0.bias``, … beside the activations ``relu0``, ``tanh1``, ….
    """
    require_torch("MLP.to_torch()")
    import torch

    skip_init: Callable[..., torch.nn.Linear] = torch.nn.utils.skip_init  # (untyped in torch)
    modules: OrderedDict[str, torch.nn.Module] = OrderedDict()
    for k, layer in enumerate(model.layers):
        activations = {n.activation for n in layer.neurons}
        if len(activations) != 1:
            raise ValueError(
                f"layer {k} mixes activations {sorted(activations)}; a torch Linear layer is "
                "followed by one activation for all its outputs"
            )
        # skip_init: no random initialisation, so the user's torch random stream is untouched
        linear = skip_init(
            torch.nn.Linear, len(layer.neurons[0].w), len(layer.neurons), dtype=torch.float64
        )
        with torch.no_grad():
            linear.weight.copy_(
                torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64)
            )
            linear.bias.copy_(torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64))
        modules[f"layer{k}"] = linear
        (activation,) = activations
        if activation != "linear":
            modules[f"{activation}{k}"] = _torch_activation(activation)
    return torch.nn.Sequential(modules)


def _torch_activation(activation: str) -> torch.nn.Module:
    """The ``torch.nn`` module computing gradstep's ``activation`` (with its constant)."""
    import torch

    spec = _ACTIVATION_OPS[activation]
    kind: type[torch.nn.Module] = getattr(torch.nn, spec.torch_module)
    return kind(spec.default) if spec.param else kind()


# ---------------------------------------------------------------------------------------
# PyTorch → gradstep


def mlp_from_torch(module: Any, cls: type[Net]) -> Net:
    """A gradstep ``cls`` (an MLP) equal to ``module``: a Sequential of Linear layers, each
    followed by nothing, ReLU, Tanh, Sigmoid or LeakyReLU(0.01) (``Identity`` anywhere).

    Hidden layers must share one activation (an MLP has one ``activation`` and one
    ``output_activation``).  Anything else raises `ValueError` naming the layer by its
    index and type; a module that is not a Sequential raises `TypeError`.
    """
    require_torch("MLP.from_torch()")
    import torch

    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(
            "MLP.from_torch needs a torch.nn.Sequential of Linear layers and activations, "
            f"got {type(module).__name__}"
        )
    stages = _read_stages(module)
    net = cls(
        stages[0].linear.in_features,
        [stage.linear.out_features for stage in stages],
        activation=stages[0].activation if len(stages) > 1 else "relu",
        output_activation=stages[-1].activation,
        seed=0,  # any: every weight is overwritten; a seed leaves the global `random` alone
    )
    state: dict[str, float] = {}
    for k, stage in enumerate(stages):
        weight = stage.linear.weight.detach().to(torch.float64).tolist()
        bias = stage.linear.bias.detach().to(torch.float64).tolist()
        for j, (row, b) in enumerate(zip(weight, bias, strict=True)):
            state.update({f"layer{k}.neuron{j}.w{i}": w for i, w in enumerate(row)})
            state[f"layer{k}.neuron{j}.b"] = b
    net.load_state_dict(state)
    return net


@dataclass
class _Stage:
    """One Linear layer of a Sequential and the activation after it, with their positions."""

    linear: torch.nn.Linear
    where: str
    activation: str = "linear"
    activation_where: str = ""


def _read_stages(module: torch.nn.Sequential) -> list[_Stage]:
    """The Linear layers of ``module`` in order, each with the activation that follows it."""
    import torch

    kinds = {getattr(torch.nn, spec.torch_module): spec for spec in _ACTIVATION_OPS.values()}
    stages: list[_Stage] = []
    last = "the input"
    # zip with the names, not named_children(): that skips a module used twice (a shared ReLU)
    for index, (name, layer) in enumerate(zip(module._modules, module, strict=True)):
        where = f"layer {index} ({_describe_layer(name, index, layer)})"
        kind = type(layer)
        if kind is torch.nn.Identity:
            continue
        if type(layer) is torch.nn.Linear:
            _check_linear(layer, where, stages[-1] if stages else None)
            stages.append(_Stage(layer, where))
        elif kind in kinds:
            if not stages or stages[-1].activation_where:
                raise ValueError(
                    f"cannot import {where}: an activation must follow a Linear layer, "
                    f"but it follows {last}"
                )
            spec = kinds[kind]
            if spec.param:
                _check_constant(layer, spec, where)
            stages[-1].activation, stages[-1].activation_where = spec.name, where
        else:
            allowed = ", ".join(_torch_name(a) for a in TORCH_ACTIVATIONS if a != "linear")
            raise ValueError(
                f"cannot import {where}: a gradstep MLP is Linear layers (with bias), each "
                f"followed by nothing, {allowed} or Identity"
            )
        last = where
    if not stages:
        raise ValueError("cannot import an MLP from a Sequential with no Linear layer")
    for stage in stages[1:-1]:
        if stage.activation != stages[0].activation:
            raise ValueError(
                f"cannot import {stage.activation_where or stage.where}: the hidden layers "
                f"use {_torch_name(stages[0].activation)} before it, and a gradstep MLP has "
                f"one hidden activation (here: {_torch_name(stage.activation)})"
            )
    return stages


def _check_constant(layer: torch.nn.Module, spec: OpSpec, where: str) -> None:
    """An activation with a constant (LeakyReLU's slope) must have gradstep's value.

    The module keeps the constant under the name of its constructor's first argument
    (``LeakyReLU(negative_slope)`` → ``layer.negative_slope``).
    """
    attribute = next(iter(inspect.signature(type(layer)).parameters))
    value = getattr(layer, attribute)
    if value != spec.default:
        raise ValueError(
            f"cannot import {where}: its {attribute} is {value!r}, but gradstep's "
            f"{spec.name} has {spec.param} {spec.default}"
        )


def _torch_name(activation: str) -> str:
    """``ReLU`` for "relu", ``LeakyReLU(0.01)`` for "leaky_relu", ``no activation`` for "linear"."""
    if activation == "linear":
        return "no activation"
    spec = _ACTIVATION_OPS[activation]
    return f"{spec.torch_module}({spec.default})" if spec.param else spec.torch_module


def _check_linear(layer: torch.nn.Linear, where: str, before: _Stage | None) -> None:
    """A Linear layer must have a bias, finite real weights, and fit the layer before it."""
    import torch

    if layer.bias is None:
        raise ValueError(f"cannot import {where}: it has no bias (every gradstep neuron has one)")
    if not layer.weight.is_floating_point():
        raise ValueError(f"cannot import {where}: its weights are {layer.weight.dtype}, not real")
    for what, tensor in (("weight", layer.weight), ("bias", layer.bias)):
        values = tensor.detach().to(torch.float64).flatten().tolist()
        bad = next((v for v in values if not math.isfinite(v)), None)
        if bad is not None:
            raise ValueError(f"cannot import {where}: its {what} holds {bad!r} (not finite)")
    if before is not None and before.linear.out_features != layer.in_features:
        raise ValueError(
            f"cannot import {where}: it takes {layer.in_features} inputs, but "
            f"{before.where} gives {before.linear.out_features}"
        )


def _describe_layer(name: str, index: int, layer: object) -> str:
    """``Dropout``, or ``'drop': Dropout`` when the Sequential names its modules."""
    kind = type(layer).__name__
    return kind if name == str(index) else f"{name!r}: {kind}"
