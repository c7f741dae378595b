"""The interactive backward-pass page and fast frames: the graph is laid out once, steps restyle it.

Graphviz draws the walk-through's graph a single time; every backward step then changes only
highlight classes and the ``grad`` numbers of that one drawing (in the browser for the page,
as text for the SVG frames), so the drawing never moves and a step costs no layout::

    step k:  ∂L/∂child += local ∂node/∂child × upstream ∂L/∂node   (edge, child, node lit)

A graph built by `gradstep.nn` can also be stepped neuron by neuron (`WalkRecords.neurons`):
one step per neuron, showing what it passes back; a click opens a neuron into its edges.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, partial
from importlib import resources
from typing import Any

import graphviz

from gradstep.engine import Value
from gradstep.viz.drawing import (
    DONE,
    HIGHLIGHT,
    HIGHLIGHT_FILL,
    PENDING,
    UPSTREAM,
    UPSTREAM_FILL,
    cluster_id,
    draw_dot,
    escape_record,
    to_svg,
)
from gradstep.viz.naming import format_number, in_formula, paren, short_name
from gradstep.viz.records import (
    BACKWARD_HEADERS,
    FORWARD_HEADERS,
    NeuronStep,
    WalkRecords,
)

__all__ = [
    "MAX_PAGE_STEPS",
    "MAX_FRAMES",
    "MIN_TEXT_PX",
    "REVEAL",
    "VIEWS",
    "TooManyStepsError",
    "page_html",
    "frame_svgs",
    "step_grads",
    "neuron_grads",
]

#: the most backward steps a page holds by default (a 200-step page is about 0.3 MB)
MAX_PAGE_STEPS = 500
#: the most SVG frames written by default (one file each)
MAX_FRAMES = 200
#: the smallest drawn text the page allows itself when it fits the drawing, in CSS px
MIN_TEXT_PX = 10.0
#: the largest zoom the page fits a small drawing to (1 drawing unit = this many px)
MAX_FIT_SCALE = 1.6
#: what the page's answer columns show: "step" reveals a row's numbers once its step is
#: reached, "all" shows them from the start
REVEAL = ("step", "all")
#: how the page steps: edge by edge, or (a model) neuron by neuron, or layer by layer;
#: "auto" picks neurons when the graph has any
VIEWS = ("auto", "edges", "neurons", "layers")


class TooManyStepsError(ValueError):
    """The walk-through has more backward steps than the page or the frames allow."""

    def __init__(self, steps: int, limit: int, what: str, option: str) -> None:
        self.steps = steps
        self.limit = limit
        self.what = what
        super().__init__(
            f"{steps} backward steps is more than {option}={limit} allows for {what}; "
            f"walk through a smaller graph, or raise the limit ({option}={max(steps, limit * 2)})"
        )


# ---------------------------------------------------------------------------------------
# the drawing, laid out once


@dataclass(frozen=True)
class _Drawing:
    """Graphviz's SVG cut at the caption and at every value's ``grad`` text, to refill per step."""

    pieces: tuple[str, ...]  # the text between the slots: caption, then one per value
    slots: tuple[int, ...]  # the value (forward index) of each grad slot, in document order
    width: float  # viewBox width and height, in drawing units (points)
    height: float
    min_font: float  # the smallest font-size of any text, in drawing units

    def svg(self, grads: Sequence[str], caption: str = "") -> str:
        """The drawing with this caption and ``grads[i]`` as value i's ``grad`` text (escaped).

        Graphviz writes clustered values out of forward order: each slot knows its value.
        """
        texts = [caption, *(grads[i] for i in self.slots)]
        out = [self.pieces[0]]
        for text, piece in zip(texts, self.pieces[1:], strict=True):
            out.append(text)
            out.append(piece)
        return "".join(out)


_NODE_GROUP = re.compile(r'<g id="v(\d+)" class="node">(.*?)</g>', re.S)
_LAST_TEXT = re.compile(r"(<text\b[^>]*)>([^<]*)</text>(?![\s\S]*<text\b)")
_NOISE = re.compile(r"<!--.*?-->\n?|<title>.*?</title>\n?|<\?xml.*?\?>\n?|<!DOCTYPE.*?>\n?", re.S)
_MARK = "\x00"
#: above this many values, Graphviz's positioning is given a bounded number of passes
_QUICK_LAYOUT = 50


def _layout(
    walk: WalkRecords,
    rankdir: str,
    digits: int,
    max_nodes: int,
    prefix: str,
    caption: str = "",
) -> _Drawing:
    """Run Graphviz once, every ``grad`` field as wide as the widest text it will show (and
    the caption slot as wide as ``caption``)."""
    n = len(walk.nodes)
    widest: dict[Value, float] = {}
    for v, texts in zip(walk.nodes, _grad_texts_per_node(walk, digits), strict=True):
        widest[v] = max(texts, key=lambda t: len(format_number(t, digits)))
    dot = draw_dot(
        walk.root,
        rankdir=rankdir,
        names=walk.short_names,
        grads=widest,
        digits=digits,
        max_nodes=max_nodes,
        title=caption or None,
        tooltips=False,
        stacked=True,
    )
    if n > _QUICK_LAYOUT:
        dot.graph_attr["nslimit"] = "2"  # bound the x-placement passes: ~10x faster, same look
    text = _NOISE.sub("", to_svg(dot))
    first_node = text.find('<g id="v')
    label = text.find("<text", 0, first_node) if caption else -1
    if label >= 0:  # the graph's label (the caption) comes before the first node
        end = text.index("</text>", label)
        text = text[: text.index(">", label) + 1] + _MARK + text[end:]
    else:
        text = text.replace("<svg", _MARK + "<svg", 1)  # an empty caption slot
    slots: list[int] = []

    def mark(match: re.Match[str]) -> str:
        i, body = int(match.group(1)), match.group(2)
        slots.append(i)
        body = _LAST_TEXT.sub(rf'\1 class="gs-grad" id="g{i}">{_MARK}</text>', body)
        return f'<g id="v{i}" class="node">{body}</g>'

    text = _NODE_GROUP.sub(mark, text)
    text = re.sub(r'\bid="', f'id="{prefix}', text)  # unique ids when several pages share a DOM
    pieces = text.split(_MARK)
    if len(pieces) != n + 2 or sorted(slots) != list(range(n)):
        raise RuntimeError(  # Graphviz wrote something this reader does not know
            f"could not find the grad field of every value in Graphviz's SVG "
            f"({len(pieces) - 2} of {n})"
        )
    box = re.search(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+) ([\d.]+)"', text)
    sizes = [float(s) for s in re.findall(r'font-size="([\d.]+)"', text)]
    if box is None:
        raise RuntimeError("Graphviz's SVG has no viewBox")
    return _Drawing(
        tuple(pieces), tuple(slots), float(box[1]), float(box[2]), min(sizes, default=11.0)
    )


@dataclass(frozen=True)
class _NeuronDrawing:
    """The neuron view's drawing: one box per neuron, its inputs and what is outside neurons."""

    svg: str
    rep: list[str | None]  # per value: the id of the box that stands for it (None: inside one)
    width: float
    height: float
    min_font: float


_BOX_GROUP = re.compile(r'<g id="(nb\d+|u\d+)" class="node">(.*?)</g>', re.S)


def _neuron_layout(walk: WalkRecords, digits: int, prefix: str) -> _NeuronDrawing | None:
    """Run Graphviz once on the neurons: a box per neuron (its z, its activation a and
    ∂L/∂a), a record per value outside neurons; None for a graph without neurons.

    Box ``nb{j}`` is neuron j; ``u{i}`` value i; the grad text of the value a box stands for
    is ``h{i}``; the edge into neuron j from value i is ``f{j}_{i}``, the edge from child k of
    value i (outside neurons) ``q{i}_{k}``.
    """
    neurons = walk.neurons()
    if not neurons:
        return None
    index = {v: i for i, v in enumerate(walk.nodes)}
    scopes = {n.scope for n in neurons}
    box_of = {walk.value_of(n.output): j for j, n in enumerate(neurons)}
    widest = [
        max(texts, key=lambda t: len(format_number(t, digits)))
        for texts in _grad_texts_per_node(walk, digits)
    ]
    rep: list[str | None] = []
    for v in walk.nodes:
        if v in box_of:
            rep.append(f"nb{box_of[v]}")
        elif v._scope in scopes:
            rep.append(None)
        else:
            rep.append(f"u{index[v]}")

    fmt = partial(format_number, digits=digits)

    dot = graphviz.Digraph(graph_attr={"rankdir": "LR", "ranksep": "0.3", "nodesep": "0.15"})
    dot.attr("node", fontname="Helvetica", fontsize="11", shape="record")
    for j, neuron in enumerate(neurons):
        out = walk.value_of(neuron.output)
        inner = [c for c in out._prev if c._scope == neuron.scope and c._prev]
        fields = [short_name(neuron.scope + ".")[:-1]]
        if len(out._prev) == 1 and inner:  # act(z): show z and a
            fields += [f"z {fmt(inner[0].data)}", f"{out._op} → a {fmt(out.data)}"]
        else:
            fields.append(f"z {fmt(out.data)}")
        fields.append(_grad_label(widest[index[out]], digits))
        dot.node(
            f"nb{j}",
            label=" | ".join(escape_record(f) for f in fields),
            id=f"nb{j}",
            style="filled",
            fillcolor="#f7f7ff",
        )
    for v, where in zip(walk.nodes, rep, strict=True):
        if where is None or where.startswith("nb"):
            continue
        i = index[v]
        name = walk.short_names[v] + (f" ({v._op})" if v._prev else "")
        fields = [name, f"data {fmt(v.data)}", _grad_label(widest[i], digits)]
        dot.node(where, label=" | ".join(escape_record(f) for f in fields), id=where)
        for k, operand in enumerate(v._prev):
            if rep[index[operand]] is not None:
                dot.edge(str(rep[index[operand]]), where, id=f"q{i}_{k}")
    for j, neuron in enumerate(neurons):
        seen: set[int] = set()
        for s in neuron.steps:
            node, k = walk.edges[s - 1]
            child = node._prev[k]
            c = index[child]
            if child._scope != neuron.scope and rep[c] is not None and c not in seen:
                seen.add(c)
                dot.edge(str(rep[c]), f"nb{j}", id=f"f{j}_{c}")
    text = _NOISE.sub("", to_svg(dot))
    initial = [walk.initial[v] for v in walk.nodes]
    stands_for = {where: i for i, where in enumerate(rep) if where is not None}

    def mark(match: re.Match[str]) -> str:
        box, body = match.group(1), match.group(2)
        i = stands_for[box]
        label = html.escape(_grad_label(initial[i], digits), quote=False)
        body = _LAST_TEXT.sub(rf'\1 class="gs-grad" id="h{i}">{label}</text>', body)
        return f'<g id="{box}" class="node">{body}</g>'

    text = _BOX_GROUP.sub(mark, text)
    text = re.sub(r'\bid="', f'id="{prefix}', text)
    box = re.search(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+) ([\d.]+)"', text)
    sizes = [float(s) for s in re.findall(r'font-size="([\d.]+)"', text)]
    if box is None:
        raise RuntimeError("Graphviz's SVG has no viewBox")
    width, height = float(box[1]), float(box[2])
    svg = text[text.find("<svg") :]
    svg = re.sub(
        r'<svg width="[^"]*" height="[^"]*"',
        f'<svg width="{width:g}" height="{height:g}"',
        svg,
        count=1,
    )
    return _NeuronDrawing(svg, rep, width, height, min(sizes, default=11.0))


def _grad_texts_per_node(walk: WalkRecords, digits: int) -> list[list[float]]:
    """Every grad each value shows during the walk, edge by edge or neuron by neuron."""
    initial, after = step_grads(walk)
    shown: list[list[float]] = [[g] for g in initial]
    for grads in (after, neuron_grads(walk)):
        for c, g in grads:
            shown[c].append(g)
    return shown


def _min_scale(min_font: float) -> float:
    """The smallest zoom at which a drawing's smallest text is `MIN_TEXT_PX` (with a margin
    for the browser's rounding of the SVG's size)."""
    return (MIN_TEXT_PX + 0.05) / min_font


def _grad_label(x: float, digits: int) -> str:
    """A record's grad field, as the drawing shows it: ``grad -0.1966``."""
    return f"grad {format_number(x, digits)}"


def _escaped(texts: Sequence[str]) -> list[str]:
    """Texts escaped for SVG."""
    return [html.escape(t, quote=False) for t in texts]


# ---------------------------------------------------------------------------------------
# the grads each step shows


def step_grads(walk: WalkRecords) -> tuple[list[float], list[tuple[int, float]]]:
    """Each value's grad before the pass, and for each backward step (visit order) the value
    it adds into (forward index) and that value's grad right after: the engine's own."""
    index = {v: i for i, v in enumerate(walk.nodes)}
    initial = [walk.initial[v] for v in walk.nodes]
    after = [
        (index[node._prev[k]], r.child_grad)
        for r, (node, k) in zip(walk.backward, walk.edges, strict=True)
    ]
    return initial, after


def _unit_order(walk: WalkRecords, neurons: Sequence[NeuronStep]) -> list[int | NeuronStep]:
    """The neuron view's steps: each neuron at its first step (all its edges at once), every
    edge outside a neuron on its own (step numbers, 1-based), in the order the pass reaches
    them.  A neuron's output is complete before its first edge, so this is a valid order."""
    owner = {s: neuron for neuron in neurons for s in neuron.steps}
    units: list[int | NeuronStep] = []
    for r in walk.backward:
        neuron = owner.get(r.step)
        if neuron is None:
            units.append(r.step)
        elif neuron.steps[0] == r.step:
            units.append(neuron)
    return units


def neuron_grads(walk: WalkRecords) -> list[tuple[int, float]]:
    """For each backward step in the neuron view's order (each neuron's edges together), the
    value it adds into and that value's grad right after: the running sum in that order."""
    index = {v: i for i, v in enumerate(walk.nodes)}
    running = [walk.initial[v] for v in walk.nodes]
    out: dict[int, tuple[int, float]] = {}
    for unit in _unit_order(walk, walk.neurons()):
        for s in (unit,) if isinstance(unit, int) else unit.steps:
            node, k = walk.edges[s - 1]
            c = index[node._prev[k]]
            running[c] = running[c] + walk.backward[s - 1].product
            out[s] = (c, running[c])
    return [out[r.step] for r in walk.backward]


# ---------------------------------------------------------------------------------------
# the steps, as data


def _steps(walk: WalkRecords, digits: int) -> dict[str, Any]:
    """Everything the page shows that changes from step to step, as JSON-ready data.

    ``nodes[i]``: the initial grad text ``g`` of value i and how many steps add into it
    (``count``).  ``steps[k-1]``: the node, op and child of step k (forward indices), its edge
    id, the child's grad text after it edge by edge (``g``) and neuron by neuron (``gn``),
    and the lines that explain it.  ``neurons``: a model's neurons (their cluster, steps,
    output, the values they pass gradients to, and lines); ``units``: the neuron view's order
    (a step number, or ``-j`` for neuron j).
    """

    fmt = partial(format_number, digits=digits)

    index = {v: i for i, v in enumerate(walk.nodes)}
    last: dict[int, int] = {}
    count: dict[int, int] = {}
    for s, (node, k) in enumerate(walk.edges, start=1):
        c = index[node._prev[k]]
        last[c] = s
        count[c] = count.get(c, 0) + 1
    initial, after = step_grads(walk)
    by_neuron = neuron_grads(walk)
    expressions = [r.expression for r in walk.forward]
    running = list(initial)
    steps = []
    for r, (node, k), (c, grad), (_, grad_n) in zip(
        walk.backward, walk.edges, after, by_neuron, strict=True
    ):
        i = index[node]
        before = running[c]
        running[c] = grad
        node_name, child_name = in_formula(r.node), in_formula(r.child)
        formula = r.formula or f"∂{node_name}/∂{child_name}"
        lines = [
            f"at {r.node} = {expressions[i]}: the edge to {r.child}",
            f"local gradient   {formula}"
            + ("" if formula.endswith(f" = {fmt(r.local)}") else f" = {fmt(r.local)}"),
            f"upstream gradient   δ{node_name} = ∂L/∂{node_name} = {fmt(r.upstream)}",
            f"product = local × upstream = {paren(fmt(r.local))} × {paren(fmt(r.upstream))}"
            f" = {fmt(r.product)}",
            f"∂L/∂{child_name} so far = {fmt(before)} + {paren(fmt(r.product))} = {fmt(grad)}",
        ]
        done = last[c] == r.step
        if done:
            lines.append("complete: " + walk.gradient_terms(walk.nodes[c]).format(digits))
        steps.append(
            {
                "n": i,
                "c": c,
                "e": f"e{i}_{k}",
                "g": _grad_label(grad, digits),
                "gn": _grad_label(grad_n, digits),
                "done": done,
                "lines": lines,
            }
        )
    root = walk.root_name()
    start = [
        f"forward pass done: {root} = {fmt(walk.root.data)}",
        walk.seed_line(digits),
        (
            f"each of the {len(steps)} steps follows one edge backward: "
            "∂L/∂child += local ∂node/∂child × upstream ∂L/∂node"
            if steps
            else "no backward steps: the root is an input"
        ),
    ]
    nodes = [{"g": _grad_label(g, digits), "count": count.get(i, 0)} for i, g in enumerate(initial)]
    neurons = walk.neurons()
    units = _unit_order(walk, neurons)
    number = {id(neuron): j for j, neuron in enumerate(neurons)}
    return {
        "root": index[walk.root],
        "nodes": nodes,
        "steps": steps,
        "start": start,
        "neurons": [_neuron_data(walk, neuron, index, digits) for neuron in neurons],
        "units": [u if isinstance(u, int) else -number[id(u)] - 1 for u in units],
        **_layer_data(
            neurons, [u if isinstance(u, int) else -number[id(u)] - 1 for u in units], digits
        ),
    }


def _layer_of(scope: str) -> str:
    """The layer a neuron belongs to: its scope without its last part ("" for none)."""
    return scope.rpartition(".")[0]


def _layer_data(neurons: Sequence[NeuronStep], units: Sequence[int], digits: int) -> dict[str, Any]:
    """The layer view, where it fits: ``layers`` (each layer's name, neurons and lines) and
    ``layerUnits`` (a step number, or ``-l`` for layer l-1), when every layer's neurons come
    one after another in the neuron view's order; else nothing."""

    fmt = partial(format_number, digits=digits)

    groups: dict[str, list[int]] = {}
    for j, neuron in enumerate(neurons):
        layer = _layer_of(neuron.scope)
        if not layer:
            return {}
        groups.setdefault(layer, []).append(j)
    if not any(len(members) > 1 for members in groups.values()):
        return {}
    layer_units: list[int] = []
    number = {name: i for i, name in enumerate(groups)}
    for u in units:
        if u > 0:
            layer_units.append(u)
            continue
        i = number[_layer_of(neurons[-u - 1].scope)]
        if layer_units and layer_units[-1] == -i - 1:
            continue
        if -i - 1 in layer_units:  # the layer's neurons are not one after another
            return {}
        layer_units.append(-i - 1)
    layers = []
    for name, members in groups.items():
        steps = sum(len(neurons[j].steps) for j in members)
        passed: dict[str, float] = {}
        for j in members:
            for child, product in neurons[j].passes:
                passed[child] = passed.get(child, 0.0) + product
        lines = [
            f"layer {name}: {len(members)} neurons, {steps} edges at once "
            "(Enter or a click opens it into its neurons)",
            "receives   "
            + ",  ".join(f"∂L/∂{neurons[j].output} = {fmt(neurons[j].upstream)}" for j in members),
        ]
        if passed:
            lines.append(
                "passes back (summed over its neurons)   "
                + ",  ".join(f"∂L/∂{child} += {fmt(g)}" for child, g in passed.items())
            )
        count = sum(len(neurons[j].parameters) for j in members)
        lines.append(f"its parameters   {count} gradients (open it to see each neuron's)")
        layers.append({"name": name, "neurons": members, "lines": lines})
    return {"layers": layers, "layerUnits": layer_units}


def _neuron_data(
    walk: WalkRecords, neuron: NeuronStep, index: Mapping[Value, int], digits: int
) -> dict[str, Any]:
    """One neuron for the page: its cluster, steps, output and the lines that explain it."""

    fmt = partial(format_number, digits=digits)

    receivers = []
    for s in neuron.steps:
        node, k = walk.edges[s - 1]
        child = node._prev[k]
        if child._scope != neuron.scope or not child._prev:
            receivers.append(index[child])
    lines = [
        f"neuron {neuron.scope}: {len(neuron.steps)} edges at once "
        "(Enter or a click on it opens its edges)",
        f"receives   ∂L/∂{neuron.output} = {fmt(neuron.upstream)}",
    ]
    if neuron.passes:
        lines.append(
            "passes back   "
            + ",  ".join(f"∂L/∂{name} += {fmt(product)}" for name, product in neuron.passes)
        )
    if neuron.parameters:
        lines.append(
            "its parameters   "
            + ",  ".join(f"∂L/∂{name} = {fmt(grad)}" for name, grad in neuron.parameters)
        )
    return {
        "scope": neuron.scope,
        "cluster": cluster_id(neuron.scope),
        "steps": list(neuron.steps),
        "out": index[walk.value_of(neuron.output)],
        "recv": sorted(set(receivers)),
        "lines": lines,
    }


# ---------------------------------------------------------------------------------------
# the page


@cache
def _asset(name: str) -> str:
    """A file shipped beside this module in ``assets/`` (the page's script and style)."""
    folder = resources.files("gradstep.viz").joinpath("assets")
    return folder.joinpath(name).read_text(encoding="utf-8")


def _json_for_script(data: Mapping[str, Any]) -> str:
    """JSON that is safe inside ``<script type="application/json">`` (no ``</script>``)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _shortener(walk: WalkRecords) -> Callable[[str], str]:
    """Text with every model name in its short form (``layer0.neuron1.w0`` → ``l0n1.w0``)."""
    pairs = {
        walk.names[v]: walk.short_names[v]
        for v in walk.nodes
        if walk.names[v] != walk.short_names[v]
    }
    if not pairs:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(name) for name in sorted(pairs, key=len, reverse=True)))
    return lambda text: pattern.sub(lambda m: pairs[m.group(0)], text)


def _tables(walk: WalkRecords, digits: int) -> str:
    """The forward and backward tables as HTML, a model's names in their short form (the full
    name on hover); backward rows carry ``data-step`` and their answer cells the class
    ``gs-ans`` (blank until reached, unless every answer is shown)."""
    e = html.escape
    short = _shortener(walk)

    def name(text: str) -> str:
        brief = short(text)
        hover = f' title="{e(text)}"' if brief != text else ""
        return f'<td class="gs-name"{hover}>{e(brief)}</td>'

    index = {v: i for i, v in enumerate(walk.nodes)}
    forward = "".join(
        f'<tr data-node="{index[v]}"><td class="num">{e(row[0])}</td>{name(row[1])}'
        f"<td>{e(row[2])}</td><td><code>{e(short(row[3]))}</code></td>"
        f'<td class="num">{e(row[4])}</td></tr>'
        for v, row in zip(walk.nodes, walk.forward_rows(digits), strict=True)
    )
    seed = format_number(walk.initial[walk.root], digits)
    backward = [
        f'<tr data-step="0"><td class="num">0</td><td colspan="7">'
        f"{e(walk.seed_line(digits))}</td>"
        f'<td class="num">{seed}</td></tr>'
    ]
    for row in walk.backward_rows(digits):
        cells = [
            f'<td class="num">{e(row[0])}</td>',
            name(row[1]),
            f"<td><code>{e(row[2])}</code></td>",
        ]
        cells += [name(row[3]), name(row[4])]
        cells += [f'<td class="num gs-ans">{e(cell)}</td>' for cell in row[5:]]
        backward.append(f'<tr data-step="{e(row[0])}">' + "".join(cells) + "</tr>")
    heads = "".join(f"<th>{e(h)}</th>" for h in BACKWARD_HEADERS)
    forward_heads = "".join(f"<th>{e(h)}</th>" for h in FORWARD_HEADERS)
    return (
        '<h3>Backward pass <span class="gs-note">(click a row to go to its step)</span></h3>'
        f'<table class="gs-backward"><thead><tr>{heads}</tr></thead>'
        f"<tbody>{''.join(backward)}</tbody></table>"
        '<h3>Forward pass <span class="gs-note">(children first)</span></h3>'
        f'<table class="gs-forward"><thead><tr>{forward_heads}</tr></thead>'
        f"<tbody>{forward}</tbody></table>"
    )


def _static_image(svg: str) -> str:
    """The drawing as an ``<img>`` (an SVG data URI) for a copy shown without scripts."""
    text = re.sub(r' (id|class)="[^"]*"', "", svg[svg.find("<svg") :])  # a picture: no ids
    if "xmlns=" not in text[: text.find(">")]:
        text = text.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return f'<img class="gs-static-img" alt="the graph" src="data:image/svg+xml;base64,{data}">'


def _button(kind: str, what: str, title: str, text: str, hidden: bool = False) -> str:
    """A stepper button: ``data-go``, ``data-zoom`` or ``data-toggle`` says what it does."""
    attrs = " hidden" if hidden else ""
    return f'<button type="button" data-{kind}="{what}" title="{title}"{attrs}>{text}</button>'


def _palette() -> str:
    """The drawing's colours as CSS variables (one source: `gradstep.viz.drawing`)."""
    return (
        f"--gs-red:{HIGHLIGHT};--gs-orange:{UPSTREAM};--gs-green:{DONE};"
        f"--gs-child:{HIGHLIGHT_FILL};--gs-node:{UPSTREAM_FILL};--gs-pending:{PENDING}"
    )


def _start_view(view: str, neurons: bool, layers: bool) -> str:
    """The view a page starts in: the one asked for where the graph has it, else the next
    coarser one it has (layers → neurons → edges); "auto": neurons where there are any."""
    if view == "layers" and layers:
        return "layers"
    if view in ("auto", "neurons", "layers") and neurons:
        return "neurons"
    return "edges"


def _stepper(
    walk: WalkRecords,
    *,
    rankdir: str,
    digits: int,
    max_nodes: int,
    prefix: str,
    title: str,
    embedded: bool,
    reveal: str,
    view: str,
) -> str:
    """The stepper's HTML: bar, drawing, explanation, tables, its data and its script."""
    drawing = _layout(walk, rankdir, digits, max_nodes, prefix)
    data = _steps(walk, digits)
    initial = [n["g"] for n in data["nodes"]]
    svg = drawing.svg(_escaped(initial))
    svg = re.sub(
        r'<svg width="[^"]*" height="[^"]*"',
        f'<svg width="{drawing.width:g}" height="{drawing.height:g}"',
        svg,
        count=1,
    )
    has_neurons = bool(data["neurons"])
    boxes = _neuron_layout(walk, digits, prefix) if has_neurons else None
    if boxes is not None:
        data.update(
            rep=boxes.rep,
            boxes={
                "width": boxes.width,
                "height": boxes.height,
                "minScale": _min_scale(boxes.min_font),
            },
        )
    data.update(
        prefix=prefix,
        embedded=embedded,
        width=drawing.width,
        height=drawing.height,
        minScale=_min_scale(drawing.min_font),
        maxScale=MAX_FIT_SCALE,
        reveal=reveal,
        view=_start_view(view, has_neurons, "layers" in data),
    )
    n = len(walk.backward)
    kind = "gs-embedded" if embedded else "gs-page"
    keys = "← → step · Home End · click a row" + (
        " · Enter opens a neuron, Esc closes" if has_neurons else ""
    )
    buttons = "".join(
        [
            _button("go", "home", "first step (Home)", "|◀"),
            _button("go", "prev", "previous step (←)", "◀"),
            f'<span class="gs-counter" aria-live="polite">step 0 / {n}</span>',
            _button("go", "next", "next step (→)", "▶"),
            _button("go", "end", "last step (End)", "▶|"),
        ]
    )
    toggles = "".join(
        [
            _button(
                "toggle",
                "reveal",
                "show every answer, or only those of the steps reached so far",
                "answers: as you go",
            ),
            _button(
                "toggle",
                "view",
                "step neuron by neuron, layer by layer, or edge by edge",
                "view: neurons",
                hidden=not has_neurons,
            ),
            _button(
                "toggle",
                "open",
                "open this neuron into its edges, or close it (Enter)",
                "open neuron",
                hidden=not has_neurons,
            ),
        ]
    )
    zooms = "".join(
        [
            _button("zoom", "out", "zoom out (or Ctrl + wheel)", "−"),
            _button("zoom", "fit", "fit the drawing to its pane", "fit"),
            _button("zoom", "in", "zoom in (or Ctrl + wheel)", "+"),
        ]
    )
    neuron_canvas = (
        f'<div class="gs-canvas" data-drawing="neurons" hidden>{boxes.svg}</div>'
        if boxes is not None
        else ""
    )
    # the controls are made by the script (from the data): without it, no dead button
    data["controls"] = (
        f'<span class="gs-buttons">{buttons}</span><span class="gs-toggles">{toggles}</span>'
        f'<span class="gs-zoom">{zooms}</span><span class="gs-keys">{keys if n else ""}</span>'
    )
    # a notebook shown without scripts may also drop inline SVG (JupyterLab does, untrusted):
    # the drawing again as an image, shown only where the inline one is missing
    picture = _static_image(svg) if embedded else ""
    return f"""<div class="gs-stepper {kind}" id="{prefix}root" tabindex="0" data-static="1" \
style="{_palette()}">
<div class="gs-bar"><span class="gs-title">{html.escape(title)}</span>
<p class="gs-static-note"><em>A static copy: run this cell (or open the page in a browser) to \
step through it.</em></p>
</div>
<div class="gs-main">
<div class="gs-drawing">{picture}<div class="gs-canvas" data-drawing="edges">{svg}</div>\
{neuron_canvas}</div>
<div class="gs-side">
<div class="gs-info"><div class="gs-explain" aria-live="polite"></div>
<div class="gs-legend"><span class="gs-sw gs-sw-child"></span>child receiving the product
<span class="gs-sw gs-sw-node"></span>node giving its upstream gradient
<span class="gs-sw gs-sw-done"></span>grad complete</div></div>
<div class="gs-tables">{_tables(walk, digits)}</div>
</div></div>
<script type="application/json" class="gs-data">{_json_for_script(data)}</script>
<script>{_asset("stepper.js")}
gradstepStepper({json.dumps(prefix + "root")});</script>
</div>"""


def page_html(
    walk: WalkRecords,
    *,
    rankdir: str = "LR",
    digits: int = 4,
    max_steps: int = MAX_PAGE_STEPS,
    max_nodes: int = 500,
    title: str | None = None,
    embedded: bool = False,
    reveal: str = "step",
    view: str = "auto",
) -> str:
    """The interactive page (or, ``embedded``, a block for a notebook output).

    Self-contained and offline: the SVG, the style, the script and the steps' data are
    inline, and nothing is fetched.  Without its script (a notebook opened untrusted, or
    rendered on a website) the block still shows the drawing and every table, with a note
    that running the cell makes it interactive.  ``reveal`` and ``view``: see `REVEAL` and
    `VIEWS`.  More than ``max_steps`` backward steps raise `TooManyStepsError`.
    """
    if reveal not in REVEAL:
        raise ValueError(f"reveal must be one of {', '.join(REVEAL)}, got {reveal!r}")
    if view not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
    n = len(walk.backward)
    if n > max_steps:
        raise TooManyStepsError(n, max_steps, "one page", "max_steps")
    heading = title or walk.title()
    prefix = f"gs{secrets.token_hex(4)}-" if embedded else "gs-"
    body = _stepper(
        walk,
        rankdir=rankdir,
        digits=digits,
        max_nodes=max_nodes,
        prefix=prefix,
        title=heading,
        embedded=embedded,
        reveal=reveal,
        view=view,
    )
    style = f"<style>{_asset('stepper.css')}</style>"
    if embedded:
        return style + body
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gradstep: {html.escape(heading)}</title>
{style}
</head>
<body style="margin: 0">
{body}
</body>
</html>
"""


# ---------------------------------------------------------------------------------------
# frames: one SVG per step from the same layout


def _frame_style(prefix: str, step: Mapping[str, Any], node_done: Sequence[str]) -> str:
    """A ``<style>`` that lights one step's edge, child, op and node in a frame."""
    p, n, c = prefix, step["n"], step["c"]
    rules = [
        f"#{p}{step['e']} path{{stroke:{HIGHLIGHT};stroke-width:3px}}",
        f"#{p}{step['e']} polygon{{stroke:{HIGHLIGHT};fill:{HIGHLIGHT}}}",
        f"#{p}v{c} polygon{{stroke:{HIGHLIGHT};stroke-width:2.5px;fill:{HIGHLIGHT_FILL}}}",
        f"#{p}v{n} polygon{{stroke:{UPSTREAM};stroke-width:2.5px;fill:{UPSTREAM_FILL}}}",
        f"#{p}v{n}_op ellipse{{stroke:{HIGHLIGHT};stroke-width:2.5px}}",
        f"#{p}v{n}_op text{{fill:{HIGHLIGHT}}}",
        *node_done,
    ]
    return "<style>" + "".join(rules) + "</style>"


def frame_svgs(
    walk: WalkRecords,
    *,
    rankdir: str = "LR",
    digits: int = 4,
    max_frames: int = MAX_FRAMES,
    max_nodes: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """One SVG document per backward step, from a single Graphviz layout (the drawing never moves).

    Step k lights its edge and child in red and its node in orange, shows every grad as it
    stood after step k (green once complete), and has a caption with the step's numbers.
    ``progress(k, n)`` is called after each frame.
    """
    n = len(walk.backward)
    if n > max_frames:
        raise TooManyStepsError(n, max_frames, "the frames", "max_frames")
    prefix = "gs-"
    short = _shortener(walk)  # a model's names short, as the drawing shows them
    captions = [short(walk.caption(r, digits)) for r in walk.backward]
    longest = max(captions, key=len, default="")
    drawing = _layout(walk, rankdir, digits, max_nodes, prefix, caption=longest)
    data = _steps(walk, digits)
    grads = [node["g"] for node in data["nodes"]]
    frames = []
    done: list[str] = []
    for k, (step, caption) in enumerate(zip(data["steps"], captions, strict=True), start=1):
        grads[step["c"]] = step["g"]
        if step["done"]:
            done.append(f"#{prefix}g{step['c']}{{fill:{DONE}}}")
        svg = drawing.svg(_escaped(grads), html.escape(caption, quote=False))
        head = svg.index(">", svg.index("<svg")) + 1
        frames.append(
            '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
            + svg[:head]
            + _frame_style(prefix, step, done)
            + svg[head:]
        )
        if progress is not None:
            progress(k, n)
    return frames
