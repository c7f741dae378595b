"""Step-by-step backprop: the forward and backward tables a student writes, from the engine.

`walkthrough(root)` runs ``root.backward(record=...)`` once and keeps every number the
engine itself used, edge by edge, in visit order::

    product = local ∂node/∂child × upstream ∂L/∂node;   ∂L/∂child so far += product
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import graphviz

from gradstep.engine import Value
from gradstep.viz.drawing import draw_dot, format_number, forward_order
from gradstep.viz.naming import constants as _constants
from gradstep.viz.naming import node_names

__all__ = [
    "walkthrough",
    "local_formula",
    "Walkthrough",
    "ForwardRecord",
    "BackwardRecord",
    "GradientTerm",
    "GradientSum",
]

_INFIX = ("+", "-", "*", "/", "**")
_FORWARD_HEADERS = ("step", "name", "op", "expression", "value")
_BACKWARD_HEADERS = (
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

_BACKWARD_NUMERIC = {0, 5, 6, 7, 8}


def _operand(name: str) -> str:
    """A name as it stands in a formula: ``x``, ``2``; ``(-z)`` and ``(a b)`` in parentheses."""
    plain = name.replace("_", "").replace("#", "").replace(".", "")
    return name if plain.isalnum() else f"({name})"


def local_formula(node: Value, k: int, names: Mapping[Value, str]) -> str:
    """The local derivative of ``node`` with respect to its child ``k`` as a formula in the
    graph's names, from the op's record (`gradstep.ops`): ``∂n1/∂w = x`` for n1 = w * x;
    "" for an op whose record has no formula (a user's op without one)."""
    spec = node._spec
    if spec is None or not 0 <= k < len(node._prev):
        return ""
    operands = tuple(_operand(names[c]) for c in node._prev)
    param = node._ctx if spec.param else None
    text = spec.formula(k, *operands, out=_operand(names[node]), param=param)
    if not text:
        return ""
    rhs = text.partition(" = ")[2]
    return f"∂{names[node]}/∂{names[node._prev[k]]} = {rhs}"


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
        fmt = _formatter(digits)
        if not self.terms:
            what = "the seed" if self.initial != 0.0 else "no node uses it"
            return f"∂L/∂{self.name} = {fmt(self.total)}  ({what})"
        symbols = [f"∂L/∂{t.parent}·∂{t.parent}/∂{self.name}" for t in self.terms]
        numbers = [f"{_paren(fmt(t.upstream))} × {_paren(fmt(t.local))}" for t in self.terms]
        if self.initial != 0.0:
            symbols.insert(0, "(earlier passes)")
            numbers.insert(0, fmt(self.initial))
        return (
            f"∂L/∂{self.name} = "
            + " + ".join(symbols)
            + " = "
            + " + ".join(numbers)
            + f" = {fmt(self.total)}"
        )


def _paren(text: str) -> str:
    """Wrap a negative number in parentheses for a product: -3 → (-3)."""
    return f"({text})" if text.startswith("-") else text


def _formatter(digits: int) -> Any:
    """``format_number`` with the digits fixed."""
    return lambda x: format_number(x, digits)


def _expression(op: str, inputs: Sequence[str]) -> str:
    """How a student writes the op: ``a * b``, ``-a``, ``a**2``, ``tanh(a)``."""
    if not inputs:
        return ""
    if op in _INFIX and len(inputs) == 2:
        return f"{inputs[0]} {op} {inputs[1]}"
    if op == "neg" and len(inputs) == 1:
        return f"-{inputs[0]}"
    if op.startswith("**") and len(inputs) == 1:
        return f"{inputs[0]}{op}"
    return f"{op}({', '.join(inputs)})"


def _lookup_keys(nodes: Sequence[Value], names: dict[Value, str]) -> dict[str, Value]:
    """name → value for `Walkthrough.value_of`; a repeated constant name's later uses are name#k."""
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


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
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


def _md_cell(text: str) -> str:
    """Escape a Markdown table cell (backslash, pipe, emphasis and code marks)."""
    for ch in "\\|*_`[]<":
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", " ") or " "


def _md_code(text: str) -> str:
    """A Markdown table cell as inline code (ops and expressions: ``*`` is not emphasis)."""
    if not text:
        return " "
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def _md_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: set[int],
    code: frozenset[int] = frozenset(),
) -> str:
    """A Markdown (GitHub) table; numeric columns are right-aligned, ``code`` ones in backticks."""
    head = "| " + " | ".join(_md_cell(h) for h in headers) + " |"
    align = "|" + "|".join("---:" if i in numeric else "---" for i in range(len(headers))) + "|"
    body = [
        "| "
        + " | ".join(_md_code(c) if i in code else _md_cell(c) for i, c in enumerate(row))
        + " |"
        for row in rows
    ]
    return "\n".join([head, align, *body])


class Walkthrough:
    """The recorded forward and backward tables of one backward pass (see `walkthrough`)."""

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
    ) -> None:
        self.root = root
        #: every value, children first (forward order)
        self.nodes = nodes
        #: the name of each value in the tables
        self.names = names
        self._initial = initial
        self.forward = forward
        self.backward = backward
        #: ``(node, child_index)`` of each backward step, in visit order
        self.edges = edges
        self._constants = constants if constants is not None else set()
        self._by_name = _lookup_keys(nodes, names)
        self._into: dict[Value, list[BackwardRecord]] | None = None

    def __repr__(self) -> str:
        return (
            f"Walkthrough(root={self.names[self.root]!r}, nodes={len(self.nodes)}, "
            f"steps={len(self.backward)})"
        )

    def __str__(self) -> str:
        return self.format_text()

    def _repr_markdown_(self) -> str:
        """Jupyter shows the walk-through as Markdown tables."""
        return self.format_markdown()

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
            for r in self._steps_into().get(value, ())
        )
        return GradientSum(name, self._initial[value], terms, value.grad)

    def _steps_into(self) -> dict[Value, list[BackwardRecord]]:
        """child → the backward steps that add into ∂L/∂child, in visit order (built once, so
        every input's gradient sum together costs one pass over the steps)."""
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

    def _constants_line(self) -> str:
        """``constants (not inputs): 2, 2``, or "" when there are none."""
        constants = self.constants()
        if not constants:
            return ""
        return "constants (not inputs): " + ", ".join(self.names[v] for v in constants)

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

    # ---------------------------------------------------------------------------- tables

    def _forward_rows(self, digits: int) -> list[list[str]]:
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

    def _backward_rows(self, digits: int) -> list[list[str]]:
        fmt = _formatter(digits)
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

    def _seed_line(self, digits: int) -> str:
        root = self.names[self.root]
        seed = format_number(self._initial[self.root], digits)
        return f"seed: ∂L/∂{root} = {seed}" + ("" if root == "L" else f"  (L = {root})")

    def format_text(self, digits: int = 4) -> str:
        """The forward table, the backward table and each input's gradient sum, as aligned text."""
        parts = [
            "forward pass (children first)",
            text_table(_FORWARD_HEADERS, self._forward_rows(digits), {0, 4}),
            "",
            "backward pass (visit order; product = local × upstream, added into ∂L/∂child)",
            self._seed_line(digits),
        ]
        if self.backward:
            parts.append(
                text_table(_BACKWARD_HEADERS, self._backward_rows(digits), _BACKWARD_NUMERIC)
            )
        else:
            parts.append("(no edges: the root is an input)")
        parts += ["", "gradients of the inputs (sum over the nodes that use each)"]
        parts += [self.gradient_terms(v).format(digits) for v in self.inputs()]
        if self.constants():
            parts.append(self._constants_line())
        return "\n".join(parts)

    def format_markdown(self, digits: int = 4) -> str:
        """The same three sections as Markdown tables (GitHub flavoured)."""
        parts = [
            "**Forward pass** (children first)",
            "",
            _md_table(_FORWARD_HEADERS, self._forward_rows(digits), {0, 4}, frozenset({3})),
            "",
            "**Backward pass** (visit order; product = local × upstream, added into ∂L/∂child); "
            + self._seed_line(digits),
            "",
        ]
        if self.backward:
            parts.append(
                _md_table(
                    _BACKWARD_HEADERS,
                    self._backward_rows(digits),
                    _BACKWARD_NUMERIC,
                    frozenset({2, 4}),
                )
            )
        else:
            parts.append("(no edges: the root is an input)")
        parts += ["", "**Gradients of the inputs** (sum over the nodes that use each)", ""]
        parts += [f"- {self.gradient_terms(v).format(digits)}" for v in self.inputs()]
        if self.constants():
            parts += ["", _md_cell(self._constants_line())]
        return "\n".join(parts)

    # ---------------------------------------------------------------------------- frames

    def _caption(self, r: BackwardRecord, digits: int) -> str:
        fmt = _formatter(digits)
        return (
            f"step {r.step}/{len(self.backward)}: at {r.node} ({r.op}), "
            f"∂L/∂{r.child} += local {fmt(r.local)} × upstream {fmt(r.upstream)} "
            f"= {fmt(r.product)}  →  ∂L/∂{r.child} so far = {fmt(r.child_grad)}"
        )

    def frames(
        self, rankdir: str = "LR", max_frames: int = 200, digits: int = 4, max_nodes: int = 500
    ) -> list[graphviz.Digraph]:
        """One drawing per backward step: the current edge in red, every grad as it stood then."""
        if len(self.backward) > max_frames:
            raise ValueError(
                f"{len(self.backward)} backward steps is more than max_frames={max_frames}; "
                "walk through a smaller graph or raise max_frames"
            )
        grads = dict(self._initial)
        drawings = []
        for r, (node, k) in zip(self.backward, self.edges, strict=True):
            child = node._prev[k]
            grads[child] = r.child_grad  # the engine's own running sum, as recorded
            drawings.append(
                draw_dot(
                    self.root,
                    rankdir=rankdir,
                    highlight=[child],
                    max_nodes=max_nodes,
                    names=self.names,
                    highlight_edges=[(node, k)],
                    grads=grads,
                    title=self._caption(r, digits),
                    digits=digits,
                )
            )
        return drawings

    def write_frames(
        self,
        directory: str | Path,
        *,
        rankdir: str = "LR",
        digits: int = 4,
        max_frames: int = 200,
        max_nodes: int = 500,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Path]:
        """Write ``step_001.svg``, ``step_002.svg`` … (one per backward step) into ``directory``.

        The graph is laid out once and each frame restyles that drawing (the current edge and
        child in red, every grad as it stood then), so frames are fast and never jump.
        ``progress(k, n)`` is called after each frame is made.
        """
        from gradstep.viz.stepper import frame_svgs

        svgs = frame_svgs(
            self,
            rankdir=rankdir,
            digits=digits,
            max_frames=max_frames,
            max_nodes=max_nodes,
            progress=progress,
        )
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        width = max(3, len(str(len(svgs))))
        paths = []
        for i, svg in enumerate(svgs, start=1):
            path = out / f"step_{i:0{width}d}.svg"
            path.write_text(svg, encoding="utf-8")
            paths.append(path)
        return paths

    # ---------------------------------------------------------------------- the page

    def to_html(
        self,
        *,
        rankdir: str = "LR",
        digits: int = 4,
        max_steps: int = 500,
        max_nodes: int = 500,
        title: str | None = None,
    ) -> str:
        """The interactive page as text: the graph drawn once beside the forward and backward
        tables; ←/→, Home/End or a click on a row move between steps (see `write_html`)."""
        from gradstep.viz.stepper import page_html

        return page_html(
            self,
            rankdir=rankdir,
            digits=digits,
            max_steps=max_steps,
            max_nodes=max_nodes,
            title=title,
        )

    def write_html(
        self,
        path: str | Path,
        *,
        rankdir: str = "LR",
        digits: int = 4,
        max_steps: int = 500,
        max_nodes: int = 500,
        title: str | None = None,
    ) -> Path:
        """Write the interactive page: one self-contained, offline HTML file.

        The drawing is laid out once; step k lights its edge, child and node there and its
        row in the tables, and shows ``∂node/∂child = formula = number`` and, once a value
        has all its contributions, its sum over parents.  The URL fragment (``#step=5``)
        keeps the step.  More than ``max_steps`` steps raise `TooManyStepsError`.
        """
        text = self.to_html(
            rankdir=rankdir,
            digits=digits,
            max_steps=max_steps,
            max_nodes=max_nodes,
            title=title,
        )
        out = Path(path)
        out.write_text(text, encoding="utf-8")
        return out

    def write_worksheet(
        self,
        path: str | Path,
        *,
        blank: Sequence[str] | str = ("local", "upstream", "product", "grad"),
        digits: int = 4,
        rankdir: str = "LR",
        title: str | None = None,
        drawing: bool = True,
    ) -> list[Path]:
        """Write a worksheet: the drawing (values, no gradients) and the tables with the
        ``blank`` columns (local, upstream, product, grad) left blank, then the answer key on
        a page of its own.  ``.md`` writes Markdown and the drawing beside it as ``.svg``;
        ``.html`` one printable page.  Returns the files written."""
        from gradstep.viz.worksheet import parse_blank, worksheet_html, worksheet_markdown

        columns = parse_blank(blank)
        out = Path(path)
        kind = out.suffix.lower()
        if kind not in (".md", ".html", ".htm"):
            raise ValueError(f"a worksheet is .md or .html, but the path {str(out)!r} is not")
        svg = None
        if drawing:
            from gradstep.viz.drawing import to_svg

            dot = draw_dot(
                self.root,
                rankdir=rankdir,
                names=self.names,
                show_grad=False,
                digits=digits,
                tooltips=False,
            )
            svg = to_svg(dot)
        if kind == ".md":
            written = []
            picture = None
            if svg is not None:
                picture = out.with_suffix(".svg")
                picture.write_text(svg, encoding="utf-8")
                written.append(picture)
            text = worksheet_markdown(
                self,
                blank=columns,
                digits=digits,
                title=title,
                drawing=picture.name if picture else None,
            )
            out.write_text(text, encoding="utf-8")
            return [out, *written]
        inline = svg[svg.find("<svg") :] if svg is not None else None
        text = worksheet_html(self, blank=columns, digits=digits, title=title, svg=inline)
        out.write_text(text, encoding="utf-8")
        return [out]

    def _repr_html_(self) -> str:
        """Jupyter shows the stepper inline (plain HTML and script; its ids are unique)."""
        from gradstep.viz.drawing import GraphTooLargeError, GraphvizNotFoundError
        from gradstep.viz.stepper import TooManyStepsError, page_html

        try:
            return page_html(self, embedded=True)
        except (TooManyStepsError, GraphTooLargeError, GraphvizNotFoundError) as error:
            note = html.escape(f"(no interactive stepper: {error})")
            return f"<p><em>{note}</em></p>\n<pre>{html.escape(self.format_text())}</pre>"


def walkthrough(root: Value, zero_grad: bool = True) -> Walkthrough:
    """Run ``root.backward(record=...)`` once and keep the engine's numbers as two tables.

    With ``zero_grad`` (the default) every grad in the graph is set to 0 first, so the
    tables show this pass alone; with ``zero_grad=False`` inputs keep what earlier passes
    accumulated (shown as the ``initial`` of their gradient sums), as ``backward()`` does.
    """
    nodes = forward_order(root)
    constants = _constants(nodes)
    names = node_names(nodes, constants)
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
            ForwardRecord(step, names[v], v._op, inputs, _expression(v._op, inputs), v.data)
        )
    return Walkthrough(root, nodes, names, initial, forward, backward, edges, constants)
