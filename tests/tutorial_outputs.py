"""docs/tutorial.ipynb is stored with its outputs: this runs it fresh (``--write`` stores it).

    python tests/tutorial_outputs.py --write     # what `make tutorial` does

Outputs are compared after `normalised`: each stepper's random element-id prefix and the way
the kernel happened to split a stream into chunks are not content.
"""

from __future__ import annotations

import argparse
import importlib
import re
from pathlib import Path
from typing import Any

# (imported by name: they are the dev extra's, untyped)
nbclient: Any = importlib.import_module("nbclient")
nbformat: Any = importlib.import_module("nbformat")

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "tutorial.ipynb"
_PREFIX = re.compile(r"gs[0-9a-f]{8}-")


def fresh(path: Path = NOTEBOOK, cwd: Path | None = None) -> Any:
    """The notebook run from a clean state, top to bottom (raises on any cell's error)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    resources = {"metadata": {"path": str(cwd or path.parent)}}
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", record_timing=False, resources=resources
    )
    client.execute()
    return nb


def normalised(nb: Any) -> list[list[tuple[str, str]]]:
    """Each code cell's outputs as (kind, text): streams merged, stepper ids made equal."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        out: list[tuple[str, str]] = []
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                kind = f"stream:{output.name}"
                if out and out[-1][0] == kind:
                    out[-1] = (kind, out[-1][1] + output.text)
                else:
                    out.append((kind, output.text))
                continue
            for mime, text in sorted(output.get("data", {}).items()):
                body = text if isinstance(text, str) else "".join(text)
                out.append((mime, _PREFIX.sub("gsX-", body)))
        cells.append(out)
    return cells


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store the fresh outputs")
    args = parser.parse_args()
    nb = fresh()
    if args.write:
        nbformat.write(nb, NOTEBOOK)
        print(f"wrote {NOTEBOOK} with its outputs")
        return 0
    stale = normalised(nb) != normalised(nbformat.read(NOTEBOOK, as_version=4))
    print("stale: run make tutorial" if stale else "up to date")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
