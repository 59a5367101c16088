"""Benchmark of the scheduling MILP: model-build and solve time, separately.

(a) Dongli-sized: the real supply, sites and distances from ``data/streets`` if
    ``capacity.data.load_district`` can read them (demand is synthetic: existing places x a growth
    path), else a synthetic district of the same shape (11 streets, 4 levels, 70 sites, 2021-2030).
(b) City-scale synthetic: 250 streets, 1,000 candidate sites, 10 years.

Usage::

    .venv/bin/python benchmarks/bench_optimize.py [--time-limit 300] [--only dongli|city]
        [--method lexicographic|weighted] [--solver highs|cbc] [--threads 1] [--msg]

``--msg`` shows the HiGHS log. Each stage line gives the stage's time, objective, bound and gap (for
a model solved level by level, summed over the levels).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from capacity.optimize import PlanParameters, SchoolPlanModel, SolverOptions

LEVELS = ("kindergarten", "primary", "junior", "senior")
BASE = {"kindergarten": 300.0, "primary": 900.0, "junior": 420.0, "senior": 380.0}
SIZES = {"kindergarten": "6;9;12", "primary": "24;30;36", "junior": "24;30;36", "senior": "24;36"}
CLASS = {"kindergarten": 30, "primary": 45, "junior": 50, "senior": 50}
COST = {"kindergarten": 1.5, "primary": 3.0, "junior": 3.5, "senior": 4.0}


def synthetic_instance(n_streets: int, n_sites: int, years: range, side_km: float, seed: int = 0,
                       site_levels: tuple[float, ...] = (0.4, 0.3, 0.2, 0.1), earliest_span: int = 7):
    """A deterministic synthetic district.

    Returns
    -------
    demand, supply, sites, distance_km : DataFrame
        In the ``capacity.optimize`` table formats; distances in km on a ``side_km`` square.
    """
    rng = np.random.default_rng(seed)
    streets = [f"S{i:04d}" for i in range(n_streets)]
    xy = rng.uniform(0, side_km, size=(n_streets, 2))
    dist = pd.DataFrame(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)),
                        index=streets, columns=streets)
    size = rng.lognormal(0, 0.4, n_streets)
    growth = rng.normal(0.03, 0.03, n_streets)
    rows, sup = [], []
    for lv in LEVELS:
        base = BASE[lv] * size
        for k, y in enumerate(years):
            rows.append(pd.DataFrame({"street": streets, "level": lv, "year": y,
                                      "pupils": np.round(base * (1 + growth) ** k, 1)}))
        cls = np.floor(base * rng.uniform(0.75, 1.0, n_streets) / CLASS[lv]).astype(int)
        if lv == "kindergarten":  # public / private-inclusive / private
            for pub, inc, share in ((True, True, 0.45), (False, True, 0.35), (False, False, 0.2)):
                c = np.floor(cls * share).astype(int)
                sup.append(pd.DataFrame({"street": streets, "level": lv, "public": pub, "inclusive": inc,
                                         "classes": c, "places": c * CLASS[lv]}))
        else:
            sup.append(pd.DataFrame({"street": streets, "level": lv, "public": True, "inclusive": True,
                                     "classes": cls, "places": cls * CLASS[lv]}))
    demand = pd.concat(rows, ignore_index=True)
    supply = pd.concat(sup, ignore_index=True)
    counts = np.round(np.array(site_levels) * n_sites).astype(int)
    counts[0] += n_sites - counts.sum()
    sites = []
    for lv, n in zip(LEVELS, counts, strict=True):
        st = rng.choice(streets, size=n, p=size / size.sum())
        sites.append(pd.DataFrame({
            "site": [f"{lv[0]}{i:04d}" for i in range(n)], "street": st, "level": lv,
            "earliest_year": rng.integers(years[0], years[0] + earliest_span, n), "sizes": SIZES[lv],
            "cost_per_class": np.round(COST[lv] * rng.uniform(0.8, 1.2, n), 2),
            "public": rng.random(n) < (0.7 if lv == "kindergarten" else 1.0), "inclusive": True,
        }))
    return demand, supply, pd.concat(sites, ignore_index=True), dist


def dongli_instance():
    """Real Dongli supply / sites / distances if readable, else a synthetic one of the same shape."""
    years = range(2021, 2031)
    try:
        from capacity.data import load_district

        d = load_district(Path(__file__).resolve().parents[1] / "data" / "streets")
        supply, sites, dist = d.supply, d.sites, d.distance_km()
        rng = np.random.default_rng(1)
        lv_places = supply.groupby(["street", "level"])["places"].sum()
        rows = []
        for (s, lv), pl in lv_places.items():
            g = rng.normal(0.04, 0.02)
            for k, y in enumerate(years):
                rows.append((s, lv, y, round(float(pl) * 1.05 * (1 + g) ** k, 1)))
        demand = pd.DataFrame(rows, columns=["street", "level", "year", "pupils"])
        return "Dongli (real supply/sites/distances, synthetic demand)", demand, supply, sites, dist
    except Exception as exc:  # noqa: BLE001 - any failure means: no usable real data yet
        print(f"(real Dongli data not usable: {type(exc).__name__}: {exc}; using a synthetic one)")
        dem, sup, sit, dist = synthetic_instance(11, 70, years, side_km=8.0, seed=2021,
                                                 site_levels=(0.6, 0.2, 0.12, 0.08), earliest_span=5)
        return "Dongli-shaped synthetic (11 streets, 70 sites)", dem, sup, sit, dist


def run(name, demand, supply, sites, dist, params, options):
    t0 = time.perf_counter()
    model = SchoolPlanModel(demand, supply, sites, dist, params)
    problems = model.check()
    model.build()
    build = time.perf_counter() - t0
    b = model._built
    print(f"\n== {name}")
    print(f"   streets {dist.shape[0]}, sites {len(sites)}, years {params.first_year}-{params.last_year}")
    print(f"   variables {len(b.V):,} (binaries {len(model.options):,}, arcs {len(model.arcs):,}), "
          f"constraints {b.n_constraints:,}")
    parts = [c[0] for c in (b.components or [])]
    print(f"   model build {build:.2f} s; solved " + (f"level by level ({', '.join(parts)})" if parts
                                                      else "as one model"))
    if problems:
        print("   check:", *problems, sep="\n     ")
        return
    model.solve(options)
    r = model.plan.report
    print(f"   solve {r.solve_seconds:.2f} s ({r.method}, {r.solver}); status {r.status} / {r.sol_status}; "
          f"optimal {r.optimal}; max gap {r.gap}")
    for s in r.stages:
        print(f"     stage {s['term']:<12} {s['seconds']:7.2f} s  obj {s['objective']}  bound {s['bound']}  "
              f"gap {s['gap']}")
    print(f"   shortfall {r.shortfall:,.1f} pupil-years, overcrowding {r.overcrowding:,.1f}, "
          f"travel {r.travel:,.1f} pupil-km, cost {r.cost:,.1f} M CNY; new schools "
          f"{model.plan.schedule.groupby('level').size().to_dict()}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--only", choices=("dongli", "city"))
    ap.add_argument("--method", default="lexicographic")
    ap.add_argument("--solver", default="highs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--msg", action="store_true", help="show the solver log")
    args = ap.parse_args(argv)
    options = SolverOptions(solver=args.solver, time_limit=args.time_limit, mip_gap=1e-4, threads=args.threads,
                            msg=args.msg)
    catch = {"kindergarten": 2.0, "primary": 2.0, "junior": 4.0, "senior": None}
    if args.only in (None, "dongli"):
        name, dem, sup, sit, dist = dongli_instance()
        params = PlanParameters(
            first_year=2021, last_year=2030, plan_start=2021, plan_end=2025,
            new_schools={"kindergarten": 30, "primary": 9, "junior": 4, "senior": 2}, count_rule="exact",
            kindergarten_new_places=9180, places_rule="exact", catchment_km=catch,
            public_share_min=0.5, inclusive_share_min=0.83, target_year=2025, method=args.method)
        run(name, dem, sup, sit, dist, params, options)
    if args.only in (None, "city"):
        dem, sup, sit, dist = synthetic_instance(250, 1000, range(2021, 2031), side_km=25.0, seed=7)
        params = PlanParameters(
            first_year=2021, last_year=2030, plan_start=2021, plan_end=2025,
            new_schools={"kindergarten": 120, "primary": 80, "junior": 40, "senior": 20}, count_rule="at_most",
            catchment_km={**catch, "senior": 8.0}, public_share_min=0.5, target_year=2025,
            method=args.method)
        run("City-scale synthetic (250 streets, 1,000 sites, 10 years)", dem, sup, sit, dist, params, options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
