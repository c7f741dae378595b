"""Gradient testing: `gradcheck` (per input and per op) and Hypothesis strategies for tests.

`gradcheck(f, inputs)` compares the gradient that one ``backward()`` computes with central
differences, for every input and every interior node's local derivatives
(`gradstep.testing.gradcheck`).  The strategies (`finite_floats`, `values`,
`expression_dags`) need Hypothesis and live in `gradstep.testing.strategies`.
`check_engine` and `engine_suite` check someone else's micrograd-style `Value` class
(`gradstep.testing.grader`; ``gradstep test-engine`` on the command line).
"""

from gradstep.testing.gradcheck import (
    BUILTIN_REAPPLY,
    GradcheckError,
    GradcheckReport,
    InputCheck,
    LocalCheck,
    Reapply,
    gradcheck,
)
from gradstep.testing.grader import (
    EngineReport,
    EngineTargetError,
    check_engine,
    engine_suite,
)
from gradstep.testing.strategies import (
    BINARY_FORMS,
    DAG_OPS,
    FLOAT_FUNCTIONS,
    VALUE_FUNCTIONS,
    Backend,
    DAGStep,
    ExpressionDAG,
    expression_dags,
    finite_floats,
    torch_functions,
    values,
)

__all__ = [
    "gradcheck",
    "GradcheckError",
    "GradcheckReport",
    "InputCheck",
    "LocalCheck",
    "Reapply",
    "BUILTIN_REAPPLY",
    "finite_floats",
    "values",
    "expression_dags",
    "ExpressionDAG",
    "DAGStep",
    "DAG_OPS",
    "BINARY_FORMS",
    "Backend",
    "VALUE_FUNCTIONS",
    "FLOAT_FUNCTIONS",
    "torch_functions",
    "check_engine",
    "engine_suite",
    "EngineReport",
    "EngineTargetError",
]
