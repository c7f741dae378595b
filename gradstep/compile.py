"""Compiled replay: record a training step's graph once, then re-run it without building nodes.

``step = gradstep.compile(loss_fn, params)`` calls ``loss_fn()`` to record the graph, then
turns it into straight-line Python — one line per node for the forward pass, one line per
edge for the backward pass — and compiles that source once.  Each ``step()`` reads the
parameters' current ``data``, recomputes the loss and adds ∂loss/∂p into every ``p.grad``,
exactly as ``loss_fn().backward()`` would (same float operations in the same order, so the
results are equal to the last bit), without allocating a single `Value`.

Only a *static* graph can be replayed: the same ops on the same nodes every step (an MLP on a
fixed batch).  Constants — every leaf that is not a parameter, such as the inputs — are
frozen at recording time.  If ``loss_fn`` branches on data (``if x.data > 0``), samples a new
batch, or otherwise builds a different graph from call to call, use eager mode.

The generated source is built only from the recorded graph (node numbers, op templates
below and ``repr`` of recorded floats); no user string is ever evaluated.
"""

from __future__ import annotations

import builtins
import functools
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from gradstep import ops
from gradstep.engine import Value, _NodeRule, local_floats, topological_order
from gradstep.functional import float_exp, float_sigmoid
from gradstep.grad_mode import enable_grad
from gradstep.ops import OpSpec

__all__ = ["compile", "CompiledStep", "CompileError", "GraphChangedError"]

Method = Literal["codegen", "tape"]


class CompileError(ValueError):
    """The loss function or the parameters cannot be compiled (the message says why)."""


class GraphChangedError(RuntimeError):
    """The graph ``loss_fn`` builds is not the one that was recorded: use eager mode."""


# ---------------------------------------------------------------------------------------
# the ops compile knows: forward and local-derivative templates, mirroring engine.py
#
# In the templates, {a} and {b} are the children's values, {o} the node's own value, {c} its
# constant (`_ctx`).  Each local template computes exactly the float the engine's rule
# returns; the backward line is then ``(local) * upstream``, as in `Value.backward`.
# Every template is checked against the engine on the recorded graph when compiling.


@dataclass(frozen=True)
class _OpSpec:
    """How to replay one op: its forward expression and one local derivative per child."""

    kind: str
    forward: str
    locals: tuple[str, ...]
    #: raise the eager error when this (Python) condition holds before the forward line
    guard: str = ""


_SPECS: dict[OpSpec, _OpSpec] = {
    ops.ADD: _OpSpec("+", "{a} + {b}", ("1.0", "1.0")),
    ops.SUB: _OpSpec("-", "{a} - {b}", ("1.0", "-1.0")),
    ops.MUL: _OpSpec("*", "{a} * {b}", ("{b}", "{a}")),
    ops.DIV: _OpSpec("/", "{a} / {b}", ("(1.0 / {b})", "(-{o} / {b})")),
    ops.NEG: _OpSpec("neg", "-{a}", ("-1.0",)),
    ops.POW: _OpSpec("**n", "{a} ** {c}", ("POW",)),
    ops.POW_VALUE: _OpSpec(
        "**",
        "{a} ** {b}",
        (
            "(0.0 if {b} == 0.0 else _INF if {a} == 0.0 and {b} < 1.0"
            " else {b} * {a} ** ({b} - 1.0))",
            "(0.0 if {a} == 0.0 else {o} * _log({a}))",
        ),
        guard="{a} < 0.0 or ({a} == 0.0 and {b} < 0.0)",
    ),
    ops.RELU: _OpSpec("ReLU", "0.0 if {a} < 0.0 else {a}", ("(0.0 if {o} <= 0.0 else 1.0)",)),
    ops.LEAKY_RELU: _OpSpec(
        "LeakyReLU", "{a} if {a} > 0.0 else {c} * {a}", ("(1.0 if {a} > 0.0 else {c})",)
    ),
    ops.TANH: _OpSpec("tanh", "_tanh({a})", ("(1.0 - {o} * {o})",)),
    ops.SIGMOID: _OpSpec("sigmoid", "_sigmoid({a})", ("({o} * (1.0 - {o}))",)),
    ops.EXP: _OpSpec("exp", "_exp({a})", ("{o}",)),
    ops.LOG: _OpSpec("log", "_log({a})", ("(1.0 / {a})",), guard="{a} <= 0.0"),
    ops.SQRT: _OpSpec("sqrt", "_sqrt({a})", ("(0.5 / {o})",)),
    ops.ABS: _OpSpec("abs", "abs({a})", ("(1.0 if {a} > 0.0 else -1.0 if {a} < 0.0 else 0.0)",)),
}

#: names the generated code may use (nothing else is in its namespace)
_NAMESPACE: dict[str, Any] = {
    "__builtins__": {"abs": abs},
    "_INF": math.inf,
    "_NAN": math.nan,
    "_log": math.log,
    "_exp": float_exp,
    "_tanh": math.tanh,
    "_sqrt": math.sqrt,
    "_sigmoid": float_sigmoid,
}


class _DomainError(Exception):
    """Raised by generated code where the engine would raise; replaced by the eager error."""


def _domain_error() -> NoReturn:
    raise _DomainError


def _literal(x: float) -> str:
    """Python source for the float x, exact (repr round-trips; inf and nan by name)."""
    if math.isfinite(x):
        text = repr(x)
        return f"({text})" if text.startswith("-") else text
    if math.isnan(x):
        return "_NAN"
    return "_INF" if x > 0 else "(-_INF)"


def _pow_const_local(a: str, n: float) -> str:
    """The engine's ∂(x**n)/∂x for a constant n, as an expression in the base a."""
    if n == 0.0:
        return "0.0"
    slope = f"{_literal(n)} * {a} ** {_literal(n - 1.0)}"
    if n < 1.0:
        return f"(_INF if {a} == 0.0 else {slope})"
    return f"({slope})"


def _pow_const_guard(a: str, n: float) -> str:
    """When the engine refuses x**n for a constant n (as a Python condition on a)."""
    conditions = []
    if not n.is_integer():
        conditions.append(f"{a} < 0.0")
    if n < 0.0:
        conditions.append(f"{a} == 0.0")
    return " or ".join(conditions)


# ---------------------------------------------------------------------------------------
# recording


@dataclass(frozen=True)
class _Node:
    """One recorded node: its op spec (None for a leaf), children and constant."""

    spec: _OpSpec | None
    children: tuple[int, ...]
    ctx: float
    #: a leaf's recorded value (constants are frozen into the replay)
    data: float
    #: the position of this leaf in ``params``, or -1
    param: int
    #: the engine's record of the node's op (None for a leaf)
    op: OpSpec | None = None


def _float_bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _same_float(x: float, y: float) -> bool:
    """Equal to the last bit (any NaN equals any NaN)."""
    return _float_bits(x) == _float_bits(y) or (math.isnan(x) and math.isnan(y))


@dataclass
class _Recording:
    """A graph in forward order (children before parents), the root last."""

    nodes: list[_Node]
    root: Value
    #: ops made with `gradstep.define_op` (the replay calls their forward and local)
    user_ops: list[OpSpec]

    def signature(self) -> str:
        """What must stay the same between calls, one line per node: op, wiring, constants
        (as exact hex floats).  One string, so a compiled step keeps one object, not 10⁵."""
        return "\n".join(
            f"{n.spec.kind if n.spec else 'leaf'} {n.children} {n.ctx.hex()} "
            f"{n.data.hex() if n.spec is None and n.param < 0 else ''} {n.param}"
            for n in self.nodes
        )


def _describe_param(i: int, p: Value) -> str:
    return f"params[{i}]" + (f" (label {p.label!r})" if p.label else "") + f" = {p.data!r}"


def _record(loss_fn: Callable[[], Value], params: Sequence[Value]) -> _Recording:
    """Call ``loss_fn()`` and number its graph, children first (recording even in `no_grad`)."""
    with enable_grad():
        root = loss_fn()
    if not isinstance(root, Value):
        raise CompileError(
            f"loss_fn must return a gradstep Value, got {type(root).__name__}: {root!r}"
        )
    forward = topological_order(root)
    forward.reverse()
    index = {id(node): i for i, node in enumerate(forward)}
    param_index = {id(p): i for i, p in enumerate(params)}
    nodes = []
    user_ops: list[OpSpec] = []
    for node in forward:
        if node._prev:
            spec = _SPECS.get(node._spec) or _user_template(node, user_ops)  # type: ignore[arg-type]
            ctx = node._ctx or 0.0
            children = tuple(index[id(c)] for c in node._prev)
            nodes.append(_Node(spec, children, ctx, 0.0, -1, node._spec))
        else:
            nodes.append(_Node(None, (), 0.0, node.data, param_index.get(id(node), -1)))
    missing = [i for i, p in enumerate(params) if id(p) not in index]
    if missing:
        listed = ", ".join(_describe_param(i, params[i]) for i in missing[:5])
        raise CompileError(
            f"{len(missing)} parameter(s) are not in the graph of loss_fn(): {listed}. "
            "Their gradient would always be zero; pass only the parameters the loss uses "
            "(or check that loss_fn really reads them)."
        )
    return _Recording(nodes, root, user_ops)


def _user_template(node: Value, user_ops: list[OpSpec]) -> _OpSpec:
    """Templates that call an op record's own forward and local (numbered ``_UF0``…): for
    ops made with `define_op`, and any built-in op without a template of its own above."""
    record = node._spec
    if record is None or isinstance(record, _NodeRule):
        rule = getattr(record, "rule", None)
        named = f" (local-gradient rule {rule.__name__})" if rule is not None else ""
        raise CompileError(
            f"op {node._op!r}{named} is not one compile knows how to replay: make it with "
            "gradstep.define_op, or use eager mode"
        )
    if record not in user_ops:
        user_ops.append(record)
    k = user_ops.index(record)
    args = ", ".join(f"{{x{j}}}" for j in range(record.arity))
    constant = ", {c}" if record.param else ""
    return _OpSpec(
        f"{record.name}#{k}",
        f"_UF{k}({args}{constant})",
        tuple(f"_UL{k}({args}, {{o}}{constant})[{j}]" for j in range(record.arity)),
    )


def _user_namespace(user_ops: Sequence[OpSpec]) -> dict[str, Any]:
    """``_UF{k}`` and ``_UL{k}``: each op's forward (its domain checked) and local derivatives
    on floats, called as ``_UF{k}(*xs[, c])`` and ``_UL{k}(*xs, out[, c])``."""
    namespace: dict[str, Any] = {}
    for k, record in enumerate(user_ops):
        namespace[f"_UF{k}"] = functools.partial(_call_forward, record)
        namespace[f"_UL{k}"] = functools.partial(_call_local, record)
    return namespace


def _call_forward(record: OpSpec, *args: float) -> float:
    """The record's forward on floats; `_DomainError` where the engine would raise."""
    if record.check is not None and record.check(*args) is not None:
        raise _DomainError
    return float(record.forward(*args))


def _call_local(record: OpSpec, *args: float) -> tuple[float, ...]:
    """The record's local derivatives on floats: ``args`` = operands, out[, constant]."""
    if record.param:
        *xs, out, c = args
        return local_floats(record, xs, out, c)
    return local_floats(record, args[:-1], args[-1], None)


def _check_params(params: Sequence[Value]) -> tuple[Value, ...]:
    """The parameters as a tuple: Values, leaves, each once."""
    params = tuple(params)
    seen: dict[int, int] = {}
    for i, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(f"params[{i}] must be a gradstep Value, got {type(p).__name__}")
        if p._prev:
            raise CompileError(
                f"params[{i}] is the output of a {p._op!r} op, not a leaf: parameters must be "
                "leaves (Values created directly, like a model's weights)"
            )
        if id(p) in seen:
            raise CompileError(f"params[{i}] is the same Value as params[{seen[id(p)]}]")
        seen[id(p)] = i
    if not params:
        raise CompileError("params is empty: nothing to compute gradients for")
    return params


# ---------------------------------------------------------------------------------------
# code generation


def _needs_grad(nodes: list[_Node]) -> list[bool]:
    """Whether a node's gradient can reach a parameter (others are not computed)."""
    needs = [False] * len(nodes)
    for i, n in enumerate(nodes):
        if n.spec is None:
            needs[i] = n.param >= 0
        else:
            needs[i] = any(needs[c] for c in n.children)
    return needs


class _Names:
    """Source-code names of the recorded nodes' values and gradients."""

    def __init__(self, nodes: list[_Node]) -> None:
        self.nodes = nodes

    def value(self, i: int) -> str:
        n = self.nodes[i]
        if n.spec is None and n.param < 0:
            return _literal(n.data)
        return f"v{i}"

    def fill(self, template: str, i: int) -> str:
        n = self.nodes[i]
        names = {"o": self.value(i), "c": _literal(n.ctx)}
        for key, child in zip("ab", n.children, strict=False):
            names[key] = self.value(child)
        for j, child in enumerate(n.children):
            names[f"x{j}"] = self.value(child)
        return template.format(**names)


def _forward_lines(nodes: list[_Node], names: _Names) -> list[str]:
    lines = []
    for i, n in enumerate(nodes):
        spec = n.spec
        if spec is None:
            continue
        guard = spec.guard
        if spec.kind == "**n":
            guard = _pow_const_guard("{a}", n.ctx)
        expr = names.fill(spec.forward, i)
        if guard:
            expr = f"_domain_error() if {names.fill(guard, i)} else {expr}"
        lines.append(f"v{i} = {expr}")
    return lines


def _local_source(nodes: list[_Node], names: _Names, i: int, k: int) -> str:
    n = nodes[i]
    assert n.spec is not None
    template = n.spec.locals[k]
    if template == "POW":
        return _pow_const_local(names.value(n.children[0]), n.ctx)
    return names.fill(template, i)


def _backward_lines(nodes: list[_Node], names: _Names) -> tuple[list[str], list[int]]:
    """Lines of the chain rule in the engine's visit order; the params whose grads are read.

    Exactness: the engine zeroes an interior node's grad and adds each product into it, so
    its first line is ``g = 0.0 + product`` (``0.0 + p`` differs from ``p`` only for p = -0.0).
    An interior grad therefore is never -0.0, so where a node's only product is its parent's
    grad times a local 1.0 (the children of ``+``), the node simply shares its parent's grad
    variable: ``1.0 * g`` and ``0.0 + g`` are both exactly ``g``.  A parameter's products
    are summed from 0.0 the same way and added to ``p.grad`` at the end, as eager leaves are.
    """
    needs = _needs_grad(nodes)
    root = len(nodes) - 1
    contributions = [0] * len(nodes)
    for i, n in enumerate(nodes):
        if n.spec is not None and needs[i]:
            for child in n.children:
                contributions[child] += needs[child]
    grad = [f"g{i}" for i in range(len(nodes))]
    lines = [f"{grad[root]} = 1.0"]
    started = [False] * len(nodes)
    params_used: list[int] = []
    for i in range(root, -1, -1):  # the engine's order: reversed forward order
        n = nodes[i]
        if n.spec is None or not needs[i]:
            continue
        upstream = grad[i]
        for k, child in enumerate(n.children):
            if not needs[child]:
                continue
            local = _local_source(nodes, names, i, k)
            product = upstream if local == "1.0" else f"{local} * {upstream}"
            is_param = nodes[child].spec is None
            if started[child]:
                lines.append(f"{grad[child]} += {product}")
                continue
            started[child] = True
            if is_param:  # summed from 0.0 like eager's leaves, then added to p.grad at the end
                params_used.append(child)
                lines.append(f"{grad[child]} = 0.0 + {product}")
            elif contributions[child] == 1 and product == upstream:
                grad[child] = upstream  # shares the parent's grad: no line
            else:  # an interior node: zeroed, then the first product added
                lines.append(f"{grad[child]} = 0.0 + {product}")
    return lines, params_used


def _generate(recording: _Recording, nparams: int) -> str:
    """The source of ``replay(params)`` for this recording."""
    nodes = recording.nodes
    names = _Names(nodes)
    root = len(nodes) - 1
    param_nodes = sorted((n.param, i) for i, n in enumerate(nodes) if n.param >= 0)
    body = []
    if param_nodes:
        targets = ", ".join(f"v{i}" for _, i in param_nodes)
        sources = ", ".join(f"params[{p}].data" for p, _ in param_nodes)
        body.append(f"{targets}, = {sources},")
    body += ["# forward", *_forward_lines(nodes, names)]
    if nodes[root].spec is None:  # the loss is a leaf: backward() adds 1 to its grad
        p = nodes[root].param
        if p >= 0:
            body.append(f"params[{p}].grad += 1.0")
        body.append(f"return {names.value(root)}")
    else:
        backward, used = _backward_lines(nodes, names)
        node_of = {nodes[i].param: i for i in used}
        order = sorted(node_of)
        body += ["# backward", *backward]
        for p in order:
            body.append(f"params[{p}].grad += g{node_of[p]}")
        body.append(f"return v{root}")
    return "def replay(params):\n" + "\n".join(f"    {line}" for line in body) + "\n"


# ---------------------------------------------------------------------------------------
# the interpreted tape (the slower alternative, kept for comparison and huge graphs)


def _tape_replay(recording: _Recording) -> Callable[[Sequence[Value]], float]:
    """A replay that interprets the recorded graph from flat lists (no generated code).

    The common ops (+, *, ReLU) are inlined in the loops; the others go through
    `_tape_forward_slow` and `_tape_locals` (the op records).  Every gradient starts at 0.0 and
    every product is added; a parameter's sum is then added to ``p.grad``, as in eager mode.
    """
    nodes = recording.nodes
    count = len(nodes)
    needs = _needs_grad(nodes)
    root = count - 1
    values = [n.data if n.spec is None and n.param < 0 else 0.0 for n in nodes]
    params_at = [(i, n.param) for i, n in enumerate(nodes) if n.param >= 0]
    forward = [
        (n.spec.kind, i, n.children[0], n.children[-1], n)
        for i, n in enumerate(nodes)
        if n.spec is not None
    ]
    backward = [
        (
            n.spec.kind,
            i,
            n.children[0],
            n.children[-1],
            needs[n.children[0]],
            needs[n.children[-1]],
            n,
        )
        for i, n in reversed(list(enumerate(nodes)))
        if n.spec is not None and needs[i]
    ]
    root_is_leaf = nodes[root].spec is None
    root_param = nodes[root].param

    def replay(params: Sequence[Value]) -> float:
        v = values[:]
        for i, p in params_at:
            v[i] = params[p].data
        for kind, i, a, b, n in forward:
            if kind == "*":
                v[i] = v[a] * v[b]
            elif kind == "+":
                v[i] = v[a] + v[b]
            elif kind == "ReLU":
                x = v[a]
                v[i] = 0.0 if x < 0.0 else x
            else:
                v[i] = _tape_forward_slow(n, v)
        if root_is_leaf:
            if root_param >= 0:
                params[root_param].grad += 1.0
            return v[root]
        g = [0.0] * count
        g[root] = 1.0
        for kind, i, a, b, need_a, need_b, n in backward:
            up = g[i]
            if kind == "+":  # local 1.0: 1.0 * up is exactly up
                if need_a:
                    g[a] += up
                if need_b:
                    g[b] += up
            elif kind == "*":
                if need_a:
                    g[a] += v[b] * up
                if need_b:
                    g[b] += v[a] * up
            else:
                for child, local in zip(n.children, _tape_locals(n, v, i), strict=True):
                    if needs[child]:
                        g[child] += local * up
        for i, p in params_at:
            params[p].grad += g[i]
        return v[root]

    return replay


def _tape_args(n: _Node, v: list[float]) -> tuple[list[float], float | None]:
    """The node's operands from the replayed values, and its constant if its op has one."""
    assert n.op is not None
    return [v[c] for c in n.children], (n.ctx if n.op.param else None)


def _tape_forward_slow(n: _Node, v: list[float]) -> float:
    """The forward value of a less common op, by its record (raises where the engine would)."""
    assert n.op is not None
    xs, ctx = _tape_args(n, v)
    args = xs if ctx is None else [*xs, ctx]
    if n.op.check is not None and n.op.check(*args) is not None:
        raise _DomainError
    return float(n.op.forward(*args))


def _tape_locals(n: _Node, v: list[float], i: int) -> tuple[float, ...]:
    """The engine's local derivatives of node i, from the replayed values, by its record."""
    assert n.op is not None
    xs, ctx = _tape_args(n, v)
    return local_floats(n.op, xs, v[i], ctx)


# ---------------------------------------------------------------------------------------
# the public object


class CompiledStep:
    """A recorded ``loss_fn``: call it to recompute the loss and accumulate gradients.

    ``step()`` ≡ ``loss = loss_fn(); loss.backward(); return loss.data`` for a static graph,
    bit for bit, but without building nodes: it reads each parameter's ``data`` and adds
    ∂loss/∂p into its ``grad`` (zero the grads first, as in eager mode).  Only the parameters
    get gradients; every other leaf is a constant frozen when the step was compiled.  A step
    that meets a domain error (log of a value that became negative, an overflow...) raises
    the error eager mode raises, with its message, and leaves every ``grad`` unchanged.
    """

    def __init__(
        self,
        loss_fn: Callable[[], Value],
        params: Sequence[Value],
        method: Method = "codegen",
        verify: bool = True,
    ) -> None:
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        if method not in ("codegen", "tape"):
            raise ValueError(f"method must be 'codegen' or 'tape', got {method!r}")
        self.loss_fn = loss_fn
        self.params = _check_params(params)
        self.method: Method = method
        recording = _record(loss_fn, self.params)
        self._signature = recording.signature()
        #: how many nodes the recorded graph has (leaves included)
        self.num_nodes = len(recording.nodes)
        #: the generated Python source (empty for method="tape")
        self.source = ""
        self._replay: Callable[[Sequence[Value]], float]
        if method == "codegen":
            self.source = _generate(recording, len(self.params))
            namespace = dict(
                _NAMESPACE, _domain_error=_domain_error, **_user_namespace(recording.user_ops)
            )
            code = builtins.compile(self.source, "<gradstep.compile>", "exec")
            exec(code, namespace)
            self._replay = namespace["replay"]
        else:
            self._replay = _tape_replay(recording)
        del recording  # the recorded graph is not kept alive
        if verify:
            self.check()

    def __call__(self) -> float:
        """Recompute the loss from the parameters' data, add ∂loss/∂p into each ``p.grad``."""
        try:
            return self._replay(self.params)
        except (_DomainError, ArithmeticError, ValueError, TypeError):
            return self._eager_step()

    def _eager_step(self) -> float:
        """Where the replay raised, run the step eagerly: eager mode's own error and message
        (the parameters' grads left as they were), or, at an edge where plain floats raise but
        the engine gives ±inf or nan (an overflow), eager mode's result."""
        saved = [p.grad for p in self.params]
        try:
            with enable_grad():
                loss = self.loss_fn()
            loss.backward()
        except BaseException:
            for p, g in zip(self.params, saved, strict=True):
                p.grad = g
            raise
        return loss.data

    def check(self) -> None:
        """Re-record ``loss_fn()`` at the current parameters and compare with the replay.

        Raises `GraphChangedError` if the graph's shape or constants changed, or if the replay's
        loss or gradients differ from eager ``backward()`` by a single bit.  Parameters' ``grad``
        are left as they were.
        """
        saved = [p.grad for p in self.params]
        try:
            recording = _record(self.loss_fn, self.params)
            self._compare_signature(recording.signature())
            for p in self.params:
                p.grad = 0.0
            recording.root.backward()
            eager_loss = recording.root.data
            eager_grads = [p.grad for p in self.params]
            del recording
            for p in self.params:
                p.grad = 0.0
            replay_loss = self._replay(self.params)
            replay_grads = [p.grad for p in self.params]
        finally:
            for p, g in zip(self.params, saved, strict=True):
                p.grad = g
        if not _same_float(eager_loss, replay_loss):
            raise GraphChangedError(
                f"replayed loss {replay_loss!r} differs from eager mode's {eager_loss!r}"
            )
        for i, (e, r) in enumerate(zip(eager_grads, replay_grads, strict=True)):
            if not _same_float(e, r):
                raise GraphChangedError(
                    f"replayed gradient of {_describe_param(i, self.params[i])} is {r!r}, "
                    f"eager mode's is {e!r}"
                )

    def _compare_signature(self, signature: str) -> None:
        if signature == self._signature:
            return
        now, recorded = signature.split("\n"), self._signature.split("\n")
        if len(now) != len(recorded):
            where = f"it now has {len(now)} nodes instead of {len(recorded)}"
        else:
            first = next(i for i, (a, b) in enumerate(zip(now, recorded, strict=True)) if a != b)
            op_now, op_then = now[first].split(" ", 1)[0], recorded[first].split(" ", 1)[0]
            where = (
                f"node {first} (in forward order) is now {op_now!r} "
                f"where the recording has {op_then!r}"
                if op_now != op_then
                else f"node {first} (in forward order) has different inputs or constants"
            )
        raise GraphChangedError(
            f"loss_fn() builds a different graph from the recorded one: {where}. "
            "compile only replays static graphs (the same ops on the same nodes every call, "
            "constants included); a graph that depends on data, random sampling or a new batch "
            "needs eager mode"
        )

    def __repr__(self) -> str:
        return (
            f"CompiledStep({self.num_nodes} nodes, {len(self.params)} params, "
            f"method={self.method!r})"
        )


def compile(
    loss_fn: Callable[[], Value],
    params: Sequence[Value],
    *,
    method: Method = "codegen",
    verify: bool = True,
) -> CompiledStep:
    """Record ``loss_fn()`` once and return a step that replays forward + backward.

    ``method="codegen"`` (default) generates and compiles straight-line Python;
    ``method="tape"`` interprets the recorded graph instead (slower, no compile time).
    With ``verify`` (default), ``loss_fn`` is recorded a second time and the replay is checked
    against eager ``backward()`` to the last bit; a graph that differs between the two calls
    (random batches, dropout) raises `GraphChangedError`.
    """
    return CompiledStep(loss_fn, params, method=method, verify=verify)
