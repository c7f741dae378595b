"""The Python examples of README.md and of every docs/*.md page print what the page shows.

Each page's ```python blocks run in order in one namespace, as a reader would run them
(later blocks continue earlier ones), in a fresh folder.  A page marks what a line prints
with ``# prints TEXT`` (after the ``print(...)`` or on the next line; ``# `` lines right
after it continue a multi-line output; three spaces end the printed text and start a
remark), and the error a block stops with as a comment ``# NameError: message`` (continued
on the next ``#`` lines).  The other command-line outputs are checked where their commands
are tested (tests/test_cli.py, tests/test_engines.py's report card).  Blocks that import
torch run in their own test, marked ``torch``.  Pages whose examples train a model for
seconds are listed in `SLOW_PAGES` (``make test-all`` runs them).
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
#: every page with examples: README first, then the docs pages
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
#: pages whose examples train models (seconds of CPU): marked slow
SLOW_PAGES = {"networks.md", "performance.md"}
PRINTS = re.compile(r"#\s*prints (.*)$")
ERROR = re.compile(r"^#\s*(\w+(?:Error|Exception)): (.*)$")


@dataclass
class Block:
    """One ```python block: its code, the lines it must print, the error it must raise."""

    line: int
    code: str
    printed: list[list[str]] = field(default_factory=list)
    error: str | None = None


def _shown_text(text: str) -> str:
    """What a ``# prints`` comment shows: up to a remark set off by three spaces."""
    return text.split("   ", 1)[0].rstrip()


def page_blocks(page: Path = README) -> list[Block]:
    """Every ```python block of a page with the outputs its comments show."""
    text = page.read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        block = Block(text.count("\n", 0, match.start()) + 2, match[1])
        lines = match[1].splitlines()
        for i, line in enumerate(lines):
            shown = PRINTS.search(line)
            if shown:
                expected = [_shown_text(shown[1])]
                for more in lines[i + 1 :]:
                    if not more.startswith("# ") or PRINTS.search(more):
                        break
                    expected.append(more[2:])
                block.printed.append(expected)
            failed = ERROR.match(line)
            if failed:
                message = [f"{failed[1]}: {failed[2]}"]
                for more in lines[i + 1 :]:
                    if not more.startswith("#"):
                        break
                    message.append(more.lstrip("# "))
                block.error = " ".join(" ".join(message).split())
        blocks.append(block)
    return blocks


def _needs_torch(block: Block) -> bool:
    return "import torch" in block.code


def _run(page: str, block: Block, namespace: dict[str, object]) -> None:
    """Run one block in the page's namespace; compare its output with the page's comments."""
    out = io.StringIO()
    raised: BaseException | None = None
    with contextlib.redirect_stdout(out):
        try:
            exec(compile(block.code, f"{page}:{block.line}", "exec"), namespace)
        except Exception as error:  # compared with the page's comment below
            raised = error
    where = f"{page}, the block at line {block.line}"
    if block.error is None:
        if raised is not None:
            raise AssertionError(f"{where} raised {raised!r}; {page} shows no error") from raised
    else:
        got = " ".join(f"{type(raised).__name__}: {raised}".split()) if raised else "no error"
        assert got == block.error, f"{where}: {page} shows\n  {block.error}\ngot\n  {got}"
    printed = out.getvalue().splitlines()
    for expected in block.printed:
        n = len(expected)
        found = any(printed[i : i + n] == expected for i in range(len(printed) - n + 1))
        shown, got = "\n  ".join(expected), "\n  ".join(printed)
        assert found, f"{where}: {page} shows it prints\n  {shown}\nbut it printed\n  {got}"


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def _page_params(torch: bool) -> list[Any]:
    """The pages that have blocks of the kind asked for, the slow ones marked."""
    params = []
    for page in PAGES:
        if any(_needs_torch(b) == torch for b in page_blocks(page)):
            marks = [pytest.mark.slow] if page.name in SLOW_PAGES else []
            params.append(pytest.param(page, id=_name(page), marks=marks))
    return params


def test_the_pages_show_outputs_to_check() -> None:
    blocks = [block for page in PAGES for block in page_blocks(page)]
    assert sum(len(b.printed) for b in blocks) >= 15, [b.printed for b in blocks]
    assert sum(b.error is not None for b in blocks) >= 3
    assert page_blocks(README), "README.md has no Python example"


@pytest.mark.parametrize("page", _page_params(torch=False))
def test_python_blocks_print_what_the_page_shows(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All blocks but PyTorch's, in order in one namespace (later ones continue earlier ones)."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is missing (the pages' drawing examples render)")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for block in page_blocks(page):
        if not _needs_torch(block):
            _run(_name(page), block, namespace)


@pytest.mark.torch
@pytest.mark.parametrize("page", _page_params(torch=True))
def test_pytorch_blocks_print_what_the_page_shows(
    page: Path, torch: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for block in page_blocks(page):
        if _needs_torch(block):
            _run(_name(page), block, {"__name__": "docs_example"})


def _github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, - for spaces."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_readmes_links_reach_files_and_headings_that_exist() -> None:
    """README is read on GitHub, outside the site's strict build: its links are checked here."""
    text = README.read_text(encoding="utf-8")
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        page = ROOT / path if path else README
        if not page.exists():
            broken.append(f"{target}: no file {path}")
        elif anchor and page.suffix == ".md":
            headings = re.findall(r"^#+ (.*)$", page.read_text(encoding="utf-8"), re.MULTILINE)
            if anchor not in {_github_anchor(h) for h in headings}:
                broken.append(f"{target}: {path or 'README.md'} has no heading #{anchor}")
    assert broken == [], "README links that go nowhere:\n  " + "\n  ".join(broken)
