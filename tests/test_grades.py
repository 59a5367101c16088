"""Kindergarten grades (小班/中班/大班 at 25/30/35): places of a new kindergarten by its grade mix,
classes short by grade, the scenario key ``class_size.grades``. Every figure is worked by hand."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from test_optimize import OPTS, dist3, kg_instance

from capacity.grades import (
    grade_classes,
    grade_classes_short,
    grade_places,
    grade_shares,
    share_matrix,
)
from capacity.measures import headline, street_measures
from capacity.optimize import PlanParameters, SchoolPlanModel
from capacity.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).parents[1]
GRADES = {3: 25, 4: 30, 5: 35}
KG = "kindergarten"


# ------------------------------------------------------------------------------------------------
# places of a kindergarten by grade


def test_classes_spread_evenly_youngest_first():
    got = grade_classes([0, 1, 2, 6, 9, 10, 11, 12], 3)
    assert got.tolist() == [[0, 0, 0], [1, 0, 0], [1, 1, 0], [2, 2, 2], [3, 3, 3], [4, 3, 3],
                            [4, 4, 3], [4, 4, 4]]


def test_grade_places_by_hand():
    # 6: 2x25+2x30+2x35 = 180; 9: 3x(25+30+35) = 270; 10: 4x25+3x30+3x35 = 295; 12: 4x90 = 360
    assert grade_places([6, 9, 10, 12], GRADES).tolist() == [180.0, 270.0, 295.0, 360.0]
    # the order of the mapping does not matter: grades go by age
    assert grade_places(10, {5: 35, 3: 25, 4: 30}).tolist() == [295.0]


def test_grade_places_rejects_negative_classes():
    with pytest.raises(ValueError, match="classes must be >= 0"):
        grade_places([-1], GRADES)


def tiny_kg_model(grades):
    """One street, 400 children a year, no existing place, one site of 10 classes that must open."""
    demand = pd.DataFrame({"street": "A", "level": KG, "year": [2021, 2022], "pupils": 400.0})
    supply = pd.DataFrame(columns=["street", "level", "public", "inclusive", "classes", "places"])
    sites = pd.DataFrame({"site": ["k1"], "street": ["A"], "level": KG, "earliest_year": [2021],
                          "sizes": ["10"], "cost_per_class": [1.0]})
    p = PlanParameters(first_year=2021, last_year=2022, plan_start=2021, plan_end=2021,
                       new_schools={KG: 1}, class_size={KG: 30}, max_class_size={KG: 35},
                       catchment_km={KG: 0.0}, grade_class_size=grades)
    return SchoolPlanModel(demand, supply, sites, dist3(), p)


def test_new_kindergarten_of_ten_classes_adds_295_places():
    plan = tiny_kg_model(GRADES).solve(OPTS).plan
    assert plan.schedule["places"].tolist() == [295.0]
    b = plan.balance[plan.balance["street"] == "A"].iloc[0]
    # 295 standard places, 10 x 35 = 350 at the maximum: 55 overcrowded, 400 - 350 = 50 without one
    assert b["places"] == pytest.approx(295)
    assert b["max_places"] == pytest.approx(350)
    assert b["overcrowded"] == pytest.approx(55)
    assert b["shortfall"] == pytest.approx(50)
    assert plan.grade_class_size == GRADES and plan.grade_level == KG
    # without grades: 10 x 30 = 300 places, 50 overcrowded (today's behaviour)
    off = tiny_kg_model(None).solve(OPTS).plan
    assert off.schedule["places"].tolist() == [300.0]
    assert off.grade_class_size is None


def test_model_rejects_fractional_grade_sizes():
    with pytest.raises(ValueError, match="grade_class_size"):
        tiny_kg_model({3: 25.5, 4: 30, 5: 35}).check()


# kg_instance: k1 (2 or 4 classes) and k2 (3 classes) can open, two new kindergartens are required.
# By grade: 2 -> 1,1,0 -> 55; 4 -> 2,1,1 -> 115; 3 -> 1,1,1 -> 90. So k1 + k2 gives 145 or 205.
@pytest.mark.parametrize("kw, words", [
    (dict(kindergarten_new_places=205, places_rule="exact"), None),
    (dict(kindergarten_new_places=145, places_rule="exact"), None),
    (dict(kindergarten_new_places=210, places_rule="exact"),
     ["places", "no choice of sizes gives exactly 210", "25/30/35", "145-205"]),
    (dict(kindergarten_new_places=207, places_rule="exact"), ["places", "207", "not a multiple of 5"]),
    (dict(kindergarten_new_places=206, places_rule="at_least"), ["places", "206", "at most 205", "25/30/35"]),
])
def test_exact_places_check_with_grades(kw, words):
    m = kg_instance(grade_class_size=GRADES, **kw)
    problems = m.check()
    if words is None:
        assert problems == []
        return
    assert len(problems) == 1, problems
    for w in words:
        assert w in problems[0], (w, problems[0])


def test_exact_places_with_grades_solves_to_the_grade_places():
    plan = kg_instance(grade_class_size=GRADES, kindergarten_new_places=205, places_rule="exact").solve(OPTS).plan
    s = plan.schedule.set_index("site")
    assert s.loc["k1", "classes"] == 4 and s.loc["k1", "places"] == 115
    assert s.loc["k2", "classes"] == 3 and s.loc["k2", "places"] == 90
    # without grades 210 = 7 x 30 is the reachable total and 205 is not a multiple of 30
    assert kg_instance(kindergarten_new_places=205, places_rule="exact").check() != []


# ------------------------------------------------------------------------------------------------
# classes short by grade


def test_grade_classes_short_by_hand():
    # 100 short, shares 0.3/0.3/0.4: ceil(30/25) + ceil(30/30) + ceil(40/35) = 2 + 1 + 2 = 5
    # 0.4 short (rounds to 0 pupils): 0 classes
    got = grade_classes_short([100.0, 0.4], [[0.3, 0.3, 0.4], [0.3, 0.3, 0.4]], GRADES)
    assert got.tolist() == [5, 0]


def test_share_matrix_equal_shares_where_unknown():
    shares = pd.DataFrame({"year": [2021] * 3, "age": [5, 3, 4], "share": [0.4, 0.3, 0.3]})
    m = share_matrix([2021, 2022], shares, GRADES)
    np.testing.assert_allclose(m, [[0.3, 0.3, 0.4], [1 / 3, 1 / 3, 1 / 3]])


def test_grade_shares_from_population():
    pop = pd.DataFrame({"street": ["A", "A", "B", "B", "A"], "year": 2021, "sex": ["m", "f", "m", "f", "m"],
                        "age": [3, 4, 5, 5, 6], "persons": [10.0, 20.0, 10.0, 20.0, 99.0]})
    got = grade_shares(pop, [3, 4, 5])
    assert got.columns.tolist() == ["year", "age", "share"]
    assert got["age"].tolist() == [3, 4, 5]
    assert got["share"].tolist() == pytest.approx([1 / 6, 2 / 6, 3 / 6])  # age 6 is not a grade


def balance_rows():
    # kindergarten 2021: 100 short (90 without a place + 10 overcrowded); 2022: 60 short;
    # primary 2021: 100 short
    return pd.DataFrame({
        "street": ["A", "A", "A"], "level": [KG, KG, "primary"], "year": [2021, 2022, 2021],
        "pupils": [400.0, 360.0, 500.0], "places": [300.0, 300.0, 400.0], "assigned": [310.0, 300.0, 400.0],
        "shortfall": [90.0, 60.0, 100.0], "overcrowded": [10.0, 0.0, 0.0], "enrolled_here": [310.0, 300.0, 400.0],
    })


def test_headline_classes_short_by_grade():
    shares = pd.DataFrame({"year": [2021] * 3, "age": [3, 4, 5], "share": [0.3, 0.3, 0.4]})
    plan = SimpleNamespace(balance=balance_rows(), class_size={KG: 30, "primary": 45},
                           grade_class_size=GRADES, grade_level=KG, grade_shares=shares)
    h = headline(plan).set_index(["level", "year"])
    # 2021: 2 + 1 + 2 = 5 (one size of 30: 4); 2022 (no shares: equal): 20 each -> 1 + 1 + 1 = 3 (one size: 2)
    assert h.loc[(KG, 2021), "classes_short"] == 5
    assert h.loc[(KG, 2022), "classes_short"] == 3
    assert h.loc[("primary", 2021), "classes_short"] == 3  # ceil(100 / 45), unchanged
    flat = headline(SimpleNamespace(balance=balance_rows(), class_size={KG: 30, "primary": 45}))
    assert flat.set_index(["level", "year"]).loc[[(KG, 2021), (KG, 2022)], "classes_short"].tolist() == [4, 2]
    # the shares can be passed in instead of carried by the plan
    bare = SimpleNamespace(balance=balance_rows(), class_size={KG: 30, "primary": 45}, grade_class_size=GRADES)
    passed = headline(bare, grade_shares=shares).set_index(["level", "year"])
    assert passed.loc[(KG, 2021), "classes_short"] == 5


def test_street_measures_by_grade():
    shares = pd.DataFrame({"year": [2021] * 3, "age": [3, 4, 5], "share": [0.3, 0.3, 0.4]})
    b = street_measures(balance_rows(), {KG: 30, "primary": 45}, grade_class_size=GRADES,
                        grade_shares=shares, grade_level=KG)
    assert b["classes_short"].tolist() == [5, 3, 3]
    assert street_measures(balance_rows(), {KG: 30, "primary": 45})["classes_short"].tolist() == [4, 2, 3]


# ------------------------------------------------------------------------------------------------
# the scenario key class_size.grades


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_baseline_sets_the_grades():
    assert load_scenario(ROOT / "scenarios" / "baseline.toml").plan.grade_class_size == GRADES


def test_grades_key_parsed_and_off(tmp_path):
    s = load_scenario(write(tmp_path / "g.toml", '[class_size]\ngrades = { "3" = 25, "4" = 30, "5" = 35 }\n'))
    assert s.plan.grade_class_size == GRADES
    assert all(isinstance(k, int) for k in s.plan.grade_class_size)
    off = load_scenario(write(tmp_path / "off.toml", '[class_size]\ngrades = "off"\n'))
    assert off.plan.grade_class_size is None
    assert load_scenario(write(tmp_path / "none.toml", "")).plan.grade_class_size is None


@pytest.mark.parametrize("value, key, words", [
    ('{ "3" = 25, "4" = 30.5 }', "class_size.grades.4", "whole number"),
    ('{ "3" = 0 }', "class_size.grades.3", "greater than 0"),
    ('{ "small" = 25 }', "class_size.grades.small", "age in years"),
    ('{ "3" = "25" }', "class_size.grades.3", "expected a number"),
    ("25", "class_size.grades", "expected a table"),
])
def test_bad_grades_named(tmp_path, value, key, words):
    path = write(tmp_path / "bad.toml", f"[class_size]\ngrades = {value}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == key
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_grades_must_be_the_kindergarten_ages(tmp_path):
    from capacity.data import load_district
    from capacity.pipeline import check_scenario

    district = load_district(ROOT / "tests" / "fixtures" / "tiny")
    text = '[enrolment]\nkindergarten = { "2020" = 0.9 }\nprimary = { "2020" = 1.0 }\n[class_size]\ngrades = {g}\n'
    check_scenario(load_scenario(write(tmp_path / "ok.toml", text.replace(
        "{g}", '{ "3" = 25, "4" = 30, "5" = 35 }'))), district)
    with pytest.raises(ScenarioError) as info:
        check_scenario(load_scenario(write(tmp_path / "bad.toml", text.replace(
            "{g}", '{ "2" = 20, "3" = 25, "4" = 30 }'))), district)
    assert info.value.key == "class_size.grades"
    assert "3, 4, 5" in str(info.value) and "\n" not in str(info.value)


def test_pipeline_attaches_the_population_grade_shares():
    from capacity.pipeline import with_grade_shares

    plan = tiny_kg_model(GRADES).solve(OPTS).plan
    pop = pd.DataFrame({"street": "A", "year": 2021, "sex": "m", "age": [3, 4, 5], "persons": [1.0, 1.0, 2.0]})
    got = with_grade_shares(plan, pop)
    assert got.grade_shares["share"].tolist() == pytest.approx([0.25, 0.25, 0.5])
    off = tiny_kg_model(None).solve(OPTS).plan
    assert with_grade_shares(off, pop) is off
    assert np.all(headline(got)["classes_short"] >= 0)


def test_summary_states_the_grade_sizes():
    from capacity.summary import official_summary

    plan = SimpleNamespace(balance=balance_rows(), class_size={KG: 30, "primary": 45})
    text = official_summary(district_name="D", scenario_name="s", headline=headline(plan),
                            schedule=pd.DataFrame(columns=["site", "street", "level", "open_year",
                                                           "classes", "places", "cost"]),
                            class_size={KG: 30, "primary": 45}, grade_class_size=GRADES)
    assert "kindergarten 25/30/35 (ages 3/4/5), primary 45." in text
    assert "幼儿园 25/30/35 人" in text
