"""Tests for the safe expression parser `gradstep.expr`: grammar, limits, errors, fuzzing."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradstep.expr as expr_module
from gradstep import Value
from gradstep.expr import (
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_TERMS,
    MAX_VARIABLES,
    EvaluationError,
    Expression,
    ExpressionError,
    parse,
    parse_assignments,
)


def build(text: str, **values: float) -> tuple[Value, dict[str, Value]]:
    return parse(text).build(values)


def error_of(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    return info.value


# ---------------------------------------------------------------------------------------
# what parses, and what it builds


def test_variables_in_order_of_first_use_and_source_kept() -> None:
    e = parse("tanh(w*x + b) + w")
    assert e.variables == ("w", "x", "b")
    assert e.source == "tanh(w*x + b) + w"
    assert repr(e) == "Expression('tanh(w*x + b) + w')"


def test_neuron_forward_and_gradients_match_hand_computation() -> None:
    root, leaves = build("tanh(w*x + b)", x=0.5, w=-1.5, b=0.2)
    # by hand: z = -1.5*0.5 + 0.2 = -0.55, f = tanh(-0.55), f' = 1 - tanh² = 0.749479...
    z = -0.55
    assert root.data == pytest.approx(math.tanh(z), rel=1e-15)
    root.backward()
    dz = 1 - math.tanh(z) ** 2
    assert leaves["x"].grad == pytest.approx(dz * -1.5, rel=1e-12)
    assert leaves["w"].grad == pytest.approx(dz * 0.5, rel=1e-12)
    assert leaves["b"].grad == pytest.approx(dz, rel=1e-12)
    assert {name: v.label for name, v in leaves.items()} == {"x": "x", "w": "w", "b": "b"}


def test_a_variable_used_twice_is_one_leaf_and_its_gradients_add_up() -> None:
    root, leaves = build("x*x + x", x=3.0)
    assert root.data == 12.0
    root.backward()
    assert leaves["x"].grad == 7.0  # d/dx (x² + x) = 2x + 1
    a, b = root._prev
    assert a._prev == (leaves["x"], leaves["x"])
    assert b is leaves["x"]


def test_numbers_are_labelled_as_written_and_interior_nodes_not_at_all() -> None:
    root, leaves = build("2*x + 0.5 - -3", x=1.0)
    assert root.label == ""
    plus, minus_three = root._prev
    product, half = plus._prev
    assert (plus.label, product.label) == ("", "")
    assert (product._prev[0].label, half.label, minus_three.label) == ("2", "0.5", "-3")
    assert product._prev[1] is leaves["x"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-2**2", -4.0),  # ** binds tighter than unary minus, as in Python
        ("2**3**2", 512.0),  # ** is right-associative
        ("1 - 2 - 3", -4.0),
        ("8 / 4 / 2", 1.0),
        ("2 + 3 * 4", 14.0),
        ("(2 + 3) * 4", 20.0),
        ("+x", 1.5),
        ("- -x", 1.5),
        ("x ** -2", 1 / 1.5**2),
        ("x**0.5", math.sqrt(1.5)),
        ("1_000 + 0x10 + 1e-3", 1016.001),
        ("x - -3", 4.5),
    ],
)
def test_arithmetic_follows_python_precedence(text: str, expected: float) -> None:
    e = parse(text)
    root, _ = e.build(dict.fromkeys(e.variables, 1.5))
    assert root.data == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("tanh(x)", math.tanh),
        ("sigmoid(x)", lambda x: 1 / (1 + math.exp(-x))),
        ("relu(x)", lambda x: max(0.0, x)),
        ("leaky_relu(x)", lambda x: x if x > 0 else 0.01 * x),
        ("leaky_relu(x, 0.2)", lambda x: x if x > 0 else 0.2 * x),
        ("leaky_relu(x, -0.5)", lambda x: x if x > 0 else -0.5 * x),
        ("exp(x)", math.exp),
        ("log(x + 3)", lambda x: math.log(x + 3)),
        ("sqrt(x + 3)", lambda x: math.sqrt(x + 3)),
        ("abs(x)", abs),
    ],
)
@pytest.mark.parametrize("x", [-1.25, 0.75, 2.0])
def test_every_function_matches_math(
    text: str, reference: Callable[[float], float], x: float
) -> None:
    root, _ = build(text, x=x)
    assert root.data == pytest.approx(reference(x), rel=1e-12)


def test_ops_in_the_graph_are_the_engines() -> None:
    assert build("x ** 3", x=2.0)[0]._op == "**3"  # a literal exponent: power by a constant
    assert build("x ** -3", x=2.0)[0]._op == "**-3"
    assert build("x ** y", x=2.0, y=3.0)[0]._op == "**"  # a Value exponent
    assert build("-x", x=2.0)[0]._op == "neg"
    minus_three = build("-3")[0]  # a negative literal is one constant
    assert (minus_three._op, minus_three.data) == ("", -3.0)
    assert build("leaky_relu(x, 0.2)", x=-1.0)[0].local_grads() == (0.2,)  # the slope
    root = build("relu(sigmoid(x))", x=1.0)[0]
    assert (root._op, root._prev[0]._op) == ("ReLU", "sigmoid")


def test_gradient_flows_into_a_value_exponent() -> None:
    root, leaves = build("x ** y", x=2.0, y=3.0)
    root.backward()
    assert leaves["x"].grad == pytest.approx(3 * 2.0**2)  # y·x^(y-1) = 12
    assert leaves["y"].grad == pytest.approx(8 * math.log(2.0))  # x^y·ln x


def test_each_build_makes_a_fresh_graph() -> None:
    e = parse("x * y")
    r1, l1 = e.build({"x": 2.0, "y": 3.0})
    r2, l2 = e.build({"x": -1.0, "y": 4.0})
    r1.backward()
    assert (r1.data, r2.data) == (6.0, -4.0)
    assert l1["x"] is not l2["x"]
    assert (l1["x"].grad, l2["x"].grad) == (3.0, 0.0)


def test_unicode_names_and_positions_count_characters() -> None:
    e = parse("α*β + γγ")
    assert e.variables == ("α", "β", "γγ")
    root, _ = e.build({"α": 2.0, "β": 3.0, "γγ": 1.0})
    assert root.data == 7.0
    # columns are characters, not UTF-8 bytes: 'foo' starts at column 7
    assert error_of("αβ + γ.tanh").position == 7
    assert str(error_of("ééé + foo(x)")) == (
        "unknown function 'foo' (known: tanh, sigmoid, relu, leaky_relu, exp, log, sqrt, abs) "
        "at column 7"
    )


def test_leading_blanks_are_allowed_and_counted_in_columns() -> None:
    assert parse("   x + 1").variables == ("x",)
    assert error_of("   x ** 1000").position == 9


# ---------------------------------------------------------------------------------------
# refusals: one line, the right column


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("foo + 1", None, None),  # a variable: fine at parse time (refused at build)
        ("x.tanh()", "attribute access is not allowed: write tanh(x), not x.tanh()", 2),
        ("().__class__", "attribute access ('.__class__') is not allowed", 3),
        ("x.__class__.__bases__", "attribute access ('.__bases__') is not allowed", 12),
        (
            "foo(x)",
            "unknown function 'foo' (known: tanh, sigmoid, relu, leaky_relu, exp, log, sqrt, abs)",
            1,
        ),
        ("tanhh(x)", "unknown function 'tanhh'; did you mean 'tanh'?", 1),
        ("__import__('os')", "unknown function '__import__'", 1),
        ("eval('1')", "unknown function 'eval'", 1),
        ("lambda: 1", "lambda is not allowed", 1),
        ("x + (lambda y: y)(2)", "only the functions", 5),
        ("x[0]", "indexing with [...] is not allowed", 1),
        ("x ^ 2", "'^' is not supported: write powers with '**', e.g. x**2", 3),
        ("x // 2", "'//' is not supported: use '/'", 3),
        ("x % 2", "'%' is not supported", 3),
        ("x @ y", "'@' is not supported", 3),
        ("~x", "'~' is not supported", 1),
        ("not x", "'not' is not supported", 1),
        ("x < 1", "comparisons are not allowed", 1),
        ("x and y", "'and' / 'or' are not allowed", 1),
        ("x if y else z", "conditional expressions (... if ... else ...) are not allowed", 1),
        ("'abc'", "strings are not allowed", 1),
        ("f'{x}'", "strings are not allowed", 1),
        ("b'x' + 1", "strings are not allowed", 1),
        ("x, y", "a ',' outside a function call is not allowed (one expression only)", 1),
        ("[x]", "lists are not allowed", 1),
        ("{x: 1}", "dictionaries are not allowed", 1),
        ("[x for x in y]", "comprehensions are not allowed", 1),
        ("(x := 2)", "':=' is not allowed", 2),
        ("True + x", "True is not a number", 1),
        ("None", "None is not a number", 1),
        ("...", "Ellipsis is not a number", 1),
        ("2j * x", "complex numbers are not supported", 1),
        ("tanh", "'tanh' is a function: call it, as in tanh(x)", 1),
        ("tanh(x, y)", "tanh() takes 1 argument (2 given)", 1),
        ("tanh()", "tanh() takes 1 argument (0 given)", 1),
        ("leaky_relu(x, 0.1, 2)", "leaky_relu() takes 1 or 2 arguments (3 given)", 1),
        ("leaky_relu(x, y)", "the slope of leaky_relu(x, slope) must be a number, like 0.1", 15),
        ("tanh(x, k=1)", "keyword arguments are not allowed in tanh(...)", 9),
        ("abs(*x)", "'*' unpacking is not allowed", 5),
        ("x ** 1000", f"exponent 1000 is too large (the limit is ±{MAX_EXPONENT})", 6),
        ("x ** -101", f"exponent -101 is too large (the limit is ±{MAX_EXPONENT})", 6),
        ("9 ** 9 ** 9", None, None),  # a Value exponent (9**9): refused only if it overflows
        ("1e400 * x", "this number is too large to be a finite float", 1),
        ("x + 1e101", "number too large (the limit is ±1e+100)", 5),
        ("(x", "'(' was never closed", 1),
        ("x)", "unmatched ')'", 2),
        ("x +", "unexpected end of expression", 4),
        ("tanh(x", "'(' was never closed", 5),
        ("x +* 2", "invalid syntax near '*'", 4),
        ("x = 1", "'=' is not allowed in an expression: give values as arguments, like x=0.5", 3),
        ("'abc", "unterminated string literal", 1),
        ("", "empty expression", None),
        ("  \t ", "empty expression", None),
        ("x\ny", "the expression must be on one line", 2),
        ("x\r", "the expression must be on one line", 2),
        ("x\u2028", "the expression must be on one line", 2),
        ("x + \x00", "invalid character U+0000", 5),
        ("x\x1b[31m", "invalid character U+001B", 2),
        ("x\udcff", "invalid character U+DCFF", 2),
    ],
)
def test_refusals_name_the_problem_and_the_column(
    text: str, message: str | None, column: int | None
) -> None:
    if message is None:
        assert isinstance(parse(text), Expression)
        return
    error = error_of(text)
    assert error.message.startswith(message), error.message
    assert error.position == column
    suffix = "" if column is None else f" at column {column}"
    assert str(error) == error.message + suffix
    assert "\n" not in str(error)


def test_python_warnings_are_not_leaked(recwarn: pytest.WarningsRecorder) -> None:
    assert error_of("1if x else 2").message.startswith("conditional expressions")
    assert error_of("'\\l'").message == "strings are not allowed"
    assert [str(w.message) for w in recwarn] == []


def test_error_str_is_message_then_column() -> None:
    assert str(ExpressionError("unknown name 'foo'", 5)) == "unknown name 'foo' at column 5"
    assert str(ExpressionError("bad\nthing")) == "bad thing"  # always one line
    error = ExpressionError("oops", 3)
    assert (error.message, error.position, error.args) == ("oops", 3, ("oops", 3))
    assert isinstance(error, ValueError)
    assert issubclass(EvaluationError, ExpressionError)


# ---------------------------------------------------------------------------------------
# limits


def test_length_limit() -> None:
    ok = "x" + " " * (MAX_LENGTH - 1)
    assert parse(ok).variables == ("x",)
    error = error_of(ok + " ")
    assert error.message == (
        f"the expression is too long ({MAX_LENGTH + 1} characters; the limit is {MAX_LENGTH})"
    )
    assert error.position is None


def test_term_limit() -> None:
    # x+x+…+x with n uses of x has 2n - 1 terms (n names, n - 1 additions)
    n = (MAX_TERMS + 1) // 2
    assert parse("+".join(["x"] * n)).build({"x": 1.0})[0].data == n
    error = error_of("+".join(["x"] * (n + 1)))
    assert error.message == f"the expression has too many terms (more than {MAX_TERMS})"


def test_deep_nesting_gives_an_error_not_a_crash() -> None:
    assert error_of("(" * 300 + "x" + ")" * 300).message == "too many nested parentheses"
    assert error_of("-" * 1999 + "x").message.startswith("the expression has too many terms")
    deep = "tanh(" * 150 + "x" + ")" * 150  # 301 terms, within every limit
    root, leaves = parse(deep).build({"x": 0.3})
    root.backward()
    assert 0 < leaves["x"].grad < 1


def test_variable_limit() -> None:
    names = [f"v{i}" for i in range(MAX_VARIABLES + 1)]
    assert len(parse("+".join(names[:-1])).variables) == MAX_VARIABLES
    error = error_of("+".join(names))
    assert error.message == f"too many variables (more than {MAX_VARIABLES})"
    assert error.position == len("+".join(names[:-1])) + 2


def test_exponent_limit_is_inclusive() -> None:
    assert build(f"x ** {MAX_EXPONENT}", x=1.0)[0].data == 1.0
    assert build(f"x ** -{MAX_EXPONENT}", x=1.0)[0].data == 1.0
    assert error_of(f"x ** {MAX_EXPONENT + 0.5}").message.startswith("exponent 100.5")


def test_huge_integer_literal_is_refused_not_converted() -> None:
    error = error_of("x + 1" + "0" * 400)
    assert error.message == "number too large (the limit is ±1e+100)"
    assert error.position == 5


# ---------------------------------------------------------------------------------------
# values


def test_parse_assignments() -> None:
    assert parse_assignments(["x=0.5", " w = -1.5 ", "b=2e-1", "n=1_000"]) == {
        "x": 0.5,
        "w": -1.5,
        "b": 0.2,
        "n": 1000.0,
    }
    assert parse_assignments([]) == {}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["x"], "expected NAME=VALUE (like x=0.5), got 'x'"),
        (["x=abc"], "invalid value for 'x': 'abc' is not a number"),
        (["x="], "invalid value for 'x': '' is not a number"),
        (["x=1", "x=2"], "variable 'x' is given twice"),
        (["=1"], "invalid variable name '' in '=1'"),
        (["1x=2"], "invalid variable name '1x' in '1x=2'"),
        (["x.y=2"], "invalid variable name 'x.y' in 'x.y=2'"),
        (["lambda=2"], "invalid variable name 'lambda' in 'lambda=2'"),
        (["tanh=1"], "'tanh' is a function, not a variable, in 'tanh=1'"),
        (["x=nan"], "the value of 'x' must be a finite number, got nan"),
        (["x=-inf"], "the value of 'x' must be a finite number, got -inf"),
        (["x=1e101"], "the value of 'x' is too large (the limit is ±1e+100)"),
    ],
)
def test_bad_assignments(arguments: list[str], message: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_assignments(arguments)
    assert str(info.value) == message
    assert info.value.position is None


def test_build_refuses_missing_unknown_and_non_numeric_values() -> None:
    e = parse("tanh(w*x + b)")
    with pytest.raises(ExpressionError) as info:
        e.build({"x": 1.0, "w": 2.0})
    assert str(info.value) == "no value given for variable 'b' (give it as b=NUMBER) at column 12"
    with pytest.raises(ExpressionError) as info:
        e.build({"x": 1.0, "w": 2.0, "b": 0.0, "bb": 1.0})
    assert str(info.value) == "unknown variable 'bb': the expression uses w, x, b"
    with pytest.raises(ExpressionError) as info:
        parse("2 + 3").build({"x": 1.0})
    assert str(info.value) == "unknown variable 'x': the expression uses no variables"
    bad: dict[str, Any] = {"x": True, "w": 1.0, "b": 0.0}
    with pytest.raises(ExpressionError, match="the value of 'x' must be a real number, got bool"):
        e.build(bad)
    with pytest.raises(ExpressionError, match="must be a finite number"):
        e.build({"x": math.nan, "w": 1.0, "b": 0.0})
    assert e.build({"x": 1, "w": 2, "b": 0})[0].data == pytest.approx(math.tanh(2.0))
    half = {"x": Fraction(1, 2), "w": 2, "b": 0}
    assert e.build(half)[0].data == pytest.approx(math.tanh(1))  # type: ignore[arg-type]
    with pytest.raises(ExpressionError, match=r"the value of 'x' is too large \(the limit"):
        e.build({"x": 10**400, "w": 1.0, "b": 0.0})
    with pytest.raises(ExpressionError, match="must be a real number, got str"):
        e.build({"x": "1", "w": 1.0, "b": 0.0})  # type: ignore[dict-item]


def test_parse_wants_a_string() -> None:
    with pytest.raises(TypeError, match="the expression must be a str, got int: 12"):
        parse(12)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "values", "message", "column"),
    [
        ("log(x)", {"x": -1.0}, "log of a non-positive number: log(x=-1.0)", 1),
        ("1 + 2 / x", {"x": 0.0}, "division by zero: 2.0 / x=0.0", 7),
        ("exp(x)", {"x": 1000.0}, "exp(x) = inf is not a finite number", 1),
        ("sqrt(x)", {"x": -4.0}, "square root of a negative number: sqrt(x=-4.0)", 1),
        ("x ** 0.5", {"x": -1.0}, "fractional power of a negative base", 3),
        ("x ** y", {"x": -1.0, "y": 2.0}, "power with a Value exponent needs a non-negative", 3),
        ("x ** 100", {"x": 1e100}, "x ** 100 = inf is not a finite number", 3),
        ("x*y*y*y", {"x": 1e100, "y": 1e100}, "x*y*y*y = inf is not a finite number", 6),
        ("9 ** 9 ** 9", {}, "9 ** 9 ** 9 = inf is not a finite number", 3),
    ],
)
def test_domain_errors_become_evaluation_errors_at_the_op(
    text: str, values: dict[str, float], message: str, column: int
) -> None:
    with pytest.raises(EvaluationError) as info:
        parse(text).build(values)
    assert info.value.message.startswith(message), info.value.message
    assert info.value.position == column


# ---------------------------------------------------------------------------------------
# never evaluates code


def test_the_parser_module_calls_no_eval_exec_or_compile() -> None:
    tree = ast.parse(Path(expr_module.__file__).read_text(encoding="utf-8"))
    called = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert called.isdisjoint({"eval", "exec", "compile", "__import__"})
    assert "parse" in {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }


# ---------------------------------------------------------------------------------------
# fuzzing: any string is an Expression or an ExpressionError, never anything else

_PIECES = [
    *"0123456789",
    "x",
    "y",
    "w",
    "b",
    "foo",
    "_",
    "__",
    "__class__",
    "__import__",
    "+",
    "-",
    "*",
    "/",
    "**",
    "//",
    "%",
    "^",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ".",
    ",",
    ":",
    "'",
    '"',
    "=",
    "==",
    "<",
    " ",
    "\t",
    "e",
    "e-",
    "1e308",
    "1e999",
    "j",
    "lambda",
    "lambda x: x",
    "if",
    "else",
    "not",
    "and",
    "tanh(",
    "sigmoid(",
    "relu(",
    "exp(",
    "log(",
    "sqrt(",
    "abs(",
    "leaky_relu(",
    "tanh",
    "0x",
    "0b",
    "_1",
    "…",
    "é",
    "\\",
    "#",
    "@",
    "!",
    "\n",
    "\x00",
    "9" * 30,
    "yield",
    "await",
    "*x",
    "f'",
    "b'",
]
_grammarish = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)


def _values_for(e: Expression, data: st.DataObject) -> dict[str, float]:
    number = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
    return {name: data.draw(number, label=name) for name in e.variables}


def _parse_and_build(text: str, data: st.DataObject) -> None:
    try:
        e = parse(text)
    except ExpressionError as error:
        assert "\n" not in str(error)
        assert error.position is None or 1 <= error.position <= len(text) + 1
        return
    assert e.source == text
    try:
        root, leaves = e.build(_values_for(e, data))
    except ExpressionError as error:  # includes EvaluationError (domain errors)
        assert "\n" not in str(error)
        assert error.position is None or 1 <= error.position <= len(text) + 1
        return
    assert isinstance(root, Value)
    assert math.isfinite(root.data)
    assert set(leaves) == set(e.variables)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200), st.data())
def test_fuzz_any_text(text: str, data: st.DataObject) -> None:
    _parse_and_build(text, data)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_grammarish, st.data())
def test_fuzz_grammar_like_text(text: str, data: st.DataObject) -> None:
    _parse_and_build(text, data)


# random well-formed expression trees: the parsed graph computes what the tree means

_Tree = Any
_FUNCS: dict[str, Callable[[float], float]] = {
    "tanh": math.tanh,
    "sigmoid": lambda x: 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x)),
    "relu": lambda x: x if x > 0 else 0.0,
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "abs": abs,
}
_BINOPS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}

_leaf = st.one_of(
    st.tuples(st.just("var"), st.sampled_from(["x", "y", "z"])),
    st.tuples(st.just("num"), st.integers(0, 9)),
)
_trees = st.recursive(
    _leaf,
    lambda sub: st.one_of(
        st.tuples(st.just("bin"), st.sampled_from(sorted(_BINOPS)), sub, sub),
        st.tuples(st.just("neg"), sub),
        st.tuples(st.just("pow"), sub, st.integers(-1, 4)),
        st.tuples(st.just("call"), st.sampled_from(sorted(_FUNCS)), sub),
    ),
    max_leaves=12,
)


def _text(tree: _Tree) -> str:
    """The tree as fully parenthesised text (iteration is not needed: trees are small)."""
    kind = tree[0]
    if kind == "var":
        return str(tree[1])
    if kind == "num":
        return str(tree[1])
    if kind == "bin":
        return f"({_text(tree[2])} {tree[1]} {_text(tree[3])})"
    if kind == "neg":
        return f"(-{_text(tree[1])})"
    if kind == "pow":
        return f"({_text(tree[1])} ** {tree[2]})"
    return f"{tree[1]}({_text(tree[2])})"


def _meaning(tree: _Tree, env: dict[str, float]) -> float:
    """What the tree computes, with plain floats and `math`; a non-finite step is an error."""
    result = _meaning_of_node(tree, env)
    if not math.isfinite(result):
        raise OverflowError(f"{_text(tree)} = {result}")
    return result


def _meaning_of_node(tree: _Tree, env: dict[str, float]) -> float:
    kind = tree[0]
    if kind == "var":
        return env[tree[1]]
    if kind == "num":
        return float(tree[1])
    if kind == "bin":
        return _BINOPS[tree[1]](_meaning(tree[2], env), _meaning(tree[3], env))
    if kind == "neg":
        return -_meaning(tree[1], env)
    if kind == "pow":
        return float(_meaning(tree[1], env) ** float(tree[2]))
    return _FUNCS[tree[1]](_meaning(tree[2], env))


@settings(max_examples=500, deadline=None)
@given(_trees, st.floats(-5, 5), st.floats(-5, 5), st.floats(-5, 5))
def test_parsed_graph_computes_what_the_expression_means(
    tree: _Tree, x: float, y: float, z: float
) -> None:
    text = _text(tree)
    e = parse(text)
    env = {"x": x, "y": y, "z": z}
    try:
        expected: float | None = _meaning(tree, env)
    except (ArithmeticError, ValueError):
        expected = None
    values = {name: env[name] for name in e.variables}
    if expected is None:
        with pytest.raises(EvaluationError):
            e.build(values)
        return
    root, leaves = e.build(values)
    assert root.data == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert set(leaves) == set(e.variables)


@pytest.mark.parametrize("raw", ["٣", "１", "3.５", "\u0663e2"])
def test_values_refuse_digits_the_expressions_refuse(raw: str) -> None:
    """Issue 13.8: float() reads Arabic-Indic or full-width digits, Python's expressions do not
    (``parse("٣")`` is refused); a variable's value is refused too, saying which digits to use."""
    with pytest.raises(ExpressionError, match=r"is not a number \(write it with the digits 0-9\)"):
        parse_assignments([f"x={raw}"])
    with pytest.raises(ExpressionError):
        parse(f"x + {raw}")
