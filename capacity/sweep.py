"""Sensitivity sweeps: one scenario, some assumptions varied, every variant planned on Dask.

A sweep starts from a scenario file and a list of ``--vary KEY=VALUES`` arguments
(:func:`parse_vary`). ``KEY`` is any scenario key (``projection.fertility_multiplier``,
``enrolment.kindergarten.2025``, ``class_size.standard.primary``, ...); ``VALUES`` is a comma
list (``0.7,0.85,1``) or a range ``lo:hi:n`` (``n`` evenly spaced values from ``lo`` to ``hi``).
Each value is read as a TOML value (``1`` an integer, ``1.0`` a number, ``off`` or ``"off"`` a
string) and checked by :func:`capacity.scenario.load_scenario` exactly like a value in a file, so
a wrong key or value is the same one-line :class:`~capacity.scenario.ScenarioError`, naming
``--vary``.

Runs (:func:`sweep_runs`; the argument and the runs are :mod:`capacity.sweep_spec`, re-exported
here):

* one at a time (default): the scenario as it is (the baseline run), then for each key each of
  its values that differs from the scenario's own, every other key at the scenario's value;
* the full grid (``grid=True``): every combination of the values.

Variants equal to one already listed (same parameters) are run once.

Each run is a pure task on ``dask.distributed`` (:func:`run_sweep`): scenario in, headline
measures out (:func:`headline_measures`). The district is loaded once and scattered to the
workers; each task projects, turns into demand and plans with
:func:`capacity.pipeline.run_scenario`. A run that fails is reported with its assumptions and
error and does not stop the others. Without a scheduler address a local cluster of worker
processes is started (``min(runs, cores)`` workers, one thread each, HiGHS on one thread) and
shut down at the end.

Output (:func:`write_sweep`): ``sweep.csv``, one row per run and level, and the figures of
:mod:`capacity.sweep_figures`.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from capacity.kinds import by_kind
from capacity.scenario import Scenario, load_scenario
from capacity.sweep_spec import SweepRun, Vary, parse_vary, sweep_runs

__all__ = [
    "MEASURES",
    "SweepResult",
    "SweepRun",
    "Vary",
    "headline_measures",
    "parse_vary",
    "run_sweep",
    "sweep_runs",
    "sweep_table",
    "write_sweep",
]

#: The measures of ``sweep.csv`` (per run and level) and their units.
MEASURES = {
    "peak_pupils": "pupils",
    "peak_pupils_year": "year",
    "peak_places_short": "places",
    "peak_places_short_year": "year",
    "spare_places_end": "places",
    "schools_opened": "schools",
    "cost": "million CNY",
}

Progress = Callable[[str], None]


# ------------------------------------------------------------------------------------------------
# measures of one run


def _peak(by_year: pd.Series) -> tuple[float, float]:
    """(largest value, first year it is reached); the year is NaN when the peak is 0."""
    if by_year.empty:
        return math.nan, math.nan
    peak = float(by_year.max())
    year = float(by_year.idxmax()) if peak > 0 else math.nan
    return peak, year


def headline_measures(demand: pd.DataFrame, plan, levels: Sequence[str], first_year: int,
                      last_year: int) -> pd.DataFrame:
    """The measures of ``sweep.csv`` for one run, one row per level.

    Parameters
    ----------
    demand : DataFrame
        ``street, level, year, pupils`` (pupils, persons).
    plan : Plan or None
        The solved plan (``balance``, ``schedule``); None for a projection-only run (the plan
        measures are then NaN).
    levels : sequence of str
        Levels in report order (those without demand are left out).
    first_year, last_year : int
        The balanced years (``plan.first_year``, ``plan.last_year``).

    Returns
    -------
    DataFrame
        ``level`` and :data:`MEASURES`: ``peak_pupils`` (largest district pupils of any balanced
        year) and ``peak_pupils_year``; ``peak_places_short`` (largest district total of
        shortfall + overcrowded pupils in a year, places) and its first year (NaN when 0);
        ``spare_places_end`` (spare standard places summed over streets in ``last_year``);
        ``schools_opened`` (new schools; expansions and conversions not counted); ``cost`` (million
        CNY, all options: capital cost and conversion subsidies).
    """
    from capacity.measures import headline

    d = demand[demand["year"].between(first_year, last_year)]
    pupils = d.groupby(["level", "year"])["pupils"].sum()
    head = headline(plan).set_index(["level", "year"]) if plan is not None else None
    rows = []
    for lv in levels:
        if lv not in pupils.index.get_level_values(0):
            continue
        row = {"level": lv}
        row["peak_pupils"], row["peak_pupils_year"] = _peak(pupils.loc[lv])
        if plan is None:
            row.update({k: math.nan for k in list(MEASURES)[2:]})
        else:
            h = head.loc[lv]  # capacity.measures: places short and spare places, by year
            row["peak_places_short"], row["peak_places_short_year"] = _peak(h["places_short"])
            row["spare_places_end"] = float(h["spare_places"].iloc[-1])
            s = plan.schedule[plan.schedule["level"] == lv]
            row["schools_opened"] = float(len(by_kind(s, "new")))  # expansions/conversions are not schools
            row["cost"] = float(s["cost"].sum())
        rows.append(row)
    return pd.DataFrame(rows, columns=["level", *MEASURES])


# ------------------------------------------------------------------------------------------------
# one task


@dataclass(frozen=True)
class RunOutcome:
    """What a task returns: the run's measures (None if it failed), solver status, error, time."""

    run: int
    measures: pd.DataFrame | None
    status: str
    error: str | None
    seconds: float


def _status(plan) -> str:
    if plan is None:
        return "projected"
    return plan.report.outcome()


def plan_run(run: SweepRun, district, solve: bool = True) -> RunOutcome:
    """Run one variant (a pure task: same inputs, same outcome) and return its measures.

    Any exception becomes ``error`` (one line); the sweep goes on with the other runs.
    """
    from capacity.pipeline import run_scenario

    t0 = time.perf_counter()
    try:
        r = run_scenario(run.scenario, district=district, solve=solve)
        p = run.scenario.plan
        m = headline_measures(r.demand, r.plan, list(district.level_names), p.first_year,
                              p.last_year)
        return RunOutcome(run.run, m, _status(r.plan), None, time.perf_counter() - t0)
    except Exception as exc:  # reported per run; the others go on
        text = " ".join(str(exc).split()) or type(exc).__name__
        return RunOutcome(run.run, None, "failed", f"{type(exc).__name__}: {text}",
                          time.perf_counter() - t0)


# ------------------------------------------------------------------------------------------------
# the sweep on Dask


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: its runs, their outcomes (same order), and how it ran."""

    scenario: Scenario
    varies: tuple[Vary, ...]
    grid: bool
    solve: bool
    runs: tuple[SweepRun, ...]
    outcomes: tuple[RunOutcome, ...]
    levels: tuple[str, ...]
    workers: int
    seconds: float

    @property
    def failed(self) -> list[tuple[SweepRun, RunOutcome]]:
        return [(r, o) for r, o in zip(self.runs, self.outcomes, strict=True) if o.error]

    @property
    def table(self) -> pd.DataFrame:
        return sweep_table(self)


def _one_thread(run: SweepRun) -> SweepRun:
    """The run with HiGHS on one thread when the scenario leaves threads to the solver (each Dask
    worker is one process with one thread; more solver threads would oversubscribe the cores)."""
    s = run.scenario
    if s.solver.threads is not None:
        return run
    return replace(run, scenario=replace(s, solver=replace(s.solver, threads=1)))


def _cores() -> int:
    """Cores this process may use (its CPU affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)  # pragma: no cover - not Linux


@contextlib.contextmanager
def _client(scheduler, n_runs: int, n_workers: int | None):
    """A Dask client: to ``scheduler`` (an address or a Client) or to a new local cluster."""
    from distributed import Client, LocalCluster

    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler  # a Client the caller owns
        return
    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    n = n_workers or max(1, min(n_runs, _cores()))
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=40) as cluster, Client(cluster) as client:
        yield client


def run_sweep(scenario_path, varies: Sequence[Vary | str], *, grid: bool = False,
              solve: bool = True, data_dir=None, scheduler=None, n_workers: int | None = None,
              progress: Progress | None = None, progress_bar: bool = False) -> SweepResult:
    """Run a sweep on Dask.

    Parameters
    ----------
    scenario_path : str or Path
        The scenario file.
    varies : sequence of Vary or str
        The varied assumptions (``"KEY=VALUES"`` strings are read with :func:`parse_vary`).
    grid : bool
        Every combination (True) or one key at a time (False, default).
    solve : bool
        Plan every run (True) or project only (False).
    data_dir : path, optional
        District folder (overrides the scenario's ``data``).
    scheduler : str or distributed.Client, optional
        ``"tcp://HOST:PORT"`` of a running Dask scheduler (its workers need this package
        installed), or a Client. Default: a local cluster of ``n_workers`` processes, started and
        shut down here.
    n_workers : int, optional
        Workers of the local cluster (default ``min(runs, cores)``).
    progress : callable, optional
        Called with one line per event (the command line prints them on stderr).
    progress_bar : bool
        Show Dask's text progress bar (on ``sys.stdout``) while the runs are going.

    Returns
    -------
    SweepResult

    Raises
    ------
    ScenarioError, DataError
        Before any run: a bad ``--vary`` or scenario, a level or street the district lacks.
    """
    from capacity.data import load_district
    from capacity.pipeline import check_scenario, data_dir_for

    t0 = time.perf_counter()
    varies = tuple(parse_vary(v) if isinstance(v, str) else v for v in varies)
    runs = [_one_thread(r) for r in sweep_runs(scenario_path, varies, grid=grid)]
    base = load_scenario(scenario_path)
    folder = data_dir_for(base, data_dir)
    say = progress or (lambda _m: None)
    say(f"reading the district in {folder}")
    district = load_district(folder)
    for r in runs:
        check_scenario(r.scenario, district)
    say(f"{len(runs)} distinct runs ({'grid' if grid else 'one at a time'}, "
        f"{'full plans' if solve else 'projections only'})")
    outcomes: dict[int, RunOutcome] = {}
    with _client(scheduler, len(runs), n_workers) as client:
        workers = len(client.scheduler_info().get("workers", {}))
        say(f"Dask: {workers} workers at {client.scheduler.address}")
        shared = client.scatter(district, broadcast=True)
        tag = uuid.uuid4().hex[:8]
        futures = [client.submit(plan_run, r, shared, solve, key=f"capacity-run-{tag}-{r.run}",
                                 pure=False) for r in runs]
        if progress_bar:
            from distributed import progress as dask_progress

            dask_progress(futures, notebook=False, interval="1s")
            print(file=sys.stdout, flush=True)
        from distributed import as_completed

        for fut in as_completed(futures):
            r = runs[futures.index(fut)]
            try:
                o = fut.result()
            except Exception as exc:  # the task itself catches errors; this is a lost worker
                o = RunOutcome(r.run, None, "failed", f"{type(exc).__name__}: {exc}", math.nan)
            outcomes[o.run] = o
            label = _label(r)
            if o.error:
                say(f"run {o.run} ({label}) failed after {o.seconds:.1f} s: {o.error}")
            else:
                say(f"run {o.run} ({label}): {o.status} in {o.seconds:.1f} s")
        client.cancel([shared])
    return SweepResult(scenario=base, varies=varies, grid=grid,
                       solve=solve, runs=tuple(runs),
                       outcomes=tuple(outcomes[r.run] for r in runs),
                       levels=tuple(district.level_names), workers=workers,
                       seconds=time.perf_counter() - t0)


def _label(run: SweepRun) -> str:
    if not run.changed:
        return "baseline"
    return ", ".join(f"{k}={_show(run.values[k])}" for k in run.changed)


def _show(v) -> str:
    return "off" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


# ------------------------------------------------------------------------------------------------
# output


def sweep_table(result: SweepResult) -> pd.DataFrame:
    """``sweep.csv``: one row per run and level.

    Columns: ``run``; one column per varied key (its value in the run); ``changed`` (the keys that
    differ from the scenario, ``;``-separated, empty for the baseline); ``level``; the
    :data:`MEASURES`; ``status`` (``optimal``, ``projected``, ``not proven optimal: ...`` with its gap, or
    ``failed``) and ``error`` (empty unless the run failed; a failed run has one row with an empty
    level).
    """
    keys = [v.key for v in result.varies]
    rows = []
    for r, o in zip(result.runs, result.outcomes, strict=True):
        head = {"run": r.run, **{k: r.values[k] for k in keys}, "changed": ";".join(r.changed)}
        if o.measures is None or o.measures.empty:
            rows.append({**head, "level": "", **{m: math.nan for m in MEASURES},
                         "status": o.status, "error": o.error or ""})
            continue
        for rec in o.measures.to_dict("records"):
            rows.append({**head, **rec, "status": o.status, "error": ""})
    return pd.DataFrame(rows, columns=["run", *keys, "changed", "level", *MEASURES, "status", "error"])


def write_sweep(out_dir, result: SweepResult) -> list[Path]:
    """Write ``sweep.csv``, ``tornado_<level>.png`` and ``sweep_<key>.png`` into ``out_dir``.

    Returns
    -------
    list of Path
        The files written.
    """
    from capacity import sweep_figures

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = sweep_table(result)
    path = out / "sweep.csv"
    rounded = table.copy()
    for c in MEASURES:
        whole = c.endswith("_year") or c == "schools_opened"
        rounded[c] = rounded[c].round(0).astype("Int64") if whole else rounded[c].round(3)
    rounded.to_csv(path, index=False)
    return [path, *sweep_figures.write_sweep_figures(out, table, result)]
