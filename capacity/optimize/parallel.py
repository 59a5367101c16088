"""Independent levels solved at the same time, one worker process each (``level_workers``).

The levels of a plan share no variable and, unless ``max_cost_per_year`` links them, no row
(:mod:`capacity.optimize.driver`). One after the other, a city's four levels leave a core idle on a
two-core machine; here up to ``level_workers`` of them are solved at once, each by HiGHS in its own
process (HiGHS solves one model on one core). The plan is the same as one level after the other,
except where a time limit stops a level: then each level's share of the time differs.

Time shares. The levels start smallest first, each as soon as a worker is free. A level started
with ``n`` levels not yet started (itself included) gets ``time left * workers / n`` seconds,
capped at the time left: with one worker this is the sequential rule (an equal share of the time
left), and the largest levels, started last, get all the time that is left.

Workers are started by ``spawn``: a fresh interpreter, safe whatever threads this one runs, and a
child of this process (so the kernel counts its CPU time and memory among this process's children).
Starting one and importing the optimizer takes about a second, so this pays only for models that
take minutes (the city); the district's plan is solved in this process. A daemonic process (a
worker of a pool) may not start processes: there the levels are solved one after the other
(:func:`can_start_workers`).
"""

from __future__ import annotations

import multiprocessing
import queue
import time

from capacity.optimize.driver import run_stage_vectors
from capacity.processes import watch_parent

__all__ = ["GRACE_SECONDS", "can_start_workers", "solve_parts", "time_share"]

#: How long after the time limit a level's result is still awaited before its worker counts as
#: lost (a worker killed outright, e.g. by the kernel when memory runs out, never reports; without
#: a time limit the wait has no end).
GRACE_SECONDS = 60.0


def can_start_workers() -> bool:
    """Whether this process may start worker processes: not when it is itself a daemonic worker
    (a plan's counterfactual or needs assessment solved by the figure drawer's workers, a pool's
    job), which ``multiprocessing`` forbids to have children; the levels are then solved one after
    the other."""
    return not multiprocessing.current_process().daemon


def time_share(left: float | None, workers: int, not_started: int) -> float | None:
    """Seconds for a level started with ``left`` seconds to the deadline and ``not_started``
    levels (itself included) still to start on ``workers`` workers (None: no time limit)."""
    if left is None:
        return None
    return min(left, left * workers / max(1, not_started))


def _solve_part(arrays, vectors, options, seconds, params, is_mip):
    deadline = None if seconds is None else time.perf_counter() + seconds
    return run_stage_vectors(arrays, vectors, options, deadline, params, is_mip, None)


def solve_parts(parts, options, deadline, params, workers: int) -> list[tuple[list, object]]:
    """Solve ``parts`` (``[(LinearArrays, stage vectors, is_mip)]``, smallest first) on up to
    ``workers`` processes; the deadline is ``time.perf_counter()`` seconds of this process (None:
    none).

    Returns
    -------
    list of (records, values)
        As :func:`capacity.optimize.driver.run_stage_vectors`, in the order of ``parts``.
    """
    ctx = multiprocessing.get_context("spawn")
    results: list = [None] * len(parts)
    finished: queue.Queue = queue.Queue()
    # leaving the pool terminates the workers; they also end when this process is killed outright
    with ctx.Pool(processes=min(workers, len(parts)), initializer=watch_parent) as pool:

        def submit(i: int) -> None:
            left = None if deadline is None else max(0.0, deadline - time.perf_counter())
            seconds = time_share(left, workers, len(parts) - i)
            pool.apply_async(_solve_part, (*parts[i][:2], options, seconds, params, parts[i][2]),
                             callback=lambda r, i=i: finished.put((i, r, None)),
                             error_callback=lambda e, i=i: finished.put((i, None, e)))

        started = 0
        while started < min(workers, len(parts)):
            submit(started)
            started += 1
        for _ in range(len(parts)):
            try:
                # a worker killed outright never reports: wait no longer than the time limit and
                # GRACE_SECONDS
                wait = (None if deadline is None
                        else max(0.0, deadline - time.perf_counter()) + GRACE_SECONDS)
                i, result, error = finished.get(timeout=wait)
            except queue.Empty:
                raise RuntimeError(f"a level's worker process ended without a result (killed, e.g. "
                                   f"out of memory?): none {GRACE_SECONDS:g} s after the time "
                                   "limit") from None
            if error is not None:
                raise error
            results[i] = result
            if started < len(parts):
                submit(started)
                started += 1
    return results
