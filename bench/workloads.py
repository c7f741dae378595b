"""The benchmark's workloads: the data every backend shares, so all compute the same thing."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from gradstep.nn.datasets import make_moons

__all__ = ["MoonsProblem", "moons_problem", "wide_data", "CHAIN_SCALE", "CHAIN_SHIFT"]

#: the chain workload: y ← y·CHAIN_SCALE + CHAIN_SHIFT
CHAIN_SCALE = 1.0001
CHAIN_SHIFT = 0.0001


@dataclass(frozen=True)
class MoonsProblem:
    """micrograd's demo: two moons, MLP(2, [16, 16, 1]), SVM loss + α·L2, one SGD step."""

    X: list[list[float]]
    y: list[float]
    sizes: list[int]
    #: per layer: (weights, one row per neuron; biases)
    init_params: list[tuple[list[list[float]], list[float]]]
    alpha: float = 1e-4
    lr: float = 0.05

    def flat_params(self) -> list[float]:
        """The initial parameters in micrograd's order: per neuron, its weights then its bias."""
        flat: list[float] = []
        for W, b in self.init_params:
            for row, bias in zip(W, b, strict=True):
                flat.extend(row)
                flat.append(bias)
        return flat


def moons_problem(n_samples: int = 100, hidden: int = 16, seed: int = 0) -> MoonsProblem:
    """The moons data and one fixed initialisation of MLP(2, [hidden, hidden, 1])."""
    X, y = make_moons(n_samples=n_samples, noise=0.1, seed=seed)
    rng = random.Random(seed)
    sizes = [2, hidden, hidden, 1]
    init = []
    for nin, nout in itertools.pairwise(sizes):
        W = [[rng.uniform(-1.0, 1.0) for _ in range(nin)] for _ in range(nout)]
        init.append((W, [0.0] * nout))
    return MoonsProblem(
        X=[[float(v) for v in row] for row in X],
        y=[float(v) for v in y],
        sizes=sizes,
        init_params=init,
    )


def wide_data(n: int, seed: int = 0) -> tuple[list[float], list[float]]:
    """Two lists of n floats in [-1, 1] for the ``wide`` workload (Σ wᵢ·xᵢ)."""
    rng = random.Random(seed)
    return [rng.uniform(-1.0, 1.0) for _ in range(n)], [rng.uniform(-1.0, 1.0) for _ in range(n)]
