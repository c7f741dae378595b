"""Worksheets for teachers: a walk-through's tables with the numbers to work out left blank,
and the answer key on a page of its own (Markdown, or printable HTML).

    learner fills in:  local ∂node/∂child × upstream ∂L/∂node = product → ∂L/∂child so far
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from gradstep.viz.naming import format_number, in_formula
from gradstep.viz.records import (
    BACKWARD_HEADERS,
    BACKWARD_NUMERIC,
    FORWARD_HEADERS,
    FORWARD_NUMERIC,
    WalkRecords,
    md_cell,
    md_table,
)

__all__ = ["BLANKABLE", "parse_blank", "worksheet_markdown", "worksheet_html"]

#: the backward-table columns a worksheet can leave blank ("grad": ∂L/∂child so far, and the
#: inputs' gradients)
BLANKABLE = ("local", "upstream", "product", "grad")
_COLUMN = {"local": 5, "upstream": 6, "product": 7, "grad": 8}  # in the backward table
_BLANK_CELL = "\\_\\_\\_\\_\\_\\_"  # a Markdown blank: ______ written so it is not emphasis
_CODE_FORWARD = frozenset({3})  # the expression column, as code
_CODE_BACKWARD = frozenset({2, 4})  # op and formula
_INSTRUCTIONS = (
    "Work backward from the seed, one edge per row: the local gradient ∂node/∂child "
    "(the formula, with the forward values) times the upstream gradient ∂L/∂node gives the "
    "product, which is added into ∂L/∂child. A value used by several nodes sums one product "
    "per use (the chain rule); its gradient is complete after its last row."
)


def parse_blank(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"local,grad"`` → ``("local", "grad")``; an unknown name raises `ValueError`."""
    names = [t.strip() for t in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in BLANKABLE]
    if unknown:
        raise ValueError(
            f"cannot leave {', '.join(map(repr, unknown))} blank; choose from "
            + ",".join(BLANKABLE)
        )
    return tuple(n for n in BLANKABLE if n in names)


def _rows(walk: WalkRecords, digits: int, blank: Sequence[str]) -> list[list[str | None]]:
    """The backward rows with blank cells as None."""
    hidden = {_COLUMN[b] for b in blank}
    return [
        [None if i in hidden else cell for i, cell in enumerate(row)]
        for row in walk.backward_rows(digits)
    ]


def _gradients(walk: WalkRecords, digits: int, blank: bool) -> list[tuple[str, str | None]]:
    """Each input's name and gradient (None when left blank)."""
    return [
        (walk.names[v], None if blank else format_number(v.grad, digits)) for v in walk.inputs()
    ]


# ---------------------------------------------------------------------------------------
# Markdown


def _md_tables(walk: WalkRecords, digits: int, blank: Sequence[str]) -> list[str]:
    forward = md_table(FORWARD_HEADERS, walk.forward_rows(digits), FORWARD_NUMERIC, _CODE_FORWARD)
    backward = md_table(
        BACKWARD_HEADERS, _rows(walk, digits, blank), BACKWARD_NUMERIC, _CODE_BACKWARD, _BLANK_CELL
    )
    grads = [
        f"- ∂L/∂{in_formula(name)} = {grad if grad is not None else _BLANK_CELL}"
        for name, grad in _gradients(walk, digits, "grad" in blank)
    ]
    return [
        "**Forward pass** (given)",
        "",
        forward,
        "",
        f"**Backward pass** ({walk.seed_line(digits)})",
        "",
        backward if walk.backward else "(no edges: the root is an input)",
        "",
        "**Gradients of the inputs**",
        "",
        *grads,
    ]


def worksheet_markdown(
    walk: WalkRecords,
    *,
    blank: Sequence[str] = BLANKABLE,
    digits: int = 4,
    title: str | None = None,
    drawing: str | None = None,
) -> str:
    """The worksheet as Markdown: the drawing (a file name, if given), the tables with the
    ``blank`` columns left blank, then the answer key after a page break."""
    heading = md_cell(title or walk.title())
    picture = [f"![the graph, without gradients]({drawing})", ""] if drawing else []
    key = [
        '<div style="page-break-before: always; break-before: page"></div>',
        "",
        f"## Answer key: {heading}",
        "",
        *_md_tables(walk, digits, ()),
        "",
        "**Each input's gradient as a sum over the nodes that use it**",
        "",
        *(f"- {walk.gradient_terms(v).format(digits)}" for v in walk.inputs()),
    ]
    blanks = ", ".join(blank) if blank else "nothing"
    return "\n".join(
        [
            f"# Worksheet: {heading}",
            "",
            _INSTRUCTIONS + f" Left blank: {blanks}.",
            "",
            *picture,
            *_md_tables(walk, digits, blank),
            "",
            *key,
            "",
        ]
    )


# ---------------------------------------------------------------------------------------
# HTML


_STYLE = """
body { font: 14px/1.45 Helvetica, Arial, sans-serif; color: #111; margin: 2em; }
h1 { font-size: 20px; } h2 { font-size: 17px; margin-top: 1.4em; }
table { border-collapse: collapse; margin: 0.4em 0 1em; }
th, td { border: 1px solid #999; padding: 0.25em 0.55em; }
th { background: #f0f0f0; font-size: 12px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.blank { min-width: 6em; height: 2em; background: #fff; }
td.blank::after { content: "\\00a0"; }
.drawing svg { max-width: 100%; height: auto; }
.key { break-before: page; page-break-before: always; }
.note { color: #444; }
@media print { body { margin: 0; } .drawing svg { max-height: 45vh; } tr { break-inside: avoid; } }
"""


def _html_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str | None]],
    numeric: frozenset[int],
    code: frozenset[int],
) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if cell is None:
                cells.append('<td class="blank"></td>')
                continue
            text = f"<code>{e(cell)}</code>" if i in code and cell else e(cell)
            cells.append(f'<td class="num">{text}</td>' if i in numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html_tables(walk: WalkRecords, digits: int, blank: Sequence[str]) -> str:
    e = html.escape
    forward = _html_table(
        FORWARD_HEADERS, walk.forward_rows(digits), FORWARD_NUMERIC, _CODE_FORWARD
    )
    backward = (
        _html_table(BACKWARD_HEADERS, _rows(walk, digits, blank), BACKWARD_NUMERIC, _CODE_BACKWARD)
        if walk.backward
        else "<p>(no edges: the root is an input)</p>"
    )
    grads = "".join(
        f"<li>∂L/∂{e(in_formula(name))} = "
        + (e(grad) if grad is not None else '<span class="blank-line">__________</span>')
        + "</li>"
        for name, grad in _gradients(walk, digits, "grad" in blank)
    )
    return (
        f"<h2>Forward pass (given)</h2>{forward}"
        f"<h2>Backward pass</h2><p>{e(walk.seed_line(digits))}</p>{backward}"
        f"<h2>Gradients of the inputs</h2><ul>{grads}</ul>"
    )


def worksheet_html(
    walk: WalkRecords,
    *,
    blank: Sequence[str] = BLANKABLE,
    digits: int = 4,
    title: str | None = None,
    svg: str | None = None,
) -> str:
    """The worksheet as one printable, self-contained HTML page; the answer key starts a new
    printed page."""
    e = html.escape
    heading = title or walk.title()
    blanks = ", ".join(blank) if blank else "nothing"
    drawing = f'<div class="drawing">{svg}</div>' if svg else ""
    sums = "".join(f"<li>{e(walk.gradient_terms(v).format(digits))}</li>" for v in walk.inputs())
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Worksheet: {e(heading)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>Worksheet: {e(heading)}</h1>
<p class="note">{e(_INSTRUCTIONS)} Left blank: {e(blanks)}.</p>
{drawing}
{_html_tables(walk, digits, blank)}
<section class="key">
<h1>Answer key: {e(heading)}</h1>
{_html_tables(walk, digits, ())}
<h2>Each input's gradient as a sum over the nodes that use it</h2>
<ul>{sums}</ul>
</section>
</body>
</html>
"""
