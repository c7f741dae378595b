"""Everything that shows a graph: the walk-through records, drawings, the stepper, worksheets,
practice."""

from gradstep.viz.drawing import GraphTooLargeError, GraphvizNotFoundError, draw_dot, render
from gradstep.viz.exercise import Exercise, practice
from gradstep.viz.explain import Walkthrough, walkthrough
from gradstep.viz.levels import make_exercise
from gradstep.viz.stepper import TooManyStepsError

__all__ = [
    "draw_dot",
    "render",
    "walkthrough",
    "Walkthrough",
    "practice",
    "Exercise",
    "make_exercise",
    "GraphvizNotFoundError",
    "GraphTooLargeError",
    "TooManyStepsError",
]
