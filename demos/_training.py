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


def _figure(width: float, height: float) -> Any:
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
    fig = _figure(9.0 if accuracies is not None else 5.0, 3.6)
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
    predict: Callable[[list[float]], float],
    X: Sequence[Sequence[float]],
    labels: Sequence[int],
    title: str,
    resolution: int = 60,
    binary_score: bool = False,
) -> None:
    """The model's regions over a grid, with the data on top, as a PNG.

    ``predict`` gives a class per point, or (``binary_score=True``) a real score whose
    sign is the class: then the boundary, score = 0, is interpolated smoothly.
    """
    gx, gy = decision_grid(X, resolution)
    grid = [[predict([x, y]) for x in gx] for y in gy]
    fig = _figure(5.5, 5.0)
    _draw_regions(fig.subplots(), gx, gy, grid, X, labels, title, binary_score)
    fig.savefig(path)


def save_score_panels(
    path: Path,
    panels: Sequence[tuple[str, list[list[float]]]],
    gx: Sequence[float],
    gy: Sequence[float],
    X: Sequence[Sequence[float]],
    labels: Sequence[int],
    title: str,
) -> None:
    """Binary-score regions side by side (one panel per ``(title, grid of scores)``), as a PNG."""
    fig = _figure(5.0 * len(panels), 5.0)
    fig.suptitle(title)
    for ax, (panel_title, grid) in zip(fig.subplots(1, len(panels)), panels, strict=True):
        _draw_regions(ax, gx, gy, grid, X, labels, panel_title, binary_score=True)
    fig.savefig(path)


def _draw_regions(
    ax: Any,
    gx: Sequence[float],
    gy: Sequence[float],
    grid: list[list[float]],
    X: Sequence[Sequence[float]],
    labels: Sequence[int],
    title: str,
    binary_score: bool,
) -> None:
    """Filled regions of ``grid`` (rows along gy), the score = 0 line if binary, the data."""
    if binary_score:
        big = max(abs(v) for row in grid for v in row) + 1.0
        levels = [-big, 0.0, big]
    else:
        classes = sorted(set(labels))
        levels = [c - 0.5 for c in classes] + [classes[-1] + 0.5]
    ax.contourf(gx, gy, grid, levels=levels, cmap="Spectral", alpha=0.35)
    if binary_score:  # the boundary score = 0 as a line
        ax.contour(gx, gy, grid, levels=[0.0], colors="k", linewidths=0.8)
    xs = [p[0] for p in X]
    ys = [p[1] for p in X]
    ax.scatter(xs, ys, c=list(labels), cmap="Spectral", s=28, edgecolors="k", linewidths=0.6)
    ax.set_xlim(gx[0], gx[-1])
    ax.set_ylim(gy[0], gy[-1])
    ax.set_title(title)


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
    fig = _figure(6.0, 4.0)
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
