"""The practice page: the graph drawn once and the backward pass as answer fields, in the
terminal's order, checked on Enter with the same feedback, progress kept on reload.

The page carries what it checks against as data (each question's answer, hint, and the value
each known mistake gives, from `gradstep.viz.exercise`); its script only reads a typed number
(digits, fractions, + − × ÷, powers, e, pi) and compares it with those values.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import secrets
from functools import cache
from importlib import resources
from typing import Any

from gradstep.viz.drawing import (
    GraphTooLargeError,
    GraphvizNotFoundError,
    draw_dot,
    format_number,
    to_svg,
)
from gradstep.viz.exercise import Exercise

__all__ = ["practice_html", "storage_key"]

_NOISE = re.compile(r"<!--.*?-->\n?|<\?xml.*?\?>\n?|<!DOCTYPE.*?>\n?", re.S)
_TITLE = re.compile(r"<title>.*?</title>\n?", re.S)


@cache
def _asset(name: str) -> str:
    """The page's script or style, shipped in ``gradstep/viz/assets``."""
    return (
        resources.files("gradstep.viz")
        .joinpath("assets")
        .joinpath(name)
        .read_text(encoding="utf-8")
    )


def _json_for_script(data: Any) -> str:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>``)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def storage_key(exercise: Exercise) -> str:
    """Where the page keeps the learner's progress (``localStorage``): one key per exercise
    (its title and answers), so reloading the same page keeps it and another starts afresh."""
    data = exercise.to_data()
    digest = hashlib.sha256(
        json.dumps([data["title"], [q["answer"] for q in data["questions"]]]).encode()
    ).hexdigest()
    return f"gradstep-practice-{digest[:16]}"


def _drawing(exercise: Exercise, rankdir: str, digits: int, prefix: str) -> str:
    """The graph without gradients (the learner works them out), element ids prefixed; a
    note instead when it cannot be drawn (no Graphviz, or too many values to draw legibly):
    the answer fields work without it."""
    walk = exercise.walk
    try:
        dot = draw_dot(
            walk.root,
            rankdir=rankdir,
            names=walk.names,
            show_grad=False,
            digits=digits,
            tooltips=False,
        )
        svg = _TITLE.sub("", _NOISE.sub("", to_svg(dot)))
    except (GraphvizNotFoundError, GraphTooLargeError) as error:
        return f'<p class="gp-nodrawing">(no drawing: {html.escape(str(error))})</p>'
    svg = svg[svg.find("<svg") :]
    return re.sub(r'\bid="', f'id="{prefix}', svg)


def _questions_table(exercise: Exercise, digits: int) -> str:
    """One row per edge: the edge, its upstream gradient (shown once reached) and two fields."""
    e = html.escape
    walk = exercise.walk
    index = {v: i for i, v in enumerate(walk.nodes)}
    by_step: dict[int, list[Any]] = {}
    for q in exercise.questions:
        by_step.setdefault(q.step, []).append(q)
    rows = []
    for r, (node, _k) in zip(walk.backward, walk.edges, strict=True):
        expression = walk.forward[index[node]].expression
        fields = "".join(
            f'<td><input type="text" inputmode="decimal" autocomplete="off" spellcheck="false" '
            f'data-q="{q.number}" aria-label="{e(q.prompt)}" disabled></td>'
            for q in by_step[r.step]
        )
        rows.append(
            f'<tr data-step="{r.step}"><td class="gp-num">{r.step}</td>'
            f'<td>{e(r.node)} → {e(r.child)} <span class="gp-expr">({e(r.node)} = '
            f"{e(expression)})</span></td>"
            f'<td class="gp-num gp-up">∂L/∂{e(r.node)} = '
            f"<span>{e(format_number(r.upstream, digits))}</span></td>{fields}</tr>"
        )
    return (
        '<table class="gp-questions"><thead><tr><th>step</th><th>edge (node → child)</th>'
        "<th>upstream</th><th>local ∂node/∂child</th><th>∂L/∂child so far</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _forward_table(exercise: Exercise) -> str:
    e = html.escape
    rows = "".join(f"<li>{e(line)}</li>" for line in exercise.forward_lines())
    return f'<ul class="gp-forward">{rows}</ul>'


def practice_html(
    exercise: Exercise, *, rankdir: str = "LR", digits: int = 4, embedded: bool = False
) -> str:
    """The practice page (or, ``embedded``, a block for a notebook output): self-contained and
    offline, the drawing, style, script and data inline."""
    e = html.escape
    prefix = f"gp{secrets.token_hex(4)}-" if embedded else "gp-"
    data = exercise.to_data()
    data["prefix"] = prefix
    data["key"] = storage_key(exercise)
    body = f"""<div class="gp-practice" id="{prefix}root">
<h2>Practice: {e(exercise.title)}</h2>
<p class="gp-help">Work the backward pass out by hand. For each edge, type the local derivative
∂node/∂child, then ∂L/∂child so far (after adding this edge's product), and press Enter.
Numbers like <code>0.5</code>, <code>1/2</code>, <code>-0.5*3</code>, <code>e</code>,
<code>pi</code>; three significant digits are enough. Type <code>?</code> for a hint,
<code>!</code> to see the answer.</p>
<div class="gp-drawing">{_drawing(exercise, rankdir, digits, prefix)}</div>
<div class="gp-work">
<div class="gp-main">
<p class="gp-seed">seed: {e(exercise.seed_line())}</p>
{_questions_table(exercise, digits)}
<div class="gp-feedback" role="status" aria-live="polite"></div>
<p class="gp-controls">
<button type="button" data-do="hint">Hint (?)</button>
<button type="button" data-do="reveal">Show the answer (!)</button>
<button type="button" data-do="restart">Start over</button>
<button type="button" data-do="print">Print my record</button>
<span class="gp-progress"></span></p>
</div>
<div class="gp-side"><h3>Forward pass (given)</h3>{_forward_table(exercise)}</div>
</div>
<section class="gp-record"><h3>Your record</h3>
<table><thead><tr><th>#</th><th>number</th><th>your answer</th><th>mistakes on the way</th>
</tr></thead><tbody></tbody></table><p class="gp-summary"></p></section>
<script type="application/json" class="gp-data">{_json_for_script(data)}</script>
<script>{_asset("practice.js")}
gradstepPractice(document.getElementById("{prefix}root"));</script>
</div>"""
    style = f"<style>{_asset('practice.css')}</style>"
    if embedded:
        return style + body
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gradstep practice: {e(exercise.title)}</title>
{style}
</head>
<body>
{body}
</body>
</html>
"""
