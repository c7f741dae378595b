"""What drawings and walk-throughs call each node of a graph: one rule, shared by both.

A node with a label is called by its label.  An unlabelled leaf is called by its value
(``2``, ``-0.5``); an unlabelled op output ``n1``, ``n2``, … in forward order (children
first).  A name that is already taken gets ``#2``, ``#3``, ….  Constants are leaves that are
not inputs — numbers the engine wrapped (the 2 in ``2 * x``) and leaves labelled with a
number (``Value(1.0, label="1")``, or the expression parser's literals): each is called by
its value, as often as it occurs (``2``, ``2``).
"""

from __future__ import annotations

from collections.abc import Sequence

from gradstep.engine import Value, _Constant

__all__ = ["node_names", "constants", "is_number_literal"]


def is_number_literal(label: str) -> bool:
    """Whether a label is a number as written (``2``, ``-0.5``, ``1e-3``), not a name."""
    if not label or label[-1] not in "0123456789.":  # "inf", "nan" are names
        return False
    try:
        float(label)
    except ValueError:
        return False
    return True


def _number_name(x: float) -> str:
    """A leaf's name from its value, as Python writes it without a trailing ``.0``."""
    text = repr(x)
    return text[:-2] if text.endswith(".0") else text


def constants(nodes: Sequence[Value]) -> set[Value]:
    """The leaves that are constants, not inputs: the engine's wrapped numbers (unless the
    user labelled one with a name) and leaves labelled with a number literal.

    A user's unlabelled ``Value(2.0)`` is an input (called ``2``), a wrapped 2 a constant.
    """
    return {
        v
        for v in nodes
        if not v._prev
        and (is_number_literal(v.label) or (isinstance(v, _Constant) and not v.label))
    }


def node_names(nodes: Sequence[Value], constant: set[Value] | None = None) -> dict[Value, str]:
    """Each node's name (see the module docstring); ``nodes`` in forward order."""
    if constant is None:
        constant = constants(nodes)
    names: dict[Value, str] = {}
    for v in nodes:
        if v in constant:
            names[v] = v.label or _number_name(v.data)
    reserved = {v.label for v in nodes if v.label} | set(names.values())
    used: set[str] = set()
    next_k: dict[str, int] = {}  # per name, the first k not yet tried: linear, not quadratic
    counter = 0
    for v in nodes:
        if v in constant:
            continue
        if v.label:
            name = v.label
        elif not v._prev:
            name = _number_name(v.data)
        else:
            counter += 1
            while f"n{counter}" in reserved or f"n{counter}" in used:
                counter += 1
            name = f"n{counter}"
        if name in used or (name in reserved and not v.label):
            k = next_k.get(name, 2)
            while f"{name}#{k}" in used or f"{name}#{k}" in reserved:
                k += 1
            next_k[name] = k + 1
            name = f"{name}#{k}"
        used.add(name)
        names[v] = name
    return names
