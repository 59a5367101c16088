"""Benchmark of the two-stage stochastic plan: Dongli (data/streets) with the futures of
``scenarios/robust.toml`` (30 k-medoids futures of 300 draws), solved to proven optimality.

Reports the time to draw and select the futures, to build the model, to solve it (per
lexicographic stage, summed over the levels solved apart), to evaluate the robust and the central
schedule on the fresh draws, and the peak memory of the process (``ru_maxrss``).

Usage::

    .venv/bin/python benchmarks/bench_robust.py [--draws 30] [--measure expected|cvar]
        [--evaluation-draws 500] [--threads N] [--time-limit 600] [--msg]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from capacity.data import load_district
from capacity.optimize import SchoolPlanModel
from capacity.optimize.evaluate import ScheduleEvaluator
from capacity.optimize.stochastic import RobustPlanModel
from capacity.robust import _draw_demand, draw_futures, peak_years
from capacity.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=None, help="futures (default: the scenario's)")
    ap.add_argument("--measure", choices=("expected", "cvar"), default=None)
    ap.add_argument("--evaluation-draws", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--msg", action="store_true")
    args = ap.parse_args(argv)

    s = load_scenario(ROOT / "scenarios" / "robust.toml")
    r = s.robust
    r = replace(r, draws=args.draws or r.draws, measure=args.measure or r.measure,
                evaluation_draws=args.evaluation_draws or r.evaluation_draws)
    opts = replace(s.solver, time_limit=args.time_limit, threads=args.threads, msg=args.msg)
    d = load_district(ROOT / "data" / "streets")
    seed, eval_seed = r.seeds(s.uncertainty.seed)
    p = s.plan

    t0 = time.perf_counter()
    demands, w, _, n_in = draw_futures(d, s, r, seed)
    t_fut = time.perf_counter() - t0
    print(f"== Dongli robust plan: {len(demands)} futures ({r.select} of {n_in} draws) in {t_fut:.2f} s; "
          f"measure {r.measure}" + (f" alpha {r.alpha:g}" if r.measure == "cvar" else ""))

    t0 = time.perf_counter()
    model = RobustPlanModel(demands, w, d.supply, d.sites, d.distance_km(), p, measure=r.measure, alpha=r.alpha)
    model.build()
    t_build = time.perf_counter() - t0
    b = model._built
    print(f"   variables {len(b.V):,} (binaries {len(model.indices[0].options):,}), constraints "
          f"{b.n_constraints:,}; build {t_build:.2f} s; solved "
          + (f"level by level ({len(b.components)} parts)" if b.components else "as a whole"))
    model.solve(opts)
    rep = model.plan.report
    print(f"   solve {rep.solve_seconds:.2f} s; status {rep.status} / {rep.sol_status}; proven optimal: "
          f"{rep.optimal}; gap {rep.gap}")
    for st in rep.stages:
        print(f"     stage {st['term']:<12} {st['seconds']:7.2f} s  obj {st['objective']:.6g}  "
              f"bound {st['bound']}  gap {st['gap']}")

    t0 = time.perf_counter()
    central = SchoolPlanModel(_central(d, s), d.supply, d.sites, d.distance_km(), p).solve(opts).plan
    t_det = time.perf_counter() - t0
    t0 = time.perf_counter()
    fresh = _draw_demand(d, s, eval_seed, r.evaluation_draws)
    ev = ScheduleEvaluator(fresh, d.supply, d.sites, d.distance_km(), p)
    peak = peak_years(_central(d, s))
    out = {name: ev.evaluate(sch, detail_years=peak).levels
           for name, sch in (("robust", model.plan.schedule), ("deterministic", central.schedule))}
    t_eval = time.perf_counter() - t0
    print(f"   central plan {t_det:.2f} s; out-of-sample evaluation of both schedules on "
          f"{r.evaluation_draws} draws {t_eval:.2f} s")
    for name, lv in out.items():
        tot = lv.groupby(["level", "future"])["places_short"].sum().groupby("level")
        print(f"     {name:<13} expected pupil-years short "
              + ", ".join(f"{k} {v:,.0f}" for k, v in tot.mean().items()) + "; p95 "
              + ", ".join(f"{k} {v:,.0f}" for k, v in tot.quantile(0.95).items()))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"   peak memory {peak_mb:,.0f} MB")
    return 0 if rep.optimal else 1


def _central(d, s):
    from capacity.demand import pupils
    from capacity.projection import project

    dem = pupils(project(d, s.projection), d.levels, s.enrolment)
    return dem[dem["year"].between(s.plan.first_year, s.plan.last_year)]


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    sys.exit(main())
