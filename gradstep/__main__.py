"""``python -m gradstep``: the same as the ``gradstep`` command."""

from gradstep.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
