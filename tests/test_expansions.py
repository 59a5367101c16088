"""Expansion options (extra classes at existing places): chosen like new schools, shown with
``kind = "expansion"``, counted towards the plan's counts only when the parameters say so."""

from __future__ import annotations

import pandas as pd
import pytest

from capacity.optimize import PlanParameters, SchoolPlanModel, SolverOptions

LV = "primary"
OPTS = SolverOptions(time_limit=30, mip_gap=0.0, threads=1)


def tables(sites):
    # street A: 24 pupils in 2021; 2 classes of 10 (20 standard, 24 at the maximum of 12):
    # without more places 4 pupils are overcrowded
    demand = pd.DataFrame([("A", LV, 2021, 24.0)], columns=["street", "level", "year", "pupils"])
    supply = pd.DataFrame([("A", LV, True, True, 2, 20.0)],
                          columns=["street", "level", "public", "inclusive", "classes", "places"])
    sit = pd.DataFrame(sites, columns=["site", "street", "level", "earliest_year", "sizes", "cost_per_class",
                                       "public", "inclusive", "kind"])
    return demand, supply, sit, pd.DataFrame([[0.0]], index=["A"], columns=["A"])


SITES = [("E1", "A", LV, 2021, "1;2", 1.0, True, True, "expansion"),
         ("S1", "A", LV, 2021, "1", 3.0, True, True, "new")]


def params(**kw):
    p = dict(first_year=2021, last_year=2021, plan_start=2021, plan_end=2021, class_size={LV: 10},
             max_class_size={LV: 12}, catchment_km={LV: 0.0})
    p.update(kw)
    return PlanParameters(**p)


def test_cheaper_expansion_is_chosen_over_a_new_school():
    # no count: one class more removes the overcrowding; the expansion costs 1, the school 3
    plan = SchoolPlanModel(*tables(SITES), params()).solve(OPTS).plan
    s = plan.schedule
    assert s[["site", "classes", "kind"]].values.tolist() == [["E1", 1, "expansion"]]
    assert plan.report.overcrowding == pytest.approx(0.0, abs=1e-9) and plan.report.cost == pytest.approx(1.0)


def test_expansions_do_not_count_as_new_schools_by_default():
    # one new school exactly: S1 must open; it already removes the overcrowding, so no expansion
    plan = SchoolPlanModel(*tables(SITES), params(new_schools={LV: 1}, count_rule="exact")).solve(OPTS).plan
    assert plan.schedule[["site", "kind"]].values.tolist() == [["S1", "new"]]
    # counted: the cheaper expansion is the one "school"
    plan = SchoolPlanModel(*tables(SITES), params(new_schools={LV: 1}, count_rule="exact",
                                                  expansions_count=True)).solve(OPTS).plan
    assert plan.schedule[["site", "kind"]].values.tolist() == [["E1", "expansion"]]


def test_expansion_only_where_places_exist():
    bad = [("E9", "A", LV, 2021, "1", 1.0, False, True, "expansion")]  # no private places in A
    demand, supply, sit, dist = tables(bad)
    sit["level"] = "kindergarten"
    supply["level"] = "kindergarten"
    with pytest.raises(ValueError, match="site E9: an expansion needs existing places of its street, "
                                         "level and type"):
        SchoolPlanModel(demand.assign(level="kindergarten"), supply, sit, dist,
                        params(class_size={"kindergarten": 10}, max_class_size={"kindergarten": 12}))


def test_unknown_site_kind():
    bad = [("X1", "A", LV, 2021, "1", 1.0, True, True, "rebuild")]
    with pytest.raises(ValueError, match="site X1: kind 'rebuild' must be one of 'new', 'expansion'"):
        SchoolPlanModel(*tables(bad), params())


def test_expansions_in_the_new_places_only_when_said():
    kg = "kindergarten"
    demand, supply, sit, dist = tables([(s, "A", kg, 2021, z, c, True, True, k) for s, _, _, _, z, c, _, _, k in SITES])
    demand["level"], supply["level"] = kg, kg
    p = params(class_size={kg: 10}, max_class_size={kg: 12}, kindergarten_new_places=10, places_rule="exact")
    # the 10 new places must come from the new school S1 ...
    plan = SchoolPlanModel(demand, supply, sit, dist, p).solve(OPTS).plan
    assert plan.schedule["site"].tolist() == ["S1"]
    # ... unless expansions count towards them: the cheaper one-class expansion gives the 10
    plan = SchoolPlanModel(demand, supply, sit, dist, PlanParameters(**{**p.__dict__, "expansions_in_places": True})
                           ).solve(OPTS).plan
    assert plan.schedule[["site", "classes"]].values.tolist() == [["E1", 1]]
