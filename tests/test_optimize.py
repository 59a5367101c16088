"""Tests of the scheduling MILP: brute force on tiny instances, consistency, properties, explanations."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pulp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from capacity.optimize import (
    DEFAULT_WEIGHTS,
    InfeasiblePlan,
    PlanParameters,
    SchoolPlanModel,
    SolverOptions,
    classify_status,
    evaluate_without_new_schools,
    parse_sizes,
    relative_gap,
)

LV = "primary"
CS, MCS = 10.0, 12.0
OPTS = SolverOptions(time_limit=30, mip_gap=0.0, threads=1)


def dist3():
    s = ["A", "B", "C"]
    d = np.array([[0.0, 1.0, 3.0], [1.0, 0.0, 2.0], [3.0, 2.0, 0.0]])
    return pd.DataFrame(d, index=s, columns=s)


def base_params(**kw):
    p = dict(first_year=2021, last_year=2022, plan_start=2021, plan_end=2022,
             new_schools={LV: 1}, count_rule="at_most", class_size={LV: CS}, max_class_size={LV: MCS},
             catchment_km={LV: 1.5})
    p.update(kw)
    return PlanParameters(**p)


def instance(pupils, existing, sites):
    """pupils: {(street, year): n}; existing: {street: classes}; sites: [(site, street, earliest, sizes, cost)]."""
    demand = pd.DataFrame([(s, LV, y, n) for (s, y), n in pupils.items()],
                          columns=["street", "level", "year", "pupils"])
    supply = pd.DataFrame([(s, LV, True, True, c, c * CS) for s, c in existing.items()],
                          columns=["street", "level", "public", "inclusive", "classes", "places"])
    sit = pd.DataFrame([(i, s, e, sz, c, True, True) for i, s, e, sz, c in sites],
                       columns=["site", "street", "earliest_year", "sizes", "cost_per_class", "public",
                                "inclusive"])
    sit.insert(2, "level", LV)
    return demand, supply, sit, dist3()


# --------------------------------------------------------------------------------------------------
# brute force: enumerate every site/year/size choice, solve the assignment LP with scipy


def year_lp(d, points, D, catch, equity=False):
    """Lexicographic (shortfall, [largest share of a street's pupils without a place,] overcrowding,
    travel) for one year.

    d: {street: pupils}; points: list of (street, std, over). Returns the minima (three, or four
    with ``equity``).
    """
    streets = list(d)
    arcs = [(s, j) for s in streets for j, (ps, _, _) in enumerate(points)
            if ps == s or D.loc[s, ps] <= catch + 1e-9]
    nf, no, nu = len(arcs), len(points), len(streets)
    n = nf + no + nu
    A_eq = np.zeros((nu, n))
    b_eq = np.array([d[s] for s in streets], float)
    for k, (s, _) in enumerate(arcs):
        A_eq[streets.index(s), k] = 1
    for i in range(nu):
        A_eq[i, nf + no + i] = 1
    A_ub = np.zeros((no, n))
    b_ub = np.array([p[1] for p in points], float)
    for k, (_, j) in enumerate(arcs):
        A_ub[j, k] = 1
    for j in range(no):
        A_ub[j, nf + j] = -1
    bounds = [(0, None)] * nf + [(0, p[2]) for p in points] + [(0, None)] * nu
    c_short = np.r_[np.zeros(nf + no), np.ones(nu)]
    c_over = np.r_[np.zeros(nf), np.ones(no), np.zeros(nu)]
    c_trav = np.r_[[D.loc[s, points[j][0]] for s, j in arcs], np.zeros(no + nu)]
    costs = [c_short, c_over, c_trav]
    if equity:  # one more column z: u_s - d_s z <= 0
        A_eq, A_ub = np.c_[A_eq, np.zeros(nu)], np.c_[A_ub, np.zeros(no)]
        rows = np.zeros((nu, n + 1))
        rows[np.arange(nu), nf + no + np.arange(nu)] = 1
        rows[:, n] = -b_eq
        A_ub, b_ub = np.vstack([A_ub, rows]), np.r_[b_ub, np.zeros(nu)]
        bounds = bounds + [(0, None)]
        costs = [np.r_[c, 0.0] for c in costs]
        z = np.r_[np.zeros(n), 1.0]
        costs = [costs[0], z, costs[1], costs[2]]
    vals = []
    for c in costs:
        r = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
        assert r.status == 0
        vals.append(r.fun)
        A_ub = np.vstack([A_ub, c])
        b_ub = np.r_[b_ub, r.fun + 1e-9]
    return vals


def year_lp_weighted(d, points, D, catch, w):
    streets = list(d)
    arcs = [(s, j) for s in streets for j, (ps, _, _) in enumerate(points)
            if ps == s or D.loc[s, ps] <= catch + 1e-9]
    nf, no, nu = len(arcs), len(points), len(streets)
    n = nf + no + nu
    A_eq = np.zeros((nu, n))
    for k, (s, _) in enumerate(arcs):
        A_eq[streets.index(s), k] = 1
    A_eq[:, nf + no:] = np.eye(nu)
    A_ub = np.zeros((no, n))
    for k, (_, j) in enumerate(arcs):
        A_ub[j, k] = 1
    A_ub[:, nf:nf + no] = -np.eye(no)
    c = np.r_[[w["travel"] * D.loc[s, points[j][0]] for s, j in arcs], [w["overcrowding"]] * no,
              [w["shortfall"]] * nu]
    r = linprog(c, A_ub=A_ub, b_ub=[p[1] for p in points], A_eq=A_eq, b_eq=[d[s] for s in streets],
                bounds=[(0, None)] * nf + [(0, p[2]) for p in points] + [(0, None)] * nu, method="highs")
    assert r.status == 0
    return r.fun


def brute_force(pupils, existing, sites, params, weighted=False):
    """The best choice by enumeration: a tuple (shortfall, [equity,] overcrowding, travel, cost +
    early) for the lexicographic method (equity when ``params.equity``), a number for the
    weighted one."""
    D = dist3()
    catch = params.catchment_km[LV]
    years = range(params.first_year, params.last_year + 1)
    options = []
    for _i, _s, e, sizes, _c in sites:
        o = [None] + [(y, k) for y in range(max(e, params.plan_start), params.plan_end + 1)
                      for k in parse_sizes(sizes)]
        options.append(o)
    n = params.new_schools[LV]
    w = DEFAULT_WEIGHTS
    best = None
    for choice in itertools.product(*options):
        opened = sum(c is not None for c in choice)
        if opened > n or (params.count_rule == "exact" and opened != n):
            continue
        cost = sum(k * site[4] for site, c in zip(sites, choice, strict=True) if c for k in [c[1]])
        early = sum(params.plan_end - c[0] for c in choice if c)
        tot = np.zeros(4 if params.equity else 3)
        wsum = 0.0
        for y in years:
            d = {s: pupils.get((s, y), 0.0) for s in ["A", "B", "C"]}
            pts = [(s, c * CS, c * (MCS - CS)) for s, c in existing.items()]
            pts += [(site[1], c[1] * CS, c[1] * (MCS - CS)) for site, c in zip(sites, choice, strict=True)
                    if c and c[0] <= y]
            if weighted:
                wsum += year_lp_weighted(d, pts, D, catch, w)
            else:
                tot += year_lp(d, pts, D, catch, equity=params.equity)
        if weighted:
            val = wsum + w["cost"] * cost + w["early"] * early
            best = val if best is None else min(best, val)
        else:
            key = (*np.round(tot, 6), w["cost"] * cost + w["early"] * early)
            best = key if best is None or key < best else best
    return best


sites_st = st.lists(
    st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(2020, 2023), st.sampled_from(["1", "2", "1;3"]),
              st.sampled_from([0.0, 1.0, 2.5])),
    min_size=1, max_size=3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pupils=st.lists(st.integers(0, 40), min_size=6, max_size=6),
    existing=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
    raw_sites=sites_st,
    n=st.integers(0, 2),
    exact=st.booleans(),
    equity=st.booleans(),
)
def test_milp_matches_brute_force(pupils, existing, raw_sites, n, exact, equity):
    pup = {(s, y): float(pupils[i * 2 + k]) for i, s in enumerate("ABC") for k, y in enumerate((2021, 2022))}
    ex = {s: c for s, c in zip("ABC", existing, strict=True) if c > 0}
    sites = [(f"s{i}", s, e, z, c) for i, (s, e, z, c) in enumerate(raw_sites)]
    params = base_params(new_schools={LV: n}, count_rule="exact" if exact else "at_most", equity=equity)
    model = SchoolPlanModel(*instance(pup, ex, sites), params)
    if model.check():
        with pytest.raises(InfeasiblePlan):
            model.solve(OPTS)
        return
    best = brute_force(pup, ex, sites, params)
    r = model.solve(OPTS).plan.report
    assert r.optimal
    got = (r.shortfall, *([r.equity] if equity else []), r.overcrowding, r.travel)
    for g, b in zip(got, best[:-1], strict=True):
        assert g == pytest.approx(b, abs=1e-3)
    w = DEFAULT_WEIGHTS
    assert w["cost"] * r.cost + w["early"] * r.early == pytest.approx(best[-1], abs=1e-6)
    # the weighted objective matches its own brute force
    bw = brute_force(pup, ex, sites, params, weighted=True)
    rw = SchoolPlanModel(*instance(pup, ex, sites), replace(params, method="weighted")).solve(OPTS).plan.report
    assert rw.objective == pytest.approx(bw, rel=1e-7, abs=1e-6)


# --------------------------------------------------------------------------------------------------
# consistency


def medium():
    pup = {(s, y): v for s, base in (("A", 30), ("B", 55), ("C", 80)) for y, v in
           zip((2021, 2022, 2023), (base, base + 10, base + 25), strict=True)}
    ex = {"A": 2, "B": 3, "C": 2}
    sites = [("s1", "C", 2021, "2;4", 2.0), ("s2", "B", 2022, "2", 1.0), ("s3", "C", 2023, "1;3", 0.0)]
    return pup, ex, sites


def solved(pup, ex, sites, **kw):
    params = base_params(last_year=2023, plan_end=2023, **kw)
    return SchoolPlanModel(*instance(pup, ex, sites), params).solve(OPTS).plan


def test_consistency():
    plan = solved(*medium(), new_schools={LV: 2})
    b, a, s = plan.balance, plan.assignment, plan.schedule
    assert np.allclose(b["assigned"] + b["shortfall"], b["pupils"])
    assert (b["shortfall"] >= -1e-9).all()
    got = a.groupby(["street", "level", "year"])["pupils"].sum()
    bal = b.set_index(["street", "level", "year"])["assigned"]
    assert np.allclose(got.reindex(bal.index, fill_value=0), bal, atol=1e-6)
    # nothing assigned to a site before it opens; a site holds at most its places at the maximum size
    new = a[a["new"]].merge(s[["site", "open_year", "classes"]], on="site")
    assert (new["year"] >= new["open_year"]).all()
    load = new.groupby(["site", "year", "classes"], as_index=False)["pupils"].sum()
    assert (load["pupils"] <= load["classes"] * MCS + 1e-6).all()
    assert set(a.loc[a["new"], "site"]) <= set(s["site"])
    # totals agree with the report
    assert b["shortfall"].sum() == pytest.approx(plan.report.shortfall, abs=1e-6)
    assert b["overcrowded"].sum() == pytest.approx(plan.report.overcrowding, abs=1e-6)
    assert len(s) <= 2 and s["site"].is_unique
    json.dumps(plan.to_dict())
    assert list(b.columns[:8]) == ["street", "level", "year", "pupils", "places", "assigned", "shortfall",
                                   "overcrowded"]
    assert list(s.columns[:6]) == ["site", "street", "level", "open_year", "classes", "places"]
    assert list(a.columns[:5]) == ["street", "level", "year", "site", "pupils"]


def test_deterministic_and_counterfactual():
    pup, ex, sites = medium()
    p1 = solved(pup, ex, sites, new_schools={LV: 2})
    p2 = solved(pup, ex, sites, new_schools={LV: 2})
    pd.testing.assert_frame_equal(p1.schedule, p2.schedule)
    pd.testing.assert_frame_equal(p1.balance, p2.balance)
    cf = evaluate_without_new_schools(*instance(pup, ex, sites), base_params(last_year=2023, plan_end=2023),
                                      OPTS)
    assert cf.schedule.empty
    assert cf.report.shortfall >= p1.report.shortfall - 1e-6
    assert not cf.assignment["new"].any()


def test_sizes_string_and_tuple():
    assert parse_sizes("12;18;24") == (12, 18, 24)
    assert parse_sizes((6, 9)) == (6, 9)
    assert parse_sizes(4) == (4,)


# --------------------------------------------------------------------------------------------------
# properties


def shortfall_of(pup, ex, sites, **kw):
    return solved(pup, ex, sites, **kw).report


@settings(max_examples=12, deadline=None)
@given(street=st.sampled_from("ABC"), year=st.sampled_from([2021, 2022, 2023]), extra=st.integers(1, 60))
def test_more_demand_never_less_shortfall(street, year, extra):
    pup, ex, sites = medium()
    r0 = shortfall_of(pup, ex, sites, new_schools={LV: 1})
    pup2 = dict(pup)
    pup2[(street, year)] += extra
    r1 = shortfall_of(pup2, ex, sites, new_schools={LV: 1})
    assert r1.shortfall >= r0.shortfall - 1e-6


@settings(max_examples=12, deadline=None)
@given(street=st.sampled_from("ABC"), earliest=st.integers(2021, 2023), sizes=st.sampled_from(["1", "3", "2;5"]),
       cost=st.sampled_from([0.0, 3.0]), exact=st.booleans())
def test_extra_site_never_worse(street, earliest, sizes, cost, exact):
    pup, ex, sites = medium()
    kw = dict(new_schools={LV: 1}, count_rule="exact" if exact else "at_most", method="weighted")
    r0 = shortfall_of(pup, ex, sites, **kw)
    r1 = shortfall_of(pup, ex, [*sites, ("s9", street, earliest, sizes, cost)], **kw)
    assert r1.objective <= r0.objective + 1e-6
    # lexicographic: the tuple is never worse either
    k0 = shortfall_of(pup, ex, sites, **{**kw, "method": "lexicographic"})
    k1 = shortfall_of(pup, ex, [*sites, ("s9", street, earliest, sizes, cost)],
                      **{**kw, "method": "lexicographic"})
    assert k1.shortfall <= k0.shortfall + 1e-4
    if abs(k1.shortfall - k0.shortfall) < 1e-4:
        assert k1.overcrowding <= k0.overcrowding + 1e-3


@settings(max_examples=10, deadline=None)
@given(cs=st.integers(6, 12), extra=st.integers(1, 5))
def test_larger_class_size_never_more_shortfall(cs, extra):
    pup, ex, sites = medium()
    r0 = shortfall_of(pup, ex, sites, new_schools={LV: 1}, class_size={LV: cs}, max_class_size={LV: 14})
    r1 = shortfall_of(pup, ex, sites, new_schools={LV: 1}, class_size={LV: cs + extra},
                      max_class_size={LV: 14 + extra})
    assert r1.shortfall <= r0.shortfall + 1e-6


def test_lexicographic_and_weighted_agree_on_shortfall():
    pup, ex, sites = medium()
    lex = shortfall_of(pup, ex, sites, new_schools={LV: 2})
    wei = shortfall_of(pup, ex, sites, new_schools={LV: 2}, method="weighted")
    assert wei.shortfall == pytest.approx(lex.shortfall, abs=1e-4)
    assert wei.overcrowding == pytest.approx(lex.overcrowding, abs=1e-3)


# --------------------------------------------------------------------------------------------------
# infeasibility explained


def kg_instance(costs=(1.0, np.nan, 2.0), **kw):
    kg = "kindergarten"
    demand = pd.DataFrame([(s, kg, y, 100.0) for s in "ABC" for y in (2021, 2022)],
                          columns=["street", "level", "year", "pupils"])
    supply = pd.DataFrame([("A", kg, True, True, 2, 60), ("B", kg, False, True, 2, 60), ("C", kg, False, False, 2, 60)],
                          columns=["street", "level", "public", "inclusive", "classes", "places"])
    sites = pd.DataFrame({"site": ["k1", "k2", "k3"], "street": ["A", "B", "C"], "level": kg,
                          "earliest_year": [2021, 2022, 2030], "sizes": ["2;4", "3", "2"],
                          "cost_per_class": list(costs), "public": [True, True, False],
                          "inclusive": [True, True, True]})
    p = dict(first_year=2021, last_year=2022, plan_start=2021, plan_end=2022, new_schools={kg: 2},
             class_size={kg: 30}, max_class_size={kg: 35}, catchment_km={kg: 5.0}, target_year=2022)
    p.update(kw)
    return SchoolPlanModel(demand, supply, sites, dist3(), PlanParameters(**p))


def test_feasible_kindergarten_instance_meets_targets():
    m = kg_instance(kindergarten_new_places=210, places_rule="exact", public_share_min=0.5,
                    inclusive_share_min=0.8)
    assert m.check() == []
    plan = m.solve(OPTS).plan
    assert plan.schedule["places"].sum() == pytest.approx(210)
    a = plan.assignment[plan.assignment["year"] == 2022]
    pub = a[a["site"].isin(["k1", "k2", "existing:A:public:inclusive"])]["pupils"].sum()
    assert pub >= 0.5 * 300 - 1e-6


@pytest.mark.parametrize("kw, words", [
    (dict(new_schools={"kindergarten": 3}), ["counts", "kindergarten", "3", "2", "after 2022"]),
    (dict(kindergarten_new_places=120, places_rule="exact"), ["places", "kindergarten", "120"]),
    (dict(kindergarten_new_places=400, places_rule="at_least"), ["places", "kindergarten", "400", "210"]),
    (dict(kindergarten_new_places=100, places_rule="exact"), ["places", "not a multiple", "30"]),
    (dict(public_share_min=0.9, new_schools={"kindergarten": 1}), ["shares", "public", "90%", "2022"]),
    (dict(inclusive_share_min=0.95, new_schools={"kindergarten": 1}), ["shares", "inclusive", "95%"]),
    (dict(max_openings_per_year={"kindergarten": 1}, new_schools={"kindergarten": 2}),
     None),  # feasible: k1 in 2021, k2 in 2022
    (dict(max_openings_per_year={"kindergarten": 1}, plan_start=2022),
     ["yearly_limits", "kindergarten", "at most 1"]),
    (dict(max_cost_per_year=0.5), ["yearly_limits", "million CNY"]),
    (dict(public_share_min=0.5, target_year=2029), ["shares", "target_year 2029"]),
])
def test_check_explains(kw, words):
    m = kg_instance(**kw)
    problems = m.check()
    if words is None:
        assert problems == []
        return
    assert len(problems) == 1, problems
    for w in words:
        assert w in problems[0], (w, problems[0])
    with pytest.raises(InfeasiblePlan) as e:
        m.solve(OPTS)
    assert words[0] in str(e.value)


def test_late_site_note():
    m = kg_instance()
    m.check()
    assert any("k3 (2030)" in n and "after the plan period" in n for n in m.notes)


def test_solver_infeasibility_names_family():
    # every opening costs >= 2 million CNY > the yearly limit 1.5, but the pre-check only sees the
    # budget of the whole plan period (2 years x 1.5 >= the cheapest school)
    m = kg_instance(costs=(1.0, 1.0, 1.0), new_schools={"kindergarten": 1}, max_cost_per_year=1.5)
    assert m.check() == []
    with pytest.raises(InfeasiblePlan) as e:
        m.solve(OPTS)
    assert "yearly_limits" in str(e.value)


# --------------------------------------------------------------------------------------------------
# solver status handling


def test_status_mapping():
    C = pulp.constants
    assert classify_status(C.LpStatusOptimal, C.LpSolutionOptimal) == (True, True)
    # a time-limit stop with an incumbent: PuLP says "Optimal", the solution is only feasible
    assert classify_status(C.LpStatusOptimal, C.LpSolutionIntegerFeasible) == (True, False)
    assert classify_status(C.LpStatusNotSolved, C.LpSolutionNoSolutionFound) == (False, False)
    assert classify_status(C.LpStatusInfeasible, C.LpSolutionInfeasible) == (False, False)
    assert relative_gap(110.0, 100.0) == pytest.approx(10 / 110)
    assert relative_gap(0.0, 0.0) == 0.0
    assert relative_gap(1.0, None) is None


def test_time_limit_report_not_optimal(monkeypatch):
    """Every HiGHS run reports what HiGHS reports after a time-limit stop with an incumbent (PuLP's
    pair ``Optimal`` / ``Solution Found``): the plan is the best found, never called optimal."""
    from capacity.optimize import backend

    real = backend.read_status

    def stopped(h):
        status, sol_status = real(h)
        if sol_status == pulp.constants.LpSolutionOptimal:
            return pulp.constants.LpStatusOptimal, pulp.constants.LpSolutionIntegerFeasible
        return status, sol_status

    monkeypatch.setattr(backend, "read_status", stopped)
    pup, ex, sites = medium()
    plan = solved(pup, ex, sites, new_schools={LV: 2})
    r = plan.report
    assert r.optimal is False
    assert r.status == "Optimal" and r.sol_status == "Solution Found"
    assert "not proven optimal" in r.message
    # in the planner's words, without the solver's misleading "Optimal"
    assert r.outcome().startswith("not proven optimal: the best plan found before the time limit")
    assert "Optimal" not in r.outcome()
    assert len(plan.schedule) == 2


def test_cbc_selectable_or_clear_error():
    pup, ex, sites = medium()
    params = base_params(last_year=2023, plan_end=2023, new_schools={LV: 2})
    m = SchoolPlanModel(*instance(pup, ex, sites), params)
    try:
        r = m.solve(replace(OPTS, solver="cbc")).plan.report
    except RuntimeError as e:
        assert "cbc" in str(e)
        return
    h = solved(pup, ex, sites, new_schools={LV: 2}).report
    assert r.shortfall == pytest.approx(h.shortfall, abs=1e-4)
    assert r.travel == pytest.approx(h.travel, rel=1e-4, abs=1e-3)


def test_highs_silent_without_msg(capfd):
    """``msg=False``: no HiGHS banner or log on stdout/stderr (the banner comes from the first
    ``highspy.Highs()`` of a process, so the first solve runs in a fresh interpreter)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, "tests")
        from test_optimize import medium, solved
        pup, ex, sites = medium()
        plan = solved(pup, ex, sites, new_schools={"primary": 2})
        assert len(plan.schedule) == 2
    """)
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert "HiGHS" not in out.stderr
    # and in this process (captured at the file-descriptor level)
    capfd.readouterr()
    pup, ex, sites = medium()
    solved(pup, ex, sites, new_schools={LV: 2})
    got = capfd.readouterr()
    assert got.out == "" and "HiGHS" not in got.err


def two_level_model(method="lexicographic", **kw):
    """Primary (``medium``) and kindergarten (``kg_instance``) in one district."""
    pdem, psup, psit, dist = instance(*medium())
    k = kg_instance()
    kg = "kindergarten"
    p = dict(first_year=2021, last_year=2023, plan_start=2021, plan_end=2023, new_schools={LV: 2, kg: 2},
             count_rule="at_most", class_size={LV: CS, kg: 30}, max_class_size={LV: MCS, kg: 35},
             catchment_km={LV: 1.5, kg: 5.0}, kindergarten_new_places=210, places_rule="exact",
             public_share_min=0.5, target_year=2022, method=method)
    p.update(kw)
    return SchoolPlanModel(pd.concat([pdem, k.demand]), pd.concat([psup, k.supply]),
                           pd.concat([psit, k.sites]), dist, PlanParameters(**p))


@pytest.mark.parametrize("method", ["lexicographic", "weighted"])
def test_levels_solved_apart_equal_whole(method):
    """Levels that share no constraint are solved one by one; the terms equal the whole model's."""
    apart = two_level_model(method).build()
    assert sorted(c[0] for c in apart._built.components) == ["kindergarten", LV]
    ra = apart.solve(OPTS).plan.report
    whole = two_level_model(method).build()
    whole._built.components = []
    rw = whole.solve(OPTS).plan.report
    assert ra.optimal and rw.optimal
    assert [s["term"] for s in ra.stages] == [s["term"] for s in rw.stages]
    for t in ("shortfall", "overcrowding", "travel"):
        assert getattr(ra, t) == pytest.approx(getattr(rw, t), rel=1e-6, abs=1e-4)
    assert ra.objective == pytest.approx(rw.objective, rel=1e-6, abs=1e-4)
    assert ra.variables == rw.variables and ra.constraints == rw.constraints
    plan = apart.plan
    assert set(plan.schedule["level"]) <= {LV, "kindergarten"}
    assert plan.schedule.loc[plan.schedule["level"] == "kindergarten", "places"].sum() == pytest.approx(210)
    assert np.allclose(plan.balance["assigned"] + plan.balance["shortfall"], plan.balance["pupils"])


def test_a_stage_of_levels_solved_apart_keeps_each_level_s_own_record():
    """The merged record of a stage sums the levels' objectives and bounds; ``levels`` keeps each
    level's own (which level holds a gap), in the model's order of levels, and ``solver.json``
    keeps them without their seconds."""
    from capacity.optimize.driver import LEVEL_RECORD_KEYS
    from capacity.report import solver_dict, timings_dict

    m = two_level_model().solve(OPTS)
    stages = m.plan.report.stages
    assert stages
    for s in stages:
        own = s["levels"]
        assert list(own) == [c[0] for c in m._built.components]
        assert all(set(r) == set(LEVEL_RECORD_KEYS) for r in own.values())
        assert s["objective"] == pytest.approx(sum(r["objective"] for r in own.values()), rel=1e-12, abs=1e-9)
        assert s["bound"] == pytest.approx(sum(r["bound"] for r in own.values()), rel=1e-12, abs=1e-9)
        assert s["optimal"] == all(r["optimal"] for r in own.values())
        assert s["seconds"] == pytest.approx(sum(r["seconds"] for r in own.values()))
    info, times = solver_dict(m.plan), timings_dict(m.plan)
    first = info["stages"][0]["levels"]
    assert set(first) == {"kindergarten", LV} and "seconds" not in first[LV] and "gap" in first[LV]
    assert "seconds" in times["plan"]["stages"][0]["levels"][LV]


def test_levels_linked_by_cost_limit_solved_whole():
    m = two_level_model(max_cost_per_year=100.0).build()
    assert m._built.components == []
    assert m.solve(OPTS).plan.report.optimal


def test_thread_count_may_change_between_solves():
    """HiGHS sizes one scheduler per process at the first solve; a later solve with another
    ``threads`` must still solve (it used to stop at once with "Not Solved")."""
    pup = {(s, y): 10.0 for s in "ABC" for y in (2021, 2022)}

    def model():
        return SchoolPlanModel(*instance(pup, {"A": 1}, [("s0", "B", 2021, (1,), 1.0)]),
                               base_params(new_schools={LV: 1}))

    first = model().solve(replace(OPTS, threads=None)).plan.report
    second = model().solve(replace(OPTS, threads=1)).plan.report
    assert first.optimal and second.optimal
    assert second.objective == pytest.approx(first.objective)


def test_stages_proven_by_relaxation_as_by_branch_and_bound(monkeypatch):
    """A stage whose start schedule reaches its linear relaxation's optimum is proven without branch
    and bound (driver._proven_by_relaxation): the stages' optima and the plan are those of the MILPs
    solved in full."""
    import capacity.optimize.driver as driver

    taken = []
    original = driver._proven_by_relaxation

    def spy(*args):
        out = original(*args)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(driver, "_proven_by_relaxation", spy)
    fast = solved(*medium(), new_schools={LV: 2})
    assert any(taken)  # the shortcut was taken in this instance
    monkeypatch.setattr(driver, "_proven_by_relaxation", lambda *args: None)
    full = solved(*medium(), new_schools={LV: 2})
    for a, b in zip(fast.report.stages, full.report.stages, strict=True):
        assert a["term"] == b["term"] and a["optimal"] and b["optimal"]
        assert a["objective"] == pytest.approx(b["objective"], abs=1e-6)
    pd.testing.assert_frame_equal(fast.schedule, full.schedule)
