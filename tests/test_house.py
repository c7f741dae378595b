"""The house: imports run one way, no circles, no module imports another's ``_``-names.

The import graph is read from the source (every ``import`` statement, also those inside
functions), so a lazy import counts as much as one at the top of a file.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import gradstep

ROOT = Path(__file__).resolve().parent.parent
#: the engine wing: what ``import gradstep`` needs, and what nn, viz and testing build on
ENGINE_WING = (
    "gradstep.ops",
    "gradstep.functional",
    "gradstep.grad_mode",
    "gradstep.engine",
    "gradstep._backward_fast",
    "gradstep.node_rules",
    "gradstep.higher_order",
    "gradstep.user_ops",
    "gradstep.anomaly",
    "gradstep.replay",
    "gradstep.expr",
    "gradstep.naming",
)
#: the wings above the engine
UPPER = ("gradstep.nn", "gradstep.viz", "gradstep.testing", "gradstep.cli", "gradstep.demos")
#: files this test leaves to their owners (none: the viz and grader restructures are merged)
ELSEWHERE: tuple[str, ...] = ()


def modules() -> dict[str, Path]:
    """Every module of the package (the demos as gradstep.demos.*), by dotted name."""
    found = {}
    for folder, prefix in ((ROOT / "gradstep", "gradstep"), (ROOT / "demos", "gradstep.demos")):
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((prefix, *parts)).removesuffix(".__init__")
            found[name] = path
    return found


def imports(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, module, name) for every ``from module import name`` and ``import module``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ""
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.lineno, node.module, alias.name


def import_graph() -> dict[str, set[str]]:
    """module → the package's modules it imports (``from pkg import submodule``: the submodule)."""
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for _, module, imported in imports(path):
            target = f"{module}.{imported}" if f"{module}.{imported}" in known else module
            if target in known and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_the_engine_wing_imports_no_upper_wing() -> None:
    graph = import_graph()
    upward = {
        (module, target)
        for module in ENGINE_WING
        for target in graph[module]
        if target.startswith(UPPER)
    }
    assert not upward, f"the engine wing imports an upper wing: {sorted(upward)}"


def test_no_import_circles() -> None:
    graph = import_graph()
    outside = {str(ROOT / p) for p in ELSEWHERE}
    modules_of = modules()
    found = [c for c in cycles(graph) if not all(str(modules_of[m]) in outside for m in c)]
    assert not found, f"import circles: {found}"


def test_no_module_imports_another_modules_private_names() -> None:
    bad = []
    for folder in ("gradstep", "demos", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in ELSEWHERE:
                continue
            for line, module, name in imports(path):
                if name.startswith("_") and module != "__future__":
                    bad.append(f"{relative}:{line}: from {module} import {name}")
    assert not bad, "imports of private names:\n" + "\n".join(bad)


def test_import_gradstep_loads_the_engine_only() -> None:
    code = (
        "import sys, gradstep; "
        "print(sorted(m for m in sys.modules if m.startswith(('gradstep.nn', 'gradstep.viz', "
        "'gradstep.testing', 'graphviz'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_the_first_screens_names_come_from_gradstep() -> None:
    from gradstep import MLP, Value, compile, define_op, draw_dot, grad, no_grad, walkthrough
    from gradstep.nn import MLP as nn_mlp
    from gradstep.viz import draw_dot as viz_draw_dot
    from gradstep.viz import walkthrough as viz_walkthrough

    assert (MLP, draw_dot, walkthrough) == (nn_mlp, viz_draw_dot, viz_walkthrough)
    x = Value(2.0, label="x")
    y = MLP(1, [1], seed=0)([x])
    assert isinstance(y, Value) and callable(compile) and callable(define_op)
    with no_grad():
        assert not (x * 2)._prev
    assert grad(x * x, x) == [4.0]
    for name in ("MLP", "draw_dot", "walkthrough", "Value", "grad", "define_op", "no_grad"):
        assert name in gradstep.__all__ and name in dir(gradstep)


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        gradstep.Neuron  # noqa: B018
    except AttributeError as error:
        assert "has no attribute 'Neuron'" in str(error)
    else:
        raise AssertionError("gradstep.Neuron should not exist (it is gradstep.nn.Neuron)")
