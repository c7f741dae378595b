"""A safe parser for expressions like ``tanh(w*x + b)``: Python's `ast` plus a whitelist, no eval.

``parse(text)`` checks the text against a small grammar — numbers, variable names,
``+ - * / **``, unary ``-`` and ``+``, parentheses and calls of the engine's functions
(``tanh sigmoid relu leaky_relu exp log sqrt abs``) — and compiles it into a flat postfix
recipe.  ``Expression.build(values)`` runs the recipe on `Value`s, so the graph is built by
the engine's own operators.  Nothing is ever passed to ``eval``, ``exec`` or ``compile``,
and both the check and the build are loops, never recursion, so no input can exhaust the
stack.  Every refusal is an `ExpressionError` with a one-line message and, where there is
one, the 1-based column it points at::

    >>> parse("tanh(w*x + b)").variables
    ('w', 'x', 'b')
    >>> root, leaves = parse("tanh(w*x + b)").build({"x": 0.5, "w": -1.5, "b": 0.2})
    >>> try:
    ...     parse("x.tanh()")
    ... except ExpressionError as error:
    ...     print(error)
    attribute access is not allowed: write tanh(x), not x.tanh() at column 2
"""

from __future__ import annotations

import ast
import difflib
import keyword
import math
import unicodedata
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Literal

from gradstep.engine import Value, apply
from gradstep.ops import BUILTIN_OPS, OpSpec

__all__ = [
    "ExpressionError",
    "EvaluationError",
    "Expression",
    "parse",
    "parse_assignments",
    "FUNCTIONS",
    "MAX_LENGTH",
    "MAX_TERMS",
    "MAX_VARIABLES",
    "MAX_EXPONENT",
    "MAX_MAGNITUDE",
]

#: the longest expression accepted, in characters
MAX_LENGTH = 2000
#: the most terms (numbers, variable uses, operators, calls) in one expression
MAX_TERMS = 500
#: the most distinct variables in one expression
MAX_VARIABLES = 50
#: the largest |n| accepted in a power by a constant, ``x ** n``
MAX_EXPONENT = 100
#: the largest |number| accepted, as a literal in the expression or as a variable's value
MAX_MAGNITUDE = 1e100

#: the ops an expression may call by name: every built-in op that is not a Python operator
_FUNCTION_OPS: Mapping[str, OpSpec] = {spec.name: spec for spec in BUILTIN_OPS if not spec.operator}

#: the functions an expression may call, and how many arguments each takes (min, max): its
#: operands, then its constant if it has one (``leaky_relu(x, slope)``; optional with a default)
FUNCTIONS: Mapping[str, tuple[int, int]] = {
    name: (
        spec.arity + (1 if spec.param and spec.default is None else 0),
        spec.arity + (1 if spec.param else 0),
    )
    for name, spec in _FUNCTION_OPS.items()
}

#: the operators an expression may use, as Python's grammar names them
_BINARY_OPS: Mapping[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
}

#: the op records of the binary operators between two Values (``x ** y``: the Value power)
_BINARY_BY_SYMBOL: Mapping[str, OpSpec] = {
    spec.operator: spec for spec in BUILTIN_OPS if spec.operator and spec.arity == 2
}

_REFUSED_OPERATORS: Mapping[type[ast.AST], str] = {
    ast.FloorDiv: "'//' is not supported: use '/'",
    ast.Mod: "'%' is not supported",
    ast.MatMult: "'@' is not supported",
    ast.BitXor: "'^' is not supported: write powers with '**', e.g. x**2",
    ast.BitOr: "'|' is not supported",
    ast.BitAnd: "'&' is not supported",
    ast.LShift: "'<<' is not supported",
    ast.RShift: "'>>' is not supported",
    ast.Not: "'not' is not supported",
    ast.Invert: "'~' is not supported",
}

_OPERATOR_SYMBOLS: Mapping[type[ast.AST], str] = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.BitXor: "^",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.LShift: "<<",
    ast.RShift: ">>",
}

_REFUSED_NODES: Mapping[type[ast.AST], str] = {
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "indexing with [...] is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "'and' / 'or' are not allowed",
    ast.IfExp: "conditional expressions (... if ... else ...) are not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.Tuple: "a ',' outside a function call is not allowed (one expression only)",
    ast.List: "lists are not allowed",
    ast.Dict: "dictionaries are not allowed",
    ast.Set: "sets are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.NamedExpr: "':=' is not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
    ast.Slice: "slices are not allowed",
}

_SNIPPET_WIDTH = 30


class ExpressionError(ValueError):
    """A refused expression or variable value: a one-line ``message`` and the 1-based
    ``position`` (column in the expression) it points at, or None."""

    message: str
    position: int | None

    def __init__(self, message: str, position: int | None = None) -> None:
        message = " ".join(message.split())  # always one line
        super().__init__(message, position)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        return f"{self.message} at column {self.position}"


class EvaluationError(ExpressionError):
    """A domain error while building the graph (log of a non-positive number, division by
    zero, overflow…), pointing at the operation that failed."""


# ---------------------------------------------------------------------------------------
# the compiled recipe

StepKind = Literal["number", "variable", "binary", "power", "negate", "call"]


@dataclass(frozen=True)
class _Step:
    """One instruction of the postfix recipe: push a number or a variable, or apply an op
    to the Values on top of the stack."""

    kind: StepKind
    column: int  # 1-based column of the operator / name / number in the source
    text: str  # the operator symbol, the variable name or the function name
    snippet: str  # the sub-expression's source text, shortened (for error messages)
    number: float = 0.0  # the literal, the constant exponent, or leaky_relu's slope


class Expression:
    """A checked expression: its ``source``, its ``variables`` (in order of first use) and
    ``build(values)``, which makes the `Value` graph."""

    __slots__ = ("source", "variables", "_steps", "_first_use")

    source: str
    variables: tuple[str, ...]
    _steps: tuple[_Step, ...]
    _first_use: Mapping[str, int]

    def __init__(self, source: str, steps: Iterable[_Step]) -> None:
        self.source = source
        self._steps = tuple(steps)
        first_use: dict[str, int] = {}
        for step in self._steps:
            if step.kind == "variable":
                first_use.setdefault(step.text, step.column)
        self._first_use = first_use
        self.variables = tuple(first_use)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def build(self, values: Mapping[str, float]) -> tuple[Value, dict[str, Value]]:
        """Build the graph for these variable values: (root, {name: leaf Value}).

        Each variable is one leaf, labelled with its name, shared by all its uses; each
        number is a leaf of its own, labelled as written (``0.5``, ``-3``).  Interior nodes
        are left unlabelled, so `gradstep.viz.explain` names them n1, n2, … and shows each
        one's formula (``n1 = 2 * x``).

        Raises `ExpressionError` for a missing, unknown or non-numeric value, and
        `EvaluationError` (an `ExpressionError`) for a domain error such as log(-1) or 1/0.
        """
        leaves = self._leaves(values)
        return self._run(leaves), leaves

    def __call__(self, *args: Value) -> Value:
        """The expression as a function of Values, one per variable in ``variables`` order
        (so it can be handed to `gradstep.testing.gradcheck`): ``parse("x*y")(a, b)``."""
        if len(args) != len(self.variables):
            raise TypeError(
                f"{self.source!r} takes {len(self.variables)} Values "
                f"({', '.join(self.variables) or 'no variables'}), got {len(args)}"
            )
        for name, arg in zip(self.variables, args, strict=True):
            if not isinstance(arg, Value):
                raise TypeError(f"the value of {name!r} must be a Value, got {arg!r}")
        return self._run(dict(zip(self.variables, args, strict=True)))

    def _run(self, leaves: Mapping[str, Value]) -> Value:
        """Run the recipe on these leaves; return the root."""
        stack: list[Value] = []
        numbers: list[tuple[Value, str]] = []
        for step in self._steps:
            if step.kind == "variable":
                stack.append(leaves[step.text])
                continue
            out = _run_step(step, stack)
            if step.kind == "number":
                numbers.append((out, step.text))
            if not math.isfinite(out.data):
                raise EvaluationError(
                    f"{step.snippet} = {out.data!r} is not a finite number", step.column
                )
            stack.append(out)
        if len(stack) != 1:  # cannot happen for a recipe made by parse()
            raise ExpressionError(f"internal error: {len(stack)} values left after building")
        for number, text in numbers:  # labelled only now: the engine's messages name labels
            number.label = text
        return stack[0]

    def _leaves(self, values: Mapping[str, float]) -> dict[str, Value]:
        """Check ``values`` against the expression's variables and make one leaf per name."""
        unknown = [name for name in values if name not in self._first_use]
        if unknown:
            uses = ", ".join(self.variables) if self.variables else "no variables"
            raise ExpressionError(f"unknown variable {unknown[0]!r}: the expression uses {uses}")
        leaves: dict[str, Value] = {}
        for name in self.variables:
            if name not in values:
                raise ExpressionError(
                    f"no value given for variable {name!r} (give it as {name}=NUMBER)",
                    self._first_use[name],
                )
            leaves[name] = Value(_check_number(values[name], f"the value of {name!r}"), label=name)
        return leaves


def _run_step(step: _Step, stack: list[Value]) -> Value:
    """Apply one non-variable step to the top of ``stack`` (popping its operands)."""
    try:
        if step.kind == "number":
            return Value(step.number)
        if step.kind == "binary":
            b = stack.pop()
            a = stack.pop()
            out = apply(_BINARY_BY_SYMBOL[step.text], a, b)
        elif step.kind == "power":
            out = stack.pop() ** step.number
        elif step.kind == "negate":
            out = -stack.pop()
        else:
            spec = _FUNCTION_OPS[step.text]
            operands = stack[-spec.arity :]
            del stack[-spec.arity :]
            out = apply(spec, *operands, param=step.number if spec.param else None)
    except (ArithmeticError, ValueError) as error:  # the engine's domain errors
        raise EvaluationError(str(error), step.column) from None
    return out


# ---------------------------------------------------------------------------------------
# parsing


def parse(text: str) -> Expression:
    """Check ``text`` against the grammar and the limits; return the `Expression`.

    Raises `ExpressionError` (with the column where there is one) for anything else.
    """
    if not isinstance(text, str):
        raise TypeError(f"the expression must be a str, got {type(text).__name__}: {text!r}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is too long ({len(text)} characters; the limit is {MAX_LENGTH})"
        )
    _check_characters(text)
    body = text.lstrip(" \t")
    if not body.strip(" \t"):
        raise ExpressionError("empty expression")
    source = _Source(text, len(text) - len(body))
    tree = _parse_python(body, source)
    steps = _compile(tree, source)
    expression = Expression(text, steps)
    if len(expression.variables) > MAX_VARIABLES:
        name = expression.variables[MAX_VARIABLES]
        raise ExpressionError(
            f"too many variables (more than {MAX_VARIABLES})", expression._first_use[name]
        )
    return expression


def parse_assignments(arguments: Iterable[str]) -> dict[str, float]:
    """Read ``NAME=VALUE`` strings (``x=0.5``) into a dict; refuse malformed, non-numeric,
    non-finite or repeated ones with an `ExpressionError`."""
    values: dict[str, float] = {}
    for argument in arguments:
        name, sep, raw = argument.partition("=")
        name = unicodedata.normalize("NFKC", name.strip())  # as Python reads identifiers
        if not sep:
            raise ExpressionError(f"expected NAME=VALUE (like x=0.5), got {argument!r}")
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ExpressionError(f"invalid variable name {name!r} in {argument!r}")
        if name in FUNCTIONS:
            raise ExpressionError(f"{name!r} is a function, not a variable, in {argument!r}")
        if name in values:
            raise ExpressionError(f"variable {name!r} is given twice")
        try:
            if not raw.isascii():  # float() reads '٣' as 3; the expressions refuse it: so do values
                raise ValueError(raw)
            number = float(raw)
        except ValueError:
            raise ExpressionError(
                f"invalid value for {name!r}: {raw.strip()!r} is not a number"
                + ("" if raw.isascii() else " (write it with the digits 0-9)")
            ) from None
        values[name] = _check_number(number, f"the value of {name!r}")
    return values


def _check_number(number: object, what: str, position: int | None = None) -> float:
    """Return ``number`` as a float if it is a finite real within ±MAX_MAGNITUDE."""
    if isinstance(number, bool) or not isinstance(number, Real):
        raise ExpressionError(
            f"{what} must be a real number, got {type(number).__name__}: {number!r}", position
        )
    too_large = ExpressionError(f"{what} is too large (the limit is ±{MAX_MAGNITUDE:g})", position)
    if isinstance(number, Integral):
        if abs(int(number)) > MAX_MAGNITUDE:  # compared exactly: no float overflow
            raise too_large
        return float(number)
    value = float(number)
    if not math.isfinite(value):
        raise ExpressionError(f"{what} must be a finite number, got {number!r}", position)
    if abs(value) > MAX_MAGNITUDE:
        raise too_large
    return value


def _check_characters(text: str) -> None:
    """Refuse line breaks, control characters and lone surrogates before Python sees them."""
    for index, char in enumerate(text):
        if char == "\t":
            continue
        category = unicodedata.category(char)
        if char in "\n\r" or category in ("Zl", "Zp"):
            raise ExpressionError("the expression must be on one line", index + 1)
        if category in ("Cc", "Cs"):
            raise ExpressionError(f"invalid character U+{ord(char):04X}", index + 1)


class _Source:
    """The expression text, with conversions from `ast`'s UTF-8 byte offsets (into the text
    without its leading blanks) to 1-based character columns of the original text."""

    def __init__(self, text: str, shift: int) -> None:
        self.text = text
        self.shift = shift
        self.body = text[shift:].encode("utf-8")

    def column(self, byte_offset: int) -> int:
        """The 1-based column of a byte offset into the parsed text."""
        return self.shift + len(self.body[:byte_offset].decode("utf-8", "replace")) + 1

    def segment(self, node: ast.AST) -> str:
        """The node's source text."""
        start = getattr(node, "col_offset", 0)
        end = getattr(node, "end_col_offset", None)
        return self.body[start:end].decode("utf-8", "replace")

    def snippet(self, node: ast.AST) -> str:
        """The node's source text, blanks collapsed, shortened for a message."""
        text = " ".join(self.segment(node).split())
        if len(text) > _SNIPPET_WIDTH:
            text = text[: _SNIPPET_WIDTH - 1] + "…"
        return text

    def start(self, node: ast.AST) -> int:
        """The 1-based column where the node starts."""
        return self.column(getattr(node, "col_offset", 0))

    def find(self, after: ast.AST, symbol: str) -> int:
        """The column of the first ``symbol`` after ``after`` (an operator, or the '.' of an
        attribute: between the operands there are only blanks and parentheses)."""
        end = getattr(after, "end_col_offset", None) or 0
        found = self.body.find(symbol.encode("utf-8"), end)
        return self.column(found if found >= 0 else end)


def _parse_python(body: str, source: _Source) -> ast.expr:
    """``ast.parse(body, mode="eval")``, with every failure turned into an ExpressionError."""
    try:
        with warnings.catch_warnings():  # "invalid escape sequence" etc.: we refuse anyway
            warnings.simplefilter("ignore")
            return ast.parse(body, mode="eval").body
    except SyntaxError as error:
        raise _syntax_error(error, source) from None
    except (RecursionError, MemoryError):
        raise ExpressionError("the expression is too deeply nested") from None
    except (ValueError, OverflowError) as error:
        raise ExpressionError(f"invalid expression: {error}") from None


def _syntax_error(error: SyntaxError, source: _Source) -> ExpressionError:
    """Python's syntax error, re-worded for an expression and pointed at a column."""
    message = (error.msg or "invalid syntax").split(". Perhaps")[0].split(". Maybe")[0]
    message = message.replace(" (detected at line 1)", "")
    body = source.text[source.shift :]
    offset = error.offset
    if error.lineno not in (None, 1) or offset is None:
        return ExpressionError(message)
    if offset < 1 or offset > len(body.rstrip(" \t")):
        if message == "invalid syntax":
            message = "unexpected end of expression"
        return ExpressionError(message, len(source.text.rstrip(" \t")) + 1)
    if body[offset - 1] == "=":
        message = "'=' is not allowed in an expression: give values as arguments, like x=0.5"
    elif message == "invalid syntax":
        message = f"invalid syntax near {body[offset - 1]!r}"
    return ExpressionError(message, source.shift + offset)


def _compile(tree: ast.expr, source: _Source) -> list[_Step]:
    """Check the tree node by node (an explicit stack, no recursion) and emit the steps in
    postfix order: every operand before the op that uses it."""
    steps: list[_Step] = []
    todo: list[ast.expr | _Step] = [tree]
    terms = 0
    while todo:
        item = todo.pop()
        if isinstance(item, _Step):
            steps.append(item)
            continue
        terms += 1
        if terms > MAX_TERMS:
            raise ExpressionError(
                f"the expression has too many terms (more than {MAX_TERMS})", source.start(item)
            )
        step, operands = _translate(item, source)
        if step is not None:
            todo.append(step)
        todo.extend(reversed(operands))
    return steps


def _translate(node: ast.expr, source: _Source) -> tuple[_Step | None, list[ast.expr]]:
    """Check one node; return its step (None for unary '+') and the operands to do first."""
    if isinstance(node, ast.Constant):
        return _number_step(node, source, negative=False), []
    if isinstance(node, ast.Name):
        return _name_step(node, source), []
    if isinstance(node, ast.BinOp):
        return _binary_step(node, source)
    if isinstance(node, ast.UnaryOp):
        return _unary_step(node, source)
    if isinstance(node, ast.Call):
        return _call_step(node, source)
    raise _refused(node, source)


def _refused(node: ast.AST, source: _Source) -> ExpressionError:
    """The error for a node outside the grammar."""
    if isinstance(node, ast.Attribute):
        message = f"attribute access ('.{node.attr}') is not allowed"
        if node.attr in FUNCTIONS:
            message = f"attribute access is not allowed: write {node.attr}(x), not x.{node.attr}()"
        return ExpressionError(message, source.find(node.value, "."))
    default = f"{type(node).__name__} is not allowed in an expression"
    return ExpressionError(_REFUSED_NODES.get(type(node), default), source.start(node))


def _number_step(
    node: ast.Constant, source: _Source, negative: bool, sign_column: int | None = None
) -> _Step:
    """A numeric literal (int or float; not bool, complex or str) within the limits;
    ``negative`` for a literal after a unary minus (at ``sign_column``)."""
    value = node.value
    column = source.start(node)
    if isinstance(value, str | bytes):
        raise ExpressionError("strings are not allowed", column)
    if isinstance(value, bool) or value is None or value is Ellipsis:
        raise ExpressionError(f"{value!r} is not a number", column)
    if isinstance(value, complex):
        raise ExpressionError("complex numbers are not supported", column)
    if not isinstance(value, int | float):
        raise ExpressionError(f"{type(value).__name__} is not a number", column)
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError("this number is too large to be a finite float", column)
    if abs(value) > MAX_MAGNITUDE:
        raise ExpressionError(f"number too large (the limit is ±{MAX_MAGNITUDE:g})", column)
    number = -float(value) if negative else float(value)
    label = ("-" if negative else "") + source.snippet(node)
    if sign_column is not None:
        column = sign_column
    return _Step("number", column, label, label, number)


def _name_step(node: ast.Name, source: _Source) -> _Step:
    """A variable name (a function's name is not a variable)."""
    if node.id in FUNCTIONS:
        raise ExpressionError(
            f"{node.id!r} is a function: call it, as in {node.id}(x)", source.start(node)
        )
    return _Step("variable", source.start(node), node.id, node.id)


def _constant(node: ast.expr) -> tuple[float, ast.Constant] | None:
    """The value of a numeric literal, optionally signed (``3``, ``-0.5``), else None."""
    sign = 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        node = node.operand
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
        and abs(node.value) <= MAX_MAGNITUDE  # (compared exactly: a huge int never overflows)
    ):
        return sign * float(node.value), node
    return None  # not a literal, or one too large: the number's own step says which


def _binary_step(node: ast.BinOp, source: _Source) -> tuple[_Step, list[ast.expr]]:
    """``a + b``, ``a - b``, ``a * b``, ``a / b``, ``a ** b``; ``x ** n`` for a literal n
    becomes a power by a constant (|n| ≤ MAX_EXPONENT)."""
    op_type = type(node.op)
    if op_type not in _BINARY_OPS:
        symbol = _OPERATOR_SYMBOLS.get(op_type, "")
        message = _REFUSED_OPERATORS.get(op_type, f"{op_type.__name__} is not supported")
        raise ExpressionError(message, source.find(node.left, symbol))
    symbol = _BINARY_OPS[op_type]
    column = source.find(node.left, symbol)
    label = source.snippet(node)
    if op_type is ast.Pow:
        exponent = _constant(node.right)
        if exponent is not None:
            n, literal = exponent
            _number_step(literal, source, negative=False)  # literal checks (finite, size)
            if abs(n) > MAX_EXPONENT:
                raise ExpressionError(
                    f"exponent {n:g} is too large (the limit is ±{MAX_EXPONENT})",
                    source.start(node.right),
                )
            return _Step("power", column, symbol, label, n), [node.left]
    return _Step("binary", column, symbol, label), [node.left, node.right]


def _unary_step(node: ast.UnaryOp, source: _Source) -> tuple[_Step | None, list[ast.expr]]:
    """``-x`` (a negative literal stays one number), ``+x`` (no node at all)."""
    column = source.start(node)
    if isinstance(node.op, ast.UAdd):
        return None, [node.operand]
    if not isinstance(node.op, ast.USub):
        raise ExpressionError(
            _REFUSED_OPERATORS.get(type(node.op), "this operator is not supported"), column
        )
    operand = node.operand
    if (
        isinstance(operand, ast.Constant)
        and isinstance(operand.value, int | float)
        and not isinstance(operand.value, bool)
    ):
        return _number_step(operand, source, negative=True, sign_column=column), []
    return _Step("negate", column, "-", source.snippet(node)), [operand]


def _call_step(node: ast.Call, source: _Source) -> tuple[_Step, list[ast.expr]]:
    """``f(x)`` for one of FUNCTIONS; ``leaky_relu(x, slope)`` with a literal constant."""
    func = node.func
    if isinstance(func, ast.Attribute):
        raise _refused(func, source)
    if not isinstance(func, ast.Name):
        raise ExpressionError(
            "only the functions " + ", ".join(FUNCTIONS) + " can be called", source.start(node)
        )
    name = func.id
    column = source.start(func)
    if name not in FUNCTIONS:
        close = difflib.get_close_matches(name, FUNCTIONS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(FUNCTIONS)})"
        raise ExpressionError(f"unknown function {name!r}{hint}", column)
    if node.keywords:
        keyword_node = node.keywords[0]
        raise ExpressionError(
            f"keyword arguments are not allowed in {name}(...)", source.start(keyword_node)
        )
    for argument in node.args:
        if isinstance(argument, ast.Starred):
            raise ExpressionError("'*' unpacking is not allowed", source.start(argument))
    low, high = FUNCTIONS[name]
    count = len(node.args)
    if not low <= count <= high:
        wanted = f"{low}" if low == high else f"{low} or {high}"
        plural = "" if high == 1 else "s"
        raise ExpressionError(f"{name}() takes {wanted} argument{plural} ({count} given)", column)
    label = source.snippet(node)
    spec = _FUNCTION_OPS[name]
    operands = node.args[: spec.arity]
    if not spec.param:
        return _Step("call", column, name, label), operands
    constant_value = spec.default or 0.0
    if count > spec.arity:
        argument = node.args[spec.arity]
        literal = argument.operand if isinstance(argument, ast.UnaryOp) else argument
        if isinstance(literal, ast.Constant):
            _number_step(literal, source, negative=False)  # too large, not a number: said there
        constant = _constant(argument)
        if constant is None:
            written = ", ".join((*spec.operands, spec.param))
            raise ExpressionError(
                f"the {spec.param} of {name}({written}) must be a number, like 0.1",
                source.start(node.args[spec.arity]),
            )
        _number_step(constant[1], source, negative=False)  # literal checks
        constant_value = constant[0]
    return _Step("call", column, name, label, constant_value), operands
