"""Solver plumbing: PuLP's HiGHS interface made silent and given a MIP start, the CBC fallback,
and reading PuLP's status pair honestly (a time-limit stop is *not* optimal)."""

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
    name = options.solver.lower()
    if name == "highs":
        solver = _HiGHS(
            msg=options.msg, timeLimit=time_limit, gapRel=options.mip_gap, threads=options.threads
        )
        if not solver.available():
            raise RuntimeError("solver 'highs' is not available: install highspy (pip install highspy)")
        solver.start = start
        return solver
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


class _HiGHS(pulp.HiGHS):
    """PuLP's HiGHS interface, plus a MIP start (the previous lexicographic stage's solution) and a
    silent solve with ``msg=False`` (PuLP sets ``output_flag=False`` only after highspy's constructor
    has printed its banner; see ``_stdout_fd_silenced``)."""

    start: dict | None = None

    def createAndConfigureSolver(self, lp):  # noqa: N802 (PuLP's name)
        if self.msg:
            return super().createAndConfigureSolver(lp)
        with _stdout_fd_silenced():
            super().createAndConfigureSolver(lp)
        lp.solverModel.setOptionValue("output_flag", False)
        lp.solverModel.setOptionValue("log_to_console", False)

    def callSolver(self, lp):  # noqa: N802 (PuLP's name)
        if self.start:
            try:
                import highspy

                sol = highspy.HighsSolution()
                vals = [0.0] * lp.solverModel.getNumCol()
                for var in lp.variables():
                    vals[var.index] = self.start.get(var.name, 0.0)
                sol.col_value = vals
                sol.value_valid = True
                lp.solverModel.setSolution(sol)
            except Exception:  # a start is only a hint  # noqa: BLE001
                pass
        # HiGHS keeps one thread scheduler per process, sized by the first solve; a later solve
        # asking for another number of threads then stops at once with "Not Solved". Resetting it
        # makes every solve use its own ``threads`` option, whatever ran before in the process.
        lp.solverModel.resetGlobalScheduler(True)
        lp.solverModel.run()


def highs_bound(prob, obj, optimal, is_mip) -> float | None:
    """Dual bound of the last HiGHS run (``mip_dual_bound`` for a MIP; the objective for a solved LP)."""
    h = getattr(prob, "solverModel", None)
    if h is None:
        return obj if optimal else None
    try:
        info = h.getInfo()
        if is_mip and getattr(info, "mip_node_count", -1) >= 0:
            bound = float(info.mip_dual_bound)
            if math.isfinite(bound):
                return bound
        return obj if optimal else None
    except Exception:  # noqa: BLE001
        return obj if optimal else None


