"""Optimizers that update `Value` parameters from their ``grad``: SGD (with momentum), Adam.

The update rules are PyTorch's (``torch.optim.SGD`` and ``torch.optim.Adam``), written
out per scalar.  A learning rate is a number or a function of the step number
``t = 0, 1, 2, …`` (the number of `step` calls made before this one), e.g. micrograd's
decay ``lambda t: 1.0 - 0.9 * t / 100``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from numbers import Real
from typing import TypeAlias

from gradstep.engine import Value

__all__ = ["Optimizer", "SGD", "Adam", "LearningRate"]

LearningRate: TypeAlias = "float | Callable[[int], float]"


class Optimizer:
    """Base class: holds the parameters, the learning rate and the step count ``t``."""

    def __init__(self, params: Iterable[Value], lr: LearningRate) -> None:
        self.params = _check_params(params)
        if not callable(lr):
            _check_number("lr", lr, low=0.0)
        self.lr = lr
        #: number of `step` calls made so far
        self.t = 0

    def current_lr(self) -> float:
        """The learning rate of the next step: ``lr``, or ``lr(t)`` if it is a function."""
        lr = self.lr
        if not callable(lr):
            return float(lr)
        value = lr(self.t)
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise ValueError(f"lr({self.t}) returned {value!r}, not a finite number")
        if value < 0:
            raise ValueError(
                f"lr({self.t}) returned {value!r}, a negative learning rate (the step would "
                "climb the loss); keep the schedule >= 0"
            )
        return float(value)

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Update every parameter from its grad, then advance ``t``."""
        self._update(self.current_lr())
        self.t += 1

    def _update(self, lr: float) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and weight decay (PyTorch's rule).

    With g = ∂L/∂θ + λθ (λ = ``weight_decay``) and μ = ``momentum``:
    b ← μ·b + g (b = g on the first step);  θ ← θ - η·b, or θ ← θ - η·(g + μ·b) if
    ``nesterov``.  With μ = 0 this is the plain θ ← θ - η(∇L + λθ).
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: LearningRate,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = _check_number("momentum", momentum, low=0.0)
        self.weight_decay = _check_number("weight_decay", weight_decay, low=0.0)
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov momentum needs momentum > 0")
        self.nesterov = nesterov
        #: the momentum buffer b, one per parameter
        self.velocity = [0.0] * len(self.params)

    def _update(self, lr: float) -> None:
        """θ ← θ - η·b with b ← μ·b + g (see the class docstring)."""
        mu, wd, first = self.momentum, self.weight_decay, self.t == 0
        for i, p in enumerate(self.params):
            g = p.grad + wd * p.data if wd else p.grad
            if mu:
                b = g if first else mu * self.velocity[i] + g
                self.velocity[i] = b
                g = g + mu * b if self.nesterov else b
            p.data -= lr * g

    def __repr__(self) -> str:
        return (
            f"SGD({len(self.params)} parameters, lr={self.lr!r}, momentum={self.momentum}, "
            f"weight_decay={self.weight_decay}, nesterov={self.nesterov})"
        )


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's rule, with optional L2 weight decay λ.

    g = ∂L/∂θ + λθ;  m ← β₁m + (1-β₁)g;  v ← β₂v + (1-β₂)g²;
    θ ← θ - η · (m / (1-β₁ᵗ)) / (√(v / (1-β₂ᵗ)) + ε),  t = 1, 2, … counting this step.
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: LearningRate = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        beta1 = _check_number("betas[0]", betas[0], low=0.0, below=1.0)
        beta2 = _check_number("betas[1]", betas[1], low=0.0, below=1.0)
        self.betas = (beta1, beta2)
        self.eps = _check_number("eps", eps, low=0.0)
        self.weight_decay = _check_number("weight_decay", weight_decay, low=0.0)
        #: first and second moment estimates m and v, one per parameter
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)

    def _update(self, lr: float) -> None:
        """One Adam step (see the class docstring)."""
        beta1, beta2 = self.betas
        t = self.t + 1
        correction1 = 1.0 - beta1**t
        correction2 = 1.0 - beta2**t
        wd, eps, m, v = self.weight_decay, self.eps, self.m, self.v
        for i, p in enumerate(self.params):
            g = p.grad + wd * p.data if wd else p.grad
            m[i] = beta1 * m[i] + (1.0 - beta1) * g
            v[i] = beta2 * v[i] + (1.0 - beta2) * g * g
            m_hat = m[i] / correction1
            v_hat = v[i] / correction2
            p.data -= lr * m_hat / (math.sqrt(v_hat) + eps)

    def __repr__(self) -> str:
        return (
            f"Adam({len(self.params)} parameters, lr={self.lr!r}, betas={self.betas}, "
            f"eps={self.eps}, weight_decay={self.weight_decay})"
        )


def _check_params(params: Iterable[Value]) -> list[Value]:
    """The parameters as a list: non-empty, all Values, none repeated."""
    if isinstance(params, Value):
        raise TypeError("params must be an iterable of Values (e.g. model.parameters())")
    out = list(params)
    if not out:
        raise ValueError("the optimizer got an empty parameter list")
    seen: set[int] = set()
    for i, p in enumerate(out):
        if not isinstance(p, Value):
            raise TypeError(f"parameter {i} is a {type(p).__name__}, not a Value")
        if id(p) in seen:
            raise ValueError(f"parameter {i} appears more than once in the parameter list")
        seen.add(id(p))
    return out


def _check_number(name: str, value: object, low: float, below: float | None = None) -> float:
    """A finite real number ≥ ``low`` (and < ``below`` if given), as a float."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if value < low or (below is not None and value >= below):
        bounds = f"in [{low}, {below})" if below is not None else f">= {low}"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return value
