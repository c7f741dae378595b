"""What the training demos share: a progress bar (tqdm, optional), plots (matplotlib, optional).

tqdm and matplotlib are extras (``pip install 'gradstep[demo]'``): without tqdm the demos
print a line every tenth of the run; without matplotlib they skip the pictures and say so.
Plots are drawn on matplotlib's Agg canvas, never through pyplot, so running a demo does
not change the backend of a notebook that imports it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "INSTALL_HINT",
    "Progress",
    "have_matplotlib",
    "figure",
    "save_loss_curve",
    "decision_grid",
    "save_decision_regions",
    "save_score_panels",
    "save_curve_fit",
    "print_written",
]

INSTALL_HINT = "pip install 'gradstep[demo]'"


class Progress:
    """One tick per epoch: a tqdm bar showing the metrics, or a printed line every 10%."""

    def __init__(self, total: int, desc: str, enabled: bool = True) -> None:
        self.total = total
        self.done = 0
        self._bar: Any = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                print(f"(tqdm is not installed, so no progress bar: {INSTALL_HINT})")
            else:
                self._bar = tqdm(total=total, desc=desc, unit="epoch", file=sys.stderr)

    def update(self, **metrics: float) -> None:
        """Record one finished epoch and its metrics (e.g. ``loss=0.12, acc=0.95``)."""
        self.done += 1
        shown = {name: _format_metric(name, value) for name, value in metrics.items()}
        if self._bar is not None:
            self._bar.set_postfix(shown, refresh=False)
            self._bar.update(1)
        elif self.done == self.total or self.done % max(self.total // 10, 1) == 0:
            fields = "  ".join(f"{name} {text}" for name, text in shown.items())
            print(f"epoch {self.done:>{len(str(self.total))}}/{self.total}  {fields}", flush=True)

    def close(self) -> None:
        """Close the bar (if any)."""
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _format_metric(name: str, value: float) -> str:
    """Accuracies as percentages, everything else with 4 significant digits."""
    return f"{value:.1%}" if name.startswith("acc") else f"{value:.4g}"


def have_matplotlib() -> bool:
    """Whether matplotlib can be imported; if not, say how to get it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(f"matplotlib is not installed, so no plots were drawn: {INSTALL_HINT}")
        return False
    return True


def figure(width: float, height: float) -> Any:
    """A matplotlib Figure on the Agg canvas (no pyplot, no global backend change)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_loss_curve(
    path: Path, losses: Sequence[float], accuracies: Sequence[float] | None, title: str
) -> None:
    """Loss per epoch (log scale), and accuracy per epoch beside it if given, as a PNG."""
    fig = figure(9.0 if accuracies is not None else 5.0, 3.6)
    axes = fig.subplots(1, 2 if accuracies is not None else 1, squeeze=False)[0]
    epochs = range(1, len(losses) + 1)
    axes[0].plot(epochs, losses, color="tab:blue")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("loss")
    axes[0].set_title(f"{title}: loss")
    axes[0].grid(True, which="both", alpha=0.3)
    if accuracies is not None:
        axes[1].plot(epochs, [100.0 * a for a in accuracies], color="tab:green")
        axes[1].set_ylim(0, 102)
        axes[1].set_xlabel("epoch")
        axes[1].set_ylabel("training accuracy (%)")
        axes[1].set_title(f"{title}: accuracy")
        axes[1].grid(True, alpha=0.3)
    fig.savefig(path)


def decision_grid(
    X: Sequence[Sequence[float]], resolution: int = 60
) -> tuple[list[float], list[float]]:
    """The x and y coordinates of a ``resolution``² grid over the data, 0.5 beyond it."""
    xs = [p[0] for p in X]
    ys = [p[1] for p in X]
    x0, x1 = min(xs) - 0.5, max(xs) + 0.5
    y0, y1 = min(ys) - 0.5, max(ys) + 0.5
    gx = [x0 + (x1 - x0) * i / (resolution - 1) for i in range(resolution)]
    gy = [y0 + (y1 - y0) * j / (resolution - 1) for j in range(resolution)]
    return gx, gy


def save_decision_regions(
    path: Path,
    scores: Callable[[list[float]], Sequence[float]],
    X: Sequence[Sequence[float]],
    labels: Sequence[int],
    classes: Sequence[int],
    class_names: Sequence[str],
    title: str,
    resolution: int = 100,
) -> Any:
    """The model's decision regions over a grid, the data on top, axes and classes labelled.

    Writes a PNG to ``path`` and returns the matplotlib Figure.  ``scores(point)`` gives
    one score per class, in the order of ``classes``; a point belongs to the class with the
    largest.  Class k's region is where its margin zₖ - maxⱼ≠ₖ zⱼ > 0: the margins are
    interpolated between grid points, so the boundaries (margin = 0) come out smooth, not
    in grid-sized steps.
    """
    gx, gy = decision_grid(X, resolution)
    grid = [[list(scores([x, y])) for x in gx] for y in gy]
    fig = figure(7.2, 5.0)
    ax = fig.subplots()
    _draw_regions(ax, gx, gy, grid, X, labels, classes, class_names, title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    fig.savefig(path)
    return fig


def save_score_panels(
    path: Path,
    panels: Sequence[tuple[str, list[list[float]]]],
    gx: Sequence[float],
    gy: Sequence[float],
    X: Sequence[Sequence[float]],
    labels: Sequence[int],
    title: str,
    class_names: Sequence[str] = ("class -1", "class +1"),
) -> Any:
    """Binary-score regions side by side (one panel per ``(title, grid of scores)``, the
    sign of a score its class, -1 or +1) as a PNG; returns the matplotlib Figure."""
    fig = figure(5.0 * len(panels) + 1.4, 5.0)
    fig.suptitle(title)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (panel_title, grid) in zip(axes, panels, strict=True):
        two = [[[-s, s] for s in row] for row in grid]  # class -1 scores -s, class +1 s
        _draw_regions(ax, gx, gy, two, X, labels, (-1, 1), class_names, panel_title)
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    fig.savefig(path)
    return fig


#: one colour per class (matplotlib's tab10 order): points solid, regions pale
_CLASS_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _draw_regions(
    ax: Any,
    gx: Sequence[float],
    gy: Sequence[float],
    grid: list[list[list[float]]],
    X: Sequence[Sequence[float]],
    labels: Sequence[int],
    classes: Sequence[int],
    class_names: Sequence[str],
    title: str,
) -> None:
    """Each class's region and boundary from its margin on the grid (rows along gy), the
    data on top, axes labelled; the legend's entries are set, not drawn."""
    for k in range(len(classes)):  # the regions and boundaries first, the points on top
        margin = [[_margin(z, k) for z in row] for row in grid]
        low, top = min(min(row) for row in margin), max(max(row) for row in margin)
        if top > 0.0:  # the class wins somewhere on the grid
            colour = _CLASS_COLOURS[k % len(_CLASS_COLOURS)]
            ax.contourf(gx, gy, margin, levels=[0.0, top + 1.0], colors=[colour], alpha=0.25)
        if low < 0.0 < top:  # and loses elsewhere: its boundary
            ax.contour(gx, gy, margin, levels=[0.0], colors="k", linewidths=0.8)
    for k, (cls, name) in enumerate(zip(classes, class_names, strict=True)):
        points = [p for p, label in zip(X, labels, strict=True) if label == cls]
        ax.scatter(
            [p[0] for p in points],
            [p[1] for p in points],
            color=_CLASS_COLOURS[k % len(_CLASS_COLOURS)],
            s=28,
            edgecolors="k",
            linewidths=0.6,
            label=name,
        )
    ax.plot([], [], color="k", linewidth=0.8, label="decision\nboundary")
    ax.set_xlim(gx[0], gx[-1])
    ax.set_ylim(gy[0], gy[-1])
    ax.set_xlabel("x0 (first input)")
    ax.set_ylabel("x1 (second input)")
    ax.set_title(title)


def _margin(z: Sequence[float], k: int) -> float:
    """zₖ - maxⱼ≠ₖ zⱼ: positive where class k wins, 0 on its boundary."""
    return z[k] - max(v for j, v in enumerate(z) if j != k)


def save_curve_fit(
    path: Path,
    X: Sequence[float],
    y: Sequence[float],
    predict: Callable[[float], float],
    truth: Callable[[float], float],
    title: str,
) -> None:
    """A 1-D regression: the data, the true curve and the model's curve, as a PNG."""
    lo, hi = min(X), max(X)
    grid = [lo + (hi - lo) * i / 199 for i in range(200)]
    fig = figure(6.0, 4.0)
    ax = fig.subplots()
    ax.scatter(X, y, s=18, color="tab:gray", label="data")
    ax.plot(grid, [truth(x) for x in grid], color="tab:green", linestyle="--", label="true curve")
    ax.plot(grid, [predict(x) for x in grid], color="tab:red", label="model")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title)
    ax.legend()
    fig.savefig(path)


def print_written(paths: Sequence[Path]) -> None:
    """Say which files a demo wrote, one a line."""
    print("wrote:")
    for path in paths:
        print(f"  {path}")
