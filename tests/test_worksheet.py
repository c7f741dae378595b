"""Tests for worksheets: the right cells blank, the answer key complete and on its own page."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gradstep import Value
from gradstep.viz.explain import walkthrough
from gradstep.viz.worksheet import BLANKABLE, parse_blank

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")
NEURON = ["tanh(w*x + b)", "x=0.5", "w=-1.5", "b=0.2"]
BLANK = r"\_\_\_\_\_\_"


def neuron() -> Value:
    w, x, b = Value(-1.5, label="w"), Value(0.5, label="x"), Value(0.2, label="b")
    out = (w * x + b).tanh()
    out.label = "L"
    return out


def backward_rows(markdown: str) -> list[list[str]]:
    """The cells of each backward-table row (the 9-column table) of a Markdown section."""
    rows = []
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| ") and len(cells) == 9 and cells[0].isdigit():
            rows.append(cells)
    return rows


def split_key(text: str) -> tuple[str, str]:
    sheet, _, key = text.partition('<div style="page-break-before: always; break-before: page">')
    assert key, "no page break before the answer key"
    return sheet, key


@needs_dot
def test_markdown_worksheet_leaves_the_chosen_columns_blank(tmp_path: Path) -> None:
    wt = walkthrough(neuron())
    written = wt.write_worksheet(tmp_path / "ws.md", blank="local,grad")
    assert [p.name for p in written] == ["ws.md", "ws.svg"]
    svg = (tmp_path / "ws.svg").read_text(encoding="utf-8")
    assert ">data &#45;0.75<" in svg and ">grad" not in svg  # values given, gradients not
    sheet, key = split_key((tmp_path / "ws.md").read_text(encoding="utf-8"))
    assert "![the graph, without gradients](ws.svg)" in sheet
    rows = backward_rows(sheet)
    assert len(rows) == 5
    for row, r in zip(rows, wt.backward, strict=True):
        # step node op child formula | local upstream product so-far
        assert row[5] == BLANK and row[8] == BLANK, row
        assert row[6] == f"{float(f'{r.upstream:.4g}'):g}" and row[7] != BLANK
        assert row[4] == f"`{r.formula}`"
    assert sheet.count(BLANK) == 5 * 2 + 3  # two columns of five rows, three input gradients
    assert "- ∂L/∂w = " + BLANK in sheet
    # the key: every number, and each input's sum over its parents
    assert BLANK not in key
    key_rows = backward_rows(key)
    assert [row[5:] for row in key_rows][4] == ["-1.5", "0.7495", "-1.124", "-1.124"]
    assert "∂L/∂x = ∂L/∂n1·∂n1/∂x = 0.7495 × (-1.5) = -1.124" in key


@pytest.mark.parametrize(
    ("blank", "hidden"),
    [
        ("local,upstream,product,grad", {5, 6, 7, 8}),
        ("upstream", {6}),
        ("product", {7}),
        ("", set()),
    ],
)
def test_each_column_can_be_blanked_alone_or_together(blank: str, hidden: set[int]) -> None:
    from gradstep.viz.worksheet import worksheet_markdown

    sheet, _ = split_key(worksheet_markdown(walkthrough(neuron()), blank=parse_blank(blank)))
    for row in backward_rows(sheet):
        assert {i for i, cell in enumerate(row) if cell == BLANK} == hidden, row


def test_unknown_blank_names_are_refused() -> None:
    assert parse_blank(" grad , local") == ("local", "grad")  # in table order
    with pytest.raises(
        ValueError,
        match=r"cannot leave 'value' blank; choose from "
        r"local,upstream,product,grad",
    ):
        parse_blank("value,grad")
    assert parse_blank(list(BLANKABLE)) == BLANKABLE


@needs_dot
def test_html_worksheet_is_printable_with_the_key_on_its_own_page(tmp_path: Path) -> None:
    wt = walkthrough(neuron())
    [path] = wt.write_worksheet(tmp_path / "ws.html", blank=["product"])
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 1
    assert ".key { break-before: page; page-break-before: always; }" in page
    sheet, _, key = page.partition('<section class="key">')
    assert sheet.count('<td class="blank"></td>') == 5
    assert key.count('<td class="blank">') == 0
    assert '<td class="num">0.3747</td>' in key  # the product of step 4
    assert not re.search(r"""(src|href)=["']|<script|<link|url\(""", page)


@pytest.mark.slow
@needs_dot
def test_the_command_writes_worksheets(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gradstep", "explain", *NEURON, *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    ok = run("--worksheet", "sheet.md", "--blank", "grad")
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr.splitlines() == ["wrote sheet.md", "wrote sheet.svg"]
    text = (tmp_path / "sheet.md").read_text(encoding="utf-8")
    assert text.startswith("# Worksheet: L = tanh(w\\*x + b) at w = -1.5, x = 0.5, b = 0.2")
    assert run("--worksheet", "sheet.html").returncode == 0
    bad = run("--worksheet", "sheet.txt")
    assert bad.returncode == 2
    assert "--worksheet writes a .md or .html file, but the path 'sheet.txt' ends in '.txt'" in (
        bad.stderr
    )
    unknown = run("--worksheet", "s.md", "--blank", "local,everything")
    assert unknown.returncode == 2 and "cannot leave 'everything' blank" in unknown.stderr


@needs_dot
def test_a_models_worksheet_names_its_values_as_the_model_does(tmp_path: Path) -> None:
    from gradstep.nn import MLP

    model = MLP(2, [2, 1], seed=4)
    loss = (model.output([1.0, -2.0]) - 0.5) ** 2
    wt = walkthrough(loss, name="loss")
    sheet, picture = wt.write_worksheet(tmp_path / "mlp.md", blank="product,grad")
    text = sheet.read_text(encoding="utf-8")
    assert text.startswith("# Worksheet: backward pass of loss = (layer1.neuron0.z - 0.5)\\*\\*2")
    rows = backward_rows(split_key(text)[0])
    assert len(rows) == len(wt.backward)
    for row, r in zip(rows, wt.backward, strict=True):  # names in full; product and so far blank
        assert row[1].replace("\\", "") == r.node and row[3].replace("\\", "") == r.child
        assert row[7] == row[8] == BLANK
    for name, _ in model.named_parameters():
        assert f"- ∂L/∂{name} = {BLANK}" in text  # the inputs' gradients, blank
    svg = picture.read_text(encoding="utf-8")
    assert ">l0n1.w0<" in svg and ">layer0.neuron1<" in svg  # short names, clusters in full
