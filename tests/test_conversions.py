"""Conversions (private non-inclusive kindergarten places made inclusive through a subsidy): chosen
when cheaper than building to reach the inclusive share, their places leave the non-inclusive pool,
never counted as new schools or places; one test per bad input."""

from __future__ import annotations

import pandas as pd
import pytest

from capacity.optimize import PlanParameters, SchoolPlanModel, SolverOptions

KG = "kindergarten"
OPTS = SolverOptions(time_limit=30, mip_gap=0.0, threads=1)
COLS = ["site", "street", "level", "earliest_year", "sizes", "cost_per_class", "public", "inclusive", "kind",
        "annual_cost_per_place"]
DIST = pd.DataFrame([[0.0]], index=["A"], columns=["A"])


def tables(sites, pupils=40.0, years=(2021,)):
    # street A: 20 public inclusive places (2 classes of 10) and 20 private non-inclusive places
    demand = pd.DataFrame([("A", KG, y, pupils) for y in years], columns=["street", "level", "year", "pupils"])
    supply = pd.DataFrame([("A", KG, True, True, 2, 20.0), ("A", KG, False, False, 2, 20.0)],
                          columns=["street", "level", "public", "inclusive", "classes", "places"])
    return demand, supply, pd.DataFrame(sites, columns=COLS), DIST


def params(last=2021, **kw):
    p = dict(first_year=2021, last_year=last, plan_start=2021, plan_end=last, class_size={KG: 10},
             max_class_size={KG: 10}, catchment_km={KG: 0.0}, target_year=last, inclusive_share_min=0.75)
    p.update(kw)
    return PlanParameters(**p)


def conversion(cost_yuan, site="C1", sizes="1", year=2021):
    return (site, "A", KG, year, sizes, None, False, True, "conversion", cost_yuan)


NEW = ("S1", "A", KG, 2021, "1", 1.0, True, True, "new", None)  # 10 public places, 1 million CNY


def test_cheaper_conversion_is_chosen_over_building():
    # 40 children, 75% inclusive = 30: the 20 public places and 10 more. Converting one class (10
    # places x 2,000 yuan x 1 year = 0.02 million CNY) is cheaper than a new class (1 million CNY)
    plan = SchoolPlanModel(*tables([conversion(2000.0), NEW]), params()).solve(OPTS).plan
    assert plan.schedule[["site", "kind", "places"]].values.tolist() == [["C1", "conversion", 10.0]]
    assert plan.report.cost == pytest.approx(0.02)
    a = plan.assignment.set_index("site")["pupils"]
    assert a["C1"] == pytest.approx(10.0)
    assert a["existing:A:private:non-inclusive"] == pytest.approx(10.0)  # 20 - 10 converted
    assert a["existing:A:public:inclusive"] == pytest.approx(20.0)
    # the street's places are unchanged (places move, none are added)
    assert plan.balance["places"].tolist() == [40.0]
    assert plan.to_dict()["totals"]["new_places"] == {}


def test_dearer_conversion_is_not_chosen():
    # 200,000 yuan x 10 places = 2 million CNY a year > 1 million CNY for a new class
    plan = SchoolPlanModel(*tables([conversion(200_000.0), NEW]), params()).solve(OPTS).plan
    assert plan.schedule[["site", "kind"]].values.tolist() == [["S1", "new"]]
    assert plan.report.cost == pytest.approx(1.0)


def test_cost_counts_the_years_to_plan_end_and_places_move_from_that_year():
    # plan 2021-2023, target in 2023: the conversion costs 3, 2 or 1 years of subsidy by its year
    model = SchoolPlanModel(*tables([conversion(1000.0)], years=(2021, 2022, 2023)), params(last=2023))
    opt = model.options
    assert opt[["year", "cost"]].values.tolist() == [[2021, 0.03], [2022, 0.02], [2023, 0.01]]
    plan = model.solve(OPTS).plan
    assert plan.schedule[["site", "open_year"]].values.tolist() == [["C1", 2023]]
    a = plan.assignment.pivot_table(index="year", columns="site", values="pupils", aggfunc="sum").fillna(0)
    assert a.loc[2022, "existing:A:private:non-inclusive"] == pytest.approx(20.0)
    assert a.loc[2023, "existing:A:private:non-inclusive"] == pytest.approx(10.0)
    assert a.loc[2023, "C1"] == pytest.approx(10.0)


def test_converted_places_leave_the_non_inclusive_pool():
    # 45 children, 40 places: whatever is converted, 5 stay without a place (a conversion adds none);
    # 60% inclusive = 27 forces the conversion
    plan = SchoolPlanModel(*tables([conversion(1000.0)], pupils=45.0), params(inclusive_share_min=0.6)).solve(OPTS).plan
    assert plan.schedule["site"].tolist() == ["C1"]
    assert plan.report.shortfall == pytest.approx(5.0)
    a = plan.assignment.set_index("site")["pupils"]
    assert a["C1"] + a["existing:A:private:non-inclusive"] == pytest.approx(20.0)
    assert a["existing:A:private:non-inclusive"] <= 10.0 + 1e-6


def test_conversions_count_neither_as_schools_nor_as_new_places():
    p = params(inclusive_share_min=None, new_schools={KG: 1}, count_rule="exact", kindergarten_new_places=10,
               places_rule="exact")
    plan = SchoolPlanModel(*tables([conversion(0.0), NEW]), p).solve(OPTS).plan
    assert plan.schedule[["site", "kind"]].values.tolist() == [["S1", "new"]]


def test_min_fill_follows_the_converted_places():
    # every private place kept full: 20 non-inclusive places, 10 of them converted -> 10 required
    p = params(private_min_fill=1.0)
    plan = SchoolPlanModel(*tables([conversion(2000.0), NEW]), p).solve(OPTS).plan
    assert plan.schedule["site"].tolist() == ["C1"]
    a = plan.assignment.set_index("site")["pupils"]
    assert a["existing:A:private:non-inclusive"] == pytest.approx(10.0)


@pytest.mark.parametrize("site, message", [
    (("C1", "A", KG, 2021, "1", None, False, True, "conversion", -5.0),
     "site C1: annual_cost_per_place -5 must be >= 0 (yuan per place per year)"),
    (("C1", "A", KG, 2021, "1", None, False, True, "conversion", "cheap"),
     "site C1: annual_cost_per_place 'cheap' is not a number"),
    (("C1", "A", KG, 2021, "1", None, False, True, "conversion", None),
     "site C1: a conversion needs annual_cost_per_place"),
    (("S1", "A", KG, 2021, "1", 1.0, True, True, "new", 100.0),
     "site S1: annual_cost_per_place is for conversions only"),
    (("C1", "A", KG, 2021, "1", 1.0, False, True, "conversion", 100.0),
     "site C1: a conversion's cost is annual_cost_per_place; cost_per_class 1 must be empty or 0"),
    (("C1", "A", KG, 2021, "1", None, True, True, "conversion", 100.0),
     "site C1: a conversion makes private places inclusive: public must be false and inclusive true"),
    (("C1", "A", KG, 2021, "3", None, False, True, "conversion", 100.0),
     "site C1: conversions in street A may take 30 places, more than its 20 private non-inclusive"),
    (("C1", "A", KG, 2021, "1", None, False, True, "rebuild", 100.0),
     "site C1: kind 'rebuild' must be one of 'new', 'expansion', 'conversion'"),
])
def test_bad_conversion_rows(site, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SchoolPlanModel(*tables([site]), params())


def test_conversion_needs_private_non_inclusive_places():
    demand, supply, sit, dist = tables([conversion(100.0)])
    supply = supply[supply["public"]]  # street A has only public places
    with pytest.raises(ValueError, match="site C1: a conversion needs private non-inclusive kindergarten "
                                         "places in street A, and there are none"):
        SchoolPlanModel(demand, supply, sit, dist, params())


def test_conversion_only_of_kindergarten_places():
    demand, supply, sit, dist = tables([conversion(100.0)])
    sit["level"] = "primary"
    with pytest.raises(ValueError, match="site C1: a conversion is of kindergarten places, not primary"):
        SchoolPlanModel(demand, supply, sit, dist, params())


def test_kindergarten_types_before_and_after_conversion():
    from capacity.kinds import kindergarten_types

    demand, supply, sites, dist = tables([conversion(1000.0)], years=(2021, 2022, 2023))
    plan = SchoolPlanModel(demand, supply, sites, dist, params(last=2023)).solve(OPTS).plan
    t = kindergarten_types(plan, supply).set_index(["year", "type"])
    # 2022: 20 public, 0 private inclusive, 20 private non-inclusive places; 2023: 10 of the latter
    # made inclusive (C1 opens in 2023, the cheapest year)
    assert t.loc[(2022, "private inclusive"), "places"] == 0
    assert t.loc[(2022, "private non-inclusive"), "places"] == 20
    assert t.loc[(2023, "private inclusive"), "places"] == 10
    assert t.loc[(2023, "private non-inclusive"), "places"] == 10
    assert t.loc[(2023, "public"), "places"] == 20
    assert t.loc[(2023, "private inclusive"), "pupils"] == pytest.approx(10.0)
    assert t.loc[(2023, "private non-inclusive"), "utilisation"] == pytest.approx(1.0)


def test_summary_lists_conversions_and_expansions_apart_from_new_schools():
    from capacity.measures import headline
    from capacity.summary import official_summary

    plan = SchoolPlanModel(*tables([conversion(2000.0), NEW]), params()).solve(OPTS).plan
    sched = pd.concat([plan.schedule, plan.schedule.assign(site="E1", kind="expansion", public=True,
                                                           classes=2, places=20.0, cost=1.5)])
    text = official_summary(district_name="Tiny", scenario_name="t", headline=headline(plan), schedule=sched)
    en = text.split("\n---\n")[1]
    assert "## New schools by opening year (street, classes)\n\n(none)" in en
    assert "- 2021: kindergarten A: 10 private places made inclusive; kindergarten expansion A +2 classes " \
           "(20 places)" in en
    assert "- total: 2 million CNY" in en  # the expansion's capital cost, not the subsidy
    assert "subsidies for places made inclusive (to the plan's end) 0.02 million CNY" in en
    assert "| kindergarten | – | 0 | 0 | 0 (2021) | 100% | 0 |" in en  # no new school counted


def test_evaluator_takes_converted_places_from_the_pool_they_convert():
    """Out of sample, a converted class moves 10 places (none added): 45 children, 40 places, 5
    short, as in the plan itself."""
    from capacity.optimize.evaluate import evaluate_schedule

    demand, supply, sites, dist = tables([conversion(2000.0)], pupils=45.0)
    p = params(inclusive_share_min=None)
    schedule = pd.DataFrame({"site": ["C1"], "open_year": [2021], "classes": [1]})
    ev = evaluate_schedule(schedule, demand.assign(future=0), supply, sites, dist, p)
    assert ev.levels["places_short"].tolist() == pytest.approx([5.0])
    plan = SchoolPlanModel(demand, supply, sites, dist, p).solve(OPTS).plan
    assert plan.balance["shortfall"].sum() + plan.balance["overcrowded"].sum() == pytest.approx(5.0)
