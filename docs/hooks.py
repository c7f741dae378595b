"""MkDocs hooks: gradstep writes the live stepper and practice pages into the site, and no
page loads anything from outside it.

The pages are built from gradstep at build time (never hand-edited): ``steppers/NAME.html``
is the self-contained page of `gradstep.viz.stepper.page_html`, ``practice/NAME.html`` that
of `gradstep.viz.practice_page.practice_html`; a docs page embeds one with
``<iframe class="gs-embed" src="../steppers/NAME.html">``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from gradstep import Value
from gradstep.demos.neuron import build_neuron
from gradstep.expr import parse
from gradstep.nn import MLP
from gradstep.viz.exercise import Exercise, practice
from gradstep.viz.explain import walkthrough
from gradstep.viz.levels import make_exercise
from gradstep.viz.practice_page import practice_html
from gradstep.viz.stepper import page_html

__all__ = [
    "STEPPERS",
    "PRACTICE",
    "stepper_pages",
    "practice_pages",
    "external_loads",
    "on_files",
    "on_post_page",
]


def _tanh_neuron() -> tuple[Value, str]:
    """L = tanh(w·x + b) at x = 0.5, w = -1.5, b = 0.2 (make demo's neuron)."""
    x, w, b = Value(0.5, label="x"), Value(-1.5, label="w"), Value(0.2, label="b")
    out = (w * x + b).tanh()
    out.label = "L"
    return out, "L = tanh(w·x + b)"


def _gates_neuron() -> tuple[Value, str]:
    """The cs231n neuron f = σ(w0·x0 + w1·x1 + w2), σ built from the slide's gates."""
    out, _ = build_neuron(gates=True)
    return out, "f = σ(w0·x0 + w1·x1 + w2) (elementary gates)"


def _network() -> tuple[Value, str]:
    """A 2-2-1 MLP (tanh hidden layer) on one point, squared error against the target 1."""
    model = MLP(2, [2, 1], activation="tanh", seed=1)
    loss = (model.output([1.0, -2.0]) - 1.0) ** 2
    loss.label = "L"
    return loss, "L = (MLP(2, [2, 1])(x) − 1)², x = (1, −2)"


#: the stepper pages the site carries: name → the graph and the page's title
STEPPERS: dict[str, Callable[[], tuple[Value, str]]] = {
    "tanh_neuron": _tanh_neuron,
    "neuron_gates": _gates_neuron,
    "network": _network,
}


def _used_twice() -> Exercise:
    """docs/practice.md's exercise: L = (a + b)·a at a = 2, b = -1 (a is used twice)."""
    root, _ = parse("(a + b) * a").build({"a": 2.0, "b": -1.0})
    root.label = "L"
    return practice(root, title="L = (a + b) * a   at a = 2, b = -1")


#: the practice pages the site carries: name → the exercise
PRACTICE: dict[str, Callable[[], Exercise]] = {
    "used_twice": _used_twice,
    "level5_seed3": lambda: make_exercise(5, 3),
}


def practice_pages() -> dict[str, str]:
    """Each practice page's site path (``practice/NAME.html``) and its page, by gradstep."""
    return {f"practice/{name}.html": practice_html(make()) for name, make in PRACTICE.items()}


def stepper_pages() -> dict[str, str]:
    """Each stepper's site path (``steppers/NAME.html``) and its page, made by gradstep."""
    pages = {}
    for name, build in STEPPERS.items():
        root, title = build()
        pages[f"steppers/{name}.html"] = page_html(walkthrough(root), title=title)
    return pages


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the stepper and practice pages to the site (also under ``mkdocs serve``)."""
    for path, html in {**stepper_pages(), **practice_pages()}.items():
        files.append(File.generated(config, path, content=html))
    return files


# An element that loads a resource (a script, an image, a frame...), a <link> that loads one
# (a style sheet, an icon, a preload; not rel="canonical", "next"...), and CSS's url(...):
# any of them pointing at another host makes the page go online.
_LOADS = re.compile(
    r"<(?:script|img|iframe|source|audio|video|embed)\b[^>]*?\bsrc\s*=\s*[\"']?([^\"'\s>]+)"
    r"|<link\b(?=[^>]*\brel\s*=\s*[\"']?[^\"'>]*\b(?:stylesheet|icon|preload|modulepreload|"
    r"prefetch|manifest)\b)[^>]*?\bhref\s*=\s*[\"']?([^\"'\s>]+)"
    r"|url\(\s*[\"']?([^\"')\s]+)",
    re.IGNORECASE,
)
_OUTSIDE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)

# nbconvert's notebook template always links MathJax from a CDN; the tutorial has no
# formulas for it to typeset, so the loader is left out
_MATHJAX = re.compile(
    r"<script\b[^>]*\bsrc=\"https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/[^\"]*\"[^>]*>\s*</script>"
)


def external_loads(html: str) -> list[str]:
    """The addresses outside the site that ``html`` would load (links to follow excepted)."""
    found = (next(group for group in m.groups() if group) for m in _LOADS.finditer(html))
    return [url for url in found if _OUTSIDE.match(url)]


def on_post_page(output: str, page: Page, config: MkDocsConfig, **kwargs: Any) -> str:
    """Drop nbconvert's MathJax loader; refuse a page that would load anything from outside."""
    output = _MATHJAX.sub("", output)
    outside = external_loads(output)
    if outside:
        raise PluginError(
            f"{page.file.src_uri} loads from outside the site (the docs must work offline): "
            + ", ".join(sorted(set(outside)))
        )
    return output
