"""docs/how-it-works.md quotes gradstep's own code: every quote must still match its file."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "how-it-works.md"
#: ```python gradstep/engine.py  … ```: a block quoted from that file
QUOTE = re.compile(r"^```python (\S+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
#: ```python … ```: an example to run
EXAMPLE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def quotes() -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in QUOTE.finditer(PAGE.read_text(encoding="utf-8"))]


def test_every_quote_is_the_code_in_its_file() -> None:
    found = quotes()
    assert len(found) >= 10, found
    for path, code in found:
        source = (ROOT / path).read_text(encoding="utf-8")
        assert code in source, f"docs/how-it-works.md quotes {path}, which no longer has:\n{code}"


def test_the_core_idea_is_under_150_lines_of_code() -> None:
    lines = sum(code.count("\n") for _, code in quotes())
    assert 100 <= lines < 150, f"{lines} lines of quoted code"


def test_the_quotes_cover_value_a_record_and_backward() -> None:
    code = "\n".join(c for _, c in quotes())
    for needed in ("class Value:", "TANH = OpSpec(", "def backward(", "def chain_rule(",
                   "def topological_order(", "child.grad += product"):  # fmt: skip
        assert needed in code, needed


def test_the_example_prints_what_the_page_says() -> None:
    (example,) = EXAMPLE.findall(PAGE.read_text(encoding="utf-8"))
    shown = re.search(r"# prints (.*)$", example, re.MULTILINE)
    assert shown is not None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example, str(PAGE), "exec"), {"__name__": "how_it_works"})
    assert out.getvalue().strip() == shown[1]


def test_readme_and_the_tutorial_link_to_the_page() -> None:
    assert "(docs/how-it-works.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    notebook = json.loads((ROOT / "docs" / "tutorial.ipynb").read_text(encoding="utf-8"))
    markdown = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown"]
    assert any("(how-it-works.md)" in text for text in markdown)
