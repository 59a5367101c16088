"""Symmetry rows between identical sites: hand-checked on tiny tables, and never a different optimum
(brute force, and with them switched off)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_optimize import LV, OPTS, base_params, brute_force, instance

import capacity.optimize.constraints as constraints_mod
import capacity.optimize.model as model_mod
from capacity.optimize import InfeasiblePlan, PlanParameters, SchoolPlanModel
from capacity.optimize.symmetry import identical_pairs


def index_of(sites, **kw):
    pup = {(s, y): 10.0 for s in "ABC" for y in (2021, 2022)}
    return SchoolPlanModel(*instance(pup, {"A": 1}, sites), base_params(**kw)).index


# --------------------------------------------------------------------------------------------------
# hand-checked tables


def test_identical_pairs_need_every_field_equal():
    sites = [("s1", "A", 2021, "1;2", 1.0), ("s2", "A", 2021, "1;2", 1.0), ("s3", "A", 2021, "1;2", 2.0),
             ("s4", "A", 2022, "1;2", 1.0), ("s5", "B", 2021, "1;2", 1.0), ("s6", "A", 2021, "2", 1.0),
             ("s7", "A", 2021, "2;1", 1.0)]
    pairs = identical_pairs(index_of(sites).options)
    assert pairs.to_dict("records") == [{"first": "s1", "second": "s2"}, {"first": "s2", "second": "s7"}]


def test_symmetry_rows_open_in_order():
    sites = [("s1", "A", 2021, "1", 1.0), ("s2", "A", 2021, "1", 1.0)]
    _, frame = model_mod.build_model(index_of(sites))
    rows = {c.name: c for r in frame.level_rows for c in r if c.name.startswith("symmetry_")}
    # one row per open year: x[s2, <=t] - x[s1, <=t] <= 0 for t = 2021, 2022
    assert len(rows) == 2
    names = [{v.name: c for v, c in r.items()} for r in rows.values()]
    assert names[0] == {"x_0": -1.0, "x_2": 1.0}  # options: s1 2021, s1 2022, s2 2021, s2 2022
    assert names[1] == {"x_0": -1.0, "x_1": -1.0, "x_2": 1.0, "x_3": 1.0}


# --------------------------------------------------------------------------------------------------
# the optimum does not change


def plain_model(monkeypatch):
    """Build models without the symmetry rows."""
    keep = tuple(f for f in constraints_mod.FAMILY_DEFINITIONS if f[0].__name__ != "define_symmetry")
    monkeypatch.setattr(constraints_mod, "FAMILY_DEFINITIONS", keep)


template_st = st.sampled_from([("A", 2021, "1;3", 1.0), ("A", 2021, "1;3", 1.0), ("A", 2022, "2", 1.0),
                               ("B", 2021, "2", 0.0), ("B", 2021, "2", 0.0), ("C", 2021, "1", 2.0)])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pupils=st.lists(st.integers(0, 45), min_size=6, max_size=6),
       existing=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
       raw_sites=st.lists(template_st, min_size=2, max_size=4), n=st.integers(1, 3), exact=st.booleans())
def test_many_identical_sites_match_brute_force(pupils, existing, raw_sites, n, exact):
    pup = {(s, y): float(pupils[i * 2 + k]) for i, s in enumerate("ABC") for k, y in enumerate((2021, 2022))}
    ex = {s: c for s, c in zip("ABC", existing, strict=True) if c > 0}
    sites = [(f"s{i}", *t) for i, t in enumerate(raw_sites)]
    # the classic order (no equity stage), so that the brute force's tuple is (shortfall,
    # overcrowding, travel, cost + early); test_optimize covers the equity stage
    params = base_params(new_schools={LV: n}, count_rule="exact" if exact else "at_most", equity=False)
    model = SchoolPlanModel(*instance(pup, ex, sites), params)
    if model.check():
        with pytest.raises(InfeasiblePlan):
            model.solve(OPTS)
        return
    best = brute_force(pup, ex, sites, params)
    r = model.solve(OPTS).plan.report
    assert r.optimal
    for g, b in zip((r.shortfall, r.overcrowding, r.travel), best[:3], strict=True):
        assert g == pytest.approx(b, abs=1e-3)
    assert 0.1 * r.cost + 0.01 * r.early == pytest.approx(best[3], abs=1e-6)


def kg_city(n_sites=12):
    rng = np.random.default_rng(3)
    streets = ["A", "B", "C", "D"]
    d = pd.DataFrame([[0, 1, 2, 3], [1, 0, 1, 2], [2, 1, 0, 1], [3, 2, 1, 0]], index=streets,
                     columns=streets, dtype=float)
    demand = pd.DataFrame([(s, "kindergarten", y, float(rng.integers(200, 400)) + 15 * k)
                           for s in streets for k, y in enumerate(range(2021, 2026))],
                          columns=["street", "level", "year", "pupils"])
    supply = pd.DataFrame([(s, "kindergarten", pub, True, 4, 120) for s in streets for pub in (True, False)],
                          columns=["street", "level", "public", "inclusive", "classes", "places"])
    sites = pd.DataFrame({"site": [f"k{i:02d}" for i in range(n_sites)], "street": rng.choice(streets, n_sites),
                          "level": "kindergarten", "earliest_year": 2021,
                          "sizes": "3;6", "cost_per_class": rng.choice([1.0, 1.5], n_sites),
                          "public": True, "inclusive": True})
    return demand, supply, sites, d


@pytest.mark.parametrize("kw", [
    {},
    {"count_rule": "exact", "kindergarten_new_places": 900, "places_rule": "exact", "public_share_min": 0.5},
    {"max_openings_per_year": {"kindergarten": 2}},
    {"max_cost_per_year": 20.0},
    {"method": "weighted"},
])
def test_same_optimum_without_the_speed_rows(monkeypatch, kw):
    params = PlanParameters(first_year=2021, last_year=2025, plan_start=2021, plan_end=2024,
                            new_schools={"kindergarten": 5}, count_rule=kw.pop("count_rule", "at_most"),
                            catchment_km={"kindergarten": 1.0}, **kw)
    tables = kg_city()
    model = SchoolPlanModel(*tables, params)
    assert len(identical_pairs(model.options)) >= 4  # 12 sites, 4 streets x 2 costs
    fast = model.solve(OPTS).plan.report
    with monkeypatch.context() as mp:
        plain_model(mp)
        plain = SchoolPlanModel(*tables, params).solve(OPTS).plan.report
    assert fast.optimal and plain.optimal
    for term in ("shortfall", "overcrowding", "travel", "cost", "early"):
        assert getattr(fast, term) == pytest.approx(getattr(plain, term), rel=1e-6, abs=1e-4), term
