"""The straightforward formulation of the school-place MILP, as a yardstick for ``capacity.optimize``.

Not product code: it exists so that the benchmark can measure what the package's design (pooled
arcs, vectorised rows, lexicographic stages, levels solved apart, dominance) is worth. It builds
the textbook model with Python loops over dictionaries:

* ``x[i, tau, k]`` binary per candidate site, open year and size;
* one assignment variable per street x candidate site x year (``a_site``) and per street x existing
  supply group (street, level, public, inclusive) x year (``a_exist``), inside the level's catchment;
* ``u`` shortfall per street, level, year; ``o`` overcrowded pupils per site-year and group-year;
* the same rules as ``capacity.optimize`` (one option per site, ``new_schools``, kindergarten places,
  public / inclusive shares in ``target_year``), and one weighted objective
  (``DEFAULT_WEIGHTS`` updated with ``params.weights``).

It does not implement ``max_openings_per_year`` / ``max_cost_per_year`` (the benchmark instances do
not use them).
"""

from __future__ import annotations

import time

import pulp

from capacity.optimize.index import parse_sizes
from capacity.optimize.objective import weights
from capacity.optimize.parameters import (
    DEFAULT_CATCHMENT_KM,
    DEFAULT_CLASS_SIZE,
    DEFAULT_MAX_CLASS_SIZE,
    PlanParameters,
    SolverOptions,
)
from capacity.optimize.solver import classify_status


def solve_reference(demand, supply, sites, distance_km, params: PlanParameters, options: SolverOptions) -> dict:
    """Build and solve the straightforward weighted model.

    Returns
    -------
    dict
        ``variables, binaries, constraints, build_seconds, solve_seconds, objective, bound, optimal``
        (objective in the weights' units: the same number as ``capacity.optimize`` with
        ``method="weighted"``).
    """
    t0 = time.perf_counter()
    p = params
    w = weights(p)
    kg = p.kindergarten_level
    years = list(range(p.first_year, p.last_year + 1))
    dist = {(str(a), str(b)): float(distance_km.loc[a, b]) for a in distance_km.index for b in distance_km.columns}
    cs = {**DEFAULT_CLASS_SIZE, **(p.class_size or {})}
    mcs = {**DEFAULT_MAX_CLASS_SIZE, **(p.max_class_size or {})}
    ckm = {**DEFAULT_CATCHMENT_KM, **(p.catchment_km or {})}

    pupils: dict[tuple, float] = {}
    for r in demand.itertuples(index=False):
        if p.first_year <= int(r.year) <= p.last_year and float(r.pupils) > 0:
            key = (str(r.street), r.level, int(r.year))
            pupils[key] = pupils.get(key, 0.0) + float(r.pupils)

    groups: dict[tuple, list[float]] = {}  # (street, level, public, inclusive) -> [std, over]
    for r in supply.itertuples(index=False):
        key = (str(r.street), r.level, bool(r.public), bool(r.inclusive))
        g = groups.setdefault(key, [0.0, 0.0])
        g[0] += float(r.places)
        g[1] += max(0.0, float(r.classes) * mcs[r.level] - float(r.places))

    def reach(s, q, level):
        return s == q or ckm.get(level) is None or dist[(s, q)] <= float(ckm[level]) + 1e-9

    prob = pulp.LpProblem("reference", pulp.LpMinimize)

    def var(name, lb=0, ub=None, cat=pulp.LpContinuous):
        return prob.add_variable(name, lb, ub, cat)

    x = {}
    site_rows = []
    for r in sites.itertuples(index=False):
        first = max(int(r.earliest_year), p.plan_start)
        site_rows.append((str(r.site), str(r.street), r.level, first, parse_sizes(r.sizes),
                          float(r.cost_per_class) if r.cost_per_class == r.cost_per_class else 0.0,
                          bool(r.public), bool(r.inclusive)))
        for tau in range(first, p.plan_end + 1):
            for k in parse_sizes(r.sizes):
                x[(str(r.site), tau, k)] = var(f"x_{r.site}_{tau}_{k}", 0, 1, pulp.LpBinary)
    streets_of = {}
    for (s, lv, _t) in pupils:
        streets_of.setdefault(lv, set()).add(s)

    u = {key: var(f"u_{i}", 0, v) for i, (key, v) in enumerate(pupils.items())}
    a_site, a_exist, o_site, o_exist = {}, {}, {}, {}
    inflow: dict[tuple, list] = {}
    for (site, street, level, first, sizes, _cost, _pub, _inc) in site_rows:
        if first > p.plan_end:
            continue
        for t in years:
            load = []
            for s in sorted(streets_of.get(level, ())):
                if (s, level, t) in pupils and reach(s, street, level):
                    v = var(f"as_{s}_{site}_{t}", 0, pupils[(s, level, t)])
                    a_site[(s, site, t)] = v
                    load.append(v)
                    inflow.setdefault((s, level, t), []).append(v)
            if not load:
                continue
            opened = [(k, x[(site, tau, k)]) for tau in range(first, min(t, p.plan_end) + 1) for k in sizes]
            o = o_site[(site, t)] = var(f"os_{site}_{t}")
            prob += pulp.lpSum(load) - o <= pulp.lpSum(k * cs[level] * v for k, v in opened)
            prob += o <= pulp.lpSum(k * (mcs[level] - cs[level]) * v for k, v in opened)
    for gi, ((street, level, _pub, _inc), (std, over)) in enumerate(groups.items()):
        if std + over <= 0:
            continue
        for t in years:
            load = []
            for s in sorted(streets_of.get(level, ())):
                if (s, level, t) in pupils and reach(s, street, level):
                    v = var(f"ae_{s}_{gi}_{t}", 0, pupils[(s, level, t)])
                    a_exist[(s, gi, t)] = v
                    load.append(v)
                    inflow.setdefault((s, level, t), []).append(v)
            if load:
                o = o_exist[(gi, t)] = var(f"oe_{gi}_{t}", 0, over)
                prob += pulp.lpSum(load) - o <= std
    for key, v in pupils.items():
        prob += pulp.lpSum(inflow.get(key, [])) + u[key] == v

    info = {s[0]: s for s in site_rows}
    for site in info:
        opts = [v for (i, _tau, _k), v in x.items() if i == site]
        if opts:
            prob += pulp.lpSum(opts) <= 1
    if p.new_schools is not None:
        for level in {*p.new_schools, *(s[2] for s in site_rows)}:
            n = int(p.new_schools.get(level, 0))
            opts = pulp.lpSum(v for (i, _tau, _k), v in x.items() if info[i][2] == level)
            prob += (opts == n) if p.count_rule == "exact" else (opts <= n)
    if p.places_rule != "off":
        places = pulp.lpSum(k * cs[kg] * v for (i, _tau, k), v in x.items() if info[i][2] == kg)
        prob += (places == p.kindergarten_new_places) if p.places_rule == "exact" \
            else (places >= p.kindergarten_new_places)
    total_kg = sum(v for (s, lv, t), v in pupils.items() if lv == kg and t == p.target_year)
    for flag, share in ((6, p.public_share_min), (7, p.inclusive_share_min)):
        if share is None or total_kg <= 0:
            continue
        gflag = 2 if flag == 6 else 3
        terms = [v for (s, i, t), v in a_site.items() if t == p.target_year and info[i][2] == kg and info[i][flag]]
        keys = list(groups)
        terms += [v for (s, gi, t), v in a_exist.items()
                  if t == p.target_year and keys[gi][1] == kg and keys[gi][gflag]]
        prob += pulp.lpSum(terms) >= share * total_kg

    travel = pulp.lpSum(dist[(s, info[i][1])] * v for (s, i, t), v in a_site.items() if s != info[i][1])
    keys = list(groups)
    travel += pulp.lpSum(dist[(s, keys[gi][0])] * v for (s, gi, t), v in a_exist.items() if s != keys[gi][0])
    cost = pulp.lpSum(k * info[i][5] * v for (i, _tau, k), v in x.items())
    early = pulp.lpSum((p.plan_end - tau) * v for (i, tau, _k), v in x.items())
    prob += (w["shortfall"] * pulp.lpSum(u.values())
             + w["overcrowding"] * (pulp.lpSum(o_site.values()) + pulp.lpSum(o_exist.values()))
             + w["travel"] * travel + w["cost"] * cost + w["early"] * early)
    build = time.perf_counter() - t0

    t1 = time.perf_counter()
    solver = pulp.HiGHS(msg=options.msg, timeLimit=options.time_limit, gapRel=options.mip_gap,
                        threads=options.threads)
    prob.solve(solver)
    solve = time.perf_counter() - t1
    has, optimal = classify_status(int(prob.status), int(prob.sol_status))
    bound = None
    try:
        bound = float(prob.solverModel.getInfo().mip_dual_bound)
    except Exception:  # noqa: BLE001 - no bound available
        pass
    return {"variables": len(prob.variables()), "binaries": len(x), "constraints": prob.numConstraints(),
            "build_seconds": build, "solve_seconds": solve,
            "objective": float(pulp.value(prob.objective)) if has else None, "bound": bound, "optimal": optimal}
