"""The walk-through's records: every number of one backward pass, and the tables made of them.

`WalkRecords.record(root)` runs ``root.backward(record=...)`` once and keeps every number the
engine itself used, edge by edge, in visit order::

    product = local ∂node/∂child × upstream ∂L/∂node;   ∂L/∂child so far += product

Every view (text and Markdown tables, drawings, the stepper page, frames, worksheets,
practice) renders these records; none recomputes a number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, Literal, TypeVar

from gradstep.engine import Value
from gradstep.viz.naming import (
    constants as find_constants,
)
from gradstep.viz.naming import (
    expression,
    format_number,
    forward_order,
    in_formula,
    node_names,
    op_constant,
    paren,
    written,
)

__all__ = [
    "WalkRecords",
    "ForwardRecord",
    "BackwardRecord",
    "GradientTerm",
    "GradientSum",
    "NeuronStep",
    "local_formula",
    "FORWARD_HEADERS",
    "FORWARD_NUMERIC",
    "BACKWARD_HEADERS",
    "BACKWARD_NUMERIC",
    "BACKWARD_ANSWERS",
    "text_table",
    "md_cell",
    "md_code",
    "md_table",
    "lookup_keys",
]

FORWARD_HEADERS = ("step", "name", "op", "expression", "value")
#: the forward table's numeric columns (right-aligned)
FORWARD_NUMERIC = frozenset({0, 4})
BACKWARD_HEADERS = (
    "step",
    "node",
    "op",
    "child",
    "formula",
    "local ∂node/∂child",
    "upstream ∂L/∂node",
    "product",
    "∂L/∂child so far",
)
#: the backward table's numeric columns (right-aligned)
BACKWARD_NUMERIC = frozenset({0, 5, 6, 7, 8})
#: the backward table's columns a learner works out: local, upstream, product, so far
BACKWARD_ANSWERS = (5, 6, 7, 8)

W = TypeVar("W", bound="WalkRecords")


def local_formula(node: Value, k: int, names: Mapping[Value, str]) -> str:
    """The local derivative of ``node`` with respect to its child ``k`` as a formula in the
    graph's names, from the op's record (`gradstep.ops`): ``∂n1/∂w = x`` for n1 = w * x;
    "" for an op whose record has no formula (a user's op without one).  An operand that is
    not a plain name stands in parentheses: ``∂d/∂(-z)``, ``∂n1/∂(1)``."""
    spec = node._spec
    if spec is None or not 0 <= k < len(node._prev):
        return ""
    operands = tuple(in_formula(names[c]) for c in node._prev)
    text = spec.formula(k, *operands, out=in_formula(names[node]), param=op_constant(node))
    if not text:
        return ""
    rhs = text.partition(" = ")[2]
    return f"∂{in_formula(names[node])}/∂{operands[k]} = {rhs}"


@dataclass(frozen=True, slots=True)
class ForwardRecord:
    """One node of the forward pass: ``name = expression = value``."""

    step: int
    name: str
    op: str  # "" for an input (a leaf)
    inputs: tuple[str, ...]
    expression: str  # e.g. "a * b", "tanh(n3)"; "" for an input
    value: float


@dataclass(frozen=True, slots=True)
class BackwardRecord:
    """One edge of the backward pass: ∂L/∂child += local ∂node/∂child × upstream ∂L/∂node."""

    step: int
    node: str
    op: str
    child: str
    child_index: int  # position of the child in the node's inputs (``_prev``)
    local: float  # ∂node/∂child
    upstream: float  # ∂L/∂node
    product: float  # local × upstream, as the engine computed it
    child_grad: float  # ∂L/∂child so far, right after adding the product
    formula: str = ""  # the local derivative as a formula: "∂n1/∂w = x" (see `local_formula`)


@dataclass(frozen=True, slots=True)
class GradientTerm:
    """One parent's share of ∂L/∂v: ∂L/∂parent · ∂parent/∂v, from backward step ``step``."""

    step: int
    parent: str
    upstream: float  # ∂L/∂parent
    local: float  # ∂parent/∂v
    product: float


@dataclass(frozen=True, slots=True)
class GradientSum:
    """∂L/∂v = initial + Σ_parents ∂L/∂p · ∂p/∂v, every term with its numbers."""

    name: str
    initial: float  # the seed 1 for the root; a leaf's grad from earlier passes; else 0
    terms: tuple[GradientTerm, ...]
    total: float  # the engine's v.grad after the pass

    def format(self, digits: int = 4) -> str:
        """One line: ``∂L/∂a = ∂L/∂n1·∂n1/∂a + ∂L/∂n1·∂n1/∂a = 1 × 1 + 1 × 1 = 2``."""

        fmt = partial(format_number, digits=digits)

        if not self.terms:
            what = "the seed" if self.initial != 0.0 else "no node uses it"
            return f"∂L/∂{in_formula(self.name)} = {fmt(self.total)}  ({what})"
        name = in_formula(self.name)
        symbols = [
            f"∂L/∂{in_formula(t.parent)}·∂{in_formula(t.parent)}/∂{name}" for t in self.terms
        ]
        numbers = [f"{paren(fmt(t.upstream))} × {paren(fmt(t.local))}" for t in self.terms]
        if self.initial != 0.0:
            symbols.insert(0, "(earlier passes)")
            numbers.insert(0, fmt(self.initial))
        return (
            f"∂L/∂{name} = "
            + " + ".join(symbols)
            + " = "
            + " + ".join(numbers)
            + f" = {fmt(self.total)}"
        )


@dataclass(frozen=True, slots=True)
class NeuronStep:
    """One neuron's share of the backward pass: its edges, and what it passes back.

    It starts once ∂L/∂(its output) is complete; its edges turn that into the gradients of
    its parameters and a product ∂L/∂(output) · ∂(output)/∂xᵢ for each input xᵢ.
    """

    scope: str  # the neuron's name, "layer0.neuron1"
    steps: tuple[int, ...]  # its backward steps, in visit order
    output: str  # the name of its output value
    upstream: float  # ∂L/∂output, complete when the neuron starts
    passes: tuple[tuple[str, float], ...]  # (input, product sent to ∂L/∂input), per input edge
    parameters: tuple[tuple[str, float], ...]  # (parameter, ∂L/∂parameter after its edge)


# ---------------------------------------------------------------------------------------
# tables as text


def text_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int] | frozenset[int]
) -> str:
    """An aligned plain-text table, numeric columns right-aligned (the walk-through's and
    ``gradstep check``'s)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def md_cell(text: str) -> str:
    """Escape a Markdown table cell (backslash, pipe, emphasis and code marks)."""
    for ch in "\\|*_`[]<":
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", " ") or " "


def md_code(text: str) -> str:
    """A Markdown table cell as inline code (ops and expressions: ``*`` is not emphasis)."""
    if not text:
        return " "
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def md_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str | None]],
    numeric: set[int] | frozenset[int],
    code: frozenset[int] = frozenset(),
    blank: str = " ",
) -> str:
    """A Markdown (GitHub) table; numeric columns right-aligned, ``code`` ones in backticks,
    a ``None`` cell written as ``blank``."""
    head = "| " + " | ".join(md_cell(h) for h in headers) + " |"
    align = "|" + "|".join("---:" if i in numeric else "---" for i in range(len(headers))) + "|"
    body = [
        "| "
        + " | ".join(
            blank if c is None else md_code(c) if i in code else md_cell(c)
            for i, c in enumerate(row)
        )
        + " |"
        for row in rows
    ]
    return "\n".join([head, align, *body])


def lookup_keys(nodes: Sequence[Value], names: Mapping[Value, str]) -> dict[str, Value]:
    """name → value for `WalkRecords.value_of`; a repeated constant name's later uses are name#k."""
    keys: dict[str, Value] = {}
    next_k: dict[str, int] = {}  # per name, the first k not yet tried (names only get taken)
    for v in nodes:
        key = names[v]
        if key in keys:
            k = next_k.get(names[v], 2)
            while f"{names[v]}#{k}" in keys:
                k += 1
            next_k[names[v]] = k + 1
            key = f"{names[v]}#{k}"
        keys[key] = v
    return keys


# ---------------------------------------------------------------------------------------
# the records of one pass


def _unnamed_model_output(root: Value, nodes: Sequence[Value], names: Mapping[Value, str]) -> bool:
    """Whether ``root`` is an unlabelled expression built on a `gradstep.nn` model's values
    (a loss), and no value is called ``L`` yet: then the tables call it ``L``."""
    if root.label or root._scope or not root._prev or not any(v._scope for v in nodes):
        return False
    return "L" not in names.values()


class WalkRecords:
    """The recorded forward and backward tables of one backward pass (see `record`)."""

    def __init__(
        self,
        root: Value,
        nodes: list[Value],
        names: dict[Value, str],
        initial: dict[Value, float],
        forward: list[ForwardRecord],
        backward: list[BackwardRecord],
        edges: list[tuple[Value, int]],
        constants: set[Value] | None = None,
        short_names: dict[Value, str] | None = None,
    ) -> None:
        self.root = root
        #: every value, children first (forward order)
        self.nodes = nodes
        #: the name of each value in the tables (``layer0.neuron1.w0`` for a model's)
        self.names = names
        #: the name of each value in drawings (a model's in short form: ``l0n1.w0``)
        self.short_names = short_names if short_names is not None else names
        #: each value's grad before the pass (the seed for the root)
        self.initial = initial
        self.forward = forward
        self.backward = backward
        #: ``(node, child_index)`` of each backward step, in visit order
        self.edges = edges
        self._constants = constants if constants is not None else set()
        self._by_name = lookup_keys(nodes, names)
        self._into: dict[Value, list[BackwardRecord]] | None = None

    @classmethod
    def record(cls: type[W], root: Value, zero_grad: bool = True, name: str | None = None) -> W:
        """Run ``root.backward(record=...)`` once and keep the engine's numbers.

        With ``zero_grad`` (the default) every grad in the graph is set to 0 first, so the
        tables show this pass alone; with ``zero_grad=False`` inputs keep what earlier passes
        accumulated (shown as the ``initial`` of their gradient sums), as ``backward()`` does.
        ``name``: what the tables call the root (default: its label, its model name, or
        ``n…`` as any other value).
        """
        nodes = forward_order(root)
        constant = find_constants(nodes)
        names = node_names(nodes, constant)
        short = node_names(nodes, constant, short=True)
        if name is None and _unnamed_model_output(root, nodes, names):
            name = "L"  # a loss (or other expression) built on a model's output
        if name is not None:
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"name must be a non-empty string, got {name!r}")
            taken = {n for v, n in names.items() if v is not root}
            if name in taken:
                raise ValueError(f"name {name!r} is already the name of another value")
            names[root] = short[root] = name
        if zero_grad:
            for v in nodes:
                v.grad = 0.0
        initial = {v: (0.0 if v._prev else v.grad) for v in nodes}
        backward: list[BackwardRecord] = []
        edges: list[tuple[Value, int]] = []

        def record(
            node: Value,
            child: Value,
            k: int,
            local: float,
            upstream: float,
            product: float,
            after: float,
        ) -> None:
            edges.append((node, k))
            backward.append(
                BackwardRecord(
                    len(backward) + 1,
                    names[node],
                    node._op,
                    names[child],
                    k,
                    local,
                    upstream,
                    product,
                    after,
                    local_formula(node, k, names),
                )
            )

        root.backward(record=record)
        initial[root] = root.grad  # the seed (no edge ever adds into the root)
        forward = []
        for step, v in enumerate(nodes, start=1):
            inputs = tuple(names[c] for c in v._prev)
            forward.append(
                ForwardRecord(step, names[v], v._op, inputs, expression(v, inputs), v.data)
            )
        return cls(root, nodes, names, initial, forward, backward, edges, constant, short)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={self.names[self.root]!r}, nodes={len(self.nodes)}, "
            f"steps={len(self.backward)})"
        )

    # ---------------------------------------------------------------------------- lookups

    def value_of(self, name: str) -> Value:
        """The `Value` a table calls ``name`` (a repeated constant: ``2``, then ``2#2``, …)."""
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self.names[v] for v in self.nodes[:20])
            raise KeyError(f"no node named {name!r} in this graph (names: {known})") from None

    def name_of(self, v: Value) -> str:
        """The name the tables use for ``v``."""
        try:
            return self.names[v]
        except (KeyError, TypeError):
            raise ValueError(f"{v!r} is not a node of this graph") from None

    def gradient_terms(self, v: Value | str) -> GradientSum:
        """∂L/∂v = Σ_p ∂L/∂p · ∂p/∂v over the parents p that use v, with every term's numbers.

        A value used twice by the same parent (``a + a``, ``x * x``) contributes two terms.
        """
        value = self.value_of(v) if isinstance(v, str) else v
        name = self.name_of(value)
        terms = tuple(
            GradientTerm(r.step, r.node, r.upstream, r.local, r.product)
            for r in self.steps_into().get(value, ())
        )
        return GradientSum(name, self.initial[value], terms, value.grad)

    def steps_into(self) -> dict[Value, list[BackwardRecord]]:
        """child → the backward steps that add into ∂L/∂child, in visit order (built once, so
        every value's gradient sum together costs one pass over the steps)."""
        if self._into is None:
            self._into = {}
            for r, (node, k) in zip(self.backward, self.edges, strict=True):
                self._into.setdefault(node._prev[k], []).append(r)
        return self._into

    def leaves(self) -> list[Value]:
        """Every value with no children (inputs and constants), in forward order."""
        return [v for v in self.nodes if not v._prev]

    def inputs(self) -> list[Value]:
        """The leaves that are inputs (not constants), in forward order."""
        return [v for v in self.nodes if not v._prev and v not in self._constants]

    def constants(self) -> list[Value]:
        """The leaves that are constants: numbers the engine wrapped, or labelled with a number.

        A ``Value`` you made yourself, even unlabelled, is an input (see `gradstep.viz.naming`).
        """
        return [v for v in self.nodes if v in self._constants]

    def is_constant(self, v: Value) -> bool:
        """Whether ``v`` is a constant leaf (see `constants`)."""
        return v in self._constants

    def neurons(self) -> list[NeuronStep]:
        """The neurons of a graph built by `gradstep.nn`, in the order the backward pass
        reaches them (their first step), each with its steps and what it passes back; [] for
        a graph with no model in it."""
        by_scope: dict[str, list[int]] = {}
        for s, (node, _) in enumerate(self.edges):
            if node._scope:
                by_scope.setdefault(node._scope, []).append(s)
        neurons = []
        order = {v: i for i, v in enumerate(self.nodes)}
        for scope, steps in by_scope.items():
            output = self.edges[steps[0]][0]  # the first value the pass reaches in it
            passes: list[tuple[int, str, float]] = []
            params: list[tuple[int, str, float]] = []
            for s in steps:
                node, k = self.edges[s]
                child = node._prev[k]
                if child._scope != scope and child not in self._constants:
                    passes.append((order[child], self.names[child], self.backward[s].product))
                elif not child._prev and child._scope == scope:
                    params.append((order[child], self.names[child], self.backward[s].child_grad))
            neurons.append(
                NeuronStep(
                    scope,
                    tuple(self.backward[s].step for s in steps),
                    self.names[output],
                    self.backward[steps[0]].upstream,
                    tuple((name, x) for _, name, x in sorted(passes)),
                    tuple((name, x) for _, name, x in sorted(params)),
                )
            )
        return neurons

    # ------------------------------------------------------------------------- as data

    def to_records(
        self, table: Literal["forward", "backward", "gradients"] = "backward"
    ) -> list[dict[str, Any]]:
        """One table as a list of dicts (for pandas, notebooks and tests)."""
        if table == "forward":
            return [asdict(r) for r in self.forward]
        if table == "backward":
            return [asdict(r) for r in self.backward]
        if table == "gradients":
            return [
                {
                    "name": s.name,
                    "grad": s.total,
                    "initial": s.initial,
                    "terms": [asdict(t) for t in s.terms],
                }
                for s in (self.gradient_terms(v) for v in self.inputs())
            ]
        raise ValueError(f"table must be 'forward', 'backward' or 'gradients', got {table!r}")

    # ------------------------------------------------------------------------ as text

    def forward_rows(self, digits: int = 4) -> list[list[str]]:
        """The forward table's cells: step, name, op (input / constant for a leaf),
        expression, value."""
        return [
            [
                str(r.step),
                r.name,
                r.op or ("constant" if v in self._constants else "input"),
                r.expression,
                format_number(r.value, digits),
            ]
            for r, v in zip(self.forward, self.nodes, strict=True)
        ]

    def backward_rows(self, digits: int = 4) -> list[list[str]]:
        """The backward table's cells, in `BACKWARD_HEADERS` order."""
        fmt = partial(format_number, digits=digits)

        return [
            [
                str(r.step),
                r.node,
                r.op,
                r.child,
                r.formula,
                fmt(r.local),
                fmt(r.upstream),
                fmt(r.product),
                fmt(r.child_grad),
            ]
            for r in self.backward
        ]

    def root_name(self) -> str:
        """What the tables call the root."""
        return self.names[self.root]

    def seed_line(self, digits: int = 4) -> str:
        """``seed: ∂L/∂f = 1  (L = f)``: where the backward pass starts."""
        root = self.root_name()
        seed = format_number(self.initial[self.root], digits)
        return f"seed: ∂L/∂{in_formula(root)} = {seed}" + ("" if root == "L" else f"  (L = {root})")

    def constants_line(self) -> str:
        """``constants (not inputs): 2, 2``, or "" when there are none."""
        constants = self.constants()
        if not constants:
            return ""
        return "constants (not inputs): " + ", ".join(self.names[v] for v in constants)

    def caption(self, r: BackwardRecord, digits: int = 4) -> str:
        """One step in a line (a frame's caption)."""

        fmt = partial(format_number, digits=digits)

        return (
            f"step {r.step}/{len(self.backward)}: at {r.node} ({r.op}), "
            f"∂L/∂{in_formula(r.child)} += local {fmt(r.local)} × upstream {fmt(r.upstream)} "
            f"= {fmt(r.product)}  →  ∂L/∂{in_formula(r.child)} so far = {fmt(r.child_grad)}"
        )

    def title(self) -> str:
        """``backward pass of L = (layer1.neuron0.a - 1)**2``: the root and how it is made,
        written out down to named values (labels, a model's values, leaves)."""
        root = self.root_name()
        keep = {v for v in self.nodes if v.label or v._scope or not v._prev}
        keep.discard(self.root)
        text = written(self.root, self.names, keep) if self.root._prev else ""
        return f"backward pass of {root}" + (f" = {text}" if text and text != root else "")
