"""A first check that the engine reproduces micrograd's README example."""

import pytest

from gradstep import Value


def test_micrograd_readme_example() -> None:
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    assert f"{g.data:.4f}" == "24.7041"
    g.backward()
    assert a.grad == pytest.approx(138.83381924198252)
    assert b.grad == pytest.approx(645.5772594752186)
