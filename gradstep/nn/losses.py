"""Loss functions over `Value`s: squared error, cross-entropies, softmax, hinge, L2 penalty.

Each returns a `Value` (call ``.backward()`` on it) built from the engine's ops only, so
every number of its backward pass can be inspected.  Batch losses are means over samples,
computed as ``sum · (1/n)`` as in micrograd's demo.  The stable forms subtract the largest
logit before exponentiating (log-sum-exp) and never take ``exp`` of a large positive number.

Nothing here reads a `Value`'s ``.data`` to choose what to build from a value the gradient
flows through: the log-sum-exp shift is a ``max`` node and softplus's two cases are one
formula with a ``relu``, so the graph is the same for every value of the parameters and
`gradstep.compile` replays it exactly after any update.  (``.data`` is read only to refuse
bad input: a target outside [0, 1], a logit that is not finite.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import TypeAlias

from gradstep.engine import Value, apply
from gradstep.ops import MAXIMUM

__all__ = [
    "mse_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "softmax",
    "log_softmax",
    "logsumexp",
    "softmax_cross_entropy",
    "hinge_loss",
    "l2_penalty",
]

Scalar: TypeAlias = "Value | float"


def mse_loss(predictions: Sequence[Scalar] | Scalar, targets: Sequence[Scalar] | Scalar) -> Value:
    """Mean squared error  L = (1/n) Σᵢ (pᵢ - tᵢ)²."""
    ps, ts = _paired("mse_loss", predictions, targets)
    return _mean([(p - t) * (p - t) for p, t in zip(ps, ts, strict=True)])


def binary_cross_entropy(
    probabilities: Sequence[Scalar] | Scalar, targets: Sequence[Scalar] | Scalar
) -> Value:
    """L = -(1/n) Σᵢ [tᵢ·ln pᵢ + (1 - tᵢ)·ln(1 - pᵢ)]  for probabilities pᵢ (e.g. sigmoid outputs).

    Targets lie in [0, 1]; a term whose coefficient is exactly 0 is left out, so
    p = 1 with t = 1 is fine.  A probability of exactly 0 or 1 against the other label
    is an infinite loss and raises `ValueError` (use `binary_cross_entropy_with_logits`).
    """
    ps, ts = _paired("binary_cross_entropy", probabilities, targets)
    terms = []
    for i, (p, t) in enumerate(zip(ps, ts, strict=True)):
        pd, td = p.data, t.data
        if not 0.0 <= td <= 1.0:
            raise ValueError(f"binary_cross_entropy: target {i} is {td!r}, not in [0, 1]")
        if not 0.0 <= pd <= 1.0:
            raise ValueError(f"binary_cross_entropy: probability {i} is {pd!r}, not in [0, 1]")
        if (pd == 0.0 and td != 0.0) or (pd == 1.0 and td != 1.0):
            raise ValueError(
                f"binary_cross_entropy: probability {i} is {pd!r} with target {td!r}, an "
                "infinite loss; use binary_cross_entropy_with_logits on the logits instead"
            )
        term: Value | None = None
        if td != 0.0:
            term = t * p.log()
        if td != 1.0:
            rest = (1.0 - t) * (1.0 - p).log()
            term = rest if term is None else term + rest
        terms.append(-term if term is not None else Value(0.0))
    return _mean(terms)


def binary_cross_entropy_with_logits(
    logits: Sequence[Scalar] | Scalar, targets: Sequence[Scalar] | Scalar
) -> Value:
    """L = (1/n) Σᵢ [softplus(zᵢ) - tᵢ·zᵢ], the cross-entropy of σ(zᵢ) against tᵢ, for any zᵢ.

    softplus(z) = ln(1 + eᶻ) is computed as z + ln(1 + e⁻ᶻ) for z ≥ 0 and ln(1 + eᶻ)
    otherwise, so no exponent is ever positive; ∂L/∂zᵢ = (σ(zᵢ) - tᵢ)/n.
    """
    zs, ts = _paired("binary_cross_entropy_with_logits", logits, targets)
    terms = []
    for i, (z, t) in enumerate(zip(zs, ts, strict=True)):
        if not 0.0 <= t.data <= 1.0:
            raise ValueError(
                f"binary_cross_entropy_with_logits: target {i} is {t.data!r}, not in [0, 1]"
            )
        _check_finite_logits("binary_cross_entropy_with_logits: ", [z], first=i)
        terms.append(_softplus(z) - t * z)
    return _mean(terms)


def logsumexp(values: Sequence[Scalar]) -> Value:
    """ln Σᵢ e^(xᵢ), computed as m + ln Σᵢ e^(xᵢ - m) with m = maxᵢ xᵢ (a ``max`` node; its
    own gradient 1 - Σᵢ softmaxᵢ is 0 up to rounding)."""
    xs = _values("logsumexp", values)
    _check_finite_logits("logsumexp: ", xs)
    m = _max(xs)
    return _sum([(x - m).exp() for x in xs]).log() + m


def softmax(logits: Sequence[Scalar]) -> list[Value]:
    """softmax(z)ᵢ = e^(zᵢ - m) / Σⱼ e^(zⱼ - m), m = maxⱼ zⱼ (shift-invariant, no overflow)."""
    zs = _values("softmax", logits)
    _check_finite_logits("softmax: ", zs)
    m = _max(zs)
    exps = [(z - m).exp() for z in zs]
    total = _sum(exps)
    return [e / total for e in exps]


def log_softmax(logits: Sequence[Scalar]) -> list[Value]:
    """log_softmax(z)ᵢ = zᵢ - logsumexp(z)."""
    zs = _values("log_softmax", logits)
    _check_finite_logits("log_softmax: ", zs)
    lse = logsumexp(zs)
    return [z - lse for z in zs]


def softmax_cross_entropy(
    logits: Sequence[Sequence[Scalar]] | Sequence[Scalar], targets: Sequence[int] | int
) -> Value:
    """L = (1/n) Σᵢ [logsumexp(zᵢ) - zᵢ[kᵢ]]: cross-entropy of softmax(zᵢ) against class kᵢ.

    Give a batch (a list of logit lists and a list of class indices) or one sample (a
    list of logits and one class index).  Stable for any logits (log-sum-exp).
    """
    if isinstance(targets, bool) or (
        isinstance(targets, Real) and not isinstance(targets, Integral)
    ):
        raise ValueError(f"softmax_cross_entropy: target is {targets!r}, not a class index")
    if isinstance(targets, Integral):
        batch: Sequence[Sequence[Scalar]] = [logits]  # type: ignore[list-item]
        classes: Sequence[int] = [targets]  # type: ignore[list-item]
    else:
        batch, classes = logits, targets  # type: ignore[assignment]
    if len(batch) != len(classes):
        raise ValueError(
            f"softmax_cross_entropy: {len(batch)} samples of logits but {len(classes)} targets"
        )
    if not batch:
        raise ValueError("softmax_cross_entropy: no samples")
    terms: list[Value] = []
    for i, (row, k) in enumerate(zip(batch, classes, strict=True)):
        zs = _values("softmax_cross_entropy", row)
        _check_finite_logits(f"softmax_cross_entropy: sample {i}, ", zs)
        if isinstance(k, bool) or not isinstance(k, Integral) or not 0 <= k < len(zs):
            raise ValueError(
                f"softmax_cross_entropy: target {i} is {k!r}, not a class index in 0..{len(zs) - 1}"
            )
        terms.append(logsumexp(zs) - zs[int(k)])
    return _mean(terms)


def hinge_loss(scores: Sequence[Scalar] | Scalar, labels: Sequence[int] | int) -> Value:
    """SVM max-margin loss  L = (1/n) Σᵢ max(0, 1 - yᵢ·sᵢ)  with labels yᵢ ∈ {-1, +1}.

    This is the loss of micrograd's moons demo: ``(1 + -yᵢ·sᵢ).relu()`` averaged.
    """
    ss, ys = _paired("hinge_loss", scores, labels)
    for i, y in enumerate(ys):
        if y.data not in (-1.0, 1.0):
            raise ValueError(f"hinge_loss: label {i} is {y.data!r}; labels must be -1 or +1")
    return _mean([(1.0 + -y * s).relu() for s, y in zip(ss, ys, strict=True)])


def l2_penalty(parameters: Iterable[Value], alpha: float = 1.0) -> Value:
    """Ω = α · Σⱼ θⱼ², α ≥ 0  (its gradient 2αθ is the "λ∇Ω" weight-decay term of SGD)."""
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, Real)
        or not math.isfinite(alpha)
        or alpha < 0
    ):
        raise ValueError(f"l2_penalty: alpha must be a finite number >= 0, got {alpha!r}")
    params = list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(f"l2_penalty: parameter {i} is a {type(p).__name__}, not a Value")
    if not params:
        return Value(0.0)
    return alpha * _sum([p * p for p in params])


# ---------------------------------------------------------------------------------------
# helpers


def _softplus(z: Value) -> Value:
    """ln(1 + eᶻ) = r + ln(1 + e^(z - 2r)) with r = relu(z), without overflow: z + ln(1 + e⁻ᶻ)
    for z ≥ 0 and ln(1 + eᶻ) for z < 0, in one graph for both (z - 2r = -|z|, and its slope
    1 at z = 0 gives softplus'(0) = ½ where |z|'s 0 would give 0)."""
    r = z.relu()
    return r + (1.0 + (z - 2.0 * r).exp()).log()


def _max(values: Sequence[Value]) -> Value:
    """max(v₀, max(v₁, …)) as a chain of ``max`` nodes."""
    m = values[0]
    for v in values[1:]:
        m = apply(MAXIMUM, m, v)
    return m


def _check_finite_logits(where: str, zs: Sequence[Value], first: int = 0) -> None:
    """Refuse a NaN or infinite logit, naming it (the max-shift would turn it into NaN)."""
    for i, z in enumerate(zs, start=first):
        if not math.isfinite(z.data):
            raise ValueError(f"{where}logit {i} is {z.data!r}, not a finite number")


def _sum(values: Sequence[Value]) -> Value:
    """v₀ + v₁ + … as a chain of '+' nodes (no extra 0 leaf)."""
    total = values[0]
    for v in values[1:]:
        total = total + v
    return total


def _mean(values: Sequence[Value]) -> Value:
    """(1/n) Σᵢ vᵢ, as ``sum · (1/n)`` (micrograd's demo)."""
    return _sum(values) * (1.0 / len(values))


def _values(where: str, xs: Sequence[Scalar] | Scalar) -> list[Value]:
    """``xs`` as a non-empty list of Values (numbers become constant leaves)."""
    if isinstance(xs, (Value, int, float)):
        xs = [xs]
    try:
        out = [x if isinstance(x, Value) else Value(x) for x in xs]
    except TypeError as error:
        raise TypeError(f"{where}: {error}") from None
    if not out:
        raise ValueError(f"{where}: got no values")
    return out


def _paired(
    where: str,
    predictions: Sequence[Scalar] | Scalar,
    targets: Sequence[Scalar] | Scalar | Sequence[int] | int,
) -> tuple[list[Value], list[Value]]:
    """Predictions and targets as two Value lists of the same, non-zero length."""
    ps = _values(where, predictions)
    ts = _values(where, targets)
    if len(ps) != len(ts):
        raise ValueError(f"{where}: {len(ps)} predictions but {len(ts)} targets")
    return ps, ts
