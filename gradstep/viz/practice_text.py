"""Practice in the terminal: ask an `Exercise`'s questions one by one, check each number,
name the mistake, and sum up (answers may be piped in, one per line)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from gradstep.viz.exercise import MISTAKES, AnswerError, Exercise, Question

__all__ = ["HINT", "REVEAL", "Outcome", "SessionResult", "run_session"]

#: what a learner types for a hint
HINT = "?"
#: what a learner types to see the answer
REVEAL = "!"

_HELP = (
    "for each edge, type the local derivative, then ∂L/∂child so far\n"
    "(numbers like 0.5, 1/2, -0.5*3, e, pi; ? for a hint, ! to see the answer)"
)


@dataclass
class Outcome:
    """How one question went: the mistakes made on it (their kinds), whether it was revealed."""

    question: Question
    mistakes: list[str] = field(default_factory=list)
    revealed: bool = False
    hints: int = 0

    @property
    def first_time(self) -> bool:
        """Right at the first number typed, without a hint."""
        return not self.mistakes and not self.revealed and not self.hints


@dataclass
class SessionResult:
    """Every question's `Outcome`, and whether the input ended before the last one."""

    outcomes: list[Outcome]
    total: int  # questions asked in all the exercises
    ended: bool = False

    @property
    def ok(self) -> bool:
        """Every number given right in the end, none revealed, the input did not run out."""
        return (
            not self.ended
            and len(self.outcomes) == self.total
            and not any(o.revealed for o in self.outcomes)
        )

    def summary(self) -> list[str]:
        """``12 numbers: 9 right first time, 0 revealed`` and the mistakes by kind."""
        done = [o for o in self.outcomes if o is not self._open()]
        first = sum(o.first_time for o in done)
        revealed = sum(o.revealed for o in done)
        lines = [
            f"summary: {len(done)} of {self.total} numbers done, {first} right first time, "
            f"{revealed} revealed"
        ]
        counts = Counter(kind for o in self.outcomes for kind in o.mistakes)
        if counts:
            lines.append("mistakes:")
            lines += [f"  {MISTAKES[kind]}: {n}" for kind, n in counts.most_common()]
        else:
            lines.append("mistakes: none")
        if self.ended:
            last = self.outcomes[-1].question if self.outcomes else None
            where = f" at {last.prompt} (step {last.step})" if last else ""
            lines.append(f"the input ended{where}, before the last number")
        return lines

    def _open(self) -> Outcome | None:
        """The question the input ended on (unanswered), if any."""
        return self.outcomes[-1] if self.ended and self.outcomes else None


def _ask(
    exercise: Exercise, q: Question, stdin: TextIO, out: TextIO, echo: bool
) -> tuple[Outcome, bool]:
    """Ask one question until it is answered right or revealed; (outcome, input ended)."""
    outcome = Outcome(q)
    prompt = f"  local {q.prompt} = " if q.kind == "local" else f"  {q.prompt} = "
    while True:
        out.write(prompt)
        out.flush()
        line = stdin.readline()
        if not line:
            out.write("\n")
            return outcome, True
        text = line.strip()
        if echo:
            out.write(text + "\n")
        if text == HINT:
            outcome.hints += 1
            out.write(f"    hint: {q.hint}\n")
            continue
        if text == REVEAL:
            outcome.revealed = True
            out.write(f"    the answer: {q.prompt} = {_shown(q.answer)}\n")
            return outcome, False
        try:
            feedback = exercise.check_text(q, text)
        except AnswerError as error:
            out.write(f"    {error}\n")
            continue
        if feedback.correct:
            out.write(f"    right: {q.worked}\n")
            return outcome, False
        outcome.mistakes.append(feedback.kind or "other")
        out.write(f"    wrong: {feedback.message}\n")


def _shown(x: float) -> str:
    text = f"{x:.6g}"
    return "0" if text == "-0" else text


def run_session(
    exercises: Sequence[Exercise], stdin: TextIO, out: TextIO, *, echo: bool = False
) -> SessionResult:
    """Work through the exercises on ``stdin``/``out``; ``echo`` writes each answer read after
    its prompt (for piped input, so the transcript reads as typed)."""
    result = SessionResult([], sum(len(e.questions) for e in exercises))
    for n, exercise in enumerate(exercises, start=1):
        if len(exercises) > 1:
            out.write(f"exercise {n} of {len(exercises)}: ")
        out.write(f"{exercise.title}\n\nforward pass (given):\n")
        out.writelines(f"  {line}\n" for line in exercise.forward_lines())
        out.write(f"\nbackward pass: {_HELP}\n")
        out.write(f"seed: {exercise.seed_line()}\n")
        step = 0
        for q in exercise.questions:
            if q.step != step:
                step = q.step
                out.write(f"\n{exercise.step_line(step)}\n  {exercise.upstream_line(step)}\n")
            outcome, ended = _ask(exercise, q, stdin, out, echo)
            result.outcomes.append(outcome)
            if ended:
                result.ended = True
                out.write("\n" + "\n".join(result.summary()) + "\n")
                return result
        out.write("\n")
    out.write("\n".join(result.summary()) + "\n")
    return result
