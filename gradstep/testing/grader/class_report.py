"""The class report of `grade_all`: a terminal table, a CSV and a self-contained HTML page.

The CSV has one row per submission and one column per check (its status); the page has the
same grid (each cell's detail on hover) and every submission's report card below it.
"""

from __future__ import annotations

import csv
import html
import io
import textwrap
from pathlib import Path

from gradstep.testing.grader.checks import CheckResult
from gradstep.testing.grader.classroom import LETTER, ClassReport, Graded

__all__ = ["format_table", "write_csv", "write_html"]


def _failing(graded: Graded) -> str:
    """The failing rows' titles, or why the engine could not be checked."""
    if graded.report is None:
        return graded.error.replace(graded.submission.target, graded.submission.name)
    return ", ".join(row.title for row in graded.report.failed) or "-"


def _score(graded: Graded) -> str:
    """``31/34`` (rows passed of rows judged), or ``error``."""
    if graded.report is None:
        return "error"
    passed, judged = graded.score
    return f"{passed}/{judged}"


def format_table(report: ClassReport, width: int = 100) -> str:
    """One line per submission: its score, time and failing rows; then the totals."""
    name_width = min(40, max([len("submission")] + [len(g.submission.name) for g in report.graded]))
    head = f"  {'submission':<{name_width}}  {'score':>7}  {'time':>6}  "
    lines = [head + "failing rows (or why it could not be checked)"]
    for graded in report.graded:
        name = graded.submission.name
        name = name if len(name) <= name_width else "…" + name[-name_width + 1 :]
        left = f"  {name:<{name_width}}  {_score(graded):>7}  {graded.seconds:>5.1f}s  "
        wrapped = textwrap.wrap(
            _failing(graded), max(30, width - len(left)), break_on_hyphens=False
        ) or [""]
        lines.append(left + wrapped[0])
        lines += [" " * len(left) + more for more in wrapped[1:]]
    counts = report.counts()
    n = len(report.graded)
    lines += [
        "",
        f"{n} submissions: {counts['pass']} pass, {counts['fail']} fail, {counts['error']} "
        f"could not be checked ({report.seconds:.1f} s, {report.jobs} at a time)",
    ]
    return "\n".join(lines)


def _row(graded: Graded, check_id: str) -> CheckResult | None:
    """The submission's row for one check, if it ran."""
    if graded.report is None:
        return None
    return next((row for row in graded.report.rows if row.id == check_id), None)


def csv_text(report: ClassReport) -> str:
    """The CSV: submission, target, status, passed, judged, seconds, error, then every check."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["submission", "target", "status", "passed", "judged", "seconds", "error"]
        + [spec.id for spec in report.checks]
    )
    for graded in report.graded:
        passed, judged = graded.score
        cells = []
        for spec in report.checks:
            row = _row(graded, spec.id)
            cells.append(row.status if row is not None else "")
        writer.writerow(
            [
                graded.submission.name,
                graded.submission.target,
                graded.status,
                passed,
                judged,
                f"{graded.seconds:.2f}",
                graded.error,
                *cells,
            ]
        )
    return out.getvalue()


def write_csv(report: ClassReport, path: str | Path) -> Path:
    """Write the CSV (UTF-8); return its path."""
    target = Path(path)
    target.write_text(csv_text(report), encoding="utf-8")
    return target


_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
th.check { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal; }
td.s { text-align: center; font-family: monospace; }
.PASS { background: #d9f2d9; } .FAIL { background: #f7c8c8; font-weight: bold; }
.UNSUPPORTED { background: #eee; } .SKIP { background: #fff3c4; } .INFO { background: #dde8f7; }
.error { background: #f7c8c8; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; }
section { margin-top: 2em; border-top: 2px solid #ddd; }
td.detail { max-width: 60em; }
"""


def _grid(report: ClassReport) -> list[str]:
    """The summary table: a row per submission, a column per check, a letter per status."""
    e = html.escape
    head = ["<th>submission</th>", "<th>score</th>", "<th>time</th>"]
    head += [
        f'<th class="check" title="{e(spec.id)}">{e(spec.title)}</th>' for spec in report.checks
    ]
    lines = ["<table>", "<tr>" + "".join(head) + "</tr>"]
    for k, graded in enumerate(report.graded):
        cells = [
            f'<td><a href="#s{k}">{e(graded.submission.name)}</a></td>',
            f"<td>{e(_score(graded))}</td>",
            f"<td>{graded.seconds:.1f}s</td>",
        ]
        if graded.report is None:
            cells.append(f'<td class="error" colspan="{len(report.checks)}">{e(graded.error)}</td>')
        for spec in report.checks if graded.report is not None else ():
            row = _row(graded, spec.id)
            if row is None:
                cells.append("<td></td>")
                continue
            tip = e(f"{row.status} {row.title}: {row.detail}")
            cells.append(f'<td class="s {row.status}" title="{tip}">{LETTER[row.status]}</td>')
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</table>")
    return lines


def _card(k: int, graded: Graded) -> list[str]:
    """One submission's report card: its rows, then each failure with the code to reproduce."""
    e = html.escape
    lines = [f'<section id="s{k}">', f"<h2>{e(graded.submission.name)}</h2>"]
    lines.append(f"<p><code>{e(graded.submission.target)}</code></p>")
    if graded.report is None:
        lines += [f'<p class="error">could not be checked: {e(graded.error)}</p>', "</section>"]
        return lines
    lines.append("<table>")
    for row in graded.report.rows:
        lines.append(
            f'<tr><td class="{row.status}">{row.status}</td><td>{e(row.title)}</td>'
            f'<td class="detail">{e(row.detail)}</td></tr>'
        )
    lines.append("</table>")
    for row in graded.report.failed:
        for finding in row.findings[:1]:
            lines.append(f"<h3>{e(row.title)}</h3><p>{e(finding.message)}</p>")
            if finding.code:
                lines.append(f"<pre>{e(finding.code)}</pre>")
    lines.append("</section>")
    return lines


def html_page(report: ClassReport, title: str = "gradstep test-engine: class report") -> str:
    """The page: no scripts, no links out; styles inline."""
    counts = report.counts()
    summary = (
        f"{len(report.graded)} submissions: {counts['pass']} pass, {counts['fail']} fail, "
        f"{counts['error']} could not be checked ({report.seconds:.1f} s). Letters: "
        "P pass, F fail, U unsupported (no such op), S skipped, I information; "
        "hover a letter for its detail, click a name for its card."
    )
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(summary)}</p>",
        *_grid(report),
    ]
    for k, graded in enumerate(report.graded):
        lines += _card(k, graded)
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"


def write_html(report: ClassReport, path: str | Path) -> Path:
    """Write the page (UTF-8); return its path."""
    target = Path(path)
    target.write_text(html_page(report), encoding="utf-8")
    return target
