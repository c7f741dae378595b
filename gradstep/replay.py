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
gradstep's own losses build the same graph for any parameters (their log-sum-exp shift is a
``max`` node, softplus one formula), so they replay exactly after any update.

What `compile` detects (with ``verify``, the default): it records ``loss_fn()`` four more
times — at the same parameters, at parameters nudged by about 10⁻⁶ (relative, random signs)
and by 10⁻² both ways (put back after) — and raises `GraphChangedError`
if the graph differs: a constant computed from a parameter's ``.data``
(``m = max(x.data …)``, ``Value(w.data)``), a branch on ``.data`` that flips within the
nudges, random sampling, a new batch.  What it cannot see: a branch on ``.data`` far from
the parameters at compile time (``if w.data > 100`` while w is 1), a function of ``.data``
that the nudges leave unchanged (``round``, ``int``), a graph that depends on state outside
the parameters, work ``loss_fn`` does beside the graph it returns (a node the loss does not
use, which might raise after an update, a print, a counter).  For the graph, ``check_every=n``
re-records it and compares every n-th step (eager cost on those steps), and ``step.check()``
does it on demand.

Edges: a step whose plain-float replay raises (1/(2√0), an overflow) or whose gradients come
out nan (where the engine's chain rule gives 0 · ±inf = 0 for a zero local derivative) is run
eagerly instead, so it returns eager mode's numbers or raises eager mode's error.

The generated source is built only from the recorded graph (node numbers, the op records'
rules run on symbols, and ``repr`` of recorded floats); no user string is ever evaluated.

There is one replay path.  An interpreted tape (no code generation) was measured against it
and removed: on the moons step it ran at 4.4× the floor against 0.9×, and it saved under 20 %
of the compile time (1.56 s against 1.85 s for 66,000 nodes), so no workload needed it.
"""

from __future__ import annotations

import builtins
import functools
import math
import random
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from gradstep import functional
from gradstep.engine import Value, _NodeRule, local_floats, topological_order
from gradstep.grad_mode import enable_grad
from gradstep.ops import OpSpec

__all__ = ["compile", "CompiledStep", "CompileError", "GraphChangedError"]


class CompileError(ValueError):
    """The loss function or the parameters cannot be compiled (the message says why)."""


class GraphChangedError(RuntimeError):
    """The graph ``loss_fn`` builds is not the one that was recorded: use eager mode."""


# ---------------------------------------------------------------------------------------
# the ops' code, from their records: each record's forward and local rule run on symbols
#
# One rule, another interpreter: `backward()` runs an op's ``local`` on floats and
# `gradstep.grad` on `Value`s; here it runs on `_Src` placeholders, whose arithmetic builds
# Python source instead of numbers, so ``lambda a, b, out: (b, a)`` gives the expressions
# ``{1}`` and ``{0}``.  The generated code then does exactly the float operations the
# engine does, in the same order (to the last bit).  A rule that branches in Python, calls
# ``math`` or returns something else (a user's op, a forward such as `float_relu`) is called
# instead, by name; a record with a domain ``check`` gets a line that calls it first.


class _Src:
    """A symbolic operand: Python source text.  Arithmetic and comparisons on it build source;
    ``where``, ``data`` and the functions of `gradstep.functional` work on it as on `Value`s;
    ``if`` on it raises (a rule that branches in Python is called instead)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def _op(self, symbol: str, other: object, reflected: bool = False) -> _Src:
        left, right = (_source(other), self.text) if reflected else (self.text, _source(other))
        return _Src(f"({left} {symbol} {right})")

    def __add__(self, other: object) -> _Src:
        return self._op("+", other)

    def __radd__(self, other: object) -> _Src:
        return self._op("+", other, True)

    def __sub__(self, other: object) -> _Src:
        return self._op("-", other)

    def __rsub__(self, other: object) -> _Src:
        return self._op("-", other, True)

    def __mul__(self, other: object) -> _Src:
        return self._op("*", other)

    def __rmul__(self, other: object) -> _Src:
        return self._op("*", other, True)

    def __truediv__(self, other: object) -> _Src:
        return self._op("/", other)

    def __rtruediv__(self, other: object) -> _Src:
        return self._op("/", other, True)

    def __pow__(self, other: object) -> _Src:
        return self._op("**", other)

    def __rpow__(self, other: object) -> _Src:
        return self._op("**", other, True)

    def __neg__(self) -> _Src:
        return _Src(f"(-{self.text})")

    def __abs__(self) -> _Src:
        return _Src(f"abs({self.text})")

    def __lt__(self, other: object) -> _Src:
        return self._op("<", other)

    def __le__(self, other: object) -> _Src:
        return self._op("<=", other)

    def __gt__(self, other: object) -> _Src:
        return self._op(">", other)

    def __ge__(self, other: object) -> _Src:
        return self._op(">=", other)

    def __eq__(self, other: object) -> _Src:  # type: ignore[override]
        return self._op("==", other)

    def __ne__(self, other: object) -> _Src:  # type: ignore[override]
        return self._op("!=", other)

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        raise TypeError("a symbolic operand has no truth value")

    @property
    def data(self) -> _Src:
        """`gradstep.functional.data`: the number in it (the value itself)."""
        return self

    def where(self, a: object, b: object) -> _Src:
        """`gradstep.functional.where`: ``a if self else b``."""
        return _Src(f"({_source(a)} if {self.text} else {_source(b)})")

    def __getattr__(self, name: str) -> Callable[..., _Src]:
        """``x.exp()``, ``x.leaky_relu(s)``…: the `gradstep.functional` function of that name."""
        if name not in functional.__all__:
            raise AttributeError(name)
        return lambda *args: _Src(f"_{name}({', '.join(map(_source, (self, *args)))})")


def _source(x: object) -> str:
    """Source for a symbol or a number (a number as its exact float literal)."""
    if isinstance(x, _Src):
        return x.text
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return _literal(float(x))
    raise TypeError(f"not a number: {x!r}")


@dataclass(frozen=True)
class _Code:
    """How to replay one op with one constant: source templates in ``{0}``, ``{1}``… (the
    operands) and ``{o}`` (the node's value), built from its record."""

    forward: str
    locals: tuple[str, ...]
    #: a statement that raises `_DomainError` where the op refuses its operands, or ""
    check: str = ""


def _code(record: OpSpec, ctx: float, k: int) -> _Code:
    """The record's forward and local rule as source: run on symbols where they can be, else
    called as ``_F{k}(…)`` and ``_L{k}(…)[i]`` (the k-th record of the recording)."""
    xs = [_Src(f"{{{i}}}") for i in range(record.arity)]
    constant = (ctx,) if record.param else ()
    args = ", ".join([x.text for x in xs] + [_literal(c) for c in constant])
    forward = _symbolic(record.forward, (*xs, *constant), 0)
    local = _symbolic(record.local, (*xs, _Src("{o}"), *constant), record.arity)
    return _Code(
        forward[0] if forward else f"_F{k}({args})",
        local or tuple(f"_L{k}({args}, {{o}})[{i}]" for i in range(record.arity)),
        f"_C{k}({args})" if record.check is not None else "",
    )


def _symbolic(rule: Callable[..., Any], args: tuple[Any, ...], count: int) -> tuple[str, ...]:
    """``rule(*args)`` on symbols as source: a forward (``count`` 0) must give a symbol, a
    local rule ``count`` symbols or numbers; () if the rule cannot run so."""
    try:
        result = rule(*args)
        if count == 0:
            return (result.text,) if isinstance(result, _Src) else ()
        results = tuple(result)
        return tuple(_source(r) for r in results) if len(results) == count else ()
    except Exception:  # a rule that branches or calls math on floats: called instead
        return ()


def _record_namespace(records: Sequence[OpSpec]) -> dict[str, Any]:
    """``_F{k}``, ``_L{k}`` and ``_C{k}``: each record's forward, local derivatives on floats
    (as backward() computes them) and domain check (raising `_DomainError`)."""
    namespace: dict[str, Any] = {}
    for k, record in enumerate(records):
        # a built-in forward gives a float; a user's forward is made one, as the engine does
        forward = record.forward if record.builtin else functools.partial(_call_forward, record)
        namespace[f"_F{k}"] = forward
        namespace[f"_L{k}"] = functools.partial(_call_local, record)
        namespace[f"_C{k}"] = functools.partial(_call_check, record)
    return namespace


def _call_forward(record: OpSpec, *args: float) -> float:
    """The record's forward on floats (a float, as the engine stores it)."""
    return float(record.forward(*args))


def _call_check(record: OpSpec, *args: float) -> None:
    """`_DomainError` where the engine would refuse the operands."""
    if record.check is not None and record.check(*args) is not None:
        raise _DomainError


def _call_local(record: OpSpec, *args: float) -> tuple[float, ...]:
    """The record's local derivatives on floats: ``args`` = operands, out[, constant]."""
    if record.param:
        *xs, out, c = args
        return local_floats(record, xs, out, c)
    return local_floats(record, args[:-1], args[-1], None)


#: names the generated code may use besides the records' (nothing else is in its namespace):
#: the functions of `gradstep.functional` as ``_exp``, ``_log``… (what rules call them by)
_NAMESPACE: dict[str, Any] = {
    "__builtins__": {"abs": abs},
    "_INF": math.inf,
    "_NAN": math.nan,
    **{f"_{name}": getattr(functional, name) for name in functional.__all__},
}


class _DomainError(Exception):
    """Raised by generated code where the engine would raise; replaced by the eager error."""


class _EdgeError(Exception):
    """Raised by generated code when a gradient is nan: the step is run eagerly instead."""


def _literal(x: float) -> str:
    """Python source for the float x, exact (repr round-trips; inf and nan by name)."""
    if math.isfinite(x):
        text = repr(x)
        return f"({text})" if text.startswith("-") else text
    if math.isnan(x):
        return "_NAN"
    return "_INF" if x > 0 else "(-_INF)"


# ---------------------------------------------------------------------------------------
# recording


@dataclass(frozen=True)
class _Node:
    """One recorded node: its op's record (None for a leaf), children and constant."""

    op: OpSpec | None
    children: tuple[int, ...]
    ctx: float
    #: a leaf's recorded value (constants are frozen into the replay)
    data: float
    #: the position of this leaf in ``params``, or -1
    param: int


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
    #: the op records in the graph, in order of first use (``_F{k}``… in the code)
    records: list[OpSpec]

    def signature(self) -> str:
        """What must stay the same between calls, one line per node: op, wiring, constants
        (as exact hex floats).  One string, so a compiled step keeps one object, not 10⁵."""
        return "\n".join(
            f"{n.op.name if n.op else 'leaf'} {n.children} {n.ctx.hex()} "
            f"{n.data.hex() if n.op is None and n.param < 0 else ''} {n.param}"
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
    records: dict[OpSpec, None] = {}
    for node in forward:
        record = node._spec
        if record is None:
            nodes.append(_Node(None, (), 0.0, node.data, param_index.get(id(node), -1)))
            continue
        if isinstance(record, _NodeRule):
            _refuse_node_rule(node, record)
        records.setdefault(record)
        children = tuple(index[id(c)] for c in node._prev)
        nodes.append(_Node(record, children, 0.0 if node._ctx is None else node._ctx, 0.0, -1))
    missing = [i for i, p in enumerate(params) if id(p) not in index]
    if missing:
        listed = ", ".join(_describe_param(i, params[i]) for i in missing[:5])
        raise CompileError(
            f"{len(missing)} parameter(s) are not in the graph of loss_fn(): {listed}. "
            "Their gradient would always be zero; pass only the parameters the loss uses "
            "(or check that loss_fn really reads them)."
        )
    return _Recording(nodes, root, list(records))


def _refuse_node_rule(node: Value, record: _NodeRule) -> NoReturn:
    """A node with only a rule of its own (``_local_grads``): nothing to generate code from."""
    named = f" (local-gradient rule {record.rule.__name__})" if record.rule is not None else ""
    raise CompileError(
        f"op {node._op!r}{named} is not one compile knows how to replay: make it with "
        "gradstep.define_op, or use eager mode"
    )


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
        if n.op is None:
            needs[i] = n.param >= 0
        else:
            needs[i] = any(needs[c] for c in n.children)
    return needs


class _Names:
    """Source-code names of the recorded nodes' values, and each node's code from its record."""

    def __init__(self, recording: _Recording) -> None:
        self.nodes = recording.nodes
        self.number = {record: k for k, record in enumerate(recording.records)}
        self.codes: dict[tuple[OpSpec, bytes], _Code] = {}

    def value(self, i: int) -> str:
        n = self.nodes[i]
        if n.op is None and n.param < 0:
            return _literal(n.data)
        return f"v{i}"

    def fill(self, i: int, template: str) -> str:
        """A template of node i's code, with its operands' names and its own."""
        n = self.nodes[i]
        return template.format(*(self.value(c) for c in n.children), o=self.value(i))

    def code(self, i: int) -> _Code:
        """Node i's op as code (made once per record and constant)."""
        n = self.nodes[i]
        assert n.op is not None
        key = (n.op, _float_bits(n.ctx))  # -0.0 and 0.0 are two constants
        code = self.codes.get(key)
        if code is None:
            code = self.codes[key] = _code(n.op, n.ctx, self.number[n.op])
        return code


def _forward_lines(nodes: list[_Node], names: _Names) -> list[str]:
    lines = []
    for i, n in enumerate(nodes):
        if n.op is None:
            continue
        code = names.code(i)
        if code.check:
            lines.append(names.fill(i, code.check))
        lines.append(f"v{i} = {names.fill(i, code.forward)}")
    return lines


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
        if n.op is not None and needs[i]:
            for child in n.children:
                contributions[child] += needs[child]
    grad = [f"g{i}" for i in range(len(nodes))]
    lines = [f"{grad[root]} = 1.0"]
    started = [False] * len(nodes)
    params_used: list[int] = []
    for i in range(root, -1, -1):  # the engine's order: reversed forward order
        n = nodes[i]
        if n.op is None or not needs[i]:
            continue
        upstream = grad[i]
        locals_ = names.code(i).locals
        for k, child in enumerate(n.children):
            if not needs[child]:
                continue
            local = names.fill(i, locals_[k])
            product = upstream if local == "1.0" else f"{local} * {upstream}"
            is_param = nodes[child].op is None
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


def _generate(recording: _Recording) -> str:
    """The source of ``replay(params)`` for this recording."""
    nodes = recording.nodes
    names = _Names(recording)
    root = len(nodes) - 1
    param_nodes = sorted((n.param, i) for i, n in enumerate(nodes) if n.param >= 0)
    body = []
    if param_nodes:
        targets = ", ".join(f"v{i}" for _, i in param_nodes)
        sources = ", ".join(f"params[{p}].data" for p, _ in param_nodes)
        body.append(f"{targets}, = {sources},")
    body += ["# forward", *_forward_lines(nodes, names)]
    if nodes[root].op is None:  # the loss is a leaf: backward() adds 1 to its grad
        p = nodes[root].param
        if p >= 0:
            body.append(f"params[{p}].grad += 1.0")
        body.append(f"return {names.value(root)}")
    else:
        backward, used = _backward_lines(nodes, names)
        node_of = {nodes[i].param: i for i in used}
        order = sorted(node_of)
        body += ["# backward", *backward, *_nan_guard([f"g{node_of[p]}" for p in order])]
        for p in order:
            body.append(f"params[{p}].grad += g{node_of[p]}")
        body.append(f"return v{root}")
    return "def replay(params):\n" + "\n".join(f"    {line}" for line in body) + "\n"


def _nan_guard(grads: list[str]) -> list[str]:
    """Lines that raise `_EdgeError` if any of these gradients is nan (a nan sum: a nan term,
    or +inf and -inf, which the eager step then settles), before any ``p.grad`` is touched."""
    if not grads:
        return []
    chunks = [" + ".join(grads[i : i + 32]) for i in range(0, len(grads), 32)]
    lines = [f"_s = {chunks[0]}", *(f"_s += {chunk}" for chunk in chunks[1:])]
    return [*lines, "if _s != _s:", "    raise _EdgeError"]


def _nudges(params: Sequence[Value]) -> Iterator[float]:
    """Move each parameter's data by (|p| + 1)·scale·sign for each (scale, sign) of `_NUDGES`
    (one random sign per parameter, flipped by the nudge's sign), yielding the scale each
    time; then put the data back."""
    rng = random.Random(17)
    signs = [rng.choice((-1.0, 1.0)) for _ in params]
    saved = [p.data for p in params]
    try:
        for scale, flip in _NUDGES:
            for p, x, sign in zip(params, saved, signs, strict=True):
                p.data = x + (abs(x) + 1.0) * scale * sign * flip
            yield scale
    finally:
        for p, x in zip(params, saved, strict=True):
            p.data = x


#: the nudges `compile` records ``loss_fn`` at: (relative size, direction); a tiny one shows
#: constants computed from ``.data``, a larger one both ways shows nearby branches
_NUDGES = ((1e-6, 1.0), (1e-2, 1.0), (1e-2, -1.0))


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
        verify: bool = True,
        check_every: int = 0,
    ) -> None:
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        if isinstance(check_every, bool) or not isinstance(check_every, int) or check_every < 0:
            raise ValueError(f"check_every must be an int >= 0, got {check_every!r}")
        self.loss_fn = loss_fn
        #: re-record and compare every n-th step (0: never)
        self.check_every = check_every
        self._steps = 0
        self.params = _check_params(params)
        recording = _record(loss_fn, self.params)
        self._signature = recording.signature()
        #: how many nodes the recorded graph has (leaves included)
        self.num_nodes = len(recording.nodes)
        #: the generated Python source
        self.source = _generate(recording)
        namespace = dict(_NAMESPACE, **_record_namespace(recording.records))
        namespace["_EdgeError"] = _EdgeError
        exec(builtins.compile(self.source, "<gradstep.compile>", "exec"), namespace)
        self._replay: Callable[[Sequence[Value]], float] = namespace["replay"]
        del recording  # the recorded graph is not kept alive
        if verify:
            self.check()
            self._check_nudged()

    def __call__(self) -> float:
        """Recompute the loss from the parameters' data, add ∂loss/∂p into each ``p.grad``."""
        if self.check_every:
            self._steps += 1
            if self._steps % self.check_every == 0:
                self.check()
        return self._step()

    def _step(self) -> float:
        """The replay, or the eager step where the replay meets an edge or a domain error."""
        try:
            return self._replay(self.params)
        except (_DomainError, _EdgeError, ArithmeticError, ValueError, TypeError):
            return self._eager_step()

    def _check_nudged(self) -> None:
        """`GraphChangedError` if ``loss_fn()`` builds another graph at nudged parameters (it
        reads ``.data`` to build the graph); a nudge where ``loss_fn`` raises tells nothing."""
        for scale in _nudges(self.params):
            try:
                signature = _record(self.loss_fn, self.params).signature()
            except Exception:
                continue
            self._compare_signature(
                signature,
                f"with the parameters nudged by about {scale:g} (relative), loss_fn() "
                "builds a different graph",
                "it reads a parameter's .data while building the graph (a max, a branch "
                "or a constant computed from .data), which compiled replay would freeze "
                "and get wrong after an update: build that part with ops (gradstep's "
                "losses use a max node), or use eager mode",
            )

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
            replay_loss = self._step()
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

    def _compare_signature(
        self,
        signature: str,
        what: str = "loss_fn() builds a different graph from the recorded one",
        advice: str = "compile only replays static graphs (the same ops on the same nodes every "
        "call, constants included); a graph that depends on data, random sampling or a new "
        "batch needs eager mode",
    ) -> None:
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
                + _constants_changed(now[first], recorded[first])
            )
        raise GraphChangedError(f"{what}: {where}. {advice[0].upper()}{advice[1:]}")

    def __repr__(self) -> str:
        return f"CompiledStep({self.num_nodes} nodes, {len(self.params)} params)"


def _constants_changed(now: str, recorded: str) -> str:
    """For a constant leaf whose value changed: " (a constant: 2.0 recorded, 2.5 now)"."""
    parts_now, parts_then = now.split(" "), recorded.split(" ")
    if parts_now[0] != "leaf" or len(parts_now) != len(parts_then) or len(parts_now) < 4:
        return ""
    try:
        value_now, value_then = float.fromhex(parts_now[-2]), float.fromhex(parts_then[-2])
    except ValueError:
        return ""
    return f" (a constant: {value_then!r} recorded, {value_now!r} now)"


def compile(
    loss_fn: Callable[[], Value],
    params: Sequence[Value],
    *,
    verify: bool = True,
    check_every: int = 0,
) -> CompiledStep:
    """Record ``loss_fn()`` once and return a step that replays forward + backward.

    The step is straight-line Python generated from the graph and the op records, compiled
    once.
    With ``verify`` (default), ``loss_fn`` is recorded a second time and the replay is checked
    against eager ``backward()`` to the last bit; a graph that differs between the two calls
    (random batches, dropout) raises `GraphChangedError`, and so does one that differs at
    nudged parameters (a graph built from ``.data``).  ``check_every=n`` repeats that check
    (`CompiledStep.check`) every n-th step.
    """
    return CompiledStep(loss_fn, params, verify=verify, check_every=check_every)
