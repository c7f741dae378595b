"""Networks from Values: modules, losses, optimisers, model files, datasets, the PyTorch bridge."""

from gradstep.nn import losses, optim
from gradstep.nn.modelfile import FORMAT_VERSION, ModelFileError
from gradstep.nn.modules import ACTIVATIONS, INITS, MLP, Layer, Module, Neuron

__all__ = [
    "Module",
    "Neuron",
    "Layer",
    "MLP",
    "ACTIVATIONS",
    "INITS",
    "FORMAT_VERSION",
    "ModelFileError",
    "losses",
    "optim",
]
