"""Mean and longest trip per level and the facilities used, on a hand-checked instance."""

from __future__ import annotations

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
