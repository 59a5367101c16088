"""Output folders: written whole or not at all, and the same bytes for the same inputs.

:func:`staged_folder` gives a command a fresh temporary folder beside its output folder
(``<out>.tmp-<random>``, on the same file system) and moves it into place only when everything is
written: the previous folder is renamed aside (``<out>.old-<random>``), the new one renamed to
``<out>`` and the old one deleted. A run that fails (an error, Ctrl-C, ``kill``) deletes its
temporary folder and leaves the previous results untouched; a run killed with ``SIGKILL`` cannot
clean up and leaves its ``<out>.tmp-*`` folder, which never passes for a finished run and may be
deleted. No file of an earlier run is ever left beside the files of a new one.

:func:`check_out_dir` checks an output folder before any work (an existing file of that name, or a
place that cannot be written), so a mistake on the command line is reported at once.

:func:`fix_geopackage` removes what makes a ``.gpkg`` file differ between two identical runs
(GeoPackage ``last_change``; workbooks are written with fixed times by :mod:`capacity.xlsx`):
every output of a run is a function of its inputs only, so a results folder can be kept in
version control and diffed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "FIXED_TIME",
    "OutputError",
    "check_out_dir",
    "fix_geopackage",
    "staged_folder",
]

#: The document time written into workbooks and GeoPackages (ISO 8601, UTC): a fixed value, so
#: that the bytes do not depend on when the run happened. Zip entries get 1980-01-01, the
#: earliest time the zip format can hold.
FIXED_TIME = "2000-01-01T00:00:00Z"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class OutputError(ValueError):
    """The output folder cannot be used; the message names it and says why."""


def check_out_dir(out) -> Path:
    """Check that ``out`` can become an output folder, before any work is done.

    Parameters
    ----------
    out : str or Path
        The output folder; it may exist (it is then replaced as a whole at the end of the run)
        or not (it is created, with missing parent folders).

    Returns
    -------
    Path

    Raises
    ------
    OutputError
        ``out`` is an existing file; a parent of it is a file; the nearest existing parent cannot
        be written.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"output folder {out}: a file of that name exists (give a folder name)")
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"output folder {out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {out}: cannot write in {parent} (permission denied)")
    return out


def _beside(out: Path, tag: str) -> Path:
    return out.parent / f"{out.name}.{tag}-{secrets.token_hex(4)}"


@contextlib.contextmanager
def staged_folder(out) -> Iterator[Path]:
    """A temporary folder to write a run into; moved to ``out`` when the block ends without error.

    Parameters
    ----------
    out : str or Path
        The output folder.

    Yields
    ------
    Path
        The temporary folder ``<out>.tmp-<random>`` (empty, beside ``out``).

    Notes
    -----
    On an exception (including ``KeyboardInterrupt``) the temporary folder is deleted, ``out`` is
    left as it was and the exception propagates. Otherwise ``out`` (if any) is renamed to
    ``<out>.old-<random>``, the temporary folder to ``out`` and the old folder deleted: each step
    is a rename on one file system.
    """
    out = check_out_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _beside(out, "tmp")
    tmp.mkdir()
    try:
        yield tmp
        if out.exists():
            old = _beside(out, "old")
            os.rename(out, old)
            try:
                os.rename(tmp, out)
            except BaseException:
                os.rename(old, out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def fix_geopackage(path) -> Path:
    """Make a GeoPackage's bytes independent of when it was written.

    GDAL stamps each layer's ``last_change`` in ``gpkg_contents`` with the time of writing; it is
    set to :data:`FIXED_TIME` (ISO 8601, as the GeoPackage standard requires).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    con = sqlite3.connect(path)
    try:
        with con:
            con.execute("UPDATE gpkg_contents SET last_change = ?", (FIXED_TIME.replace("Z", ".000Z"),))
    finally:
        con.close()
    return path
