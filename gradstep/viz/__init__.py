"""Everything that shows a graph: the walk-through records, drawings, the stepper, worksheets."""

from gradstep.viz.drawing import GraphTooLargeError, GraphvizNotFoundError, draw_dot, render
from gradstep.viz.explain import Walkthrough, walkthrough
from gradstep.viz.stepper import TooManyStepsError

__all__ = [
    "draw_dot",
    "render",
    "walkthrough",
    "Walkthrough",
    "GraphvizNotFoundError",
    "GraphTooLargeError",
    "TooManyStepsError",
]
