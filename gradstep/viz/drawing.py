"""Graphviz drawings of a `Value` graph: a record per value (label | data | grad), a node per op."""

from __future__ import annotations

import html
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import graphviz

from gradstep.engine import Value
from gradstep.viz.naming import GraphTooLargeError, format_number, forward_order, node_names

__all__ = [
    "draw_dot",
    "render",
    "to_svg",
    "format_number",
    "forward_order",
    "GraphTooLargeError",
    "GraphvizNotFoundError",
    "RENDER_FORMATS",
    "INLINE_MAX_NODES",
    "notebook_bundle",
    "QUICK_LAYOUT_ABOVE",
    "layout_work",
    "cluster_id",
    "escape_record",
    "HIGHLIGHT",
    "HIGHLIGHT_FILL",
    "UPSTREAM",
    "UPSTREAM_FILL",
    "DONE",
    "PENDING",
]

#: file suffixes `render` understands: images via Graphviz ``dot``, or the DOT source itself
RENDER_FORMATS = ("svg", "png", "pdf", "dot", "gv")
_RANKDIRS = ("LR", "RL", "TB", "BT")
#: the most values a notebook draws inline for a bare `Value` (draw_dot takes max_nodes=)
INLINE_MAX_NODES = 150
_INSTALL_HINT = (
    "install Graphviz: apt-get install graphviz (Debian/Ubuntu), brew install graphviz "
    "(macOS), conda install -c conda-forge graphviz (conda), or see "
    "https://graphviz.org/download/"
)
#: above this much layout work (see `layout_work`) a drawing asks Graphviz for a quicker
#: layout: 500 terms of ``x*y`` sums took 7 minutes to lay out with dot's defaults, 2.5 s so
QUICK_LAYOUT_ABOVE = 2000
#: fewer network-simplex iterations (nslimit: ×nodes) and crossing-minimisation passes
_QUICK_LAYOUT = {"nslimit": "1", "nslimit1": "1", "mclimit": "0.01"}
#: the border / edge colour of highlighted values and edges (a step's edge and child)
HIGHLIGHT = "#d62728"
#: the fill of highlighted values when not colouring by grad
HIGHLIGHT_FILL = "#fff2a8"
#: the node whose upstream gradient flows down a step's edge, and its fill
UPSTREAM = "#ff7f0e"
UPSTREAM_FILL = "#ffe6cc"
#: a grad that has received all its contributions; one that has received none yet
DONE = "#2ca02c"
PENDING = "#9a9a9a"
_POSITIVE = (214, 39, 40)  # ∂L/∂v > 0: red
_NEGATIVE = (31, 119, 180)  # ∂L/∂v < 0: blue


class GraphvizNotFoundError(graphviz.ExecutableNotFound):  # type: ignore[misc]
    """Graphviz's ``dot`` program is not installed; the message says how to install it."""

    def __init__(self, message: str) -> None:
        RuntimeError.__init__(self, message)


def layout_work(nodes: list[Value]) -> int:
    """Σ over the drawing's edges of the ranks each spans (ranks by longest path from the leaves).

    Graphviz's ``dot`` puts a virtual node on every rank an edge crosses and positions them
    all; their number, not the number of values, is what makes a layout slow (a variable
    used at the start and at the end of a long sum spans the whole drawing).  ``nodes``
    must be in `forward_order`.
    """
    rank: dict[Value, int] = {}
    work = 0
    for v in nodes:
        if not v._prev:
            rank[v] = 0
            continue
        op = 1 + max(rank[c] for c in v._prev)  # the op node, between children and value
        work += 1 + sum(op - rank[c] for c in v._prev)
        rank[v] = op + 1
    return work


def escape_record(text: str) -> str:
    """Escape what a Graphviz record label treats as structure: { } | < > \\ and quotes."""
    out = []
    for ch in text.replace("\r", " ").replace("\n", " "):
        if ch in '{}|<>\\"':
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _grad_colour(grad: float, scale: float) -> str:
    """A fill for ∂L/∂v: red if positive, blue if negative, deeper as √(|grad|/scale) grows."""
    if math.isnan(grad):
        return "#c7c7c7"
    if grad == 0.0 or scale == 0.0:
        return "#ffffff"
    strength = 1.0 if math.isinf(grad) or math.isinf(scale) else min(1.0, abs(grad) / scale)
    strength = 0.15 + 0.85 * math.sqrt(strength)
    target = _POSITIVE if grad > 0 else _NEGATIVE
    rgb = (round(255 + (c - 255) * strength) for c in target)
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _grad_scale(grads: Iterable[float]) -> float:
    """The largest finite |grad| (∞ if every non-zero grad is infinite), the colour scale's top."""
    finite = [abs(g) for g in grads if math.isfinite(g)]
    largest = max(finite, default=0.0)
    if largest == 0.0 and any(math.isinf(g) for g in grads):
        return math.inf
    return largest


def cluster_id(scope: str) -> str:
    """The SVG id of the cluster drawn around a scope's values: ``c_layer0.neuron1``."""
    return "c_" + "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in scope)


def _scope_prefixes(scope: str) -> list[str]:
    """'layer0.neuron3' → ['layer0', 'layer0.neuron3'] (outer cluster first)."""
    parts = [p for p in scope.split(".") if p]
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _edge_key(
    edge: tuple[Value, Value | int], values: Mapping[Value, int]
) -> tuple[int, int | None, int | None]:
    """Normalise a highlighted edge (node, child) or (node, child index) for lookup."""
    node, which = edge
    if isinstance(which, Value):
        return (values.get(node, -1), values.get(which, -1), None)
    return (values.get(node, -1), None, int(which))


def draw_dot(
    root: Value,
    format: str = "svg",
    rankdir: str = "LR",
    show_grad: bool = True,
    highlight: Iterable[Value] | Value | None = None,
    color_by_grad: bool = False,
    max_nodes: int = 500,
    clusters: bool = True,
    *,
    names: Mapping[Value, str] | None = None,
    highlight_edges: Iterable[tuple[Value, Value | int]] | None = None,
    grads: Mapping[Value, float] | None = None,
    title: str | None = None,
    digits: int = 4,
    tooltips: bool = True,
    stacked: bool = False,
) -> graphviz.Digraph:
    """Draw ``root``'s graph: a record ``label | data | grad`` per value, a small node per op.

    Edges follow the data: child → op → result.  Node ids are ``v0, v1, …`` in
    `forward_order`, so ``.source`` is the same on every run; the SVG keeps them as element
    ids: value ``v3``, its op ``v3_op``, the edge from its child k ``e3_k`` and from its op
    ``e3`` (the interactive page restyles them by id).  Nothing is rendered: the
    returned `graphviz.Digraph` displays itself in Jupyter, and `render` writes files.

    Args:
        format: the Digraph's output format (``svg``, ``png``, ``pdf``…) for Jupyter / ``.render``.
        rankdir: ``LR`` (left to right, the default), ``RL``, ``TB`` or ``BT``.
        show_grad: show the ``grad`` field of each record.
        highlight: values (or one value) to outline in red, e.g. the parameters; values
            not in the graph are ignored.
        color_by_grad: fill each record by the sign of ∂L/∂v (red > 0, blue < 0), deeper
            with larger |∂L/∂v|.
        max_nodes: the most values to draw; a larger graph raises `GraphTooLargeError`.
        clusters: group values by their ``_scope`` (set by `gradstep.nn`, e.g.
            ``"layer0.neuron3"``) in nested Graphviz clusters ``layer0`` ⊃ ``layer0.neuron3``.
        names: the text shown for some or all values; the others are called what the
            walk-through's tables call them (`gradstep.viz.naming.node_names`: labels, a
            model's names in their short form ``l0n1.w0``, values for unlabelled leaves,
            ``n1``, ``n2``, … for unlabelled op outputs).
        highlight_edges: edges to draw in red, as ``(node, child)`` or ``(node, child_index)``.
        grads: gradients to show instead of each value's ``grad`` (e.g. mid-backward).
        title: a caption drawn under the graph.
        digits: significant digits of data and grad.
        tooltips: give each value a hover text with its full-precision data and grad.
        stacked: a record's fields one above the other (name, data, grad) and ranks closer
            together: a drawing about half as wide along ``LR``, for pages that must fit.
    """
    if rankdir not in _RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(_RANKDIRS)}, got {rankdir!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive integer, got {max_nodes!r}")
    nodes = forward_order(root, max_nodes=max_nodes)
    index = {v: i for i, v in enumerate(nodes)}
    shown = node_names(nodes, short=True)
    if names is not None:
        shown.update(names)

    def grad_of(v: Value) -> float:
        """The grad to show: the override from ``grads`` if given, else ``v.grad``."""
        return grads.get(v, v.grad) if grads is not None else v.grad

    scale = _grad_scale([grad_of(v) for v in nodes]) if color_by_grad else 0.0
    if isinstance(highlight, Value):
        highlight = [highlight]
    marked = {v for v in highlight if v in index} if highlight is not None else set()
    edge_marks = {_edge_key(e, index) for e in highlight_edges} if highlight_edges else set()
    marked_ops = {key[0] for key in edge_marks}

    dot = graphviz.Digraph(format=format, graph_attr={"rankdir": rankdir})
    if layout_work(nodes) > QUICK_LAYOUT_ABOVE:
        dot.attr(**_QUICK_LAYOUT)
    if title:
        caption = title.replace("\\", "\\\\")
        dot.attr(label=caption, labelloc="b", fontname="Helvetica", fontsize="12")
    dot.attr("node", fontname="Helvetica", fontsize="11")
    horizontal = rankdir in ("LR", "RL")  # records lay out fields across the rank direction
    if stacked:
        horizontal = not horizontal
        dot.attr(ranksep="0.22", nodesep="0.12")

    groups: dict[str, graphviz.Digraph] = {}
    order_of_groups: list[str] = []

    def group_for(v: Value) -> graphviz.Digraph:
        """The (possibly nested) cluster a value belongs to, created on first use."""
        scope = v._scope if clusters else ""
        if not scope:
            return dot
        prefixes = _scope_prefixes(scope)
        if not prefixes:
            return dot
        for prefix in prefixes:
            if prefix not in groups:
                groups[prefix] = graphviz.Digraph(
                    name=f"cluster_{prefix}",
                    graph_attr={
                        "id": cluster_id(prefix),
                        "label": prefix.replace("\\", "\\\\"),
                        "style": "rounded,dashed",
                        "color": "#888888",
                        "fontname": "Helvetica",
                        "fontsize": "10",
                    },
                )
                order_of_groups.append(prefix)
        return groups[prefixes[-1]]

    for i, v in enumerate(nodes):
        vid = f"v{i}"
        name = shown[v]
        fields = [escape_record(name), f"data {format_number(v.data, digits)}"]
        if show_grad:
            fields.append(f"grad {format_number(grad_of(v), digits)}")
        body = " | ".join(fields)
        attrs: dict[str, str] = {
            "id": vid,
            "shape": "record",
            "label": f"{{ {body} }}" if horizontal else body,
        }
        if tooltips:
            attrs["tooltip"] = f"{name or vid}: data={v.data!r}" + (
                f", grad={grad_of(v)!r}" if show_grad else ""
            )
        if color_by_grad:
            attrs.update(style="filled", fillcolor=_grad_colour(grad_of(v), scale))
        if v in marked:
            attrs.update(color=HIGHLIGHT, penwidth="2.5")
            if not color_by_grad:
                attrs.update(style="filled", fillcolor=HIGHLIGHT_FILL)
        target = group_for(v)
        target.node(vid, **attrs)
        if v._prev:
            op_attrs = {
                "id": f"{vid}_op",
                "shape": "ellipse",
                "label": v._op or "?",
                "margin": "0.02,0.02",
            }
            if i in marked_ops:
                op_attrs.update(color=HIGHLIGHT, penwidth="2.5", fontcolor=HIGHLIGHT)
            target.node(f"{vid}_op", **op_attrs)

    # nest clusters: fill the deepest first, then add each to its parent (first-seen order)
    for prefix in sorted(order_of_groups, key=lambda p: -p.count(".")):
        parent = prefix.rpartition(".")[0]
        groups.get(parent, dot).subgraph(groups[prefix])

    for i, v in enumerate(nodes):
        for k, child in enumerate(v._prev):
            attrs = {"id": f"e{i}_{k}"}
            if (i, index[child], None) in edge_marks or (i, None, k) in edge_marks:
                attrs.update(color=HIGHLIGHT, penwidth="3")
            dot.edge(f"v{index[child]}", f"v{i}_op", **attrs)
        if v._prev:
            dot.edge(f"v{i}_op", f"v{i}", id=f"e{i}")
    return dot


def render(dot: graphviz.Digraph | graphviz.Source, path: str | os.PathLike[str]) -> Path:
    """Write ``dot`` to ``path`` in the format its suffix names (.svg .png .pdf; .dot .gv: source).

    Returns the path written.  Needs Graphviz's ``dot`` program for images; without it
    raises `GraphvizNotFoundError` saying how to install it (``dot.source`` still works,
    and a ``.dot`` / ``.gv`` path writes the source without Graphviz).
    """
    out = Path(path)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in RENDER_FORMATS:
        raise ValueError(
            f"cannot tell the format of {str(out)!r} from its suffix: use one of "
            + ", ".join(f".{f}" for f in RENDER_FORMATS)
        )
    if fmt in ("dot", "gv"):
        out.write_text(dot.source, encoding="utf-8")
        return out
    out.write_bytes(_pipe(dot, fmt, f"write {str(out)!r}"))
    return out


def to_svg(dot: graphviz.Digraph | graphviz.Source) -> str:
    """The drawing as SVG text (for inlining in HTML); needs Graphviz's ``dot`` program."""
    return _pipe(dot, "svg", "make an SVG").decode("utf-8")


def _pipe(dot: graphviz.Digraph | graphviz.Source, fmt: str, purpose: str) -> bytes:
    """Run Graphviz on ``dot``; a missing ``dot`` program becomes `GraphvizNotFoundError`."""
    try:
        data: bytes = dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound as err:
        raise GraphvizNotFoundError(
            f"cannot {purpose}: Graphviz's 'dot' program was not found on PATH. "
            f"To draw graphs, {_INSTALL_HINT}. The DOT source is still available as "
            "dot.source, or write it with render(dot, 'graph.dot')."
        ) from err
    return data


def notebook_bundle(root: Value, max_nodes: int = INLINE_MAX_NODES) -> dict[str, str]:
    """What Jupyter shows for a `Value`: its graph as SVG, and its repr as plain text.

    A graph of more than ``max_nodes`` values, or a machine without Graphviz, gets a
    readable message instead of a drawing.
    """
    text = repr(root)
    try:
        svg = to_svg(draw_dot(root, max_nodes=max_nodes))
    except GraphTooLargeError:
        note = (
            f"its graph has more than {max_nodes} values, too many to draw inline; draw it "
            f"with gradstep.viz.draw_dot(v, max_nodes=N) and render(dot, 'graph.svg')"
        )
    except GraphvizNotFoundError:
        note = f"no drawing: Graphviz's 'dot' program was not found ({_INSTALL_HINT})"
    else:
        return {"image/svg+xml": svg[svg.find("<svg") :], "text/plain": text}
    return {
        "text/plain": f"{text}\n({note})",
        "text/html": f"<pre>{html.escape(text)}</pre><p><em>({html.escape(note)})</em></p>",
    }
