"""Grad mode: whether ops record the graph.  On by default; `no_grad` turns it off.

Inside ``with no_grad():`` (or a function decorated with ``@no_grad``) every op still
computes its value, but the result is a plain leaf: no children, no op, no local-gradient
rule.  Nothing upstream is kept alive, so evaluating a model costs less time and memory,
and ``backward()`` cannot reach through it — as in PyTorch's ``torch.no_grad``.  (A node
built by hand, micrograd-style, as ``Value(data, children, op)`` keeps the children it is
given: the mode applies to the nodes the engine's ops make.)

The mode belongs to the running thread (and asyncio task), like PyTorch's thread-local grad
mode: a ``no_grad`` block in one thread never stops another thread from recording, and
a new thread starts with recording on.  Blocks nest, and each restores the mode it found,
also when an exception leaves it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Generator
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar, cast, overload

__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "GradMode"]

F = TypeVar("F", bound=Callable[..., Any])

_grad_enabled: ContextVar[bool] = ContextVar("gradstep_grad_enabled", default=True)

#: set while a local rule runs again on `Value`s past a pole (1/(2√0) inside
#: ``grad(..., create_graph=True)``): there the engine's ops give IEEE's ±inf, not an error
poles_give_inf: ContextVar[bool] = ContextVar("gradstep_poles_give_inf", default=False)

#: whether ops record the graph right now (the engine calls this once per node it makes)
grad_enabled_now: Callable[[], bool] = _grad_enabled.get


def is_grad_enabled() -> bool:
    """Whether ops record the graph in this thread right now (True unless in `no_grad`)."""
    return _grad_enabled.get()


class GradMode:
    """A context manager and decorator that sets grad mode on entry and restores it on exit.

    Made by `no_grad()` and `enable_grad()`.  One object may be entered again while it is
    active (each entry restores its own previous mode).
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._tokens: list[Token[bool]] = []

    def __enter__(self) -> None:
        self._tokens.append(_grad_enabled.set(self.enabled))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _grad_enabled.reset(self._tokens.pop())

    def __call__(self, func: F) -> F:
        """Decorate ``func`` so that each call runs in this mode (a generator: each resumption)."""
        if not callable(func):
            raise TypeError(f"{self!r} decorates a function, got {type(func).__name__}")
        if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(
                f"{self!r} cannot decorate the async function {func.__qualname__}: its body "
                "runs after the call returns; write `with` the mode inside it instead"
            )
        enabled = self.enabled
        if inspect.isgeneratorfunction(func):
            return cast(F, _generator_in_mode(func, enabled))

        @functools.wraps(func)
        def in_mode(*args: Any, **kwargs: Any) -> Any:
            with GradMode(enabled):
                return func(*args, **kwargs)

        return cast(F, in_mode)

    def __repr__(self) -> str:
        return "no_grad()" if not self.enabled else "enable_grad()"


def _generator_in_mode(func: Callable[..., Generator[Any, Any, Any]], enabled: bool) -> Any:
    """``func`` (a generator function) whose body runs in the mode each time it is resumed,
    while the caller between two ``next()`` keeps its own mode."""

    @functools.wraps(func)
    def in_mode(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        with GradMode(enabled):
            inner = func(*args, **kwargs)
        resume: Callable[[], Any] = functools.partial(inner.send, None)
        while True:
            try:
                with GradMode(enabled):
                    item = resume()
            except StopIteration as stop:
                return stop.value
            try:
                sent = yield item
            except GeneratorExit:
                with GradMode(enabled):
                    inner.close()
                raise
            except BaseException as error:  # thrown in by the caller: pass it on
                resume = functools.partial(inner.throw, error)
            else:
                resume = functools.partial(inner.send, sent)

    return in_mode


@overload
def no_grad() -> GradMode: ...
@overload
def no_grad(func: F) -> F: ...
def no_grad(func: F | None = None) -> GradMode | F:
    """Ops build no graph: ``with no_grad(): …``, ``@no_grad()`` or ``@no_grad``.

    Results are plain leaves, so nothing is kept for a backward pass.  Use it to evaluate
    a model (accuracy, plots) — not for the forward pass of a training step.
    """
    mode = GradMode(False)
    return mode if func is None else mode(func)


@overload
def enable_grad() -> GradMode: ...
@overload
def enable_grad(func: F) -> F: ...
def enable_grad(func: F | None = None) -> GradMode | F:
    """Ops record the graph again, e.g. inside a `no_grad` block: ``with enable_grad(): …``."""
    mode = GradMode(True)
    return mode if func is None else mode(func)
