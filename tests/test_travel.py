"""Mean and longest trip per level and the facilities used, on a hand-checked instance."""

from __future__ import annotations

import pandas as pd
import pytest

from capacity.optimize import SchoolPlanModel, SolverOptions
from tests.test_optimize import base_params, instance

OPTS = SolverOptions(time_limit=30, mip_gap=0.0, threads=1)


def test_mean_and_max_travel_and_used_facilities():
    # street A has one class (10 places) and 5 pupils; street B (1 km away) has 5 pupils and no
    # place; street C (3 km, outside the 1.5 km catchment) has no pupils and one class.
    # Every pupil is placed in A: mean trip (5 x 0 + 5 x 1) / 10 = 0.5 km, longest 1 km; C unused.
    pup = {("A", 2021): 5.0, ("B", 2021): 5.0}
    params = base_params(new_schools=None, last_year=2021, plan_end=2021)
    plan = SchoolPlanModel(*instance(pup, {"A": 1, "C": 1}, []), params).solve(OPTS).plan
    r = plan.report
    assert r.shortfall == pytest.approx(0.0, abs=1e-9)
    assert r.mean_travel == pytest.approx({"primary": 0.5})
    assert r.max_travel == pytest.approx({"primary": 1.0})
    used = plan.used_facilities()
    assert used[["level", "site", "site_street", "new"]].values.tolist() == [["primary", "existing:A", "A", False]]
    assert used["pupils"].tolist() == pytest.approx([10.0])
    assert plan.to_dict()["totals"]["used_facilities"] == {"primary": 1}


def long_instance():
    """Pupils in A (5), B (5) and C (3); 10 places (capacity given in places, no classes) in F.
    Costs (minutes, one way, not symmetric): A->F 2, B->F 5, B->A 1, C->A 1; C->F not listed."""
    demand = pd.DataFrame([(s, "primary", 2021, n) for s, n in (("A", 5.0), ("B", 5.0), ("C", 3.0))],
                          columns=["street", "level", "year", "pupils"])
    supply = pd.DataFrame([("F", "primary", True, True, 0, 10.0)],
                          columns=["street", "level", "public", "inclusive", "classes", "places"])
    cost = pd.DataFrame([("A", "F", 2.0), ("B", "F", 5.0), ("B", "A", 1.0), ("C", "A", 1.0)],
                        columns=["origin", "destination", "cost"])
    return demand, supply, None, cost


def test_long_cost_table_and_unlisted_pairs():
    params = base_params(new_schools=None, last_year=2021, plan_end=2021, catchment_km={"primary": None})
    model = SchoolPlanModel(*long_instance(), params)
    model.check()
    # C reaches only A, which has no place
    assert len(model.unreachable) == 1 and "street C in 2021 (3.0 pupil-years)" in model.unreachable[0]
    plan = model.solve(OPTS).plan
    r = plan.report
    # A and B fill F's 10 places (capacity in places: no overcrowded places), C is shortfall
    assert r.shortfall == pytest.approx(3.0, abs=1e-9) and r.overcrowding == pytest.approx(0.0, abs=1e-9)
    assert r.travel == pytest.approx(5 * 2 + 5 * 5)
    assert r.mean_travel == pytest.approx({"primary": 3.5}) and r.max_travel == pytest.approx({"primary": 5.0})


def test_long_cost_table_catchment_in_its_unit():
    # a catchment of 3 (minutes) keeps B (5 min from F) out: A's 5 pupils only
    params = base_params(new_schools=None, last_year=2021, plan_end=2021, catchment_km={"primary": 3.0})
    r = SchoolPlanModel(*long_instance(), params).solve(OPTS).plan.report
    assert r.shortfall == pytest.approx(8.0, abs=1e-9) and r.travel == pytest.approx(10.0)


@pytest.mark.parametrize(("row", "message"), [
    (("A", "F", 3.0), "distance table row 5: duplicate pair A -> F"),
    (("A", "B", -1.0), r"distance table row 5: cost -1.0 must be a number >= 0 \(A -> B\)"),
    (("A", "B", "far"), r"distance table row 5: cost 'far' must be a number >= 0 \(A -> B\)"),
])
def test_long_cost_table_errors(row, message):
    demand, supply, sites, cost = long_instance()
    cost = pd.concat([cost, pd.DataFrame([row], columns=cost.columns)], ignore_index=True)
    with pytest.raises(ValueError, match=message):
        SchoolPlanModel(demand, supply, sites, cost, base_params())
