"""Practice on paper: several exercises as one worksheet, each with its answer key (the
worksheets of `gradstep.viz.worksheet`, blanking the numbers practice asks for)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from gradstep.viz.drawing import GraphvizNotFoundError, draw_dot, to_svg
from gradstep.viz.exercise import Exercise
from gradstep.viz.worksheet import worksheet_html, worksheet_markdown

__all__ = ["PRACTICE_BLANK", "write_practice_worksheet"]

#: the columns left blank: what practice asks (local, ∂L/∂child so far) and the product,
#: which would give the local derivative away (product ÷ upstream)
PRACTICE_BLANK = ("local", "product", "grad")


def _svg(exercise: Exercise) -> str | None:
    """The exercise's drawing without gradients, or None without Graphviz."""
    walk = exercise.walk
    dot = draw_dot(walk.root, names=walk.names, show_grad=False, tooltips=False)
    try:
        svg = to_svg(dot)
    except GraphvizNotFoundError:
        return None
    return svg[svg.find("<svg") :]


def _body(page: str) -> str:
    """What is between ``<body>`` and ``</body>`` of a worksheet page."""
    match = re.search(r"<body>(.*)</body>", page, re.S)
    if match is None:
        raise ValueError("a worksheet page without a <body>")
    return match.group(1)


def write_practice_worksheet(exercises: Sequence[Exercise], path: str | Path) -> list[Path]:
    """Write ``exercises`` to one worksheet (``.md``, drawings beside it as ``.svg``, or one
    printable ``.html``), each followed by its answer key on a page of its own."""
    out = Path(path)
    if out.suffix.lower() == ".md":
        parts, written = [], []
        for n, exercise in enumerate(exercises, start=1):
            svg = _svg(exercise)
            picture = None
            if svg is not None:
                picture = out.with_name(f"{out.stem}_{n}.svg")
                picture.write_text(svg, encoding="utf-8")
                written.append(picture)
            parts.append(
                worksheet_markdown(
                    exercise.walk,
                    blank=PRACTICE_BLANK,
                    title=f"exercise {n}: {exercise.title}",
                    drawing=picture.name if picture else None,
                )
            )
        out.write_text("\n\n".join(parts), encoding="utf-8")
        return [out, *written]
    pages = [
        worksheet_html(
            exercise.walk,
            blank=PRACTICE_BLANK,
            title=f"exercise {n}: {exercise.title}",
            svg=_svg(exercise),
        )
        for n, exercise in enumerate(exercises, start=1)
    ]
    first = pages[0]
    head = first[: first.index("<body>") + len("<body>")]
    breaks = '\n<div style="break-before: page; page-break-before: always"></div>\n'
    out.write_text(
        head + breaks.join(_body(page) for page in pages) + "</body>\n</html>\n", encoding="utf-8"
    )
    return [out]
