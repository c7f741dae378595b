"""Practice: the questions, the answer parser, the mistake rules, the terminal session, the
levels, the worksheet and the ``gradstep practice`` command."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gradstep import Value
from gradstep.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from gradstep.expr import parse
from gradstep.nn import MLP, Neuron
from gradstep.testing.strategies import ExpressionDAG, expression_dags
from gradstep.viz import make_exercise, practice
from gradstep.viz.exercise import MISTAKES, AnswerError, Exercise, close, parse_answer
from gradstep.viz.levels import LEVELS
from gradstep.viz.practice_text import SessionResult, run_session

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's 'dot' program is not installed"
)


def exercise_of(text: str, **values: float) -> Exercise:
    """The exercise of an expression, its root called L (as the command does)."""
    root, _ = parse(text).build(values)
    root.label = "L"
    return practice(root, f"L = {text}")


def typed(x: float) -> str:
    """An answer as a learner might type it: 4 significant digits."""
    return f"{x:.4g}"


def session(exercise: Exercise, lines: list[str]) -> tuple[SessionResult, str]:
    """Pipe ``lines`` into a terminal session; the result and the transcript."""
    out = io.StringIO()
    result = run_session([exercise], io.StringIO("".join(f"{t}\n" for t in lines)), out, echo=True)
    return result, out.getvalue()


def answers(exercise: Exercise, start: int = 0) -> list[str]:
    """The walk-through's own answers from question ``start`` (0-based) on."""
    return [typed(q.answer) for q in exercise.questions[start:]]


# ---------------------------------------------------------------------------------------
# the answer parser


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("0.5", 0.5),
        ("1/2", 0.5),
        ("-0.5*3", -1.5),
        ("  2 ", 2.0),
        ("e", math.e),
        ("pi", math.pi),
        ("π/2", math.pi / 2),
        ("2^3", 8.0),
        ("2**-1", 0.5),
        ("−1", -1.0),
        ("3 × 2", 6.0),
        ("1 ÷ 4", 0.25),
        ("1 - 0.76**2", 1 - 0.76**2),
        ("-2**2", -4.0),
        ("(1 + 2) * 3", 9.0),
        ("1e-3", 0.001),
        ("tanh(0)", 0.0),
    ],
)
def test_answers_are_read_as_numbers(text: str, want: float) -> None:
    got = parse_answer(text)
    assert math.isclose(got, want, rel_tol=1e-15, abs_tol=1e-15), (text, got, want)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "type a number"),
        ("x", "'x' is not one"),
        ("abc + 1", "'abc' is not one"),
        ("__import__('os').system('true')", "cannot read"),
        ("open('f')", "cannot read"),
        ("1/0", "division by zero"),
        ("2 +", "cannot read"),
        ("[1]", "cannot read"),
    ],
)
def test_what_is_not_a_number_is_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(AnswerError) as error:
        parse_answer(text)
    assert says in str(error.value), str(error.value)


@given(st.floats(min_value=-1e99, max_value=1e99, allow_nan=False))
def test_any_float_as_python_writes_it_reads_back_exactly(x: float) -> None:
    assert parse_answer(repr(x)) == x, repr(x)


@given(st.integers(-1000, 1000), st.integers(1, 1000))
def test_a_fraction_reads_as_its_quotient(p: int, q: int) -> None:
    assert parse_answer(f"{p}/{q}") == p / q


@given(st.floats(min_value=1e-6, max_value=1e6) | st.floats(min_value=-1e6, max_value=-1e-6))
def test_three_significant_digits_are_enough_and_one_percent_off_is_not(x: float) -> None:
    assert close(parse_answer(f"{x:.3g}"), x), (f"{x:.3g}", x)
    assert not close(x * 1.01, x)


def test_near_zero_the_tolerance_is_absolute() -> None:
    assert close(1e-12, 0.0) and close(-5e-10, 0.0)
    assert not close(1e-6, 0.0)


# ---------------------------------------------------------------------------------------
# the questions


def test_questions_follow_the_walkthrough_local_then_grad_per_edge() -> None:
    exercise = exercise_of("(a + b) * a", a=2, b=-1)
    walk = exercise.walk
    assert [(q.step, q.kind) for q in exercise.questions] == [
        (r.step, kind) for r in walk.backward for kind in ("local", "grad")
    ]
    assert [q.answer for q in exercise.questions] == [
        x for r in walk.backward for x in (r.local, r.child_grad)
    ]
    assert [q.prompt for q in exercise.questions[:2]] == ["∂L/∂n1", "∂L/∂n1 so far"]
    assert [q.number for q in exercise.questions] == list(range(1, 9))
    assert exercise.questions[-1].answer == 2.0  # ∂L/∂b = a


def test_the_terminal_shows_the_forward_pass_the_seed_and_each_upstream() -> None:
    exercise = exercise_of("(a + b) * a", a=2, b=-1)
    result, out = session(exercise, answers(exercise))
    assert result.ok
    assert "forward pass (given):\n  a = 2  (input)\n  b = -1  (input)\n" in out
    assert "  n1 = a + b = 1\n  L = n1 * a = 2\n" in out
    assert "seed: ∂L/∂L = 1  (the seed)" in out
    assert "step 3 of 4: n1 = a + b, the edge from n1 back to a\n  upstream ∂L/∂n1 = 2" in out
    assert (
        "  local ∂L/∂n1 = 2\n    right: ∂L/∂n1 = a = 2\n"
        "  ∂L/∂n1 so far = 2\n    right: ∂L/∂n1 so far = 0 + 2 × 1 = 2\n"
    ) in out
    assert out.rstrip().endswith(
        "summary: 8 of 8 numbers done, 8 right first time, 0 revealed\nmistakes: none"
    )


# ---------------------------------------------------------------------------------------
# each known mistake: an exercise where it shows, the mistaken value piped, the feedback


MISTAKE_CASES = [
    # kind, expression, values, question (0-based), the mistaken value, what is said
    ("value", "x + y", {"x": 3, "y": 2}, 0, "3", "3 is the value of x"),
    ("other-operand", "x * y", {"x": 3, "y": 2}, 0, "3", "that is ∂L/∂y"),
    (
        "input-for-output",
        "tanh(x)",
        {"x": 0.5},
        0,
        "1 - 0.5**2",
        "is written with the output L = 0.4621, not the input x = 0.5",
    ),
    ("sign", "x - y", {"x": 3, "y": 2}, 2, "1", "∂L/∂y = −1 carries a minus sign"),
    ("sign", "x / y", {"x": 3, "y": 2}, 2, "3/4", "∂L/∂y = −x/y² carries a minus sign"),
    (
        "overwrote",
        "(a + b) * a",
        {"a": 2, "b": -1},
        5,
        "2",
        "a is used twice: add this product (2) to the 1 it already has",
    ),
    ("no-upstream", "x * y * z", {"x": 2, "y": 3, "z": 4}, 5, "3", "by the upstream gradient"),
    ("no-local", "x * y * z", {"x": 2, "y": 3, "z": 4}, 5, "4", "by the local derivative"),
    ("sign", "x * y * z", {"x": 2, "y": 3, "z": 4}, 5, "-12", "do not subtract it"),
    ("wrong-end", "x * y * z", {"x": 2, "y": 3, "z": 4}, 0, "3", "nearer the inputs"),
    ("wrong-end", "x * y * z", {"x": 2, "y": 3, "z": 4}, 1, "12", "that is ∂L/∂x (step 3)"),
]


@pytest.mark.parametrize(
    ("kind", "text", "values", "at", "wrong", "says"),
    MISTAKE_CASES,
    ids=[f"{c[0]}:{c[1]}" for c in MISTAKE_CASES],
)
def test_each_known_mistake_is_named(
    kind: str, text: str, values: dict[str, float], at: int, wrong: str, says: str
) -> None:
    exercise = exercise_of(text, **values)
    q = exercise.questions[at]
    feedback = exercise.check_text(q, wrong)
    assert (feedback.correct, feedback.kind) == (False, kind), (q, feedback)
    assert says in feedback.message, feedback.message
    lines = [typed(q.answer) for q in exercise.questions[:at]] + [wrong] + answers(exercise, at)
    result, out = session(exercise, lines)
    assert result.ok, out
    assert f"    wrong: {feedback.message}\n" in out
    assert f"mistakes:\n  {MISTAKES[kind]}: 1\n" in out
    assert f"{len(exercise.questions) - 1} right first time" in out


def test_an_unknown_wrong_number_gets_the_formula_as_a_hint() -> None:
    exercise = exercise_of("x * y", x=3, y=2)
    feedback = exercise.check_text(exercise.questions[0], "7")
    assert (feedback.correct, feedback.kind) == (False, "other")
    assert feedback.message == "∂L/∂x is not 7; ∂L/∂x = y, with x = 3, y = 2, L = 6"


def test_hint_reveal_and_unreadable_input_in_the_terminal() -> None:
    exercise = exercise_of("x * y", x=3, y=2)
    result, out = session(exercise, ["?", "seven", "!", *answers(exercise, 1)])
    assert "    hint: ∂L/∂x = y, with x = 3, y = 2, L = 6\n" in out
    assert "    cannot read 'seven' as a number: 'seven' is not one" in out
    assert "    the answer: ∂L/∂x = 2\n" in out
    assert not result.ok
    assert "summary: 4 of 4 numbers done, 3 right first time, 1 revealed" in out


def test_input_that_ends_early_is_not_ok_and_says_where() -> None:
    exercise = exercise_of("x * y", x=3, y=2)
    result, out = session(exercise, ["2", "2"])
    assert result.ended and not result.ok
    assert "summary: 2 of 4 numbers done, 2 right first time, 0 revealed" in out
    assert out.rstrip().endswith("the input ended at ∂L/∂y (step 2), before the last number")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(0, 10**6))
def test_every_mistake_value_is_named_as_its_own_kind(level: int, seed: int) -> None:
    exercise = make_exercise(level, seed)
    for q in exercise.questions:
        assert exercise.check(q, q.answer).correct
        for m in q.mistakes:
            feedback = exercise.check(q, m.value)
            assert (feedback.correct, feedback.kind) == (False, m.kind), (q.prompt, m)
            assert m.kind in MISTAKES


# ---------------------------------------------------------------------------------------
# levels


@pytest.mark.slow
@pytest.mark.parametrize("level", sorted(LEVELS))
def test_piping_the_walkthroughs_own_answers_finishes_ok_for_200_seeds(level: int) -> None:
    for seed in range(200):
        exercise = make_exercise(level, seed)
        lines = "".join(f"{a}\n" for a in answers(exercise))
        result = run_session([exercise], io.StringIO(lines), io.StringIO())
        assert result.ok, (level, seed, exercise.title)
        assert not any(o.mistakes for o in result.outcomes), (level, seed, exercise.title)


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_the_same_seed_gives_the_same_exercise(level: int) -> None:
    one, two = make_exercise(level, 42), make_exercise(level, 42)
    assert one.title == two.title
    assert [q.answer for q in one.questions] == [q.answer for q in two.questions]
    titles = {make_exercise(level, seed).title for seed in range(20)}
    assert len(titles) >= 10, titles


def _ops(exercise: Exercise) -> set[str]:
    return {v._spec.name for v in exercise.walk.nodes if v._spec is not None}


def test_levels_use_the_ops_they_promise_with_friendly_numbers() -> None:
    for seed in range(40):
        one = make_exercise(1, seed)
        assert _ops(one) <= {"add", "mul"}, one.title
        assert 3 <= len(one.walk.inputs()) <= 5, one.title
        two = make_exercise(2, seed)
        assert _ops(two) <= {"add", "sub", "mul", "div", "pow"}, two.title
        assert _ops(two) & {"sub", "div", "pow"}, two.title
        for exercise in (one, two):  # small integers, halves and quarters
            numbers = [v.data for v in exercise.walk.nodes] + [q.answer for q in exercise.questions]
            assert all(4 * x == round(4 * x) and abs(x) <= 50 for x in numbers), exercise.title
        three = make_exercise(3, seed)
        functions = _ops(three) & {"tanh", "exp", "sigmoid", "relu"}
        assert len(functions) == 1, three.title
        four = make_exercise(4, seed)
        used = [sum(1 for n, k in four.walk.edges if n._prev[k] is v) for v in four.walk.nodes]
        assert max(used) >= 2, four.title


def test_level_5_is_a_neuron_from_gradstep_nn_with_its_activation() -> None:
    activations = set()
    for seed in range(30):
        exercise = make_exercise(5, seed)
        root = exercise.walk.root
        activations.add(root._op)
        assert root._scope == "neuron", exercise.title
        assert {p.label for p in exercise.walk.inputs()} == {"w0", "w1", "b", "x0", "x1"}
        assert "Neuron(2, activation=" in exercise.title
    assert activations == {"tanh", "sigmoid", "ReLU"}


def test_a_bad_level_is_refused() -> None:
    with pytest.raises(ValueError, match="the levels are 1 to 5, got 6"):
        make_exercise(6, 0)


# ---------------------------------------------------------------------------------------
# graphs from gradstep.nn


def test_practice_on_an_mlp_graph_and_a_neuron() -> None:
    model = MLP(2, [2, 1], seed=3)
    x = [Value(0.5, label="x0"), Value(-1.0, label="x1")]
    y = model(x)
    assert isinstance(y, Value)
    loss = (y - 1.0) ** 2
    exercise = practice(loss, "squared error of an MLP(2, [2, 1])")
    walk = exercise.walk
    assert len(exercise.questions) == 2 * len(walk.backward) > 20
    result, out = session(exercise, answers(exercise))
    assert result.ok, out
    for p in model.parameters():  # the last ∂L/∂p asked is the engine's p.grad
        last = [q for q in exercise.questions if q.prompt == f"∂L/∂{walk.names[p]} so far"][-1]
        assert last.answer == p.grad
    neuron = Neuron(2, activation="tanh", seed=1)
    out_ = neuron([Value(1.0, label="x0"), Value(-2.0, label="x1")])
    n_ex = practice(out_)
    first = n_ex.questions[0]  # tanh's local derivative: 1 − out², and the input mistake
    assert first.answer == pytest.approx(1 - out_.data**2)
    assert "input-for-output" in {m.kind for m in first.mistakes}


# ---------------------------------------------------------------------------------------
# the page's data and the notebook


def test_the_page_data_carries_answers_and_mistake_values_in_the_terminal_order() -> None:
    exercise = make_exercise(4, 7)
    data = exercise.to_data()
    assert [q["number"] for q in data["questions"]] == [q.number for q in exercise.questions]
    first = data["questions"][0]
    assert first["kind"] == "local" and first["answer"] == exercise.questions[0].answer
    assert first["mistakes"] == [
        {"kind": m.kind, "value": m.value, "message": m.message}
        for m in exercise.questions[0].mistakes
    ]
    assert set(data["kinds"]) == set(MISTAKES)
    q = exercise.questions[0]
    assert first["other"].replace("{got}", "7") == exercise.check(q, 7.0).message


@needs_dot
def test_the_page_has_one_field_per_question_in_order_and_no_outside_resource(
    tmp_path: Path,
) -> None:
    exercise = make_exercise(4, 7)
    page = exercise.write_html(tmp_path / "p.html").read_text(encoding="utf-8")
    fields = re.findall(r'data-q="(\d+)" aria-label="([^"]*)"', page)
    assert [int(n) for n, _ in fields] == [q.number for q in exercise.questions]
    assert fields[0][1] == exercise.questions[0].prompt
    assert not re.search(r'(src|href)="(https?:)?//', page)
    found = re.search(r'class="gp-data">(.*?)</script>', page, re.S)
    assert found, "no data block in the page"
    data = json.loads(found[1])
    assert len(data["questions"]) == len(exercise.questions)
    for q in exercise.questions:  # every edge the page lights is in the drawing
        assert f'id="gp-{q.edge}"' in page


@needs_dot
def test_in_a_notebook_the_exercise_shows_the_page_with_its_own_ids() -> None:
    root, _ = parse("(a + b) * a").build({"a": 2, "b": -1})
    exercise = practice(root)
    one, two = exercise._repr_html_(), exercise._repr_html_()
    assert "<html" not in one and "gradstepPractice(document.getElementById(" in one
    ids = [re.findall(r'id="(gp[0-9a-f]+-)root"', h) for h in (one, two)]
    assert len(ids[0]) == len(ids[1]) == 1, ids
    assert ids[0][0] != ids[1][0]


# ---------------------------------------------------------------------------------------
# the worksheet


@needs_dot
@pytest.mark.parametrize("suffix", [".md", ".html"])
def test_count_k_worksheet_has_k_exercises_and_their_answer_keys(
    tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / f"sheet{suffix}"
    status = main(
        ["practice", "--level", "2", "--seed", "5", "--count", "3", "--worksheet", str(sheet)]
    )
    assert status == EXIT_OK
    text = sheet.read_text(encoding="utf-8")
    for n, seed in enumerate((5, 6, 7), start=1):
        exercise = make_exercise(2, seed)
        title = exercise.title if suffix == ".md" else exercise.title.replace("/", "/")
        assert f"Worksheet: exercise {n}: " in text
        assert f"Answer key: exercise {n}: " in text
        assert title.split("   at ")[0].replace("*", "") in text.replace("\\*", "").replace("*", "")
    if suffix == ".md":
        assert len(list(tmp_path.glob("sheet_*.svg"))) == 3
    else:
        assert text.count("<body>") == 1 and text.count("<svg") == 3


# ---------------------------------------------------------------------------------------
# the command


def _practice(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradstep", "practice", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_the_command_exits_0_when_all_right_1_on_reveal_or_end_2_on_bad_input() -> None:
    right = _practice("x * y", "x=3", "y=2", stdin="2\n2\n3\n3\n")
    assert right.returncode == EXIT_OK, right.stdout + right.stderr
    assert "  local ∂L/∂x = 2\n    right: ∂L/∂x = y = 2\n" in right.stdout  # echoed
    revealed = _practice("x * y", "x=3", "y=2", stdin="!\n2\n3\n3\n")
    assert revealed.returncode == EXIT_FAILED
    ended = _practice("x * y", "x=3", "y=2", stdin="2\n")
    assert ended.returncode == EXIT_FAILED and "the input ended" in ended.stdout
    for args, says in [
        ((), "give an expression and its values"),
        (("x*y", "x=1", "y=2", "--level", "2"), "not both"),
        (("x*y", "x=1", "y=2", "--seed", "3"), "--seed and --count choose exercises"),
        (("x", "x=1"), "no operation"),
        (("--level", "9"), "expected a level from 1 to 5"),
        (("x*y", "x=1"), "no value given for variable 'y'"),
        (("--level", "2", "--count", "2", "--html", "p.html"), "--html writes one exercise"),
        (("--level", "2", "--worksheet", "w.txt"), "a .md or .html file"),
        (("--level", "2", "--count", "101"), "expected at most 100 exercises, got 101"),
    ]:
        bad = _practice(*args)
        assert bad.returncode == EXIT_USAGE, (args, bad.stderr)
        assert bad.stderr.startswith("gradstep practice: error: "), bad.stderr
        assert says in bad.stderr, (args, bad.stderr)
        assert bad.stderr.count("\n") == 1, bad.stderr


def test_a_level_without_a_seed_says_which_seed_it_took(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["practice", "--level", "1"]) == EXIT_FAILED  # the input ended at once
    out = capsys.readouterr().out
    said = re.search(r"level 1, seed (\d+) \(the same again: ", out)
    assert said, out
    seed = int(said[1])
    assert make_exercise(1, seed).title in out


def test_count_k_asks_k_exercises_in_a_row(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    exercises = [make_exercise(3, 10), make_exercise(3, 11)]
    lines = [a for e in exercises for a in answers(e)]
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{a}\n" for a in lines)))
    assert main(["practice", "--level", "3", "--seed", "10", "--count", "2"]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"exercise 1 of 2: {exercises[0].title}" in out
    assert f"exercise 2 of 2: {exercises[1].title}" in out
    total = sum(len(e.questions) for e in exercises)
    assert f"summary: {total} of {total} numbers done, {total} right first time" in out


def test_help_names_the_levels_and_an_example() -> None:
    helped = _practice("--help")
    assert helped.returncode == EXIT_OK
    for n, level in LEVELS.items():
        assert f"  {n}  {level.what}" in helped.stdout
    assert "gradstep practice --level 4 --seed 7" in helped.stdout


# ---------------------------------------------------------------------------------------
# the docs: the transcript and the Python examples are what gradstep does

DOCS = Path(__file__).resolve().parent.parent / "docs" / "practice.md"
_PROMPT = re.compile(r"^  (?:local )?∂\S+(?: so far)? = (.*)$")


def _transcript(text: str, command: str) -> str:
    """The output shown after ``$ command`` in a console block, up to the block's end."""
    start = text.index(f"$ {command}\n") + len(command) + 3
    return text[start : text.index("```", start)]


def test_the_documented_transcript_is_what_the_command_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = _transcript(
        DOCS.read_text(encoding="utf-8"), 'gradstep practice "(a + b) * a" a=2 b=-1'
    )
    typed_lines = [m[1] for line in shown.splitlines() if (m := _PROMPT.match(line))]
    assert len(typed_lines) >= 8, shown
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{t}\n" for t in typed_lines)))
    assert main(["practice", "(a + b) * a", "a=2", "b=-1"]) == EXIT_OK
    assert capsys.readouterr().out == shown


def test_the_python_examples_of_the_docs_print_what_they_show() -> None:
    text = DOCS.read_text(encoding="utf-8")
    namespace: dict[str, object] = {"__name__": "docs"}
    checked = 0
    for block in re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, str(DOCS), "exec"), namespace)
        printed = out.getvalue().splitlines()
        for shown in re.findall(r"#\s*prints (.*)$", block, re.MULTILINE):
            assert shown.strip() in printed, (shown, printed)
            checked += 1
    assert checked >= 8


def test_a_gradient_that_is_not_finite_cannot_be_practised() -> None:
    root, _ = parse("sqrt(x)").build({"x": 0.0})
    root.label = "L"
    with pytest.raises(ValueError, match=r"∂L/∂x = inf in step 1 is not a finite number"):
        practice(root)
    refused = _practice("sqrt(x)", "x=0")
    assert refused.returncode == EXIT_USAGE, refused.stderr
    assert "practise at other values" in refused.stderr


def test_without_graphviz_the_page_is_written_without_its_drawing(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    page = tmp_path / "p.html"
    written = subprocess.run(
        [sys.executable, "-m", "gradstep", "practice", "x * y", "x=2", "y=3", "--html", str(page)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": str(empty), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert written.returncode == EXIT_OK, written.stderr
    text = page.read_text(encoding="utf-8")
    assert "(no drawing: cannot make an SVG: Graphviz" in text
    assert len(re.findall(r'<input type="text"', text)) == 4


def test_every_op_whose_formula_uses_its_output_gets_the_input_for_output_mistake() -> None:
    from gradstep.engine import apply
    from gradstep.ops import BUILTIN_OPS

    ops = [s for s in BUILTIN_OPS if s.arity == 1 and "{out}" in "".join(s.formulas)]
    assert {s.name for s in ops} >= {"tanh", "sigmoid", "exp", "sqrt"}
    for spec in ops:
        x = Value(0.5, label="x")
        root = apply(spec, x, constant=spec.default)
        root.label = "L"
        q = practice(root).questions[0]
        wrong = spec.local(0.5, 0.5, spec.default) if spec.constant_name else spec.local(0.5, 0.5)
        named = [m for m in q.mistakes if m.kind == "input-for-output"]
        assert [m.value for m in named] == [pytest.approx(float(wrong[0]))], (spec.name, q)
        assert "is written with the output L = " in named[0].message


@pytest.mark.parametrize("level", [3, 4, 5])
def test_generated_exercises_can_tell_the_output_from_the_input(level: int) -> None:
    """Where an op's derivative is written with its output (tanh, sigmoid, exp), the number
    the input would give is never within the tolerance of the answer, so it is named."""
    seen = 0
    for seed in range(100):
        exercise = make_exercise(level, seed)
        for q in exercise.questions:
            node = exercise.walk.nodes[int(q.edge[1:].split("_")[0])]
            spec = node._spec
            if q.kind == "local" and spec is not None and "{out}" in "".join(spec.formulas):
                kinds = {m.kind for m in q.mistakes}
                assert "input-for-output" in kinds, (level, seed, exercise.title, q)
                seen += 1
    assert seen >= 30, seen


@settings(max_examples=80, deadline=None)
@given(expression_dags(max_steps=8))
def test_any_random_expression_dag_can_be_practised_to_the_end(dag: ExpressionDAG) -> None:
    xs = [Value(x, label=f"x{i}") for i, x in enumerate(dag.inputs)]
    root = dag(*xs)
    assume(root._prev)  # an input as the root: nothing to work out
    exercise = practice(root)
    assert [q.answer for q in exercise.questions] == [
        x for r in exercise.walk.backward for x in (r.local, r.child_grad)
    ]
    result, out = session(exercise, answers(exercise))
    assert result.ok and "mistakes: none" in out, out
    for q in exercise.questions:
        for m in q.mistakes:
            assert exercise.check(q, m.value).kind == m.kind, (q.prompt, m)
