"""One lexicographic stage of one level of a synthetic city, alone: how the optimizer's hard stages
behave, and what a HiGHS option does to them.

Builds the instance of ``bench_optimize.city_instance(streets)``, takes the part of ``--level``
(the levels share no row, so the driver solves them apart), solves the stages before ``--stage``
as the driver does (each fixed at its value plus ``lex_slack``), then runs ``--stage`` alone from
the previous stage's solution (re-optimised for it with the schedule fixed when it prices pupils)
with the HiGHS options given, and prints the start, the linear relaxation (``--relaxation``), the
objective, the bound, the gap and the seconds. ``benchmarks/README.md`` (rounds of 30 Nov 2026)
has what it measured::

    python benchmarks/bench_stage.py --streets 50 --level junior --stage cost --time-limit 90
    python benchmarks/bench_stage.py --streets 250 --level primary --stage travel --msg \\
        --option mip_allow_cut_separation_at_nodes=false

Times are wall seconds of this process; one HiGHS thread.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench_optimize import city_instance

from capacity.optimize import SchoolPlanModel, SolverOptions
from capacity.optimize.backend import HighsModel
from capacity.optimize.driver import (
    lex_slack,
    part_arrays,
    part_stages,
    run_stage_vectors,
    stage_vectors,
)
from capacity.optimize.solver import relative_gap


def level_part(model: SchoolPlanModel, level: str):
    """``(LinearArrays, stage vectors)`` of ``level``'s part of a built model (as
    ``driver.run_components`` takes it apart)."""
    b = model._built
    found = [c for c in b.components if c[0] == level]
    if not found:
        names = ", ".join(c[0] for c in b.components) or "none: the model is solved whole"
        raise SystemExit(f"--level {level!r}: not a level solved apart (levels: {names})")
    _, cons, idx = found[0]
    V, stages = part_stages(b, idx, model.params)
    return part_arrays(b.arrays(), cons, idx), stage_vectors(stages, V)


def _value(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streets", type=int, default=50)
    ap.add_argument("--level", default="junior")
    ap.add_argument("--stage", default="cost", help="the stage run alone (shortfall, equity, overcrowding, travel, cost)")
    ap.add_argument("--time-limit", type=float, default=90.0, help="seconds for the stage run alone")
    ap.add_argument("--prefix-time-limit", type=float, default=600.0, help="seconds for the stages before it")
    ap.add_argument("--mip-gap", type=float, default=0.01)
    ap.add_argument("--sub-mip-heuristics", action="store_true", help="SolverOptions.sub_mip_heuristics")
    ap.add_argument("--schedule-restarts", action="store_true", help="SolverOptions.schedule_restarts")
    ap.add_argument("--relaxation", action="store_true", help="also solve the stage's linear relaxation")
    ap.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help="a HiGHS option")
    ap.add_argument("--msg", action="store_true", help="HiGHS's log of the stage")
    args = ap.parse_args(argv)

    dem, sup, sit, dist, params = city_instance(args.streets)
    model = SchoolPlanModel(dem, sup, sit, dist, params)
    model.check(raise_on_error=True)
    model.build()
    arrays, vectors = level_part(model, args.level)
    terms = [t for t, _c, _k in vectors]
    if args.stage not in terms:
        raise SystemExit(f"--stage {args.stage!r}: not a stage of {args.level} (stages: {', '.join(terms)})")
    k = terms.index(args.stage)
    print(f"{args.streets} streets, {args.level}: {arrays.A.shape[1]:,} columns, {int(arrays.integer.sum()):,} "
          f"binaries, {arrays.A.shape[0]:,} rows; stages {', '.join(terms)}")

    options = SolverOptions(time_limit=args.time_limit, mip_gap=args.mip_gap, threads=1, msg=args.msg,
                            sub_mip_heuristics=args.sub_mip_heuristics, schedule_restarts=args.schedule_restarts)
    t0 = time.perf_counter()
    start = None
    records = []
    if k:
        prefix = SolverOptions(time_limit=args.prefix_time_limit, mip_gap=args.mip_gap, threads=1)
        records, start = run_stage_vectors(arrays, vectors[:k], prefix, time.perf_counter() + args.prefix_time_limit,
                                           params, True, None)
        for r in records:
            print(f"  before: {r['term']:<13} {r['objective']:,.3f} (gap {r['gap']:.2%}) in {r['seconds']:.1f} s")
        if start is None or len(records) < k:
            raise SystemExit("the stages before it found no solution within --prefix-time-limit")
    model_h = HighsModel(arrays, options, mip=True)
    for (_t, cost, const), r in zip(vectors[:k], records, strict=True):
        model_h.add_row_le(cost, r["objective"] + lex_slack(r["objective"], params) - const)
    term, cost, const = vectors[k]
    if start is not None and model_h.prices_pupils(cost):
        start, _ = model_h.with_schedule_fixed(cost, start, args.time_limit)
    if start is not None:
        print(f"  start: {cost @ start + const:,.3f}")
    if args.relaxation:
        t1 = time.perf_counter()
        lp = model_h.relaxation_bound(cost, args.time_limit)
        print(f"  relaxation: {'not solved' if lp is None else f'{lp + const:,.3f}'} in {time.perf_counter() - t1:.1f} s")
    import highspy

    for item in args.option:
        name, _, text = item.partition("=")
        if model_h.h.setOptionValue(name, _value(text)) != highspy.HighsStatus.kOk:
            raise SystemExit(f"--option {item!r}: HiGHS does not take it")
    t1 = time.perf_counter()
    res = model_h.run(cost, args.time_limit, start)
    seconds = time.perf_counter() - t1
    if res.objective is None:
        print(f"  {term}: no solution in {seconds:.1f} s")
        return 1
    obj = res.objective + const
    bound = None if res.bound is None else res.bound + const
    gap = relative_gap(obj, bound)
    print(f"  {term}: {obj:,.3f}, bound {'—' if bound is None else f'{bound:,.3f}'}, gap "
          f"{'—' if gap is None else f'{gap:.2%}'}, {seconds:.1f} s (and {t1 - t0:.1f} s before it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
