"""The planner's answers: measures in places and classes, the needs assessment, the equity stage."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_optimize import CS, LV, OPTS, base_params, instance

from capacity.measures import classes_for, headline, peaks, street_measures
from capacity.need import assess_need, need_parameters
from capacity.optimize import SchoolPlanModel


def test_classes_round_pupils_then_up():
    assert classes_for([0.0, 0.0004, 0.6, 45.0, 45.4, 45.6], 45).tolist() == [0, 0, 1, 1, 1, 2]


def test_street_measures_by_hand():
    b = pd.DataFrame({"street": ["A", "B"], "level": [LV, LV], "year": [2021, 2021],
                      "pupils": [30.0, 5.0], "places": [20.0, 10.0], "assigned": [24.0, 5.0],
                      "shortfall": [6.0, 0.0], "overcrowded": [4.0, 0.0], "enrolled_here": [24.0, 5.0]})
    m = street_measures(b, {LV: CS})
    # A: 6 without a place + 4 above the standard size = 10 places short = 1 class of 10
    assert m["places_short"].tolist() == [10.0, 0.0]
    assert m["classes_short"].tolist() == [1, 0]
    assert m["spare_places"].tolist() == [0.0, 5.0]
    assert m["utilisation"].tolist() == pytest.approx([24 / 20, 0.5])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pupils=st.lists(st.integers(0, 60), min_size=6, max_size=6),
       existing=st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
       n=st.integers(0, 2))
def test_headline_identities_on_every_row(pupils, existing, n):
    pup = {(s, y): float(pupils[i * 2 + k]) for i, s in enumerate("ABC") for k, y in enumerate((2021, 2022))}
    ex = {s: c for s, c in zip("ABC", existing, strict=True) if c > 0}
    sites = [("s0", "A", 2021, "1;2", 1.0), ("s1", "C", 2022, "2", 1.0)]
    plan = SchoolPlanModel(*instance(pup, ex, sites), base_params(new_schools={LV: n})).solve(OPTS).plan
    h = headline(plan)
    b = plan.balance
    for r in h.itertuples():
        by = b[b["year"] == r.year]
        assert r.pupils == pytest.approx(by["pupils"].sum())
        assert r.places_short == pytest.approx(by["shortfall"].sum() + by["overcrowded"].sum())
        # pupils with a standard place, counted from both sides
        # (within the lexicographic stages' 1e-5 slack)
        assert r.pupils - r.places_short == pytest.approx(r.places - r.spare_places, abs=1e-4)
        assert r.classes_short == math.ceil(round(r.places_short) / CS)
        assert r.spare_places >= -1e-9
        if r.places > 0:
            assert r.utilisation * r.places == pytest.approx(by["enrolled_here"].sum())
    pk = peaks(h)
    assert set(pk["level"]) == {LV}


def need_instance(earliest=2021):
    """Street A: 25 pupils a year, 1 existing class (10 places, 2 more at the maximum 12); two
    sites in A (1 or 2 classes), one in C. Own-street catchment."""
    pup = {("A", 2021): 25.0, ("A", 2022): 25.0}
    sites = [("s0", "A", earliest, "1;2", 1.0), ("s1", "A", earliest, "1;2", 1.0),
             ("s2", "C", 2021, "2", 1.0)]
    return instance(pup, {"A": 1}, sites)


def test_need_known_by_hand():
    """25 pupils, 10 standard places: one school of 2 classes (20 places) leaves nobody short;
    one class would leave 5 short, two schools are more than needed."""
    params = base_params(new_schools={LV: 2}, count_rule="exact", catchment_km={LV: 0.0})
    plan = SchoolPlanModel(*need_instance(), params).solve(OPTS).plan
    need = assess_need(*need_instance(), params, OPTS, plan=plan, street_names={"A": "甲"})
    t = need.table.set_index("level").loc[LV]
    assert t["plan_schools"] == 2 and t["needed_schools"] == 1
    assert t["needed_places"] == 20 and t["needed_classes"] == 2
    assert t["first_needed_year"] == 2021 and t["remaining_places_short"] == 0
    assert need.plan.schedule["street"].tolist() == ["A"]


def test_need_reports_what_sites_cannot_cover():
    """Sites open only in 2022: 2021 keeps 15 places short in street A, and says so."""
    params = base_params(new_schools={LV: 1}, catchment_km={LV: 0.0})
    need = assess_need(*need_instance(earliest=2022), params, OPTS, street_names={"A": "甲"})
    t = need.table.set_index("level").loc[LV]
    # 25 pupils, 10 standard + 2 overcrowded places: 13 without a place + 2 overcrowded = 15
    assert t["remaining_places_short"] == pytest.approx(15.0)
    assert t["remaining_peak_year"] == 2021 and t["streets_short"] == "甲"
    assert t["needed_schools"] == 1 and t["first_needed_year"] == 2022
    assert t["plan_schools"] == 1  # from the scenario's counts when no plan is given


def test_need_parameters_open_to_the_last_year():
    p = need_parameters(base_params(new_schools={LV: 3}, count_rule="exact", plan_end=2021))
    assert p.new_schools is None and p.count_rule == "at_most" and p.plan_end == p.last_year
    assert p.objective_order[:4] == ("shortfall", "equity", "overcrowding", "schools")


def equity_instance():
    """District-wide catchment; 20 places, all in street A; 10 pupils in each of A, B, C (A-B 1 km,
    B-C 2 km, A-C 3 km). 10 pupils must go without a place."""
    pup = {(s, 2021): 10.0 for s in "ABC"}
    dem, sup, sit, dist = instance(pup, {"A": 2}, [])
    sup["places"] = 20.0  # 2 classes of 10, no overcrowded place (max = standard)
    params = base_params(first_year=2021, last_year=2021, plan_start=2021, plan_end=2021,
                         new_schools=None, catchment_km={LV: None}, max_class_size={LV: CS})
    return (dem, sup, sit, dist), params


def test_equity_moves_shortfall_off_the_farthest_street():
    tables, params = equity_instance()
    from dataclasses import replace

    plain = SchoolPlanModel(*tables, replace(params, equity=False)).solve(OPTS).plan
    fair = SchoolPlanModel(*tables, params).solve(OPTS).plan
    short_plain = plain.balance.set_index("street")["shortfall"]
    short_fair = fair.balance.set_index("street")["shortfall"]
    # without the stage the travel stage leaves the farthest street (C) with all of it
    assert short_plain["C"] == pytest.approx(10.0) and short_plain[["A", "B"]].sum() == pytest.approx(0, abs=1e-4)
    # with it, every street carries the same share, and the total is not raised
    assert short_fair.sum() == pytest.approx(short_plain.sum())
    np.testing.assert_allclose(short_fair[["A", "B", "C"]].to_numpy(), 10 / 3, atol=1e-3)
    assert fair.report.equity == pytest.approx(1 / 3, abs=1e-4)
    assert [s["term"] for s in fair.report.stages][:2] == ["shortfall", "equity"]


def test_objective_order_rejects_unknown_stage():
    with pytest.raises(ValueError, match="objective_order"):
        SchoolPlanModel(*need_instance(), base_params(objective_order=("shortfall", "speed")))


def test_plan_folder_has_the_answers(tmp_path):
    """`capacity plan` on the tiny district writes the answers, and they agree with balance.csv."""
    from test_cli import TINY, TINY_SCENARIO

    from capacity.cli import main

    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY_SCENARIO, encoding="utf-8")
    out = tmp_path / "plan"
    assert main(["plan", str(scenario), "--data", str(TINY), "--out", str(out), "--quiet"]) == 0
    h = pd.read_csv(out / "headline.csv")
    b = pd.read_csv(out / "balance.csv", dtype={"street": str})
    need = pd.read_csv(out / "need.csv")
    assert list(need.columns[:6]) == ["level", "plan_schools", "needed_schools", "plan_places",
                                      "needed_places", "first_needed_year"]
    g = b.groupby(["level", "year"])[["pupils", "places", "spare_places"]].sum()
    for r in h.itertuples():
        assert r.pupils == pytest.approx(g.loc[(r.level, r.year), "pupils"], abs=0.01)
        assert r.spare_places == pytest.approx(g.loc[(r.level, r.year), "spare_places"], abs=0.01)
    text = (out / "summary.md").read_text(encoding="utf-8")
    assert text.index("学段") < text.index("By level")  # 中文 first
    assert "places short" in text


def test_need_command(tmp_path, capsys):
    from test_cli import TINY, TINY_SCENARIO

    from capacity.cli import main

    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY_SCENARIO, encoding="utf-8")
    out = tmp_path / "need"
    assert main(["need", str(scenario), "--data", str(TINY), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "needed" in printed and "plan 1" in printed
    names = {p.name for p in out.iterdir()}
    assert {"need.csv", "need_schedule.csv", "need_balance.csv", "need_headline.csv"} <= names
    assert "schedule.csv" not in names  # the plan as written is not solved
    need = pd.read_csv(out / "need.csv")
    sched = pd.read_csv(out / "need_schedule.csv", dtype={"street": str})
    new = sched[sched["kind"] == "new"]
    for r in need.itertuples():
        assert r.needed_schools == (new["level"] == r.level).sum()
        assert r.needed_places == new.loc[new["level"] == r.level, "places"].sum()


def test_need_counts_expansions_apart_from_schools():
    """24 pupils, 20 standard places (24 at the maximum): 4 overcrowded. One more class at the
    existing school (an expansion) removes it with no new school: needed 0 schools, 10 expansion
    places; the plan's exact count of one new school opens S1 instead."""
    from tests.test_expansions import SITES, params, tables

    need = assess_need(*tables(SITES), params(new_schools={"primary": 1}), OPTS,
                       plan=SchoolPlanModel(*tables(SITES), params(new_schools={"primary": 1},
                                                                   count_rule="exact")).solve(OPTS).plan)
    t = need.table.set_index("level").loc["primary"]
    assert t["needed_schools"] == 0 and t["needed_places"] == 0
    assert t["needed_expansion_places"] == 10 and t["needed_converted_places"] == 0
    assert t["plan_schools"] == 1 and t["plan_places"] == 10 and t["plan_expansion_places"] == 0
    assert need.plan.schedule[["site", "kind"]].values.tolist() == [["E1", "expansion"]]
