"""Step-by-step backprop: the forward and backward tables a student writes, from the engine.

`walkthrough(root)` records one backward pass (`gradstep.viz.records`) and returns a
`Walkthrough`, which composes the views of those records: text and Markdown tables, the
interactive page and its frames (`gradstep.viz.stepper`) and worksheets
(`gradstep.viz.worksheet`)::

    product = local ∂node/∂child × upstream ∂L/∂node;   ∂L/∂child so far += product
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from pathlib import Path

from gradstep.engine import Value
from gradstep.viz import stepper, worksheet
from gradstep.viz.drawing import GraphTooLargeError, GraphvizNotFoundError, draw_dot, to_svg
from gradstep.viz.records import (
    BACKWARD_HEADERS,
    BACKWARD_NUMERIC,
    FORWARD_HEADERS,
    FORWARD_NUMERIC,
    BackwardRecord,
    ForwardRecord,
    GradientSum,
    GradientTerm,
    NeuronStep,
    WalkRecords,
    local_formula,
    md_cell,
    md_table,
    text_table,
)

__all__ = [
    "walkthrough",
    "local_formula",
    "Walkthrough",
    "ForwardRecord",
    "BackwardRecord",
    "GradientTerm",
    "GradientSum",
    "NeuronStep",
    "text_table",
]


class Walkthrough(WalkRecords):
    """The recorded forward and backward tables of one backward pass (see `walkthrough`),
    and every way of showing them."""

    def __str__(self) -> str:
        return self.format_text()

    def _repr_markdown_(self) -> str:
        """Jupyter shows the walk-through as Markdown tables (where HTML is not shown)."""
        return self.format_markdown()

    # ---------------------------------------------------------------------------- tables

    def format_text(self, digits: int = 4) -> str:
        """The forward table, the backward table and each input's gradient sum, as aligned text."""
        parts = [
            "forward pass (children first)",
            text_table(FORWARD_HEADERS, self.forward_rows(digits), FORWARD_NUMERIC),
            "",
            "backward pass (visit order; product = local × upstream, added into ∂L/∂child)",
            self.seed_line(digits),
        ]
        if self.backward:
            parts.append(text_table(BACKWARD_HEADERS, self.backward_rows(digits), BACKWARD_NUMERIC))
        else:
            parts.append("(no edges: the root is an input)")
        parts += ["", "gradients of the inputs (sum over the nodes that use each)"]
        parts += [self.gradient_terms(v).format(digits) for v in self.inputs()]
        if self.constants():
            parts.append(self.constants_line())
        return "\n".join(parts)

    def format_markdown(self, digits: int = 4) -> str:
        """The same three sections as Markdown tables (GitHub flavoured)."""
        parts = [
            "**Forward pass** (children first)",
            "",
            md_table(FORWARD_HEADERS, self.forward_rows(digits), FORWARD_NUMERIC, frozenset({3})),
            "",
            "**Backward pass** (visit order; product = local × upstream, added into ∂L/∂child); "
            + self.seed_line(digits),
            "",
        ]
        if self.backward:
            parts.append(
                md_table(
                    BACKWARD_HEADERS,
                    self.backward_rows(digits),
                    BACKWARD_NUMERIC,
                    frozenset({2, 4}),
                )
            )
        else:
            parts.append("(no edges: the root is an input)")
        parts += ["", "**Gradients of the inputs** (sum over the nodes that use each)", ""]
        parts += [f"- {self.gradient_terms(v).format(digits)}" for v in self.inputs()]
        if self.constants():
            parts += ["", md_cell(self.constants_line())]
        return "\n".join(parts)

    # ---------------------------------------------------------------------------- drawing

    def draw(self, *, rankdir: str = "LR", digits: int = 4, show_grad: bool = True) -> str:
        """The graph as SVG text, named as the tables name it (a model's in short form)."""
        dot = draw_dot(
            self.root,
            rankdir=rankdir,
            names=self.short_names,
            show_grad=show_grad,
            digits=digits,
            tooltips=False,
        )
        svg = to_svg(dot)
        return svg[svg.find("<svg") :]

    # ---------------------------------------------------------------------------- frames

    def write_frames(
        self,
        directory: str | Path,
        *,
        rankdir: str = "LR",
        digits: int = 4,
        max_frames: int = stepper.MAX_FRAMES,
        max_nodes: int = 500,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Path]:
        """Write ``step_001.svg``, ``step_002.svg`` … (one per backward step) into ``directory``.

        The graph is laid out once and each frame restyles that drawing (the current edge and
        child in red, every grad as it stood then), so frames are fast and never jump.
        ``progress(k, n)`` is called after each frame is made.
        """
        svgs = stepper.frame_svgs(
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
        max_steps: int = stepper.MAX_PAGE_STEPS,
        max_nodes: int = 500,
        title: str | None = None,
        reveal: str = "step",
        view: str = "auto",
    ) -> str:
        """The interactive page as text: the graph drawn once beside the forward and backward
        tables; ←/→, Home/End or a click on a row move between steps (see `write_html`)."""
        return stepper.page_html(
            self,
            rankdir=rankdir,
            digits=digits,
            max_steps=max_steps,
            max_nodes=max_nodes,
            title=title,
            reveal=reveal,
            view=view,
        )

    def write_html(
        self,
        path: str | Path,
        *,
        rankdir: str = "LR",
        digits: int = 4,
        max_steps: int = stepper.MAX_PAGE_STEPS,
        max_nodes: int = 500,
        title: str | None = None,
        reveal: str = "step",
        view: str = "auto",
    ) -> Path:
        """Write the interactive page: one self-contained, offline HTML file.

        The drawing is laid out once; step k lights its edge, child and node there and its
        row in the tables, and shows ``∂node/∂child = formula = number`` and, once a value
        has all its contributions, its sum over parents.  The URL fragment (``#step=5``)
        keeps the step.  ``reveal="step"`` (the default) shows a row's numbers only once its
        step is reached, ``"all"`` shows every answer (a toggle on the page switches).
        ``view="neurons"`` steps a model neuron by neuron (a click opens one into its
        edges), ``"edges"`` edge by edge; ``"auto"``: neurons when the graph has any.
        More than ``max_steps`` steps raise `TooManyStepsError`.
        """
        text = self.to_html(
            rankdir=rankdir,
            digits=digits,
            max_steps=max_steps,
            max_nodes=max_nodes,
            title=title,
            reveal=reveal,
            view=view,
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
        columns = worksheet.parse_blank(blank)
        out = Path(path)
        kind = out.suffix.lower()
        if kind not in (".md", ".html", ".htm"):
            raise ValueError(f"a worksheet is .md or .html, but the path {str(out)!r} is not")
        svg = self.draw(rankdir=rankdir, digits=digits, show_grad=False) if drawing else None
        if kind == ".md":
            written = []
            picture = None
            if svg is not None:
                picture = out.with_suffix(".svg")
                picture.write_text(svg, encoding="utf-8")
                written.append(picture)
            text = worksheet.worksheet_markdown(
                self,
                blank=columns,
                digits=digits,
                title=title,
                drawing=picture.name if picture else None,
            )
            out.write_text(text, encoding="utf-8")
            return [out, *written]
        text = worksheet.worksheet_html(self, blank=columns, digits=digits, title=title, svg=svg)
        out.write_text(text, encoding="utf-8")
        return [out]

    def _repr_html_(self) -> str:
        """Jupyter shows the stepper inline (plain HTML and script; its ids are unique), with
        a static copy (drawing and tables) for a notebook shown without running its scripts."""
        try:
            return stepper.page_html(self, embedded=True)
        except (stepper.TooManyStepsError, GraphTooLargeError, GraphvizNotFoundError) as error:
            note = html.escape(f"(no interactive stepper: {error})")
            return f"<p><em>{note}</em></p>\n<pre>{html.escape(self.format_text())}</pre>"


def walkthrough(root: Value, zero_grad: bool = True, *, name: str | None = None) -> Walkthrough:
    """Run ``root.backward(record=...)`` once and keep the engine's numbers as two tables.

    With ``zero_grad`` (the default) every grad in the graph is set to 0 first, so the
    tables show this pass alone; with ``zero_grad=False`` inputs keep what earlier passes
    accumulated (shown as the ``initial`` of their gradient sums), as ``backward()`` does.
    ``name`` is what the tables and the title call the root (``"loss"``); by default its
    label, its name in a `gradstep.nn` model, or ``n…``.
    """
    return Walkthrough.record(root, zero_grad, name)
