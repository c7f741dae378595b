"""Small synthetic datasets for the demos and benchmarks (no scikit-learn needed)."""

from __future__ import annotations

import math
import random

__all__ = ["make_moons", "make_spiral"]


def make_moons(
    n_samples: int = 100, noise: float = 0.1, seed: int | None = 0
) -> tuple[list[list[float]], list[int]]:
    """Two interleaving half circles in 2-D, labelled -1 and +1.

    Half the points lie on the upper moon (cos t, sin t), half on the lower one
    (1 - cos t, 1/2 - sin t), t evenly spaced in [0, π]; Gaussian noise of standard
    deviation ``noise`` is added to each coordinate.  Returns ``(X, y)``.
    """
    _check_int("n_samples", n_samples)
    if n_samples < 2:
        raise ValueError(f"make_moons needs at least 2 samples, got {n_samples}")
    _check_noise(noise)
    rng = random.Random(seed)
    n_upper = n_samples // 2
    n_lower = n_samples - n_upper
    points: list[tuple[list[float], int]] = []
    for i in range(n_upper):
        t = math.pi * i / max(n_upper - 1, 1)
        points.append(([math.cos(t), math.sin(t)], -1))
    for i in range(n_lower):
        t = math.pi * i / max(n_lower - 1, 1)
        points.append(([1.0 - math.cos(t), 0.5 - math.sin(t)], 1))
    rng.shuffle(points)
    X = [[x + rng.gauss(0.0, noise), y + rng.gauss(0.0, noise)] for (x, y), _ in points]
    labels = [label for _, label in points]
    return X, labels


def make_spiral(
    n_per_class: int = 40, n_classes: int = 3, noise: float = 0.2, seed: int | None = 0
) -> tuple[list[list[float]], list[int]]:
    """``n_classes`` interleaved spiral arms in 2-D, labelled 0 … n_classes-1 (cs231n style).

    Point i of arm k sits at radius r = i / n_per_class and angle
    θ = 4(k + r) + noise·N(0, 1), i.e. at (r sin θ, r cos θ).  Returns ``(X, y)``.
    """
    _check_int("n_per_class", n_per_class)
    _check_int("n_classes", n_classes)
    _check_noise(noise)
    if n_per_class < 1 or n_classes < 2:
        raise ValueError(
            f"make_spiral needs n_per_class >= 1 and n_classes >= 2, "
            f"got {n_per_class} and {n_classes}"
        )
    rng = random.Random(seed)
    X: list[list[float]] = []
    y: list[int] = []
    for k in range(n_classes):
        for i in range(n_per_class):
            r = i / n_per_class
            theta = 4.0 * (k + r) + noise * rng.gauss(0.0, 1.0)
            X.append([r * math.sin(theta), r * math.cos(theta)])
            y.append(k)
    return X, y


def _check_int(name: str, n: object) -> None:
    """A count must be an int (not a bool, not a float)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{name} must be an int, got {n!r}")


def _check_noise(noise: float) -> None:
    """A noise level must be a finite number ≥ 0 (NaN would make every point NaN)."""
    if not (math.isfinite(noise) and noise >= 0.0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
