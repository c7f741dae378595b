"""The interactive backward-pass page and fast frames: the graph is laid out once, steps restyle it.

Graphviz draws the walk-through's graph a single time; every backward step then changes only
highlight classes and the ``grad`` numbers of that one drawing (in the browser for the page,
as text for the SVG frames), so the drawing never moves and a step costs no layout::

    step k:  ∂L/∂child += local ∂node/∂child × upstream ∂L/∂node   (edge, child, node lit)
"""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from gradstep.engine import Value
from gradstep.viz.drawing import draw_dot, format_number, to_svg
from gradstep.viz.explain import _BACKWARD_HEADERS

if TYPE_CHECKING:
    from gradstep.viz.explain import Walkthrough

__all__ = [
    "MAX_PAGE_STEPS",
    "MAX_FRAMES",
    "TooManyStepsError",
    "page_html",
    "frame_svgs",
]

#: the most backward steps a page holds by default (a 200-step page is about 0.3 MB)
MAX_PAGE_STEPS = 500
#: the most SVG frames written by default (one file each)
MAX_FRAMES = 200
#: the smallest drawn text the page allows itself when it fits the drawing, in CSS px
MIN_TEXT_PX = 11.0
#: the largest zoom the page fits a small drawing to (1 drawing unit = this many px)
MAX_FIT_SCALE = 1.6

_HIGHLIGHT = "#d62728"  # the edge and the child that receives the product
_UPSTREAM = "#ff7f0e"  # the node whose upstream gradient flows down the edge
_CHILD_FILL = "#fff2a8"
_NODE_FILL = "#ffe6cc"
_DONE = "#2ca02c"  # a grad that has received all its contributions
_PENDING = "#9a9a9a"  # a grad that has received none yet


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

    pieces: tuple[str, ...]  # the text between the slots: caption, grad 0, grad 1, …
    width: float  # viewBox width and height, in drawing units (points)
    height: float
    min_font: float  # the smallest font-size of any text, in drawing units

    def svg(self, grads: Sequence[str], caption: str = "") -> str:
        """The drawing with this caption and these ``grad`` texts (already escaped)."""
        out = [self.pieces[0]]
        for text, piece in zip([caption, *grads], self.pieces[1:], strict=True):
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
    walk: Walkthrough,
    rankdir: str,
    digits: int,
    max_nodes: int,
    prefix: str,
    caption: str = "",
) -> _Drawing:
    """Run Graphviz once, every ``grad`` field as wide as the widest text it will show (and
    the caption slot as wide as ``caption``)."""
    index = {v: i for i, v in enumerate(walk.nodes)}
    widest: dict[Value, float] = {}
    for v, texts in zip(walk.nodes, _grad_texts_per_node(walk, digits), strict=True):
        widest[v] = max(texts, key=lambda t: len(format_number(t, digits)))
    dot = draw_dot(
        walk.root,
        rankdir=rankdir,
        names=walk.names,
        grads=widest,
        digits=digits,
        max_nodes=max_nodes,
        title=caption or None,
        tooltips=False,
    )
    if len(index) > _QUICK_LAYOUT:
        dot.graph_attr["nslimit"] = "2"  # bound the x-placement passes: ~10x faster, same look
    text = _NOISE.sub("", to_svg(dot))
    first_node = text.find('<g id="v')
    label = text.find("<text", 0, first_node) if caption else -1
    if label >= 0:  # the graph's label (the caption) comes before the first node
        end = text.index("</text>", label)
        text = text[: text.index(">", label) + 1] + _MARK + text[end:]
    else:
        text = text.replace("<svg", _MARK + "<svg", 1)  # an empty caption slot

    def mark(match: re.Match[str]) -> str:
        i, body = int(match.group(1)), match.group(2)
        body = _LAST_TEXT.sub(rf'\1 class="gs-grad" id="g{i}">{_MARK}</text>', body)
        return f'<g id="v{i}" class="node">{body}</g>'

    text = _NODE_GROUP.sub(mark, text)
    text = re.sub(r'\bid="', f'id="{prefix}', text)  # unique ids when several pages share a DOM
    pieces = text.split(_MARK)
    if len(pieces) != len(index) + 2:
        raise RuntimeError(  # Graphviz wrote something this reader does not know
            f"could not find the grad field of every value in Graphviz's SVG "
            f"({len(pieces) - 2} of {len(index)})"
        )
    box = re.search(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+) ([\d.]+)"', text)
    sizes = [float(s) for s in re.findall(r'font-size="([\d.]+)"', text)]
    if box is None:
        raise RuntimeError("Graphviz's SVG has no viewBox")
    return _Drawing(tuple(pieces), float(box[1]), float(box[2]), min(sizes, default=11.0))


def _grad_texts_per_node(walk: Walkthrough, digits: int) -> list[list[float]]:
    """Every grad each value shows during the walk: its initial one, then each running sum."""
    index = {v: i for i, v in enumerate(walk.nodes)}
    shown: list[list[float]] = [[walk._initial[v]] for v in walk.nodes]
    for r, (node, k) in zip(walk.backward, walk.edges, strict=True):
        shown[index[node._prev[k]]].append(r.child_grad)
    return shown


def _grad_label(x: float, digits: int) -> str:
    """A record's grad field, as the drawing shows it: ``grad -0.1966``."""
    return f"grad {format_number(x, digits)}"


def _escaped(texts: Sequence[str]) -> list[str]:
    """Texts escaped for SVG."""
    return [html.escape(t, quote=False) for t in texts]


# ---------------------------------------------------------------------------------------
# the steps, as data


def _paren(text: str) -> str:
    """Wrap a negative number in parentheses for a product: -3 → (-3)."""
    return f"({text})" if text.startswith("-") else text


def _steps(walk: Walkthrough, digits: int) -> dict[str, Any]:
    """Everything the page shows that changes from step to step, as JSON-ready data.

    ``nodes[i]``: the initial grad text ``g`` and the steps ``first``/``last`` at which value i
    receives its first and last contribution (0: none).  ``steps[k-1]``: the node, op and child
    of step k (forward indices), its edge id, the child's grad text after it, and the lines
    that explain it.
    """

    def fmt(x: float) -> str:
        return format_number(x, digits)

    index = {v: i for i, v in enumerate(walk.nodes)}
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for s, (node, k) in enumerate(walk.edges, start=1):
        c = index[node._prev[k]]
        first.setdefault(c, s)
        last[c] = s
    sums = _gradient_sums(walk)
    expressions = [r.expression for r in walk.forward]
    running = {i: walk._initial[v] for i, v in enumerate(walk.nodes)}
    root = walk.names[walk.root]
    steps = []
    for r, (node, k) in zip(walk.backward, walk.edges, strict=True):
        i, c = index[node], index[node._prev[k]]
        before = running[c]
        running[c] = r.child_grad
        formula = r.formula or f"∂{r.node}/∂{r.child}"
        lines = [
            f"at {r.node} = {expressions[i]}: the edge to {r.child}",
            f"local gradient   {formula}"
            + ("" if formula.endswith(f" = {fmt(r.local)}") else f" = {fmt(r.local)}"),
            f"upstream gradient   δ{r.node} = ∂L/∂{r.node} = {fmt(r.upstream)}",
            f"product = local × upstream = {_paren(fmt(r.local))} × {_paren(fmt(r.upstream))}"
            f" = {fmt(r.product)}",
            f"∂L/∂{r.child} so far = {fmt(before)} + {_paren(fmt(r.product))}"
            f" = {fmt(r.child_grad)}",
        ]
        done = last[c] == r.step
        if done:
            lines.append("complete: " + sums[c].format(digits))
        steps.append(
            {
                "n": i,
                "c": c,
                "e": f"e{i}_{k}",
                "g": _grad_label(r.child_grad, digits),
                "done": done,
                "lines": lines,
            }
        )
    seed = walk._initial[walk.root]
    start = [
        f"forward pass done: {root} = {fmt(walk.root.data)}",
        f"seed: ∂L/∂{root} = {fmt(seed)}" + ("" if root == "L" else f"  (L = {root})"),
        (
            f"each of the {len(steps)} steps follows one edge backward: "
            "∂L/∂child += local ∂node/∂child × upstream ∂L/∂node"
            if steps
            else "no backward steps: the root is an input"
        ),
    ]
    nodes = [
        {"g": _grad_label(v0, digits), "first": first.get(i, 0), "last": last.get(i, 0)}
        for i, v0 in enumerate(walk._initial[v] for v in walk.nodes)
    ]
    return {"root": index[walk.root], "nodes": nodes, "steps": steps, "start": start}


def _gradient_sums(walk: Walkthrough) -> dict[int, Any]:
    """∂L/∂v as a sum over v's parents, for every value that receives a contribution (one pass)."""
    from gradstep.viz.explain import GradientSum, GradientTerm

    index = {v: i for i, v in enumerate(walk.nodes)}
    terms: dict[int, list[GradientTerm]] = {}
    for r, (node, k) in zip(walk.backward, walk.edges, strict=True):
        c = index[node._prev[k]]
        terms.setdefault(c, []).append(GradientTerm(r.step, r.node, r.upstream, r.local, r.product))
    return {
        c: GradientSum(
            walk.names[walk.nodes[c]], walk._initial[walk.nodes[c]], tuple(t), walk.nodes[c].grad
        )
        for c, t in terms.items()
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


def _tables(walk: Walkthrough, digits: int) -> str:
    """The forward and backward tables as HTML; backward rows carry ``data-step``."""
    e = html.escape
    index = {v: i for i, v in enumerate(walk.nodes)}
    forward = "".join(
        f'<tr data-node="{index[v]}"><td class="num">{f.step}</td><td>{e(f.name)}</td>'
        f"<td>{e(row[2])}</td><td><code>{e(f.expression)}</code></td>"
        f'<td class="num">{e(row[4])}</td></tr>'
        for f, v, row in zip(walk.forward, walk.nodes, walk._forward_rows(digits), strict=True)
    )
    root = walk.names[walk.root]
    seed = format_number(walk._initial[walk.root], digits)
    backward = [
        f'<tr data-step="0"><td class="num">0</td><td colspan="7">seed: ∂L/∂{e(root)} = {seed}'
        f'</td><td class="num">{seed}</td></tr>'
    ]
    for row in walk._backward_rows(digits):
        step, node, op, child, formula, *numbers = (e(c) for c in row)
        backward.append(
            f'<tr data-step="{step}"><td class="num">{step}</td><td>{node}</td>'
            f"<td><code>{op}</code></td><td>{child}</td><td>{formula}</td>"
            + "".join(f'<td class="num">{n}</td>' for n in numbers)
            + "</tr>"
        )
    heads = "".join(f"<th>{h}</th>" for h in _BACKWARD_HEADERS)
    return (
        '<h3>Backward pass <span class="gs-note">(click a row to go to its step)</span></h3>'
        f'<table class="gs-backward"><thead><tr>{heads}</tr></thead>'
        f"<tbody>{''.join(backward)}</tbody></table>"
        '<h3>Forward pass <span class="gs-note">(children first)</span></h3>'
        '<table class="gs-forward"><thead><tr><th>step</th><th>name</th><th>op</th>'
        f"<th>expression</th><th>value</th></tr></thead><tbody>{forward}</tbody></table>"
    )


def _button(kind: str, what: str, title: str, text: str) -> str:
    """A stepper button: ``data-go`` or ``data-zoom`` says what it does."""
    return f'<button type="button" data-{kind}="{what}" title="{title}">{text}</button>'


def _stepper(
    walk: Walkthrough,
    *,
    rankdir: str,
    digits: int,
    max_nodes: int,
    prefix: str,
    title: str,
    embedded: bool,
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
    data.update(
        prefix=prefix,
        embedded=embedded,
        width=drawing.width,
        height=drawing.height,
        minScale=MIN_TEXT_PX / drawing.min_font,
        maxScale=MAX_FIT_SCALE,
    )
    n = len(walk.backward)
    kind = "gs-embedded" if embedded else "gs-page"
    keys = "← → step · Home End · click a row" if n else ""
    buttons = "".join(
        [
            _button("go", "home", "first step (Home)", "|◀"),
            _button("go", "prev", "previous step (←)", "◀"),
            f'<span class="gs-counter" aria-live="polite">step 0 / {n}</span>',
            _button("go", "next", "next step (→)", "▶"),
            _button("go", "end", "last step (End)", "▶|"),
        ]
    )
    zooms = "".join(
        [
            _button("zoom", "out", "zoom out (or Ctrl + wheel)", "−"),
            _button("zoom", "fit", "fit the drawing to its pane", "fit"),
            _button("zoom", "in", "zoom in (or Ctrl + wheel)", "+"),
        ]
    )
    return f"""<div class="gs-stepper {kind}" id="{prefix}root" tabindex="0">
<div class="gs-bar"><span class="gs-title">{html.escape(title)}</span>
<span class="gs-buttons">{buttons}</span>
<span class="gs-zoom">{zooms}</span>
<span class="gs-keys">{keys}</span></div>
<div class="gs-main">
<div class="gs-drawing"><div class="gs-canvas">{svg}</div></div>
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
    walk: Walkthrough,
    *,
    rankdir: str = "LR",
    digits: int = 4,
    max_steps: int = MAX_PAGE_STEPS,
    max_nodes: int = 500,
    title: str | None = None,
    embedded: bool = False,
) -> str:
    """The interactive page (or, ``embedded``, a block for a notebook output).

    Self-contained and offline: the SVG, the style, the script and the steps' data are
    inline, and nothing is fetched.  More than ``max_steps`` backward steps raise
    `TooManyStepsError`.
    """
    n = len(walk.backward)
    if n > max_steps:
        raise TooManyStepsError(n, max_steps, "one page", "max_steps")
    root = walk.names[walk.root]
    expression = walk.forward[-1].expression
    heading = title or f"backward pass of {root}" + (f" = {expression}" if expression else "")
    prefix = f"gs{secrets.token_hex(4)}-" if embedded else "gs-"
    body = _stepper(
        walk,
        rankdir=rankdir,
        digits=digits,
        max_nodes=max_nodes,
        prefix=prefix,
        title=heading,
        embedded=embedded,
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
        f"#{p}{step['e']} path{{stroke:{_HIGHLIGHT};stroke-width:3px}}",
        f"#{p}{step['e']} polygon{{stroke:{_HIGHLIGHT};fill:{_HIGHLIGHT}}}",
        f"#{p}v{c} polygon{{stroke:{_HIGHLIGHT};stroke-width:2.5px;fill:{_CHILD_FILL}}}",
        f"#{p}v{n} polygon{{stroke:{_UPSTREAM};stroke-width:2.5px;fill:{_NODE_FILL}}}",
        f"#{p}v{n}_op ellipse{{stroke:{_HIGHLIGHT};stroke-width:2.5px}}",
        f"#{p}v{n}_op text{{fill:{_HIGHLIGHT}}}",
        *node_done,
    ]
    return "<style>" + "".join(rules) + "</style>"


def frame_svgs(
    walk: Walkthrough,
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
    captions = [walk._caption(r, digits) for r in walk.backward]
    longest = max(captions, key=len, default="")
    drawing = _layout(walk, rankdir, digits, max_nodes, prefix, caption=longest)
    data = _steps(walk, digits)
    grads = [node["g"] for node in data["nodes"]]
    frames = []
    done: list[str] = []
    for k, (step, caption) in enumerate(zip(data["steps"], captions, strict=True), start=1):
        grads[step["c"]] = step["g"]
        if step["done"]:
            done.append(f"#{prefix}g{step['c']}{{fill:{_DONE}}}")
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
