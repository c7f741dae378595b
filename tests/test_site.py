"""The documentation site: built strictly, every public name in the API reference, and
opened in Chromium (served on 127.0.0.1): home, the API page of `Value`, a live stepper.

The tests of the built site need the docs extra (``pip install -e '.[docs]'``, marker
``docs``) and are slow (the build runs the tutorial notebook); the browser tests also need
Playwright and Chromium (marker ``browser``).
"""

from __future__ import annotations

import functools
import http.server
import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: the modules the API reference documents: every ``::: module`` line of docs/api/*.md
API_MODULES = sorted(
    line.removeprefix("::: ").strip()
    for page in (ROOT / "docs" / "api").glob("*.md")
    for line in page.read_text(encoding="utf-8").splitlines()
    if line.startswith("::: ")
)


def _mkdocs() -> None:
    for name in ("mkdocs", "material", "mkdocstrings", "mkdocs_jupyter"):
        pytest.importorskip(name, reason=f"{name} is missing: pip install -e '.[docs]'")


def _hooks() -> ModuleType:
    """docs/hooks.py, the site's MkDocs hooks, as a module."""
    _mkdocs()
    spec = importlib.util.spec_from_file_location("gradstep_docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built with ``mkdocs build --strict`` into a fresh folder."""
    _mkdocs()
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is missing: apt-get install graphviz")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return out


@pytest.mark.docs
@pytest.mark.slow
def test_every_public_name_has_its_entry_in_the_api_reference(site: Path) -> None:
    pages = "".join(p.read_text(encoding="utf-8") for p in (site / "api").rglob("*.html"))
    ids = set(re.findall(r'\bid="([\w.]+)"', pages))
    missing = [
        f"{name}.{member}"
        for name in API_MODULES
        for member in importlib.import_module(name).__all__
        if f"{name}.{member}" not in ids
    ]
    assert missing == [], f"not in the API reference: {missing}"


def test_every_public_module_has_its_place_in_the_api_reference() -> None:
    """A new public module gets a ``::: gradstep.module`` line in one of docs/api/*.md."""
    public = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "gradstep").rglob("*.py")
        if not any(part.startswith("_") for part in p.relative_to(ROOT).parts)
    )
    missing = sorted(set(public) - set(API_MODULES))
    assert missing == [], f"public modules missing from docs/api/*.md: {missing}"
    stale = sorted(set(API_MODULES) - set(public))
    assert stale == [], f"docs/api/*.md documents modules that do not exist: {stale}"


@pytest.mark.docs
@pytest.mark.slow
def test_the_stepper_and_practice_pages_are_gradsteps_own(site: Path) -> None:
    hooks = _hooks()
    for path, html in {**hooks.stepper_pages(), **hooks.practice_pages()}.items():
        built = (site / path).read_text(encoding="utf-8")
        assert built == html, path  # written by gradstep at build time, byte for byte


@pytest.mark.docs
def test_a_page_that_loads_from_outside_fails_the_build() -> None:
    hooks = _hooks()
    assert hooks.external_loads(
        '<script src="https://cdn.example.org/x.js"></script><a href="https://ok.example/">'
        '<link rel="stylesheet" href="//fonts.example.com/f.css"><img src="../a.png">'
        '<link rel="canonical" href="https://site.example/page/">'
        '<link href="https://icons.example/i.png" rel="icon">'
        "<style>p { background: url('https://t.example/p.gif') }</style>"
    ) == [
        "https://cdn.example.org/x.js",
        "//fonts.example.com/f.css",
        "https://icons.example/i.png",
        "https://t.example/p.gif",
    ]


class Quiet(http.server.SimpleHTTPRequestHandler):
    """Serves files without a log line per request."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The built site on http://127.0.0.1:PORT, as ``make docs-serve`` would serve it."""
    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


class Tab:
    """A tab that records the host of every request (any other than the site's is refused)."""

    def __init__(self, browser: Any, site: str) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.site_host = site.split("//", 1)[1]
        self.hosts: set[str] = set()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        url: str = route.request.url
        host = url.split("//", 1)[1].split("/", 1)[0] if "//" in url else url.split(":", 1)[0]
        self.hosts.add(host)
        if host == self.site_host or url.startswith(("data:", "about:", "blob:")):
            route.continue_()
        else:
            route.abort()

    def close(self) -> None:
        outside = self.hosts - {self.site_host, "data", "about", "blob"}
        assert outside == set(), f"requests left the site for: {sorted(outside)}"
        assert self.errors == [], f"script errors: {self.errors}"
        self.page.close()


@pytest.mark.docs
@pytest.mark.slow
@pytest.mark.browser
def test_home_page_and_its_stepper(browser: Any, served: str) -> None:
    tab = Tab(browser, served)
    tab.page.goto(served + "/")
    assert tab.page.title().startswith("gradstep")
    assert tab.page.locator("h1").first.inner_text().startswith("gradstep")
    frame = tab.page.frame_locator("iframe.gs-embed")
    assert frame.locator(".gs-counter").inner_text() == "step 0 / 5"
    tab.close()


@pytest.mark.docs
@pytest.mark.slow
@pytest.mark.browser
def test_the_api_page_of_value(browser: Any, served: str) -> None:
    tab = Tab(browser, served)
    tab.page.goto(served + "/api/engine/#gradstep.engine.Value")
    heading = tab.page.locator('[id="gradstep.engine.Value"]')
    assert heading.is_visible()
    assert "Value" in heading.inner_text()
    backward = tab.page.locator('[id="gradstep.engine.Value.backward"]')
    assert backward.count() == 1
    tab.close()


@pytest.mark.docs
@pytest.mark.slow
@pytest.mark.browser
def test_an_embedded_stepper_steps_with_the_arrow_keys(browser: Any, served: str) -> None:
    tab = Tab(browser, served)
    tab.page.goto(served + "/walkthrough/")
    frame = tab.page.frame_locator("iframe.gs-embed").first
    counter = frame.locator(".gs-counter")
    assert counter.inner_text() == "step 9 / 13"  # the address asks for step 9
    frame.locator(".gs-canvas").click()  # focus the stepper, as a reader would
    tab.page.keyboard.press("ArrowRight")
    tab.page.keyboard.press("ArrowRight")
    assert counter.inner_text() == "step 11 / 13"
    tab.page.keyboard.press("ArrowLeft")
    assert counter.inner_text() == "step 10 / 13"
    tab.page.keyboard.press("Home")
    assert counter.inner_text() == "step 0 / 13"
    tab.close()


@pytest.mark.docs
@pytest.mark.slow
@pytest.mark.browser
def test_the_tutorials_steppers_come_alive(browser: Any, served: str) -> None:
    """The notebook's inline steppers (its outputs, rendered at build time) run in the site."""
    tab = Tab(browser, served)
    tab.page.goto(served + "/tutorial/")
    tab.page.wait_for_selector(".gs-stepper[data-ready]")
    counts: list[int] = tab.page.evaluate(
        """() => [document.querySelectorAll('.gs-stepper').length,
                  document.querySelectorAll('.gs-stepper[data-ready]').length]"""
    )
    assert counts[0] >= 1 and counts[0] == counts[1], counts
    tab.close()


@pytest.mark.docs
@pytest.mark.slow
@pytest.mark.browser
def test_an_embedded_practice_page_checks_an_answer(browser: Any, served: str) -> None:
    tab = Tab(browser, served)
    tab.page.goto(served + "/practice/")
    frame = tab.page.frame_locator("iframe.gs-embed").first
    first = frame.locator('input[data-q="1"]')
    first.fill("3")  # ∂L/∂n1 = a = 2, not 3
    first.press("Enter")
    assert frame.locator(".gp-feedback").inner_text().startswith("wrong")
    first.fill("2")
    first.press("Enter")
    assert frame.locator(".gp-feedback").inner_text() == "right: ∂L/∂n1 = a = 2"
    tab.close()
