"""Checks of how a foreign class handles whole graphs: the same graph built again (fresh
builds: nondeterminism), random DAGs, repeated backward(), zeroing grads, and the deepest
chain it can backpropagate (see `gradstep.testing.grader.checks`).
"""

from __future__ import annotations

import gc
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

from gradstep._backward_fast import CollectorPaused
from gradstep.engine import Value, topological_order
from gradstep.testing.grader.checks import (
    SHARED_CASE,
    CheckResult,
    CheckSpec,
    Engine,
    Finding,
    agree,
    as_float,
    check_code,
    compile_ours,
    describe_error,
    number,
    oneline,
    reference,
    repro_code,
    shown_number,
)
from gradstep.testing.grader.ops import (
    CORE_FORMS,
    FORM_BY_ID,
    FORMS,
    PROBED_OPS,
    Form,
    dag_op,
)
from gradstep.testing.strategies import BINARY_OPS, DAGStep, ExpressionDAG, apply_step

__all__ = ["check_dags", "check_repeatable", "check_repeated", "check_reset", "check_depth"]


# --- random expression DAGs ----------------------------------------------------------------


def _dag_ops(
    engine: Engine, chosen: Sequence[str]
) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """The DAG ops and binary forms whose rows passed, and the forms left out as they fail."""
    ops: dict[str, None] = {}
    forms: dict[str, list[str]] = {}
    failing: list[str] = []
    for form in FORMS:
        if form.op not in chosen:
            continue
        status = engine.statuses.get(form.id)
        if status == "FAIL":
            failing.append(form.expression)
        if status != "PASS":
            continue
        name = dag_op(form.op)
        ops[name] = None
        if form.kind != "unary":
            forms.setdefault(name, []).append(form.kind)
    return list(ops), forms, failing


#: seconds between two smallest failures sent as progress (each costs a few builds)
_PROGRESS_EVERY = 1.0
#: the least time the shrinking gets (a fifth of the search's time if more): Hypothesis
#: draws each smaller DAG anew, which can take 50 ms, and hundreds are tried
_SHRINK_SECONDS = 2.0


class _OutOfTime(BaseException):
    """The search's time is up (a BaseException: Hypothesis lets it through at once)."""


def _size(dag: ExpressionDAG) -> tuple[int, int]:
    """How big a DAG reads: its steps, then its inputs."""
    return len(dag.steps), len(dag.inputs)


def check_dags(
    engine: Engine,
    spec: CheckSpec,
    chosen: Sequence[str],
    examples: int,
    seconds: float,
    progress: Callable[[Mapping[str, Any]], None] = lambda data: None,
) -> CheckResult:
    """Random DAGs over the ops that pass alone, vs gradstep; shrunk to a minimal failure.

    After ``seconds`` the search stops where it is: the smallest failing DAG found so far is
    the result (each new smallest one is also sent as progress, for a search killed mid-way).
    """
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import NoSuchExample

    from gradstep.testing.strategies import expression_dags

    ops, forms, failing = _dag_ops(engine, chosen)
    left_out = f"; left out as they fail alone: {', '.join(failing)}" if failing else ""
    if not ops or examples <= 0:
        why = "no op passes alone" if not ops else "--examples 0"
        return CheckResult(spec.id, spec.title, "SKIP", why + left_out)
    counts = {"tried": 0, "first": 0, "stopped": 0}
    deadline = time.perf_counter() + seconds
    stop_at = [deadline]
    shrink_seconds = max(_SHRINK_SECONDS, seconds / 5)
    smallest: list[ExpressionDAG] = []
    sent = [-math.inf]  # when the smallest failure was last sent as progress

    def fails(dag: ExpressionDAG) -> bool:
        if time.perf_counter() > stop_at[0]:
            counts["stopped"] = counts["tried"]
            raise _OutOfTime
        counts["tried"] += 1
        bad = _dag_problem(engine, dag) is not None
        if bad and not counts["first"]:
            counts["first"] = counts["tried"]
            stop_at[0] = min(stop_at[0], time.perf_counter() + shrink_seconds)
        if bad and (not smallest or _size(dag) < _size(smallest[-1])):
            smallest.append(dag)
            if time.perf_counter() - sent[0] > _PROGRESS_EVERY:  # shrinking finds many
                sent[0] = time.perf_counter()
                finding, blamed = _dag_finding(engine, _pruned_if_failing(engine, dag))
                progress({"best": asdict(finding), "op": blamed, "first": counts["first"]})
        return bad

    options = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    shown_ops = " ".join(ops)
    how = "shrunk"
    try:
        dag = find(expression_dags(ops=ops, forms=forms), fails, settings=options)
    except NoSuchExample:
        dag = None
    except _OutOfTime:  # the time is up: the smallest failure so far, if any
        dag = smallest[-1] if smallest else None
        how = (
            f"the smallest found in {shrink_seconds:g} s of shrinking"
            if stop_at[0] < deadline
            else f"the smallest found before the time limit ({seconds:g} s)"
        )
    except Exception:  # the engine answered differently for the same DAG (nondeterministic)
        if not smallest:
            why = "the search could not go on: your class gave different answers for the same DAG"
            return CheckResult(spec.id, spec.title, "SKIP", why + left_out)
        dag, how = smallest[-1], "the smallest found (results change from run to run)"
    if dag is None:
        tried = counts["stopped"] or examples
        stopped = f" (stopped at the time limit of {seconds:g} s)" if counts["stopped"] else ""
        detail = (
            f"{tried} DAGs with shared nodes agree with gradstep{stopped} "
            f"(ops {shown_ops}){left_out}"
        )
        return CheckResult(spec.id, spec.title, "PASS", detail, data={"ops": ops})
    dag = _pruned_if_failing(engine, dag)
    smaller = next(
        (
            small
            for small in _small_dags(ops, forms)
            if _size(small) < _size(dag) and _dag_problem(engine, small) is not None
        ),
        None,
    )
    if smaller is not None:
        dag = smaller
    finding, blamed = _dag_finding(engine, dag)
    if not _steady(engine, dag):
        finding = replace(
            finding,
            message=finding.message + "; this DAG gives different results from run to run "
            "(see the row 'fresh builds')",
        )
    detail = f"failing DAG found at example {counts['first']}, {how}: {finding.message}{left_out}"
    return CheckResult(spec.id, spec.title, "FAIL", detail, blamed, (finding,), {"ops": ops})


def _small_dags(ops: Sequence[str], forms: Mapping[str, Sequence[str]]) -> list[ExpressionDAG]:
    """Tiny DAGs with a shared node, smallest first (a ⊕ a; v1 = a ⊕ b, v1 ⊕ v1; v1 ⊕ a;
    u(a) + u(a)) over the ops given: tried after the search, as Hypothesis can take long to
    shrink a big failing DAG to one of these."""
    a, b = 1.5, 0.7  # positive, away from every kink: safe for log, sqrt, /, **
    binary = [op for op in ops if op in BINARY_OPS and "value-value" in forms.get(op, ())]
    dags = [ExpressionDAG((a,), (DAGStep(op, (0, 0)),)) for op in binary]
    dags += [
        ExpressionDAG((a, b), (DAGStep(op, (0, 1)), DAGStep(op, (2, other))))
        for op in binary
        for other in (2, 0)
    ]
    if "+" in binary:
        dags += [
            ExpressionDAG((a,), (DAGStep(op, (0,)), DAGStep("+", (1, 1))))
            for op in ops
            if op not in BINARY_OPS
        ]
    return sorted(dags, key=_size)


def _pruned_if_failing(engine: Engine, dag: ExpressionDAG) -> ExpressionDAG:
    """The DAG without what its root does not use, if that still fails."""
    pruned = prune(dag)
    return pruned if _dag_problem(engine, pruned) is not None else dag


def _steady(engine: Engine, dag: ExpressionDAG, builds: int = 8) -> bool:
    """Whether fresh builds of the DAG (kept alive, so at new addresses) agree."""
    keep: list[Any] = []
    seen: list[tuple[float, ...]] = []
    for _ in range(builds):
        try:
            slots = _slots(dag, [engine.leaf(x) for x in dag.inputs])
            slots[-1].backward()
        except Exception:
            return True
        keep.append(slots)
        seen.append(tuple(_or_nan(as_float(s.grad)) for s in slots[: len(dag.inputs)]))
    return all(_all_agree(seen[0], other) for other in seen[1:])


def _all_agree(first: Sequence[float], other: Sequence[float]) -> bool:
    """Every number agrees (NaN with NaN too)."""
    return all(
        (math.isnan(x) and math.isnan(y)) or agree(x, y, abs_=1e-9)
        for x, y in zip(first, other, strict=True)
    )


def prune(dag: ExpressionDAG) -> ExpressionDAG:
    """The DAG without the steps and inputs its root does not depend on (slots renumbered)."""
    n = len(dag.inputs)
    needed = {n + len(dag.steps) - 1}
    for k in range(len(dag.steps) - 1, -1, -1):
        if n + k in needed:
            needed.update(dag.steps[k].args)
    kept = sorted(needed)
    new_slot = {old: new for new, old in enumerate(kept)}
    inputs = tuple(x for i, x in enumerate(dag.inputs) if i in needed)
    steps = tuple(
        replace(step, args=tuple(new_slot[i] for i in step.args))
        for k, step in enumerate(dag.steps)
        if n + k in needed
    )
    return ExpressionDAG(inputs, steps)


def _method_backend(methods: Sequence[str]) -> dict[str, Callable[..., Any]]:
    """The DAG's unary functions as method calls, for any class: ``x.tanh()``."""

    def caller(name: str) -> Callable[[Any], Any]:
        return lambda x: getattr(x, name)()

    return {name: caller(name) for name in methods}


_METHODS = _method_backend([spec.name for spec in PROBED_OPS if not spec.operator])


def _slots(dag: ExpressionDAG, leaves: Sequence[Any]) -> list[Any]:
    """Every slot of the DAG (inputs, then one per step) built from ``leaves``."""
    slots = list(leaves)
    for step in dag.steps:
        slots.append(apply_step(step, slots, _METHODS))
    return slots


def _reference_slots(dag: ExpressionDAG) -> list[Value]:
    """The DAG with gradstep, after backward()."""
    ref = _slots(dag, [Value(x) for x in dag.inputs])
    ref[-1].backward()
    return ref


def _dag_run(
    engine: Engine, dag: ExpressionDAG, ref: Sequence[Value]
) -> tuple[list[Any], str | None]:
    """The DAG on the foreign class (after backward() unless the value is already wrong) and
    what differs from gradstep: None, "value", "grad" or the error raised (no slots then)."""
    try:
        slots = _slots(dag, [engine.leaf(x) for x in dag.inputs])
        data = as_float(slots[-1].data)
        if data is None or not agree(ref[-1].data, data, abs_=1e-7):
            return slots, "value"
        slots[-1].backward()
        n = len(dag.inputs)
        for mine, theirs in zip(ref[:n], slots[:n], strict=True):
            got = as_float(theirs.grad)
            if got is None or not agree(mine.grad, got, abs_=1e-7):
                return slots, "grad"
        return slots, None
    except Exception as error:
        return [], describe_error(error)


def _dag_problem(engine: Engine, dag: ExpressionDAG) -> str | None:
    """What differs between the foreign class and gradstep on this DAG, or None."""
    return _dag_run(engine, dag, _reference_slots(dag))[1]


def _dag_names(dag: ExpressionDAG) -> list[str]:
    """a, b, c, d for the inputs, v1, v2, ... for the steps, out for the root."""
    names = [chr(ord("a") + i) for i in range(len(dag.inputs))]
    names += [f"v{k + 1}" for k in range(len(dag.steps))]
    names[-1] = "out"
    return names


def _dag_code(dag: ExpressionDAG, names: Sequence[str]) -> str:
    """The DAG's steps as Python statements, one node per line."""

    def const(c: float | None) -> str:
        text = repr(c)
        return f"({text})" if text.startswith("-") else text

    lines = []
    for k, step in enumerate(dag.steps):
        args = [names[i] for i in step.args]
        if step.op in BINARY_OPS:
            if len(args) == 2:
                expr = f"{args[0]} {step.op} {args[1]}"
            elif step.const_first:
                expr = f"{const(step.const)} {step.op} {args[0]}"
            else:
                expr = f"{args[0]} {step.op} {const(step.const)}"
        elif step.op == "neg":
            expr = f"-{args[0]}"
        else:
            expr = f"{args[0]}.{step.op}()"
        lines.append(f"{names[len(dag.inputs) + k]} = {expr}")
    return "\n".join(lines)


def _dag_finding(engine: Engine, dag: ExpressionDAG) -> tuple[Finding, str]:
    """The minimal failing DAG as code, what differs, and the op it points at."""
    names = _dag_names(dag)
    code = _dag_code(dag, names)
    leaves = {names[i]: x for i, x in enumerate(dag.inputs)}
    ref = _reference_slots(dag)
    n = len(dag.inputs)
    kept = []  # every build stays alive: a nondeterministic engine gets new addresses
    for _ in range(_BUILDS):
        slots, problem = _dag_run(engine, dag, ref)
        kept.append(slots)
        if problem is not None:
            break
    else:
        message = (
            f"{oneline(code)} failed during the search but gave the right gradients in "
            f"{_BUILDS} builds since: its results change from run to run (see the row "
            "'fresh builds')"
        )
        return Finding(message, code=repro_code(engine, code, leaves, {}, [])), "backward"
    if problem not in ("value", "grad"):
        finding = Finding(
            f"{oneline(code)} raised {problem}", code=repro_code(engine, code, leaves, {}, [])
        )
        return finding, _step_form(dag.steps[-1]).op
    if problem == "value":
        k = next(
            i
            for i in range(n, len(slots))
            if not agree(ref[i].data, _or_nan(as_float(slots[i].data)), abs_=1e-7)
        )
        step = dag.steps[k - n]
        got = as_float(slots[k].data)
        prints = [(f"{names[k]}.data", ref[k].data, got)]
        message = (
            f"{oneline(code)}: {names[k]}.data expected {number(ref[k].data)}, "
            f"got {shown_number(got)}"
        )
        return Finding(
            message, ref[k].data, got, repro_code(engine, code, leaves, {}, prints)
        ), _step_form(step).op
    got_grads = [as_float(s.grad) for s in slots]
    prints = [(f"{names[i]}.grad", float(ref[i].grad), got_grads[i]) for i in range(n)]
    wrong = [i for i in range(n) if not agree(ref[i].grad, _or_nan(got_grads[i]), abs_=1e-7)]
    first = wrong[0]
    message = (
        f"{oneline(code)}: ∂out/∂{names[first]} expected {number(ref[first].grad)}, "
        f"got {shown_number(got_grads[first])}"
    )
    blamed, hint = _dag_blame(dag, ref, got_grads, names, engine)
    finding = Finding(
        f"{message}; {hint}",
        float(ref[first].grad),
        got_grads[first],
        repro_code(engine, code, leaves, {}, prints),
    )
    return finding, blamed


def _step_form(step: DAGStep) -> Form:
    """The form a DAG step calls: ``v1 * v2`` is a * b, ``2.0 ** v1`` is n ** a, ..."""
    if step.op not in BINARY_OPS:
        kind = "unary"
    elif len(step.args) == 2:
        kind = "value-value"
    else:
        kind = "number-value" if step.const_first else "value-number"
    return next(f for f in FORMS if dag_op(f.op) == step.op and f.kind == kind)


def _dag_blame(
    dag: ExpressionDAG,
    ref: Sequence[Value],
    got: Sequence[float | None],
    names: Sequence[str],
    engine: Engine,
) -> tuple[str, str]:
    """The node nearest the root whose gradient is right but gives a child a wrong one."""
    n = len(dag.inputs)
    right = [
        g is not None and agree(float(r.grad), g, abs_=1e-7) for r, g in zip(ref, got, strict=True)
    ]
    for k in range(len(dag.steps) - 1, -1, -1):
        step = dag.steps[k]
        if right[n + k] and not all(right[i] for i in step.args):
            form = _step_form(step)
            line = _dag_code_line(dag, names, k)
            where = f"the gradient first goes wrong below {names[n + k]} = {line}"
            if engine.statuses.get(form.id) == "PASS":
                held = engine.children_in_set()
                if held and check_code(engine, "out = a + a", {"a": 1.5}):
                    return "backward", (
                        f"{where}; {form.expression} passes on its own row, but {held} is a "
                        "set: a node used twice by one op (a + a) is kept once, so it gets "
                        "one gradient instead of two; keep the children in a tuple"
                    )
                in_set = f" ({held} is a set: the order changes from run to run)" if held else ""
                return "backward", (
                    f"{where}; {form.expression} passes on its own row, so suspect how "
                    "backward() walks the graph (a shared node visited twice, the order)"
                    f"{in_set}"
                )
            return form.op, where
    return "backward", "the root's gradient is already wrong"


def _dag_code_line(dag: ExpressionDAG, names: Sequence[str], k: int) -> str:
    """The k-th step's expression."""
    return _dag_code(dag, names).splitlines()[k].split(" = ", 1)[1]


# --- the same graph, built again ----------------------------------------------------------

#: a graph where several nodes have two parents (so a walk that visits a node twice shows)
_TANGLED = "c = a * b\nd = c + a\ne = d * c\nf = e + d\ng = f * b + e\nout = g * f + c"
_BUILDS = 16


def _fresh_builds(engine: Engine, code: str, leaves: Mapping[str, float]) -> list[list[float]]:
    """out.data and the leaves' grads after backward(), for `_BUILDS` builds kept alive
    (each build gets new memory addresses, so an order taken from a set or id() changes)."""
    compiled = compile_ours(code)
    keep: list[Any] = []
    results = []
    for _ in range(_BUILDS):
        ns = engine.run(compiled, leaves, {})
        ns["out"].backward()
        keep.append(ns)
        results.append(
            [_or_nan(as_float(ns["out"].data))]
            + [_or_nan(as_float(ns[name].grad)) for name in leaves]
        )
    return results


def check_repeatable(engine: Engine, spec: CheckSpec) -> CheckResult:
    """The same graphs built and differentiated `_BUILDS` times: every build must agree."""
    for form_id in CORE_FORMS:
        if (why := engine.unsupported(form_id)) is not None:
            return CheckResult(
                spec.id, spec.title, "SKIP", f"needs {FORM_BY_ID[form_id].expression}: {why}"
            )
    leaves = dict(SHARED_CASE.leaves)
    for code in (SHARED_CASE.code, _TANGLED):
        try:
            results = _fresh_builds(engine, code, leaves)
        except Exception as error:
            why = f"{oneline(code)} raised {describe_error(error)} (see the rows above)"
            return CheckResult(spec.id, spec.title, "SKIP", why)
        different = [k for k, r in enumerate(results) if not _all_agree(results[0], r)]
        if different:
            return _nondeterministic(engine, spec, code, leaves, results, different)
    detail = f"each of 2 graphs built {_BUILDS} times: the same results"
    return CheckResult(spec.id, spec.title, "PASS", detail)


def _nondeterministic(
    engine: Engine,
    spec: CheckSpec,
    code: str,
    leaves: Mapping[str, float],
    results: Sequence[Sequence[float]],
    different: Sequence[int],
) -> CheckResult:
    """The FAIL row: two differing results, the likely cause and a loop that shows it."""
    names = ["out.data", *(f"{name}.grad" for name in leaves)]
    k = different[0]
    column = next(i for i, (x, y) in enumerate(zip(results[0], results[k], strict=True)) if x != y)
    held = engine.children_in_set()
    if held:
        cause = (
            f"its nodes keep their children in a set ({held} is a set, ordered by memory "
            "address, so the order changes from build to build) and backward() depends on "
            f"that order; keep them in a tuple, and check that the topological sort marks "
            "nodes visited (a node visited twice passes its gradient down twice)"
        )
    else:
        cause = (
            "backward() depends on something that changes from build to build (an order "
            "taken from a set, a dict keyed by node or id()), most often with a node visited "
            "twice by the topological sort: mark nodes visited"
        )
    distinct = len({tuple(round(x, 9) for x in r) for r in results})
    message = (
        f"nondeterministic: {oneline(code)} built {len(results)} times gives {distinct} "
        f"different results: {names[column]} = {number(results[0][column])} in build 1, "
        f"{number(results[k][column])} in build {k + 1}; likely cause: {cause}"
    )
    ref = reference(compile_ours(code), leaves, {})
    expected = [float(ref["out"].data), *(float(ref[name].grad) for name in leaves)]
    lines = [
        engine.import_line,
        "graphs = []  # keep every graph alive: each build then gets new memory addresses",
        f"for build in range({len(results)}):",
    ]
    body = [f"{name} = {engine.name}({x!r})" for name, x in leaves.items()]
    body += [*code.splitlines(), "out.backward()", "graphs.append(out)"]
    shown = ", ".join(f"{name}.grad" for name in leaves)
    right = " ".join(number(x) for x in expected[1:])
    body.append(f"print({shown})  # right: {right}; here it changes from build to build")
    lines += [f"    {line}" for line in body]
    finding = Finding(message, expected[column], results[k][column], "\n".join(lines))
    data = {"results": [list(r) for r in results], "names": names, "expected": expected}
    return CheckResult(spec.id, spec.title, "FAIL", message, "backward", (finding,), data)


# --- repeated backward and resets ----------------------------------------------------------

_GRAPH_NODES = ("a", "b", "c", "d", "out")
_LEAVES = ("a", "b")


def _graph(engine: Engine) -> dict[str, Any]:
    """The shared-node graph on the foreign class (a, b, c = a·b, d = c + a, out = d·c)."""
    return engine.run(compile_ours(SHARED_CASE.code), dict(SHARED_CASE.leaves), {})


def _reference_graph() -> dict[str, Any]:
    """The shared-node graph with gradstep, after one backward()."""
    return reference(compile_ours(SHARED_CASE.code), dict(SHARED_CASE.leaves), {})


def _grads(ns: Mapping[str, Any], names: Sequence[str]) -> dict[str, float]:
    """The nodes' gradients as floats (NaN for one that is not a number)."""
    return {name: _or_nan(as_float(ns[name].grad)) for name in names}


def _or_nan(x: float | None) -> float:
    """x, or NaN for None (NaN agrees with nothing)."""
    return math.nan if x is None else x


def _same(expected: Mapping[str, float], got: Mapping[str, float]) -> bool:
    """The leaves' gradients agree."""
    return all(agree(expected[n], got[n]) for n in _LEAVES)


def _accumulate_all(first: Mapping[str, float], root_seed: float) -> dict[str, float]:
    """Every node's grad after a second backward() that resets nothing (micrograd's way):
    the root's grad set to ``root_seed``, then child.grad += local · node.grad again."""
    ref = _reference_graph()
    name = {id(ref[n]): n for n in _GRAPH_NODES}
    grads = {**first, "out": root_seed}
    for node in topological_order(ref["out"]):
        for child, local in zip(node._prev, node.local_grads(), strict=True):
            grads[name[id(child)]] += local * grads[name[id(node)]]
    return grads


def _first_pass(engine: Engine) -> tuple[dict[str, Any], dict[str, float]] | str:
    """The foreign graph after one backward() and its grads, or why the check cannot run."""
    for form_id in SHARED_CASE.needs:
        if (why := engine.unsupported(form_id)) is not None:
            return f"needs {FORM_BY_ID[form_id].expression}: {why}"
    ns = _graph(engine)
    ns["out"].backward()
    first = _grads(ns, _GRAPH_NODES)
    expected = _grads(_reference_graph(), _LEAVES)
    if not _same(expected, first):
        return "the first backward() is already wrong (see shared node)"
    return ns, first


def check_repeated(engine: Engine, spec: CheckSpec) -> CheckResult:
    """Two backward() calls without zeroing: leaves accumulate (PyTorch), every node
    accumulates (micrograd), each call starts afresh, or none of these (a FAIL)."""
    started = _first_pass(engine)
    if isinstance(started, str):
        return CheckResult(spec.id, spec.title, "SKIP", started)
    ns, first = started
    ns["out"].backward()
    second = _grads(ns, _GRAPH_NODES)
    a1, a2 = first["a"], second["a"]
    seen = f"a.grad went from {number(a1)} to {number(a2)} after a second out.backward()"
    data: dict[str, Any] = {"first": first, "second": second}
    micrograd = _accumulate_all(first, 1.0)
    if _same({n: 2.0 * first[n] for n in _LEAVES}, second):
        interior = (
            "interior nodes hold the last pass's gradient"
            if agree(first["c"], second["c"])
            else "interior nodes accumulate too"
        )
        text = f"leaves accumulate, like PyTorch ({seen}, 2×); {interior}"
        return CheckResult(spec.id, spec.title, "INFO", text, data={**data, "behaviour": "leaves"})
    if _same(micrograd, second) or _same(_accumulate_all(first, first["out"] + 1.0), second):
        text = (
            f"every node accumulates, like micrograd: {seen}, not 2× ({number(2 * a1)}): the "
            "stale interior gradients flow down again, so zero every grad (or build the graph "
            "again) before each backward()"
        )
        return CheckResult(spec.id, spec.title, "INFO", text, data={**data, "behaviour": "all"})
    if _same(first, second):
        text = f"each backward() starts afresh ({seen}): no accumulation across calls"
        return CheckResult(spec.id, spec.title, "INFO", text, data={**data, "behaviour": "fresh"})
    message = (
        f"inconsistent: {seen}, neither 2× ({number(2 * a1)}: leaves accumulate, like "
        f"PyTorch), {number(micrograd['a'])} (every node accumulates, like micrograd) nor "
        f"{number(a1)} (a fresh start)"
    )
    code = repro_code(
        engine, SHARED_CASE.code + "\nout.backward()", dict(SHARED_CASE.leaves), {}, []
    )
    code += f"\nprint(a.grad)  # {number(a2)}: after one backward() it was {number(a1)}"
    finding = Finding(message, 2.0 * a1, a2, code)
    data["behaviour"] = "inconsistent"
    return CheckResult(spec.id, spec.title, "FAIL", message, "backward", (finding,), data)


def check_reset(engine: Engine, spec: CheckSpec) -> CheckResult:
    """Setting grads to 0 must make the next backward() give the first pass's gradients:
    on the leaves before building the graph again (a training step), or on every node."""
    started = _first_pass(engine)
    if isinstance(started, str):
        return CheckResult(spec.id, spec.title, "SKIP", started)
    ns, first = started
    findings = []
    for name in _LEAVES:
        ns[name].grad = 0.0
    again: dict[str, Any] = {name: ns[name] for name in _LEAVES}
    exec(compile_ours(SHARED_CASE.code), {"__builtins__": {}}, again)
    again["out"].backward()
    got = _grads(again, _LEAVES)
    if not _same(first, got):
        findings.append(
            _reset_finding("a.grad = b.grad = 0, then the graph built again", first, got)
        )
    for name in _GRAPH_NODES:
        ns[name].grad = 0.0
    ns["out"].backward()
    got = _grads(ns, _LEAVES)
    if not _same(first, got):
        findings.append(_reset_finding("every node's grad set to 0 (same graph)", first, got))
    zero_grad = _describe_zero_grad(engine)
    if findings:
        detail = findings[0].message + zero_grad
        return CheckResult(spec.id, spec.title, "FAIL", detail, "backward", tuple(findings))
    detail = "zeroed leaves + a new graph, or every node zeroed: the first pass again"
    return CheckResult(spec.id, spec.title, "PASS", detail + zero_grad)


def _reset_finding(how: str, first: Mapping[str, float], got: Mapping[str, float]) -> Finding:
    """After ``how``, backward() did not give the first pass's leaf gradients."""
    message = (
        f"after {how}, backward() gives a.grad = {number(got['a'])}, b.grad = "
        f"{number(got['b'])}, not the first pass's {number(first['a'])}, {number(first['b'])}"
    )
    return Finding(message, first["a"], got["a"])


def _describe_zero_grad(engine: Engine) -> str:
    """What the class's own zero_grad() method does, if it has one."""
    if not callable(getattr(engine.cls, "zero_grad", None)):
        return ""
    ns = _graph(engine)
    try:
        ns["out"].backward()
        ns["out"].zero_grad()
    except Exception as error:
        return f"; out.zero_grad() raised {describe_error(error)}"
    zeroed = [n for n in _GRAPH_NODES if as_float(ns[n].grad) == 0.0]
    if len(zeroed) == len(_GRAPH_NODES):
        return "; out.zero_grad() zeroes every node of the graph"
    return f"; out.zero_grad() zeroes {', '.join(zeroed) or 'no node'} of a, b, c, d, out"


# --- the deepest chain ---------------------------------------------------------------------


def _chain_link(engine: Engine) -> Callable[[Any, Any], Any] | None:
    """One link of the chain: v + 1.0, or v + one with a Value one; None without +."""
    if engine.unsupported("add_n") is None:
        return lambda v, one: v + 1.0
    if engine.unsupported("add") is None:
        return lambda v, one: v + one
    return None


def _chain(engine: Engine, link: Callable[[Any, Any], Any], n: int) -> str:
    """Backpropagate through a chain of n links: "ok", or what went wrong."""
    with CollectorPaused():  # a micrograd-style graph is full of cycles: collect once, after
        try:
            leaf = engine.leaf(0.5)
            one = engine.leaf(1.0)
            v = leaf
            for _ in range(n):
                v = link(v, one)
            v.backward()
            grad = as_float(leaf.grad)
        except (RecursionError, MemoryError) as error:
            return type(error).__name__
        except Exception as error:
            return describe_error(error)
        finally:
            v = leaf = one = None
            gc.collect()
    return "ok" if grad == 1.0 else f"the leaf's grad is {grad!r}, not 1"


def check_depth(
    engine: Engine,
    spec: CheckSpec,
    max_depth: int,
    seconds: float,
    progress: Callable[[Mapping[str, Any]], None],
) -> CheckResult:
    """The longest chain v = v + 1 that backward() handles: doubling from 100 up to
    ``max_depth`` while the next try fits in ``seconds`` of this process's CPU time (so
    the result does not depend on how busy the machine is); after a RecursionError,
    bisection finds the exact limit."""
    link = _chain_link(engine)
    if link is None:
        return CheckResult(spec.id, spec.title, "SKIP", "needs a + n or a + b")

    def trial(n: int) -> tuple[str, float]:
        progress({"trying": n})
        start = time.process_time()
        outcome = _chain(engine, link, n)
        return outcome, time.process_time() - start

    spent, n, best = 0.0, min(100, max_depth), 0
    while True:
        outcome, took = trial(n)
        spent += took
        if outcome != "ok":
            break
        best = n
        progress({"ok": n, "seconds": took})
        following = min(2 * n, max_depth)
        if n == max_depth or spent + took * following / n > seconds:
            if n == max_depth:
                text = f"{n:,} ops ({took:.2g} s of CPU): the most it tries (--max-depth)"
            else:
                text = (
                    f"at least {n:,} ops ({took:.2g} s of CPU); stopped by the time bound "
                    f"(--depth-seconds {seconds:g})"
                )
            return CheckResult(spec.id, spec.title, "INFO", text, data={"depth": n, "limit": None})
        n = following
    data = {"depth": best, "limit": n, "error": outcome}
    if outcome == "RecursionError":
        low, high = best, n
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (low, mid) if trial(mid)[0] == "RecursionError" else (mid, high)
        text = (
            f"{low:,} ops; RecursionError at {high:,}: backward() is recursive (Python's "
            f"recursion limit is {sys.getrecursionlimit():,}); an explicit stack removes the limit"
        )
        data.update(depth=low, limit=high)
        return CheckResult(spec.id, spec.title, "INFO", text, data=data)
    if outcome == "MemoryError":
        text = f"{best:,} ops; out of memory at {n:,}"
        return CheckResult(spec.id, spec.title, "INFO", text, data=data)
    text = f"a chain of {n:,} ops: {outcome}"
    return CheckResult(spec.id, spec.title, "FAIL", text, "backward", (Finding(text),), data)
