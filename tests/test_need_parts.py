"""The needs assessment solved level by level (capacity.need.need_parts / needed_part) and the
merge of plans solved apart (capacity.optimize.results.merge_plans)."""

from __future__ import annotations

import pandas as pd
import pytest
from test_optimize import CS, LV, MCS, OPTS, base_params, instance

from capacity.need import need_parameters, need_parts, needed_part, needed_plan
from capacity.optimize import SchoolPlanModel
from capacity.optimize.results import merge_plans

OTHER = "junior"


def two_levels():
    """Primary: street A 25 pupils a year, 1 class; sites s0, s1 in A. Junior (a copy with other
    numbers): street B 17 pupils a year, no place; site j0 in B, j1 in C."""
    d1, s1, t1, dist = instance({("A", 2021): 25.0, ("A", 2022): 25.0}, {"A": 1},
                                [("s0", "A", 2021, "1;2", 1.0), ("s1", "A", 2021, "1;2", 1.0)])
    d2, s2, t2, _ = instance({("B", 2021): 17.0, ("B", 2022): 17.0, ("C", 2022): 4.0}, {"C": 1},
                             [("j0", "B", 2021, "1;2", 2.0), ("j1", "C", 2022, "1", 1.0)])
    for t in (d2, s2, t2):
        t["level"] = OTHER
    return (pd.concat([d1, d2], ignore_index=True), pd.concat([s1, s2], ignore_index=True),
            pd.concat([t1, t2], ignore_index=True), dist)


def params(**kw):
    both = {LV: CS, OTHER: CS}
    return base_params(new_schools={LV: 2, OTHER: 2}, class_size=both,
                       max_class_size={LV: MCS, OTHER: MCS}, catchment_km={LV: 0.0, OTHER: 1.5}, **kw)


def test_one_part_per_level_unless_a_cost_limit_links_them():
    dem, sup, sit, _ = two_levels()
    assert need_parts(dem, sup, sit, params()) == [(LV,), (OTHER,)]
    assert need_parts(dem, sup, sit, params(max_cost_per_year=100.0)) == [(LV, OTHER)]
    assert need_parts(dem[dem["level"] == LV], sup[sup["level"] == LV], sit[sit["level"] == LV],
                      params()) == [(LV,)]


def test_levels_apart_give_the_plan_of_one_model():
    tables, p = two_levels(), params()
    whole = SchoolPlanModel(*tables, need_parameters(p)).solve(OPTS).plan
    merged = needed_plan(*tables, p, OPTS)
    for name in ("schedule", "balance", "assignment"):
        pd.testing.assert_frame_equal(getattr(merged, name), getattr(whole, name), check_exact=False,
                                      atol=1e-6)
    # by hand: primary needs one school of 2 classes in A (25 pupils, 10 places + 20), junior one of
    # 2 classes in B (17 pupils, no place; C's 4 pupils fit C's class)
    assert merged.schedule[["site", "level", "classes"]].values.tolist() == [
        ["j0", OTHER, 2], ["s0", LV, 2]]
    r, w = merged.report, whole.report
    for term in ("shortfall", "overcrowding", "travel", "cost", "early", "objective", "bound"):
        assert getattr(r, term) == pytest.approx(getattr(w, term), abs=1e-6), term
    assert (r.optimal, r.variables, r.binaries, r.constraints) == (w.optimal, w.variables, w.binaries,
                                                                   w.constraints)
    assert [s["term"] for s in r.stages] == [s["term"] for s in w.stages]
    assert [s["parts"] for s in r.stages] == [s["parts"] for s in w.stages]
    assert set(r.mean_travel) == {LV, OTHER}


def test_a_part_gets_its_share_of_the_time_limit(monkeypatch):
    seen = []
    real = SchoolPlanModel.solve

    def solve(self, options=None):
        seen.append(options.time_limit)
        return real(self, options)

    monkeypatch.setattr(SchoolPlanModel, "solve", solve)
    needed_part(*two_levels(), params(), OPTS, (LV,), parts=2)
    assert seen == [OPTS.time_limit / 2]


def test_merge_reports_the_worst_part():
    tables, p = two_levels(), params()
    a = needed_part(*tables, p, OPTS, (LV,))
    b = needed_part(*tables, p, OPTS, (OTHER,))
    from dataclasses import replace

    stopped = replace(b, report=replace(b.report, optimal=False, status="Not Solved", gap=0.2,
                                        message="not proven optimal"))
    m = merge_plans([a, stopped])
    assert not m.report.optimal
    assert m.report.status == "Not Solved"
    assert m.report.gap == 0.2
    assert m.report.message == "not proven optimal"
    assert merge_plans([a]) is a


def test_merge_refuses_overlapping_levels():
    tables, p = two_levels(), params()
    a = needed_part(*tables, p, OPTS, (LV,))
    with pytest.raises(ValueError, match="share levels primary"):
        merge_plans([a, a])


def test_merge_needs_a_plan():
    with pytest.raises(ValueError, match="at least one plan"):
        merge_plans([])
