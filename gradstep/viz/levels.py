"""Exercises on demand: a fresh backward pass to practise at a level, the same one for the
same seed, built from the op records with numbers that keep the hand arithmetic friendly.

    level 1  + and * on 3–5 values          level 4  a value used twice (fan-out)
    level 2  adds −, / and **               level 5  a neuron from gradstep.nn and its
    level 3  adds tanh, exp, sigmoid, relu           activation
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from gradstep.engine import Value
from gradstep.expr import ExpressionError, parse
from gradstep.ops import OPS_BY_NAME, OpSpec
from gradstep.viz.drawing import format_number
from gradstep.viz.exercise import Exercise, close, derivative_at_input
from gradstep.viz.explain import walkthrough

__all__ = ["Level", "LEVELS", "make_exercise", "make_exercises"]


@dataclass(frozen=True, slots=True)
class Level:
    """What a level's exercises are made of: the ops (by record name) and their shape."""

    number: int
    what: str
    binary: tuple[str, ...]  # two-operand ops joining the values
    powers: bool  # a sub-expression may be squared (x**2)
    functions: tuple[str, ...]  # one of these wraps a sub-expression
    values: tuple[int, int]  # how many distinct values (inputs), at least and at most
    fan_out: bool  # one value is used twice
    neuron: bool  # a neuron from gradstep.nn instead of an expression
    quarter: bool  # every number (forward and backward) a multiple of 1/4
    needs: tuple[str, ...] = ()  # at least one of these ops appears


_FUNCTIONS = ("tanh", "exp", "sigmoid", "relu")
_ACTIVATIONS = ("tanh", "sigmoid", "relu")  # gradstep.nn's names for a neuron's activation

#: the levels, by number
LEVELS: Mapping[int, Level] = {
    1: Level(1, "+ and * on 3–5 values", ("add", "mul"), False, (), (3, 5), False, False, True),
    2: Level(
        2,
        "adds −, / and **",
        ("add", "sub", "mul", "div"),
        True,
        (),
        (3, 4),
        False,
        False,
        True,
        ("sub", "div", "pow"),
    ),
    3: Level(
        3,
        "adds tanh, exp, sigmoid and relu",
        ("add", "sub", "mul", "div"),
        True,
        _FUNCTIONS,
        (2, 3),
        False,
        False,
        False,
    ),
    4: Level(
        4,
        "a value used twice (fan-out)",
        ("add", "sub", "mul", "div"),
        True,
        _FUNCTIONS,
        (2, 3),
        True,
        False,
        False,
    ),
    5: Level(
        5,
        "a neuron from gradstep.nn with its activation",
        (),
        False,
        (),
        (2, 2),
        False,
        True,
        False,
    ),
}

#: the numbers values are drawn from: small integers, more rarely halves
_SMALL = (-3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 4.0, -2.0, 2.0, 1.0, -1.0, 0.5, -0.5, 1.5)
_LARGEST = 50.0  # no number of an exercise is larger than this
_FUNCTION_INPUT = 2.0  # tanh, exp, sigmoid, relu see inputs within ±2
_ATTEMPTS = 10_000


#: how tightly Python binds each operator (a call or a name: tightest)
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "**": 4}
_ATOM = 5


def _binding(spec: OpSpec) -> int:
    """How tightly the op's text binds: its operator's precedence, or a call's."""
    return _PRECEDENCE.get(spec.operator, _ATOM) if spec.operator else _ATOM


def _wrap(spec: OpSpec, item: tuple[str, int], right: bool = False) -> str:
    """An operand's text inside ``spec``, parenthesised only where Python would otherwise
    group it differently: ``(a + b) * c``, ``a - (b + c)``, ``(a * b)**2``, ``tanh(a + b)``."""
    text, binds = item
    if not spec.operator:
        return text
    op = _binding(spec)
    tighter = binds > op or (binds == op and not right and spec.operator != "**")
    return text if tighter else f"({text})"


def _expression_text(level: Level, rng: random.Random) -> tuple[str, dict[str, float]]:
    """A random expression for the level and a value for each of its variables."""
    count = rng.randint(*level.values)
    names = [chr(ord("a") + i) for i in range(count)]
    leaves = list(names)
    if level.fan_out:
        leaves.insert(rng.randrange(1, len(leaves) + 1), rng.choice(names))
    items: list[tuple[str, int]] = [(name, _ATOM) for name in leaves]
    joins = len(items) - 1
    wrap_at = rng.randrange(joins + 1) if level.functions else -1  # 0: a leaf's join, …
    power_at = rng.randrange(joins + 1) if level.powers and rng.random() < 0.4 else -1
    for j in range(joins + 1):
        if j > 0:
            i = rng.randrange(len(items) - 1)
            spec = OPS_BY_NAME[rng.choice(level.binary)]
            text = spec.expression(_wrap(spec, items[i]), _wrap(spec, items[i + 1], True))
            items[i : i + 2] = [(text, _binding(spec))]
        i = rng.randrange(len(items)) if j == 0 else min(i, len(items) - 1)
        if j == power_at:
            spec = OPS_BY_NAME["pow"]
            items[i] = (spec.expression(_wrap(spec, items[i]), param=2.0), _binding(spec))
        if j == wrap_at:
            spec = OPS_BY_NAME[rng.choice(level.functions)]
            items[i] = (spec.expression(_wrap(spec, items[i])), _ATOM)
    values = {name: rng.choice(_SMALL) for name in names}
    return items[0][0], values


def _numbers_ok(exercise: Exercise, level: Level) -> bool:
    """Friendly numbers: finite and small, multiples of 1/4 where the level asks, no input
    of an op at its kink, functions of small inputs, no ``a - a`` or ``a / a``, and some input
    gradient not 0."""
    walk = exercise.walk
    numbers = [v.data for v in walk.nodes] + [q.answer for q in exercise.questions]
    if not all(math.isfinite(x) and abs(x) <= _LARGEST for x in numbers):
        return False
    if level.quarter and not all(abs(4 * x - round(4 * x)) < 1e-9 for x in numbers):
        return False
    for v in walk.nodes:
        spec = v._spec
        if spec is None:
            continue
        if any(c.data in spec.kinks for c in v._prev):
            return False
        if not spec.operator and any(abs(c.data) > _FUNCTION_INPUT for c in v._prev):
            return False
        if len(set(v._prev)) < len(v._prev) and sum(v.local_grads()) == 0.0:
            return False  # a - a, a / a: a constant, nothing to learn from the fan-out
        at_input = derivative_at_input(v, 0)
        if at_input is not None and close(at_input, v.local_grads()[0]):
            return False  # tanh' near 0: 1 − x² would pass for 1 − tanh²x
    if level.needs and not any(
        v._spec is not None and v._spec.name in level.needs for v in walk.nodes
    ):
        return False
    return any(v.grad != 0.0 for v in walk.inputs())


def _expression_exercise(level: Level, rng: random.Random) -> Exercise | None:
    text, values = _expression_text(level, rng)
    try:
        root, _ = parse(text).build(values)
    except ExpressionError:  # a division by zero
        return None
    root.label = "L"
    at = ", ".join(f"{name} = {format_number(x)}" for name, x in values.items())
    return Exercise(walkthrough(root), f"L = {text}   at {at}")


def _neuron_exercise(level: Level, rng: random.Random) -> Exercise:
    from gradstep.nn import Neuron

    activation = rng.choice(_ACTIVATIONS)
    neuron = Neuron(2, activation=activation, seed=rng.randrange(2**31))
    for w in neuron.w:
        w.data = rng.choice(_SMALL)
    neuron.b.data = rng.choice(_SMALL)
    xs = [Value(rng.choice(_SMALL), label=f"x{i}") for i in range(2)]
    root = neuron(xs)
    root.label = "L"
    at = ", ".join(f"{p.label} = {format_number(p.data)}" for p in [*neuron.w, neuron.b, *xs])
    title = (
        f"L = {activation}(b + w0*x0 + w1*x1), a Neuron(2, activation={activation!r}) "
        f"from gradstep.nn   at {at}"
    )
    return Exercise(walkthrough(root), title)


def make_exercise(level: int, seed: int) -> Exercise:
    """A fresh exercise at ``level`` (1–5); the same ``seed`` gives the same exercise."""
    if level not in LEVELS:
        raise ValueError(f"the levels are {min(LEVELS)} to {max(LEVELS)}, got {level!r}")
    spec = LEVELS[level]
    rng = random.Random(f"gradstep practice level {level} seed {seed}")
    for _ in range(_ATTEMPTS):
        exercise = _neuron_exercise(spec, rng) if spec.neuron else _expression_exercise(spec, rng)
        if exercise is not None and _numbers_ok(exercise, spec):
            return exercise
    raise RuntimeError(f"no friendly level-{level} exercise found for seed {seed}")


def make_exercises(level: int, seed: int, count: int) -> list[Exercise]:
    """``count`` exercises at ``level``, seeds ``seed``, ``seed + 1``, …"""
    return [make_exercise(level, seed + i) for i in range(count)]
