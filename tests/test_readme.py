"""README.md's Python examples, run in order as a reader would, print what README shows.

README marks what a line prints with ``# prints TEXT`` (after the ``print(...)`` or on the
next line; ``# `` lines right after it continue a multi-line output; three spaces end the
printed text and start a remark), and the error a block stops with as a comment
``# NameError: message`` (continued on the next ``#`` lines). The other command-line
outputs are checked where their commands are tested (tests/test_cli.py,
tests/test_engines.py's report card).
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"
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


def readme_blocks() -> list[Block]:
    """Every ```python block of README.md with the outputs its comments show."""
    text = README.read_text(encoding="utf-8")
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


def _run(block: Block, namespace: dict[str, object]) -> None:
    """Run one block in the shared namespace; compare its output with README's comments."""
    out = io.StringIO()
    raised: BaseException | None = None
    with contextlib.redirect_stdout(out):
        try:
            exec(compile(block.code, f"README.md:{block.line}", "exec"), namespace)
        except Exception as error:  # compared with README's comment below
            raised = error
    where = f"README.md, the block at line {block.line}"
    if block.error is None:
        if raised is not None:
            raise AssertionError(f"{where} raised {raised!r}; README shows no error") from raised
    else:
        got = " ".join(f"{type(raised).__name__}: {raised}".split()) if raised else "no error"
        assert got == block.error, f"{where}: README shows\n  {block.error}\ngot\n  {got}"
    printed = out.getvalue().splitlines()
    for expected in block.printed:
        n = len(expected)
        found = any(printed[i : i + n] == expected for i in range(len(printed) - n + 1))
        shown, got = "\n  ".join(expected), "\n  ".join(printed)
        assert found, f"{where}: README shows it prints\n  {shown}\nbut it printed\n  {got}"


def test_the_readme_shows_outputs_to_check() -> None:
    blocks = readme_blocks()
    assert sum(len(b.printed) for b in blocks) >= 15, [b.printed for b in blocks]
    assert sum(b.error is not None for b in blocks) >= 3


@pytest.mark.slow
def test_readme_python_blocks_print_what_readme_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All blocks but PyTorch's, in order in one namespace (later ones continue earlier ones)."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is missing (README's drawing example renders)")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme"}
    for block in readme_blocks():
        if not _needs_torch(block):
            _run(block, namespace)
    assert (tmp_path / "steps.html").is_file() and (tmp_path / "y.svg").is_file()


@pytest.mark.torch
def test_readme_pytorch_blocks_print_what_readme_shows(
    torch: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    torch_blocks = [block for block in readme_blocks() if _needs_torch(block)]
    assert torch_blocks
    for block in torch_blocks:
        _run(block, {"__name__": "readme"})
