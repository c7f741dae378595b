"""What every demo's command line shares: its name, ``--seed`` and ``--out DIR``, and Ctrl-C.

A demo runs two ways: ``gradstep demo NAME`` (the command imports it and calls ``main``)
and ``python demos/NAME.py`` (a script).  Both print the usage under the name typed, refuse
unknown arguments, and stop on Ctrl-C with one line and exit status 130; a model file being
written when it comes stays whole (`gradstep.nn` writes it atomically).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from gradstep.cli import silence_stdout

__all__ = ["INTERRUPTED", "demo_parser", "output_folder", "run_script"]

#: the exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it)
INTERRUPTED = 130


def demo_parser(
    module: str,
    description: str,
    *,
    seed_default: int | None,
    seed_help: str,
    out_default: str | None,
    out_help: str,
) -> argparse.ArgumentParser:
    """An argument parser named as the demo was run, with ``--seed N`` and ``--out DIR``.

    ``module`` is the demo's ``__name__``: ``gradstep.demos.NAME`` when the ``gradstep``
    command imported it (usage: ``gradstep demo NAME``), ``__main__`` when it runs as a
    script (usage: the script's file name, argparse's default).
    """
    prog = None if module == "__main__" else f"gradstep demo {module.rpartition('.')[2]}"
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--seed", type=int, default=seed_default, metavar="N", help=seed_help)
    parser.add_argument("--out", default=out_default, metavar="DIR", help=out_help)
    return parser


def run_script(main: Callable[[list[str] | None], int]) -> int:
    """Run a demo's ``main`` as a script: on Ctrl-C, one line on stderr and status 130.

    A reader that goes away (``| head``) stops the demo quietly, status 1, as the
    ``gradstep`` command does.
    """
    try:
        return main(None)
    except KeyboardInterrupt:
        print(f"{os.path.basename(sys.argv[0])}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        silence_stdout()
        return 1


def output_folder(parser: argparse.ArgumentParser, folder: str) -> Path:
    """``--out DIR`` made if missing; a folder that cannot be made is a usage error (status 2)."""
    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(f"cannot create the output folder {out}: {error.strerror or error}")
    return out
