"""Benchmark of a sensitivity sweep: Dask workers against the same plans one after another.

Whole processes are timed (wall clock, imports and start-up included), each reading the district
once and planning the same runs (:func:`capacity.sweep.sweep_runs`), without writing files:

(a) on Dask: :func:`capacity.sweep.run_sweep` on a local cluster (``min(runs, cores)`` worker
    processes started by the process, HiGHS on one thread each);
(b) one after another: :func:`capacity.pipeline.run_scenario` for each run in turn, HiGHS with the
    scenario's own thread setting (as ``capacity plan`` runs it).

The speed-up is (b) / (a). For information, (c) times the whole ``capacity sweep`` command, which
also writes ``sweep.csv`` and the figures. Default: the sweep of issue 11 on the shipped baseline
(5 runs).

Usage::

    .venv/bin/python benchmarks/bench_sweep.py [--scenario scenarios/baseline.toml]
        [--vary KEY=VALUES ...] [--grid] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VARY = ["projection.fertility_multiplier=0.8,1,1.2", "projection.housing_shift_years=-1,0,2"]


def one_after_another(scenario: str, varies: list[str], grid: bool) -> None:
    """Plan every run of the sweep in this process, one after another."""
    from capacity.data import load_district
    from capacity.pipeline import data_dir_for, run_scenario
    from capacity.scenario import load_scenario
    from capacity.sweep import parse_vary, sweep_runs

    runs = sweep_runs(scenario, [parse_vary(v) for v in varies], grid=grid)
    district = load_district(data_dir_for(load_scenario(scenario)))
    for r in runs:
        t0 = time.perf_counter()
        plan = run_scenario(r.scenario, district=district).plan
        print(f"run {r.run}: {plan.report.status} in {time.perf_counter() - t0:.1f} s", flush=True)


def on_dask(scenario: str, varies: list[str], grid: bool, workers: int | None) -> None:
    """Plan every run of the sweep on a local Dask cluster (no files written)."""
    from capacity.sweep import run_sweep

    r = run_sweep(scenario, varies, grid=grid, n_workers=workers)
    for run, o in zip(r.runs, r.outcomes, strict=True):
        print(f"run {run.run}: {o.status} in {o.seconds:.1f} s on a worker", flush=True)
    print(f"{len(r.runs)} runs on {r.workers} workers: {r.seconds:.1f} s inside run_sweep")


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    for line in done.stdout.strip().splitlines():
        print(f"   {line}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="scenarios/baseline.toml")
    ap.add_argument("--vary", action="append", default=None, metavar="KEY=VALUES")
    ap.add_argument("--grid", action="store_true")
    ap.add_argument("--workers", type=int, default=None, help="local Dask workers")
    ap.add_argument("--mode", choices=("dask", "one-after-another"), default=None,
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    varies = args.vary or DEFAULT_VARY
    if args.mode == "one-after-another":
        one_after_another(args.scenario, varies, args.grid)
        return
    if args.mode == "dask":
        on_dask(args.scenario, varies, args.grid, args.workers)
        return

    from capacity.sweep import parse_vary, sweep_runs

    n = len(sweep_runs(ROOT / args.scenario, [parse_vary(v) for v in varies], grid=args.grid))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    vary_args = [a for v in varies for a in ("--vary", v)] + (["--grid"] if args.grid else [])
    workers = ["--workers", str(args.workers)] if args.workers else []
    me = [sys.executable, str(Path(__file__).resolve()), "--scenario", args.scenario, *vary_args,
          *workers]
    print(f"== sweep of {args.scenario}: {' '.join(vary_args)}")
    print(f"   {n} distinct runs; {cores} cores; load average {os.getloadavg()[0]:.1f} before "
          "(other processes on the machine slow every timing)")
    print("(a) on a local Dask cluster:")
    t_dask = timed([*me, "--mode", "dask"])
    print(f"   {t_dask:.1f} s (whole process)")
    print("(b) the same plans one after another in one process:")
    t_seq = timed([*me, "--mode", "one-after-another"])
    print(f"   {t_seq:.1f} s (whole process)")
    with tempfile.TemporaryDirectory() as out:
        print("(c) the whole command, with sweep.csv and the figures:")
        t_cmd = timed([sys.executable, "-m", "capacity.cli", "sweep", args.scenario, *vary_args,
                       *workers, "--out", out, "-q"])
    print(f"   {t_cmd:.1f} s (whole process)")
    print(f"speed-up of the sweep on Dask: {t_seq / t_dask:.2f}x ({n} runs: {t_seq:.1f} s one after "
          f"another -> {t_dask:.1f} s on Dask); load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
