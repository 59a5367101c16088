"""Execute the notebooks in place, so that the repository shows them with their outputs.

Usage: ``make notebooks`` (or ``.venv/bin/python notebooks/execute.py [NAME.ipynb ...]``).

Each notebook runs top to bottom in a fresh kernel with ``notebooks/`` as working directory and is
written back with its outputs. Volatile metadata (execution times, kernel versions) is removed so
that re-running an unchanged notebook changes as little as possible in version control.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def execute(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    nb.metadata.get("language_info", {}).pop("version", None)
    nbformat.write(nb, path)


def main(argv: list[str]) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    paths = [HERE / a for a in argv] if argv else sorted(HERE.glob("*.ipynb"))
    for p in paths:
        print(f"executing {p.name} ...", flush=True)
        execute(p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
