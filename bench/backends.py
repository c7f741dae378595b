"""The systems under test, each able to run the benchmark's workloads the same way.

A backend turns a workload into a zero-argument callable (all setup done outside it);
the harness in `bench.run` times the callables.  A workload a backend cannot express
raises `NotApplicable` with the reason, which the table prints.
"""

from __future__ import annotations

import gc
import importlib.util
import sys
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from bench.floor import FloorMLP, floor_chain, floor_wide
from bench.workloads import CHAIN_SCALE, CHAIN_SHIFT, MoonsProblem, wide_data

__all__ = ["Backend", "NotApplicable", "all_backends"]

Run = Callable[[], object]


class NotApplicable(Exception):
    """This backend has no meaningful version of this workload (the message says why)."""


class Backend:
    """A system under test; subclasses implement the workloads they can run."""

    name = "?"
    #: run the first call of each workload in a subprocess first (it might crash the interpreter)
    risky = False
    #: untimed calls before timing (generated straight-line code is only specialised by
    #: CPython 3.11 after 8 calls; code with loops specialises within its first call)
    warmup = 1
    #: modules to import before timing starts (so imports are not timed)
    modules: tuple[str, ...] = ()

    def unavailable(self) -> str | None:
        """Why this backend cannot run on this machine, or None if it can."""
        return None

    def moons(self, problem: MoonsProblem) -> Run:
        """One training step: forward, zero the grads, backward, SGD update."""
        raise NotApplicable("not implemented")

    def chain(self, n: int) -> Run:
        """y ← y·1.0001 + 0.0001 n times from a leaf, then backward."""
        raise NotApplicable("not implemented")

    def wide(self, n: int) -> Run:
        """Python's sum() over n products wᵢ·xᵢ of leaves, then backward."""
        raise NotApplicable("not implemented")

    def memory(self, n: int) -> float:
        """Bytes per graph node while building the ``wide`` graph (tracemalloc)."""
        raise NotApplicable("not implemented")


# ---------------------------------------------------------------------------------------
# the floor


class Floor(Backend):
    """Plain floats with a hand-written backward (bench/floor.py)."""

    name = "pure-float floor"

    def moons(self, problem: MoonsProblem) -> Run:
        return FloorMLP(problem).step

    def chain(self, n: int) -> Run:
        return lambda: floor_chain(n)

    def wide(self, n: int) -> Run:
        ws, xs = wide_data(n)
        return lambda: floor_wide(ws, xs)

    def memory(self, n: int) -> float:
        raise NotApplicable("no graph")


# ---------------------------------------------------------------------------------------
# scalar engines with micrograd's API: gradstep and micrograd


def svm_loss(
    scores: Sequence[Any], ys: Sequence[float], params: Iterable[Any], alpha: float
) -> Any:
    """micrograd's demo loss: mean of relu(1 - yᵢ·scoreᵢ) + α·Σ p²."""
    losses = [(1 + -yi * si).relu() for yi, si in zip(ys, scores, strict=True)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = alpha * sum(p * p for p in params)
    return data_loss + reg_loss


class ScalarMLP:
    """MLP(2, [16, 16, 1]) from scalar nodes, built as micrograd's Neuron does
    (``sum(w·x, start=b)``, ReLU on all but the last layer); used when no ``nn`` module exists."""

    def __init__(self, make: Callable[[float], Any], problem: MoonsProblem) -> None:
        self.layers = [
            ([[make(w) for w in row] for row in W], [make(bias) for bias in b])
            for W, b in problem.init_params
        ]

    def __call__(self, x: Sequence[Any]) -> Any:
        last = len(self.layers) - 1
        for i, (W, b) in enumerate(self.layers):
            acts = [
                sum((wk * xk for wk, xk in zip(row, x, strict=True)), bias)
                for row, bias in zip(W, b, strict=True)
            ]
            x = acts if i == last else [a.relu() for a in acts]
        return x[0]

    def parameters(self) -> list[Any]:
        return [
            p for W, b in self.layers for row, bias in zip(W, b, strict=True) for p in (*row, bias)
        ]


def scalar_moons_loss(
    model: Any, make: Callable[[float], Any], problem: MoonsProblem
) -> Callable[[], Any]:
    """The demo's loss function: wrap the inputs, run the model on each, SVM loss + L2."""
    params = model.parameters()
    X, Y, alpha = problem.X, problem.y, problem.alpha

    def loss_fn() -> Any:
        inputs = [[make(v) for v in row] for row in X]
        scores = [model(x) for x in inputs]
        return svm_loss(scores, Y, params, alpha)

    return loss_fn


def sgd_update(params: Sequence[Any], lr: float) -> None:
    """p ← p - lr·∂L/∂p for every parameter."""
    for p in params:
        p.data -= lr * p.grad


def _zero_grads(params: Sequence[Any], zero: float | int = 0.0) -> None:
    for p in params:
        p.grad = zero


def bytes_per_node(build: Callable[[], tuple[object, int]]) -> float:
    """Bytes allocated per node by ``build()``, which returns (graph, number of nodes made)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        graph, nodes = build()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del graph
    return (after - before) / nodes


class GradstepEager(Backend):
    """gradstep's Value graph, built and walked every step."""

    name = "gradstep eager"
    modules = ("gradstep", "gradstep.nn")

    def model(self, problem: MoonsProblem) -> Any:
        """gradstep.nn.MLP when it exists (with the shared initial weights), else ScalarMLP."""
        from gradstep import Value

        try:
            from gradstep.nn import MLP
        except ImportError:
            return ScalarMLP(Value, problem)
        model = MLP(problem.sizes[0], problem.sizes[1:])
        params = model.parameters()
        flat = problem.flat_params()
        if len(params) != len(flat):
            raise RuntimeError(
                f"gradstep.nn.MLP has {len(params)} parameters, expected {len(flat)}"
            )
        for p, v in zip(params, flat, strict=True):
            p.data = v
        return model

    def loss_and_params(self, problem: MoonsProblem) -> tuple[Callable[[], Any], list[Any]]:
        from gradstep import Value

        model = self.model(problem)
        return scalar_moons_loss(model, Value, problem), model.parameters()

    def moons(self, problem: MoonsProblem) -> Run:
        loss_fn, params = self.loss_and_params(problem)
        lr = problem.lr

        def step() -> float:
            loss = loss_fn()
            _zero_grads(params)
            loss.backward()
            sgd_update(params, lr)
            return float(loss.data)

        return step

    def chain(self, n: int) -> Run:
        from gradstep import Value

        def run() -> float:
            x = Value(1.0)
            y = x
            for _ in range(n):
                y = y * CHAIN_SCALE + CHAIN_SHIFT
            y.backward()
            return x.grad

        return run

    def wide(self, n: int) -> Run:
        from gradstep import Value

        w_data, x_data = wide_data(n)
        ws, xs = [Value(v) for v in w_data], [Value(v) for v in x_data]

        def run() -> float:
            s = cast(Value, sum(w * x for w, x in zip(ws, xs, strict=True)))  # sum() starts at 0
            s.backward()
            return float(s.data)

        return run

    def memory(self, n: int) -> float:
        from gradstep import Value

        w_data, x_data = wide_data(n)
        ws, xs = [Value(v) for v in w_data], [Value(v) for v in x_data]
        # n products, n sums and the 0 that sum() starts from
        return bytes_per_node(lambda: (sum(w * x for w, x in zip(ws, xs, strict=True)), 2 * n + 1))


class GradstepEagerNoGC(GradstepEager):
    """gradstep eager with the cyclic garbage collector off during each call (a diagnostic:
    the difference to "gradstep eager" is the collector's share)."""

    name = "gradstep eager (GC off)"

    def moons(self, problem: MoonsProblem) -> Run:
        return _without_gc(super().moons(problem))

    def chain(self, n: int) -> Run:
        return _without_gc(super().chain(n))

    def wide(self, n: int) -> Run:
        return _without_gc(super().wide(n))

    def memory(self, n: int) -> float:
        raise NotApplicable("same as gradstep eager")


def _without_gc(run: Run) -> Run:
    def paused() -> object:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return run()
        finally:
            if was_enabled:
                gc.enable()

    return paused


class GradstepCompiled(GradstepEager):
    """gradstep.compile: the moons graph recorded once, replayed by generated straight-line code."""

    name = "gradstep compiled"
    warmup = 10

    def unavailable(self) -> str | None:
        import gradstep

        return None if hasattr(gradstep, "compile") else "gradstep.compile not available"

    def moons(self, problem: MoonsProblem) -> Run:
        from gradstep.replay import compile as compile_step

        loss_fn, params = self.loss_and_params(problem)
        replay = compile_step(loss_fn, params)
        lr = problem.lr

        def step() -> float:
            _zero_grads(params)
            loss = replay()
            sgd_update(params, lr)
            return loss

        return step

    def chain(self, n: int) -> Run:
        raise NotApplicable("compile is for repeated steps on one graph, not one-shot graphs")

    def wide(self, n: int) -> Run:
        raise NotApplicable("compile is for repeated steps on one graph, not one-shot graphs")

    def memory(self, n: int) -> float:
        raise NotApplicable("no per-step graph")


class Micrograd(Backend):
    """micrograd 0.1.0 from PyPI, as its README uses it."""

    name = "micrograd"
    recursion_limit: int | None = None
    modules = ("micrograd.engine", "micrograd.nn")

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("micrograd") is None:
            return "micrograd not installed (pip install -e '.[bench]')"
        return None

    def moons(self, problem: MoonsProblem) -> Run:
        from micrograd.engine import Value
        from micrograd.nn import MLP

        model = MLP(problem.sizes[0], problem.sizes[1:])
        params = model.parameters()
        for p, v in zip(params, problem.flat_params(), strict=True):
            p.data = v
        loss_fn = scalar_moons_loss(model, Value, problem)
        lr = problem.lr

        def step() -> float:
            loss = loss_fn()
            model.zero_grad()
            loss.backward()
            sgd_update(params, lr)
            return float(loss.data)

        return step

    def _with_limit(self, run: Callable[[], float]) -> Run:
        limit = self.recursion_limit
        if limit is None:
            return run

        def raised() -> float:
            old = sys.getrecursionlimit()
            sys.setrecursionlimit(limit)
            try:
                return run()
            finally:
                sys.setrecursionlimit(old)

        return raised

    def chain(self, n: int) -> Run:
        from micrograd.engine import Value

        def run() -> float:
            x = Value(1.0)
            y = x
            for _ in range(n):
                y = y * CHAIN_SCALE + CHAIN_SHIFT
            y.backward()
            return float(x.grad)

        return self._with_limit(run)

    def wide(self, n: int) -> Run:
        from micrograd.engine import Value

        w_data, x_data = wide_data(n)
        ws, xs = [Value(v) for v in w_data], [Value(v) for v in x_data]

        def run() -> float:
            s = sum(w * x for w, x in zip(ws, xs, strict=True))
            s.backward()
            return float(s.data)

        return self._with_limit(run)

    def memory(self, n: int) -> float:
        from micrograd.engine import Value

        w_data, x_data = wide_data(n)
        ws, xs = [Value(v) for v in w_data], [Value(v) for v in x_data]
        return bytes_per_node(lambda: (sum(w * x for w, x in zip(ws, xs, strict=True)), 2 * n + 1))


class MicrogradDeep(Micrograd):
    """micrograd with the recursion limit raised to 10⁷ around each call (its backward recurses)."""

    name = "micrograd (recursion limit 1e7)"
    recursion_limit = 10**7
    risky = True

    def moons(self, problem: MoonsProblem) -> Run:
        raise NotApplicable("same as micrograd")

    def memory(self, n: int) -> float:
        raise NotApplicable("same as micrograd")


# ---------------------------------------------------------------------------------------
# PyTorch


class TorchScalar(Backend):
    """PyTorch autograd on 0-d float64 tensors, one op per scalar (the same graph as gradstep)."""

    name = "PyTorch scalar"
    risky = True
    modules = ("torch",)

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("torch") is None:
            return "torch not installed"
        return None

    def moons(self, problem: MoonsProblem) -> Run:
        import torch

        def make(v: float) -> Any:
            return torch.tensor(v, dtype=torch.float64)

        model = ScalarMLP(make, problem)
        params = model.parameters()
        for p in params:
            p.requires_grad_(True)
        loss_fn = scalar_moons_loss(model, make, problem)
        lr = problem.lr

        def step() -> float:
            loss = loss_fn()
            for p in params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad
            return float(loss.item())

        return step

    def chain(self, n: int) -> Run:
        import torch

        def run() -> float:
            x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
            y = x
            for _ in range(n):
                y = y * CHAIN_SCALE + CHAIN_SHIFT
            y.backward()
            return float(x.grad)

        return run

    def wide(self, n: int) -> Run:
        import torch

        w_data, x_data = wide_data(n)
        ws = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in w_data]
        xs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in x_data]

        def run() -> float:
            s = sum(w * x for w, x in zip(ws, xs, strict=True))
            s.backward()
            return float(s.detach())

        return run

    def memory(self, n: int) -> float:
        raise NotApplicable("PyTorch allocates in C++, invisible to tracemalloc")


class TorchBatched(TorchScalar):
    """PyTorch on whole tensors (float64): the moons step as three matrix products."""

    name = "PyTorch batched"
    risky = False

    def moons(self, problem: MoonsProblem) -> Run:
        import torch

        X = torch.tensor(problem.X, dtype=torch.float64)
        y = torch.tensor(problem.y, dtype=torch.float64)
        params = []
        for W, b in problem.init_params:
            params.append(torch.tensor(W, dtype=torch.float64, requires_grad=True))
            params.append(torch.tensor(b, dtype=torch.float64, requires_grad=True))
        alpha, lr, nlayers = problem.alpha, problem.lr, len(problem.init_params)

        def step() -> float:
            h = X
            for i in range(nlayers):
                h = h @ params[2 * i].T + params[2 * i + 1]
                if i < nlayers - 1:
                    h = torch.relu(h)
            data_loss = torch.relu(1.0 - y * h[:, 0]).mean()
            loss = data_loss + alpha * sum((p * p).sum() for p in params)
            for p in params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad
            return float(loss.detach())

        return step

    def chain(self, n: int) -> Run:
        raise NotApplicable("a sequential scalar recurrence has nothing to batch")

    def wide(self, n: int) -> Run:
        raise NotApplicable("one dot product: not a graph benchmark")


def all_backends() -> list[Backend]:
    """Every backend, the floor first (ratios are taken against it)."""
    return [
        Floor(),
        GradstepEager(),
        GradstepEagerNoGC(),
        GradstepCompiled(),
        Micrograd(),
        MicrogradDeep(),
        TorchScalar(),
        TorchBatched(),
    ]
