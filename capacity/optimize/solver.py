"""Solver plumbing: the CBC fallback through PuLP, HiGHS's banner silenced, and reading PuLP's
status pair honestly (a time-limit stop is *not* optimal). HiGHS itself runs through
:mod:`capacity.optimize.backend`."""

from __future__ import annotations

import contextlib
import math
import os
import sys
import warnings

import pulp

from capacity.optimize.parameters import SolverOptions


def status_names(status: int, sol_status: int) -> tuple[str, str]:
    return (
        pulp.constants.LpStatus.get(status, str(status)),
        pulp.constants.LpSolution.get(sol_status, str(sol_status)),
    )


def classify_status(status: int, sol_status: int) -> tuple[bool, bool]:
    """``(has_solution, proven_optimal)`` from PuLP's ``status`` and ``sol_status``.

    PuLP reports a MIP stopped by the time limit with an incumbent as status ``Optimal``; only
    ``sol_status == LpSolutionOptimal`` means proven optimal (within the MIP gap).
    """
    has = sol_status in (pulp.constants.LpSolutionOptimal, pulp.constants.LpSolutionIntegerFeasible)
    return has, bool(has and sol_status == pulp.constants.LpSolutionOptimal and status == 1)


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """``|objective - bound| / max(|objective|, 1e-9)``, 0 when both are (nearly) equal, None if unknown."""
    if objective is None or bound is None or not math.isfinite(objective) or not math.isfinite(bound):
        return None
    diff = abs(objective - bound)
    if diff <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    return diff / max(abs(objective), 1e-9)


def _make_solver(options: SolverOptions, time_limit: float | None, start: dict | None = None):
    """The PuLP solver of the CBC path (HiGHS, the default, runs through
    :mod:`capacity.optimize.backend`, not through PuLP)."""
    name = options.solver.lower()
    if name == "cbc":
        cls = getattr(pulp, "PULP_CBC_CMD", None) or getattr(pulp, "COIN_CMD", None)
        solver = None
        if cls is not None:
            with warnings.catch_warnings():  # PuLP 3.3 deprecates the bundled CBC (gone in PuLP 4)
                warnings.simplefilter("ignore", DeprecationWarning)
                solver = cls(msg=options.msg, timeLimit=time_limit, gapRel=options.mip_gap,
                             threads=options.threads)
        if solver is None or not solver.available():
            raise RuntimeError(
                "solver 'cbc' is not available in this PuLP installation (PuLP 4 no longer bundles CBC: "
                "install a cbc binary on PATH) — use solver='highs'"
            )
        return solver
    raise ValueError(f"unknown solver {options.solver!r}: expected 'highs' or 'cbc'")


@contextlib.contextmanager
def _stdout_fd_silenced():
    """Send what C code writes to file descriptor 1 to ``os.devnull`` for the duration.

    highspy 1.16 prints its banner ("Running HiGHS ... Copyright ...") from the C++ constructor of the
    first ``Highs()`` of a process, before any option (``output_flag``) can be set, so PuLP's
    ``msg=False`` cannot stop it. If fd 1 cannot be redirected, nothing is silenced.
    """
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001
        pass
    try:
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    libc = None
    try:
        import ctypes

        libc = ctypes.CDLL(None)
    except Exception:  # noqa: BLE001 - no C library handle (not Linux/macOS): skip the C flush
        libc = None
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        if libc is not None:
            with contextlib.suppress(Exception):
                libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
