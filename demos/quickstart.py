"""Quickstart: build an expression, run backward(), read every gradient."""

from gradstep import Value


def main(argv: list[str] | None = None) -> int:
    # forward: f = (a * b + c).tanh()
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = Value(10.0, label="c")
    f = (a * b + c).tanh()
    print(f"f = tanh(a*b + c) = {f.data:.4f}")

    # backward: ∂f/∂v for every node
    f.backward()
    for v in (a, b, c):
        print(f"∂f/∂{v.label} = {v.grad:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
