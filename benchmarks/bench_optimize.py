"""Benchmark of the scheduling MILP: model build, solve time and gap per stage, memory.

Every instance is built and solved in its own Python process; the parent reads that process's CPU
time and peak RSS from the kernel (``os.wait4``, the per-child form of
``getrusage(RUSAGE_CHILDREN)``).

(a) Dongli: the real supply, sites and distances from ``data/streets`` if
    ``capacity.data.load_district`` can read them (demand is synthetic: existing places x a growth
    path), else a synthetic district of the same shape (11 streets, 4 levels, 70 sites, 2021-2030).
(b) Scaling: synthetic districts of 11, 50, 100 and 250 streets (4 candidate sites a street, 10
    years, the city's density and school counts in proportion); 250 streets is the city instance
    (1,000 sites). Columns: build seconds, seconds and proven gap per lexicographic stage (levels
    solved apart are summed), solve seconds, the process's CPU seconds, peak memory.
(c) Reference: the straightforward formulation (``reference_model.py``: one assignment variable
    per street x candidate site x year, Python loops, one weighted objective) against the package
    with ``method="weighted"`` on the 11- and 50-street instances: the ratio of times and the
    objectives.

Usage::

    .venv/bin/python benchmarks/bench_optimize.py [--mip-gap 0.01] [--time-limit 300]
        [--only dongli|scale|reference] [--streets 11,50,100,250] [--reference-streets 11,50]
        [--method lexicographic|weighted] [--solver highs|cbc] [--threads 1] [--level-workers 2]
        [--msg]

``--level-workers`` (default 2, the machine's two cores) processes solve the independent levels of a
scaling instance at once (``SolverOptions.level_workers``); Dongli and the reference comparison
solve them one after the other. ``--mip-gap`` is the relative gap every stage must prove (``make bench`` asks 1%: issue 10); the
plans' default (``SolverOptions.mip_gap``) is unchanged. The time limit covers all stages of one
instance. Timings on a shared machine are noisy: the load average is printed with each instance.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
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



CATCHMENT = {"kindergarten": 2.0, "primary": 2.0, "junior": 4.0, "senior": 8.0}


def city_instance(n_streets: int, method: str = "lexicographic"):
    """The scaling instances: ``n_streets`` streets, 4 candidate sites a street, 2021-2030, on a square
    of ``25 km x sqrt(n/250)`` (the city's density), ``new_schools`` (at most) in proportion to the
    city's 120 / 80 / 40 / 20. ``n_streets=250`` is the city instance of issue 10."""
    f = n_streets / 250
    dem, sup, sit, dist = synthetic_instance(n_streets, 4 * n_streets, range(2021, 2031),
                                             side_km=25.0 * f ** 0.5, seed=7)
    counts = {"kindergarten": 120, "primary": 80, "junior": 40, "senior": 20}
    params = PlanParameters(
        first_year=2021, last_year=2030, plan_start=2021, plan_end=2025,
        new_schools={lv: max(1, round(c * f)) for lv, c in counts.items()}, count_rule="at_most",
        catchment_km=CATCHMENT, public_share_min=0.5, target_year=2025, method=method)
    return dem, sup, sit, dist, params


def dongli_params(method: str = "lexicographic") -> PlanParameters:
    # vocational: the baseline scenario's class sizes (50 standard, 55 at most) and no new school
    return PlanParameters(
        first_year=2021, last_year=2030, plan_start=2021, plan_end=2025,
        new_schools={"kindergarten": 30, "primary": 9, "junior": 4, "senior": 2, "vocational": 0},
        count_rule="exact", kindergarten_new_places=9180, places_rule="exact",
        catchment_km={**CATCHMENT, "senior": None, "vocational": None},
        class_size={"vocational": 50}, max_class_size={"vocational": 55},
        public_share_min=0.5, inclusive_share_min=0.83, target_year=2025, method=method)


def measure(kind: str, n_streets: int, method: str, options: SolverOptions) -> dict:
    """Build and solve one instance in this process; a JSON-able record (``kind``: ``model`` or
    ``reference``)."""
    if n_streets == 0:
        name, dem, sup, sit, dist = dongli_instance()
        params = dongli_params(method)
    else:
        dem, sup, sit, dist, params = city_instance(n_streets, method)
        name = f"synthetic, {n_streets} streets"
    rec = {"name": name, "kind": kind, "method": method, "streets": int(dist.shape[0]), "sites": len(sit),
           "years": params.last_year - params.first_year + 1}
    if kind == "reference":
        from reference_model import solve_reference

        t0 = time.perf_counter()
        r = solve_reference(dem, sup, sit, dist, params, options)
        return {**rec, **r, "seconds": time.perf_counter() - t0}
    t0 = time.perf_counter()
    model = SchoolPlanModel(dem, sup, sit, dist, params)
    problems = model.check()
    model.build()
    build = time.perf_counter() - t0
    b = model._built
    rec.update(variables=len(b.V), binaries=len(model.options), arcs=len(model.arcs),
               constraints=b.n_constraints, build_seconds=build,
               parts=[c[0] for c in (b.components or [])], problems=problems)
    if problems:
        return rec
    try:
        model.solve(options)
    except RuntimeError as exc:  # e.g. the time limit before a first solution
        return {**rec, "solve_error": str(exc), "seconds": time.perf_counter() - t0}
    r = model.plan.report
    rec.update(solve_seconds=r.solve_seconds, optimal=r.optimal, gap=r.gap, objective=r.objective,
               status=f"{r.status} / {r.sol_status}",
               stages=[{k: s[k] for k in ("term", "seconds", "cpu_seconds", "objective", "bound", "gap",
                                          "optimal", "levels") if k in s} for s in r.stages],
               terms={k: getattr(r, k) for k in ("shortfall", "overcrowding", "travel", "cost", "early")},
               new_schools=model.plan.schedule.groupby("level").size().to_dict(),
               seconds=time.perf_counter() - t0)
    return rec


def in_subprocess(kind: str, n_streets: int, method: str, args, level_workers: int = 1) -> dict:
    """Run :func:`measure` in a fresh Python process (its levels solved by ``level_workers``
    processes at once); adds its CPU seconds (user + system) and peak RSS (MiB) from the kernel's
    accounting of that child (``wait4``; the same figures ``getrusage(RUSAGE_CHILDREN)`` sums: the
    child's own and those of the level workers it waited for, whose peak is the largest single
    process's)."""
    cmd = [sys.executable, __file__, "--child", kind, str(n_streets), "--method", method,
           "--time-limit", str(args.time_limit), "--mip-gap", str(args.mip_gap), "--threads", str(args.threads),
           "--solver", args.solver, "--level-workers", str(level_workers)] + (["--msg"] if args.msg else [])
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    lines = [ln for ln in out.splitlines() if ln.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        return {"kind": kind, "streets": n_streets, "error": f"exit {proc.returncode}", "wall": wall}
    rec = json.loads(lines[-1][len(RESULT):])
    rec.update(wall=wall, cpu=ru.ru_utime + ru.ru_stime, peak_mib=ru.ru_maxrss / 1024)
    return rec


RESULT = "RESULT "
STAGES = ("shortfall", "overcrowding", "travel", "cost")


def _fmt_gap(g):
    return "—" if g is None else f"{100 * g:.2f}%"


def scaling_table(recs: list[dict]) -> str:
    """Markdown table: one row per instance, time and gap per lexicographic stage."""
    head = ["streets", "sites", "years", "variables", "binaries", "build s",
            *[f"{t} s (gap)" for t in STAGES], "solve s", "process CPU s", "peak MiB", "proven"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in recs:
        if "error" in r:
            lines.append(f"| {r['streets']} | failed: {r['error']} |")
            continue
        if "solve_error" in r:
            lines.append(f"| {r['streets']} | {r['sites']:,} | {r['years']} | {r['variables']:,} | "
                         f"{r['binaries']:,} | {r['build_seconds']:.1f} | {r['solve_error']} ||||| "
                         f"{r['cpu']:.1f} | {r['peak_mib']:.0f} | no |")
            continue
        by = {s["term"]: s for s in r.get("stages", [])}
        cells = [f"{by[t]['seconds']:.1f} ({_fmt_gap(by[t]['gap'])})" if t in by else "—" for t in STAGES]
        lines.append("| " + " | ".join([
            str(r["streets"]), f"{r['sites']:,}", str(r["years"]), f"{r['variables']:,}", f"{r['binaries']:,}",
            f"{r['build_seconds']:.1f}", *cells, f"{r.get('solve_seconds', float('nan')):.1f}", f"{r['cpu']:.1f}",
            f"{r['peak_mib']:.0f}", "yes" if r.get("optimal") else "no"]) + " |")
    return "\n".join(lines)


def levels_table(recs: list[dict]) -> str:
    """Markdown table: for each instance solved level by level and not proven, each level's seconds
    and gap per stage (which level holds a stage's gap); empty when every instance is proven."""
    lines = []
    for r in recs:
        stages = {s["term"]: s for s in r.get("stages", [])}
        if r.get("optimal") or not any(s.get("levels") for s in stages.values()):
            continue
        if not lines:
            head = ["streets", "level", *[f"{t} s (gap)" for t in STAGES]]
            lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        levels = list(dict.fromkeys(lv for s in stages.values() for lv in s.get("levels", {})))
        for lv in levels:
            cells = []
            for t in STAGES:
                own = stages.get(t, {}).get("levels", {}).get(lv)
                cells.append("—" if own is None else f"{own['seconds']:.1f} ({_fmt_gap(own['gap'])})")
            lines.append("| " + " | ".join([str(r["streets"]), lv, *cells]) + " |")
    return "\n".join(lines)


def reference_table(pairs: list[tuple[dict, dict]]) -> str:
    """Markdown table: the package's weighted model against the straightforward one."""
    head = ["streets", "reference variables", "model variables", "reference build + solve s",
            "model build + solve s", "time ratio", "reference objective", "model objective", "difference"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ref, mod in pairs:
        if "error" in ref or "error" in mod:
            lines.append(f"| {ref.get('streets')} | failed: {ref.get('error') or mod.get('error')} |")
            continue
        tr = ref["build_seconds"] + ref["solve_seconds"]
        tm = mod["build_seconds"] + mod["solve_seconds"]
        ro, mo = ref["objective"], mod["objective"]
        diff = "—" if ro is None or mo is None else f"{100 * (mo - ro) / max(abs(ro), 1e-9):+.4f}%"
        lines.append("| " + " | ".join([
            str(mod["streets"]), f"{ref['variables']:,}", f"{mod['variables']:,}",
            f"{tr:.1f}{'' if ref['optimal'] else ' (not proven)'}", f"{tm:.1f}{'' if mod['optimal'] else ' (not proven)'}",
            f"{tr / max(tm, 1e-9):.1f}x", f"{ro:,.1f}" if ro is not None else "—",
            f"{mo:,.1f}" if mo is not None else "—", diff]) + " |")
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (f"{os.cpu_count()} logical CPUs ({cpu}); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
            f"{platform.python_version()}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=300.0, help="seconds per instance (all stages)")
    ap.add_argument("--mip-gap", type=float, default=1e-4, help="relative gap each stage must prove")
    ap.add_argument("--only", choices=("dongli", "scale", "reference"))
    ap.add_argument("--streets", default="11,50,100,250", help="the scaling instances (streets)")
    ap.add_argument("--reference-streets", default="11,50", help="instances also solved by the reference")
    ap.add_argument("--reference-gap", type=float, default=None,
                    help="MIP gap of the reference comparison (default: --mip-gap)")
    ap.add_argument("--method", default="lexicographic")
    ap.add_argument("--solver", default="highs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--msg", action="store_true", help="show the solver log")
    ap.add_argument("--level-workers", type=int, default=2,
                    help="processes solving independent levels at once in the scaling instances")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "STREETS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        options = SolverOptions(solver=args.solver, time_limit=args.time_limit, mip_gap=args.mip_gap,
                                threads=args.threads, msg=args.msg, level_workers=args.level_workers)
        rec = measure(args.child[0], int(args.child[1]), args.method, options)
        print(RESULT + json.dumps(rec, default=float), flush=True)
        return 0

    print(f"machine: {machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    if args.only in (None, "dongli"):
        r = in_subprocess("model", 0, args.method, args)
        print(f"\n== {r.get('name', 'Dongli')}: lexicographic, mip gap {args.mip_gap:g}, "
              f"time limit {args.time_limit:g} s, threads {args.threads}")
        print(scaling_table([r]))
    if args.only in (None, "scale"):
        print(f"\n== Scaling (synthetic; each instance in its own process): {args.method}, "
              f"mip gap {args.mip_gap:g} per stage, time limit {args.time_limit:g} s per instance, "
              f"threads {args.threads}, levels solved {args.level_workers} at a time")
        recs = []
        for n in (int(v) for v in args.streets.split(",") if v):
            recs.append(in_subprocess("model", n, args.method, args, args.level_workers))
            r = recs[-1]
            print(f"   {n} streets: wall {r['wall']:.1f} s, CPU {r.get('cpu', float('nan')):.1f} s, "
                  f"proven {r.get('optimal')}; load {os.getloadavg()[0]:.2f}", flush=True)
        print(scaling_table(recs))
        by_level = levels_table(recs)
        if by_level:
            print("\nBy level (instances not proven; each level's own seconds and gap):")
            print(by_level)
    if args.only in (None, "reference"):
        gap = args.mip_gap if args.reference_gap is None else args.reference_gap
        ref_args = argparse.Namespace(**{**vars(args), "mip_gap": gap})
        print(f"\n== Reference: the straightforward formulation (benchmarks/reference_model.py) against "
              f"the package, both one weighted objective, mip gap {gap:g}, "
              f"time limit {args.time_limit:g} s")
        pairs = []
        for n in (int(v) for v in args.reference_streets.split(",") if v):
            ref = in_subprocess("reference", n, "weighted", ref_args)
            mod = in_subprocess("model", n, "weighted", ref_args)
            pairs.append((ref, mod))
        print(reference_table(pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
