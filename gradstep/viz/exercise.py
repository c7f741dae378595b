"""Practice: the backward pass as questions a learner answers, each number checked, each
known mistake named.

For every edge of the walk-through, in visit order, two questions::

    local ∂node/∂child                    (the op's record: its local rule and formula)
    ∂L/∂child so far = before + local × upstream ∂L/∂node

A wrong number is compared with the value each known mistake gives (a wrong formula worked
out from the same record fields: the value instead of the derivative, the upstream left
out, overwriting instead of adding…), so the feedback can say which mistake it was.  The
terminal session, the page and the worksheet key all read these questions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gradstep.engine import Value, local_floats
from gradstep.expr import ExpressionError, parse
from gradstep.viz.drawing import format_number
from gradstep.viz.explain import BackwardRecord, Walkthrough, walkthrough

__all__ = [
    "RTOL",
    "ATOL",
    "MISTAKES",
    "AnswerError",
    "parse_answer",
    "close",
    "Mistake",
    "Question",
    "Feedback",
    "Exercise",
    "practice",
    "derivative_at_input",
]

#: an answer is right within this relative error (3 significant digits are enough) …
RTOL = 0.005
#: … or within this absolute error (near 0)
ATOL = 1e-9

#: every known mistake: its kind and how the summary names it
MISTAKES: Mapping[str, str] = {
    "input-for-output": "took the derivative at the input instead of the output",
    "value": "wrote a value instead of the local derivative",
    "other-operand": "took the other operand's local derivative",
    "sign": "got the sign wrong",
    "overwrote": "overwrote instead of adding (a value used more than once)",
    "no-upstream": "forgot to multiply by the upstream gradient",
    "no-local": "forgot to multiply by the local derivative",
    "wrong-end": "walked the chain from the wrong end",
    "other": "a wrong number (no known mistake gives it)",
}

#: the names a learner may use in an answer
_NAMED_NUMBERS: Mapping[str, float] = {"e": math.e, "pi": math.pi, "π": math.pi}
_TYPED = str.maketrans({"−": "-", "×": "*", "·": "*", "÷": "/", "π": " pi "})
_TIMES = {1: "once", 2: "twice", 3: "three times"}


class AnswerError(ValueError):
    """A learner's answer that cannot be read as a number (the message says what to write)."""


def parse_answer(text: str) -> float:
    """A learner's number: ``0.5``, ``1/2``, ``-0.5*3``, ``2**3`` (or ``2^3``), ``e``, ``pi``,
    ``1 - 0.76**2`` — read by the expression parser (`gradstep.expr`), never ``eval``."""
    cleaned = text.translate(_TYPED).replace("^", "**").strip()
    if not cleaned:
        raise AnswerError("type a number (or ? for a hint, ! to see the answer)")
    try:
        expression = parse(cleaned)
        unknown = [name for name in expression.variables if name not in _NAMED_NUMBERS]
        if unknown:
            raise AnswerError(
                f"cannot read {text.strip()!r} as a number: {unknown[0]!r} is not one "
                "(write a decimal, a fraction like 1/2, arithmetic like -0.5*3, e or pi)"
            )
        root, _ = expression.build({name: _NAMED_NUMBERS[name] for name in expression.variables})
    except ExpressionError as error:
        raise AnswerError(f"cannot read {text.strip()!r} as a number: {error}") from None
    return root.data


def close(got: float, want: float) -> bool:
    """|got − want| ≤ max(ATOL, RTOL·|want|): the test every answer and mistake is held to."""
    return abs(got - want) <= max(ATOL, RTOL * abs(want))


@dataclass(frozen=True, slots=True)
class Mistake:
    """A known mistake on one question: its kind (a key of `MISTAKES`), the number it gives,
    and what the learner is told."""

    kind: str
    value: float
    message: str


@dataclass(frozen=True, slots=True)
class Question:
    """One number to work out: an edge's local derivative, or ∂L/∂child after the edge."""

    number: int  # 1-based, in the order they are asked
    step: int  # the backward step (edge) it belongs to
    kind: Literal["local", "grad"]
    prompt: str  # "∂n1/∂a", "∂L/∂a so far"
    answer: float
    mistakes: tuple[Mistake, ...]  # in order of precedence, values distinct from the answer
    hint: str  # the formula with the numbers it needs (for ?, and after an unknown mistake)
    edge: str  # the drawing's element id of the edge (``e3_0``: node 3's child 0)
    worked: str  # the answer worked out, shown once it is right: "∂n1/∂a = b = 3"


@dataclass(frozen=True, slots=True)
class Feedback:
    """What a learner is told about one number: right, or which mistake (``kind``) it was."""

    correct: bool
    kind: str | None  # None when right; a key of `MISTAKES` otherwise ("other": unknown)
    message: str


def _fmt(x: float) -> str:
    return format_number(x, 4)


def _paren(text: str) -> str:
    """A negative number in parentheses, for a product: -3 → (-3)."""
    return f"({text})" if text.startswith("-") else text


def _worked_local(r: BackwardRecord) -> str:
    """``∂n1/∂a = b = 3``; ``∂n1/∂a = 1`` when the formula is the number."""
    if not r.formula:
        return f"∂{r.node}/∂{r.child} = {_fmt(r.local)}"
    rhs = r.formula.partition(" = ")[2]
    try:
        float(rhs.replace("−", "-"))
    except ValueError:
        return f"{r.formula} = {_fmt(r.local)}"
    return r.formula


def _times(n: int) -> str:
    return _TIMES.get(n, f"{n} times")


class Exercise:
    """A backward pass to do by hand: the walk-through's numbers as questions (`Question`), in the
    terminal's order (each edge's local derivative, then ∂L/∂child so far).

    Raises `ValueError` if a number to work out is not finite (sqrt at 0: an infinite slope).
    """

    def __init__(self, walk: Walkthrough, title: str | None = None) -> None:
        self.walk = walk
        self.root_name = walk.names[walk.root]
        self.title = title or f"backward pass of {self.root_name}"
        self._index = {v: i for i, v in enumerate(walk.nodes)}
        self._uses: dict[Value, int] = {}
        for node, k in walk.edges:
            child = node._prev[k]
            self._uses[child] = self._uses.get(child, 0) + 1
        self.questions: tuple[Question, ...] = self._questions()
        for q in self.questions:
            if not math.isfinite(q.answer):
                raise ValueError(
                    f"{q.prompt} = {q.answer!r} in step {q.step} is not a finite number, so it "
                    "cannot be worked out by hand; practise at other values"
                )

    def __repr__(self) -> str:
        return f"Exercise({self.title!r}, questions={len(self.questions)})"

    # ------------------------------------------------------------------------- given

    def forward_lines(self) -> list[str]:
        """The forward pass as given to the learner: ``n1 = a * b = 6``, ``a = 2 (input)``."""
        constants = set(self.walk.constants())
        lines = []
        for record, v in zip(self.walk.forward, self.walk.nodes, strict=True):
            if record.op:
                lines.append(f"{record.name} = {record.expression} = {_fmt(record.value)}")
            else:
                what = "constant" if v in constants else "input"
                lines.append(f"{record.name} = {_fmt(record.value)}  ({what})")
        return lines

    def seed_line(self) -> str:
        """``∂L/∂L = 1 (the seed)``, or ``∂L/∂f = 1 (the seed; L = f)``."""
        seed = _fmt(self.walk.gradient_terms(self.walk.root).initial)
        name = self.root_name
        return f"∂L/∂{name} = {seed}  (the seed" + ("" if name == "L" else f"; L = {name}") + ")"

    def step_line(self, step: int) -> str:
        """``step 2 of 6: n2 = n1 + c, the edge from n2 back to n1``."""
        r = self.walk.backward[step - 1]
        node = self.walk.edges[step - 1][0]
        expression = self.walk.forward[self._index[node]].expression
        return (
            f"step {step} of {len(self.walk.backward)}: {r.node} = {expression}, "
            f"the edge from {r.node} back to {r.child}"
        )

    def upstream_line(self, step: int) -> str:
        """``upstream ∂L/∂n1 = 2 (worked out in step 1)``: the node's gradient is complete
        before its first edge back (the walk's order is topological)."""
        r = self.walk.backward[step - 1]
        node = self.walk.edges[step - 1][0]
        where = "the seed"
        if node is not self.walk.root:
            last = max(
                j
                for j, (n, k) in enumerate(self.walk.edges[: step - 1], start=1)
                if n._prev[k] is node
            )
            where = f"worked out in step {last}"
        return f"upstream ∂L/∂{r.node} = {_fmt(r.upstream)}  ({where})"

    # ---------------------------------------------------------------------- checking

    def check(self, question: Question, got: float) -> Feedback:
        """Right (within `RTOL` / `ATOL`), or the first known mistake that gives ``got``, or
        the hint."""
        if close(got, question.answer):
            return Feedback(True, None, "right")
        for mistake in question.mistakes:
            if close(got, mistake.value):
                return Feedback(False, mistake.kind, mistake.message)
        return Feedback(False, "other", _other_message(question, _fmt(got)))

    def check_text(self, question: Question, text: str) -> Feedback:
        """`check` what a learner typed; raises `AnswerError` if it is not a number."""
        return self.check(question, parse_answer(text))

    # ------------------------------------------------------------------- questions

    def _questions(self) -> tuple[Question, ...]:
        walk = self.walk
        had: dict[Value, float] = {}
        questions: list[Question] = []
        for i, (r, (node, k)) in enumerate(zip(walk.backward, walk.edges, strict=True)):
            child = node._prev[k]
            before = had.get(child)
            if before is None:
                before = walk.gradient_terms(child).initial
            had[child] = r.child_grad
            edge = f"e{self._index[node]}_{k}"
            questions.append(
                Question(
                    len(questions) + 1,
                    r.step,
                    "local",
                    f"∂{r.node}/∂{r.child}",
                    r.local,
                    _distinct(r.local, self._local_mistakes(i, node, k)),
                    self._local_hint(r, node),
                    edge,
                    _worked_local(r),
                )
            )
            questions.append(
                Question(
                    len(questions) + 1,
                    r.step,
                    "grad",
                    f"∂L/∂{r.child} so far",
                    r.child_grad,
                    _distinct(r.child_grad, self._grad_mistakes(i, child, before)),
                    self._grad_hint(r, before),
                    edge,
                    f"∂L/∂{r.child} so far = {_fmt(before)} + {_paren(_fmt(r.local))} × "
                    f"{_paren(_fmt(r.upstream))} = {_fmt(r.child_grad)}",
                )
            )
        return tuple(questions)

    def _local_hint(self, r: BackwardRecord, node: Value) -> str:
        """The formula and the forward values it is worked out from."""
        names = self.walk.names
        given = [f"{names[c]} = {_fmt(c.data)}" for c in dict.fromkeys(node._prev)]
        given.append(f"{r.node} = {_fmt(node.data)}")
        if r.formula:
            return f"{r.formula}, with {', '.join(given)}"
        return (
            f"∂{r.node}/∂{r.child} is the local derivative of {r.op} with respect to "
            f"{r.child}, at {', '.join(given)}"
        )

    def _grad_hint(self, r: BackwardRecord, before: float) -> str:
        """∂L/∂child so far = what it had + local × upstream."""
        return (
            f"∂L/∂{r.child} so far = what it had ({_fmt(before)}) + local ∂{r.node}/∂{r.child} "
            f"({_fmt(r.local)}) × upstream ∂L/∂{r.node} ({_fmt(r.upstream)})"
        )

    def _local_mistakes(self, i: int, node: Value, k: int) -> list[Mistake]:
        """The local derivative's known mistakes, each worked out from the op's record."""
        walk = self.walk
        r = walk.backward[i]
        child = node._prev[k]
        mistakes: list[Mistake] = []
        rhs = r.formula.partition(" = ")[2]
        at_input = derivative_at_input(node, k)
        if at_input is not None:
            mistakes.append(
                Mistake(
                    "input-for-output",
                    at_input,
                    f"∂{r.node}/∂{r.child} = {rhs} is written with the output {r.node} = "
                    f"{_fmt(node.data)}, not the input {r.child} = {_fmt(child.data)}",
                )
            )
        minus = rhs.startswith(("−", "-"))  # the record's formula: −1, −a/b²
        if minus:  # the sign comes first where the formula carries one
            mistakes.append(
                Mistake(
                    "sign",
                    -r.local,
                    f"check the sign: ∂{r.node}/∂{r.child} = {rhs} carries a minus sign",
                )
            )
        locals_ = node.local_grads()
        for j, other in enumerate(node._prev):
            if j != k and other is not child:
                mistakes.append(
                    Mistake(
                        "other-operand",
                        float(locals_[j]),
                        f"that is ∂{r.node}/∂{walk.names[other]}, the local derivative for the "
                        f"other operand; this edge goes to {r.child}",
                    )
                )
        for v, what in ((child, "an input of"), (node, "the output of")):
            mistakes.append(
                Mistake(
                    "value",
                    v.data,
                    f"{_fmt(v.data)} is the value of {walk.names[v]} ({what} this step) from "
                    f"the forward pass; the local derivative ∂{r.node}/∂{r.child} is how fast "
                    f"{r.node} changes as {r.child} changes",
                )
            )
        if not minus:
            mistakes.append(Mistake("sign", -r.local, f"check the sign of ∂{r.node}/∂{r.child}"))
        for later in self._far_end(i, lambda step: step.local):
            if later.node != r.node:
                mistakes.append(
                    Mistake(
                        "wrong-end",
                        later.local,
                        f"that is ∂{later.node}/∂{later.child}, the local derivative of step "
                        f"{later.step}, nearer the inputs: the backward pass starts at "
                        f"{self.root_name} and works back toward the inputs; this step is the "
                        f"edge from {r.node} back to {r.child}",
                    )
                )
        return mistakes

    def _grad_mistakes(self, i: int, child: Value, before: float) -> list[Mistake]:
        """∂L/∂child so far's known mistakes: overwriting, a factor left out, subtracting,
        the wrong end."""
        walk = self.walk
        r = walk.backward[i]
        mistakes: list[Mistake] = []
        if before != 0.0:
            mistakes.append(
                Mistake(
                    "overwrote",
                    r.product,
                    f"{r.child} is used {_times(self._uses[child])}: add this product "
                    f"({_fmt(r.product)}) to the {_fmt(before)} it already has",
                )
            )
        no_upstream = (
            f"multiply the local derivative ({_fmt(r.local)}) by the upstream gradient "
            f"∂L/∂{r.node} = {_fmt(r.upstream)}"
        )
        mistakes.append(Mistake("no-upstream", before + r.local, no_upstream))
        if before != 0.0:
            mistakes.append(
                Mistake(
                    "no-upstream",
                    r.local,
                    no_upstream + f", then add it to the {_fmt(before)} ∂L/∂{r.child} has",
                )
            )
        mistakes.append(
            Mistake(
                "no-local",
                before + r.upstream,
                f"multiply the upstream gradient ∂L/∂{r.node} = {_fmt(r.upstream)} by the "
                f"local derivative ∂{r.node}/∂{r.child} = {_fmt(r.local)}",
            )
        )
        mistakes.append(
            Mistake(
                "sign",
                before - r.product,
                f"add the product ({_fmt(r.product)}) into ∂L/∂{r.child}, do not subtract it",
            )
        )
        for later in self._far_end(i, lambda step: step.child_grad):
            if later.child != r.child:
                mistakes.append(
                    Mistake(
                        "wrong-end",
                        later.child_grad,
                        f"that is ∂L/∂{later.child} (step {later.step}), nearer the inputs: the "
                        f"backward pass starts at {self.root_name} and works back toward the "
                        f"inputs; this step adds into ∂L/∂{r.child}",
                    )
                )
        return mistakes

    def _far_end(self, i: int, number: Callable[[BackwardRecord], float]) -> list[BackwardRecord]:
        """For a step out of the root (where a learner starting from the wrong end goes
        wrong), the later steps into an input or constant whose ``number`` no other step
        shares (a 1 could come from any edge); none for the other steps."""
        walk = self.walk
        if walk.edges[i][0] is not walk.root:
            return []
        values = [number(r) for r in walk.backward]
        return [
            r
            for r, (node, k) in zip(walk.backward[i + 1 :], walk.edges[i + 1 :], strict=True)
            if not node._prev[k]._prev and sum(close(x, number(r)) for x in values) == 1
        ]

    # -------------------------------------------------------------------- as data

    def to_data(self) -> dict[str, Any]:
        """What the page needs to check answers: every question's answer, hint and the value
        each known mistake gives (the rules stay here; the page only compares numbers)."""
        return {
            "title": self.title,
            "root": self.root_name,
            "rtol": RTOL,
            "atol": ATOL,
            "kinds": dict(MISTAKES),
            "questions": [
                {
                    "number": q.number,
                    "step": q.step,
                    "kind": q.kind,
                    "prompt": q.prompt,
                    "answer": q.answer,
                    "shown": _fmt(q.answer),
                    "hint": q.hint,
                    "worked": q.worked,
                    "other": _other_message(q, "{got}"),
                    "edge": q.edge,
                    "mistakes": [
                        {"kind": m.kind, "value": m.value, "message": m.message} for m in q.mistakes
                    ],
                }
                for q in self.questions
            ],
        }

    def to_html(self, *, rankdir: str = "LR", digits: int = 4) -> str:
        """The practice page as text (see `write_html`)."""
        from gradstep.viz.practice_page import practice_html

        return practice_html(self, rankdir=rankdir, digits=digits)

    def write_html(self, path: str | Path, *, rankdir: str = "LR", digits: int = 4) -> Path:
        """Write the practice page: one self-contained, offline HTML file."""
        out = Path(path)
        out.write_text(self.to_html(rankdir=rankdir, digits=digits), encoding="utf-8")
        return out

    def _repr_html_(self) -> str:
        """Jupyter shows the practice page inline."""
        from gradstep.viz.practice_page import practice_html

        return practice_html(self, embedded=True)


def _other_message(question: Question, got: str) -> str:
    """What a wrong number no known mistake gives is told: the hint."""
    return f"{question.prompt} is not {got}; {question.hint}"


def derivative_at_input(node: Value, k: int) -> float | None:
    """The op's local rule with the output replaced by the input (tanh' as 1 − x² instead of
    1 − tanh²x), for a one-operand op whose record writes its derivative with the output;
    None otherwise."""
    spec = node._spec
    if spec is None or len(node._prev) != 1 or k >= len(spec.formulas):
        return None
    if "{out}" not in spec.formulas[k]:
        return None
    x = node._prev[0].data
    try:
        value = local_floats(spec, [x], x, node._ctx)[k]
    except (ArithmeticError, ValueError, TypeError):
        return None
    return value if math.isfinite(value) else None


def _distinct(answer: float, mistakes: Sequence[Mistake]) -> tuple[Mistake, ...]:
    """The mistakes whose values differ from the answer and from every earlier mistake's."""
    kept: list[Mistake] = []
    for m in mistakes:
        if not math.isfinite(m.value) or close(m.value, answer) or close(answer, m.value):
            continue
        if any(close(m.value, k.value) for k in kept):
            continue
        kept.append(m)
    return tuple(kept)


def practice(root: Value, title: str | None = None) -> Exercise:
    """An `Exercise` on ``root``'s backward pass (runs ``backward()`` once, as `walkthrough`);
    in Jupyter it shows the practice page inline."""
    return Exercise(walkthrough(root), title)
