"""Scenario files: extends, errors that name key, file and suggestion, the shipped scenarios."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from capacity.demand import EnrolmentRates
from capacity.optimize import PlanParameters, SolverOptions
from capacity.projection import ProjectionAssumptions, Uncertainty
from capacity.scenario import Scenario, ScenarioError, load_scenario, scenario_keys

ROOT = Path(__file__).parents[1]
SCENARIOS = ROOT / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.toml"))
TINY = ROOT / "tests" / "fixtures" / "tiny"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------
# extends


def test_extends_merges_tables_and_child_overrides(tmp_path):
    write(tmp_path / "base.toml", """
name = "base"
description = "the parent"
data = "district"
growth_streets = ["A"]
[projection]
end_year = 2032
fertility_multiplier = 1.0
migration_multiplier = 0.5
[enrolment]
kindergarten = { "2020" = 0.9, "2025" = 0.95 }
[plan]
new_schools = { kindergarten = 2, primary = 1 }
[class_size.standard]
primary = 45
""")
    child = write(tmp_path / "child.toml", """
extends = "base.toml"
[projection]
fertility_multiplier = 0.8
[enrolment]
kindergarten = { "2025" = 0.97 }
[plan]
new_schools = { primary = 0 }
""")
    s = load_scenario(child)
    assert s.name == "child"  # name is not inherited
    assert s.description == ""
    assert s.path == child.resolve()
    assert s.data == (tmp_path / "district").resolve()  # relative to the file that set it
    assert s.growth_streets == ("A",)
    assert s.projection.fertility_multiplier == 0.8
    assert s.projection.migration_multiplier == 0.5  # kept from the parent
    assert s.projection.end_year == 2032
    assert s.enrolment.paths["kindergarten"] == {2020: 0.9, 2025: 0.97}  # tables merge key by key
    assert s.plan.new_schools == {"kindergarten": 2, "primary": 0}
    assert s.plan.class_size == {"primary": 45.0}
    # the sources say which file set what
    assert s.source_of("projection.fertility_multiplier") == child.resolve()
    assert s.source_of("projection.end_year") == (tmp_path / "base.toml").resolve()


def test_extends_chain_and_subfolder(tmp_path):
    (tmp_path / "sub").mkdir()
    write(tmp_path / "a.toml", "[projection]\nend_year = 2040\nhousing_shift_years = 1\n")
    write(tmp_path / "sub" / "b.toml", 'extends = "../a.toml"\n[projection]\nhousing_shift_years = 2\n')
    c = write(tmp_path / "c.toml", 'extends = "sub/b.toml"\nname = "see"\n[uncertainty]\ndraws = 5\n')
    s = load_scenario(c)
    assert s.name == "see"
    assert s.projection.end_year == 2040
    assert s.projection.housing_shift_years == 2
    assert s.uncertainty.draws == 5


def test_a_value_replaces_an_inherited_table(tmp_path):
    write(tmp_path / "a.toml", "[plan]\nnew_schools = { primary = 1 }\n")
    b = write(tmp_path / "b.toml", 'extends = "a.toml"\n[plan]\nnew_schools = "off"\n')
    assert load_scenario(b).plan.new_schools is None


def test_extends_cycle_is_an_error(tmp_path):
    write(tmp_path / "a.toml", 'extends = "b.toml"\n')
    write(tmp_path / "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="cycle") as info:
        load_scenario(tmp_path / "a.toml")
    assert info.value.key == "extends"
    assert "a.toml -> b.toml -> a.toml" in str(info.value)


def test_self_extends_is_a_cycle(tmp_path):
    a = write(tmp_path / "a.toml", 'extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(a)


def test_extends_missing_file(tmp_path):
    a = write(tmp_path / "a.toml", '\n\nextends = "nowhere.toml"\n')
    with pytest.raises(ScenarioError, match="does not exist") as info:
        load_scenario(a)
    assert info.value.line == 3


# ------------------------------------------------------------------------------------------------
# errors


def test_unknown_key_names_key_file_line_and_suggestion(tmp_path):
    write(tmp_path / "base.toml", "[plan]\nnew_schools = { primary = 1 }\n")
    child = write(tmp_path / "child.toml", 'extends = "base.toml"\n\n[plan]\nnew_school = { primary = 2 }\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    err = info.value
    assert err.key == "plan.new_school"
    assert err.file == child.resolve()
    assert err.line == 4
    assert err.suggestion == "plan.new_schools"
    text = str(err)
    assert "child.toml" in text and "line 4" in text and "plan.new_school" in text
    assert "did you mean 'plan.new_schools'?" in text
    assert "\n" not in text


def test_unknown_key_in_the_parent_names_the_parent(tmp_path):
    base = write(tmp_path / "base.toml", "[projection]\nfertility_multiplyer = 0.9\n")
    child = write(tmp_path / "child.toml", 'extends = "base.toml"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    assert info.value.file == base.resolve()
    assert info.value.suggestion == "projection.fertility_multiplier"


@pytest.mark.parametrize("text, key, suggestion", [
    ("[projecton]\nend_year = 2030\n", "projecton", "projection"),
    ("[solver]\ntimelimit = 10\n", "solver.timelimit", "solver.time_limit"),
    ("[objective.weights]\nshortfal = 10\n", "objective.weights.shortfal", "objective.weights.shortfall"),
    ("[class_size]\nstandart = { primary = 40 }\n", "class_size.standart", "class_size.standard"),
    ("growth_street = [\"A\"]\n", "growth_street", "growth_streets"),
])
def test_unknown_keys_everywhere(tmp_path, text, key, suggestion):
    f = write(tmp_path / "s.toml", text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(f)
    assert info.value.key == key
    assert info.value.suggestion == suggestion


@pytest.mark.parametrize("text, key, words", [
    ("[plan]\nnew_schools = { primary = 2.5 }\n", "plan.new_schools.primary", "integer"),
    ("[projection]\nend_year = \"2030\"\n", "projection.end_year", "integer"),
    ("[projection]\nfertility_multiplier = true\n", "projection.fertility_multiplier", "number"),
    ("[uncertainty]\npercentiles = 5\n", "uncertainty.percentiles", "array"),
    ("[enrolment]\nprimary = 1.0\n", "enrolment.primary", "table"),
    ("[enrolment]\nprimary = { \"y2020\" = 1.0 }\n", "enrolment.primary.y2020", "year"),
    ("[catchment]\nsenior = \"everywhere\"\n", "catchment.senior", '"district"'),
    ("[solver]\ntime_limit = \"none\"\n", "solver.time_limit", '"off"'),
    ("[solver]\nlevel_workers = 1.5\n", "solver.level_workers", "integer"),
    ("[solver]\nsub_mip_heuristics = 1\n", "solver.sub_mip_heuristics", "true or false"),
    ("[solver]\nschedule_restarts = 1\n", "solver.schedule_restarts", "true or false"),
    ("plan = 3\n", "plan", "table"),
])
def test_wrong_type_names_key_and_expected_type(tmp_path, text, key, words):
    f = write(tmp_path / "s.toml", text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(f)
    assert info.value.key == key
    assert words in str(info.value)
    assert str(f.name) in str(info.value)


@pytest.mark.parametrize("text, key", [
    ("[enrolment]\nprimary = { \"2020\" = -0.1 }\n", "enrolment.primary.2020"),
    ("[uncertainty]\nfertility_sd = -0.1\n", "uncertainty.fertility_sd"),
    ("[uncertainty]\ndraws = -1\n", "uncertainty.draws"),
    ("[objective]\nmethod = \"weighed\"\n", "objective.method"),
    ("[plan]\ncount_rule = \"some\"\n", "plan.count_rule"),
    ("[plan]\npublic_share_min = 1.5\n", "plan.public_share_min"),
    ("[solver]\nsolver = \"gurobi\"\n", "solver.solver"),
    ("[solver]\nlevel_workers = 0\n", "solver.level_workers"),
    ("[projection]\nend_year = 2028\n[plan]\nlast_year = 2030\n", "projection.end_year"),
    ("[plan]\nplan_start = 2025\nplan_end = 2022\n", "plan.plan_end"),
    ("[plan]\nplaces_rule = \"exact\"\n", "plan.kindergarten_new_places"),
    ("[class_size.maximum]\nprimary = 40\n", "class_size.maximum.primary"),
    ("[class_size]\nstandard = { primary = 0 }\n", "class_size.standard.primary"),
    ("[objective.weights]\ntravel = -1\n", "objective.weights.travel"),
])
def test_values_out_of_range(tmp_path, text, key):
    f = write(tmp_path / "s.toml", text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(f)
    assert info.value.key == key


def test_invalid_toml_gives_the_line(tmp_path):
    f = write(tmp_path / "s.toml", "[plan]\nfirst_year = 2021\nlast_year = \n")
    with pytest.raises(ScenarioError, match="not valid TOML") as info:
        load_scenario(f)
    assert info.value.line == 3


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nothing.toml")


def test_off_and_district_mean_none(tmp_path):
    f = write(tmp_path / "s.toml", """
[plan]
public_share_min = "off"
kindergarten_new_places = "off"
[catchment]
kindergarten = 0
senior = "district"
[solver]
time_limit = "off"
threads = 2
""")
    s = load_scenario(f)
    assert s.plan.public_share_min is None
    assert s.plan.kindergarten_new_places is None
    assert s.plan.catchment_km == {"kindergarten": 0.0, "senior": None}
    assert s.solver.time_limit is None and s.solver.threads == 2


def test_empty_file_gives_the_defaults(tmp_path):
    s = load_scenario(write(tmp_path / "empty.toml", ""))
    assert s.name == "empty"
    assert s.projection == ProjectionAssumptions()
    assert s.uncertainty == Uncertainty()
    assert s.plan == PlanParameters()
    assert s.solver == SolverOptions()
    assert s.enrolment == EnrolmentRates(paths={})
    assert s.data is None


def test_schema_follows_the_dataclasses():
    keys = set(scenario_keys())
    for cls, section in ((ProjectionAssumptions, "projection"), (Uncertainty, "uncertainty"),
                         (SolverOptions, "solver")):
        for f in dataclasses.fields(cls):
            assert f"{section}.{f.name}" in keys or f"{section}.{f.name}.*" in keys
    moved = {"class_size", "max_class_size", "grade_class_size", "catchment_km", "weights", "method",
             "lex_tolerance"}
    for f in dataclasses.fields(PlanParameters):
        if f.name not in moved:
            assert f"plan.{f.name}" in keys or f"plan.{f.name}.*" in keys
    assert {"class_size.standard.*", "class_size.maximum.*", "class_size.grades.*", "catchment.*",
            "objective.method",
            "objective.weights.*", "enrolment.*"} <= keys


# ------------------------------------------------------------------------------------------------
# the shipped scenarios


def test_the_shipped_scenarios_are_there():
    names = {p.stem for p in SHIPPED}
    assert {"baseline", "low_fertility", "high_fertility", "housing_fast", "housing_delayed",
            "class_size_strict", "no_new_schools"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_scenario_loads(path):
    s = load_scenario(path)
    assert isinstance(s, Scenario)
    assert s.name == path.stem
    assert s.description
    assert s.data == (ROOT / "data" / "streets").resolve()
    if path.stem != "baseline":
        assert 'extends = "baseline.toml"' in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_value_has_a_comment(path):
    """Each key line is preceded by a comment or carries one (the source or the reason)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        s = line.strip()
        if "=" not in s or s.startswith(("#", "[", '"')) or s.startswith(("name", "description")):
            continue
        if s.startswith(("2", "1")) or line.startswith((" ", "\t")):
            continue  # inside a multi-line string or array
        before = [x.strip() for x in lines[:i] if x.strip()]
        above = before[-1] if before else ""
        assert "#" in s or above.startswith("#") or "=" in above, f"{path.name}:{i + 1}: {s}"


def test_baseline_equals_the_plan():
    s = load_scenario(SCENARIOS / "baseline.toml")
    p = s.plan
    assert p.new_schools == {"kindergarten": 30, "primary": 9, "junior": 4, "senior": 2,
                             "vocational": 0}
    assert p.count_rule == "exact"
    assert p.kindergarten_new_places == 9180 and p.places_rule == "exact"
    assert (p.plan_start, p.plan_end) == (2021, 2025)
    assert p.first_year == 2021 and p.last_year >= 2030
    assert p.target_year == 2025
    assert p.public_share_min == 0.5 and p.inclusive_share_min == 0.83
    assert s.enrolment.paths["kindergarten"] == {2020: 0.915, 2025: 0.95}
    assert s.enrolment.paths["primary"] == {2020: 1.0}
    assert s.enrolment.paths["junior"] == {2020: 1.0}
    assert s.enrolment.paths["senior_stage"] == {2020: 0.967, 2025: 0.99}
    assert s.enrolment.shares == {"vocational": {2020: 0.32}}
    assert p.class_size == {"kindergarten": 30, "primary": 45, "junior": 50, "senior": 50,
                            "vocational": 50}
    assert p.max_class_size == {"kindergarten": 35, "primary": 55, "junior": 55, "senior": 55,
                                "vocational": 55}
    assert p.catchment_km["senior"] is None and p.catchment_km["vocational"] is None
    # observed fertility: Tianjin's crude birth rate relative to 2020, held flat after 2024
    assert s.projection.fertility_path == {2020: 1.0, 2021: 0.8847, 2022: 0.7965, 2023: 0.7462,
                                           2024: 0.8331}
    assert s.projection.fertility_path[2023] == pytest.approx(4.47 / 5.99, abs=5e-5)
    assert s.projection.fertility_path[2024] == pytest.approx(4.99 / 5.99, abs=5e-5)
    assert p.catchment_km["kindergarten"] <= p.catchment_km["primary"] <= p.catchment_km["junior"]
    assert set(s.growth_streets) == {"120110006", "120110009", "120110003", "120110005", "120110011",
                                     "120110007", "120110010"}
    assert s.projection.end_year >= p.last_year
    assert s.uncertainty.draws > 0


def test_children_differ_from_the_baseline_where_they_say():
    base = load_scenario(SCENARIOS / "baseline.toml")
    low = load_scenario(SCENARIOS / "low_fertility.toml")
    high = load_scenario(SCENARIOS / "high_fertility.toml")
    # the observed years are inherited; 20% below / above the held-flat 2024 level from 2026
    for year in range(2020, 2025):
        assert (low.projection.fertility_path[year] == high.projection.fertility_path[year]
                == base.projection.fertility_path[year])
    last = base.projection.fertility_path[2024]
    assert low.projection.fertility_path[2026] == pytest.approx(0.8 * last, abs=1e-4)
    assert high.projection.fertility_path[2026] == pytest.approx(1.2 * last, abs=1e-4)
    assert low.projection.fertility_multiplier == high.projection.fertility_multiplier == 1.0
    assert low.plan == base.plan and low.enrolment == base.enrolment
    fast = load_scenario(SCENARIOS / "housing_fast.toml")
    slow = load_scenario(SCENARIOS / "housing_delayed.toml")
    assert fast.projection.housing_shift_years < 0 < slow.projection.housing_shift_years
    strict = load_scenario(SCENARIOS / "class_size_strict.toml")
    assert strict.plan.class_size["primary"] < base.plan.class_size["primary"]
    assert strict.plan.class_size["junior"] < base.plan.class_size["junior"]
    assert strict.plan.class_size["kindergarten"] == base.plan.class_size["kindergarten"]
    none = load_scenario(SCENARIOS / "no_new_schools.toml")
    assert set(none.plan.new_schools.values()) == {0}
    assert none.plan.places_rule == "off"
    assert none.plan.public_share_min is None and none.plan.inclusive_share_min is None


# ------------------------------------------------------------------------------------------------
# against a district


def test_scenario_checked_against_the_district(tmp_path):
    from capacity.data import load_district
    from capacity.pipeline import check_scenario

    district = load_district(TINY)
    good = """
[enrolment]
kindergarten = { "2020" = 0.9 }
primary = { "2020" = 1.0 }
[plan]
new_schools = { kindergarten = 1, primary = 1 }
"""
    check_scenario(load_scenario(write(tmp_path / "good.toml", good)), district)
    bad = write(tmp_path / "bad.toml", good.replace("primary = 1 }", "primry = 1 }"))
    with pytest.raises(ScenarioError) as info:
        check_scenario(load_scenario(bad), district)
    assert info.value.key == "plan.new_schools.primry"
    assert info.value.suggestion == "plan.new_schools.primary"
    assert info.value.file == bad.resolve()
    missing = write(tmp_path / "missing.toml", '[enrolment]\nprimary = { "2020" = 1.0 }\n')
    with pytest.raises(ScenarioError, match="kindergarten"):
        check_scenario(load_scenario(missing), district)
    streets = write(tmp_path / "streets.toml", good + 'growth_streets = ["A", "D"]\n'.replace(
        "growth", "\n# x\ngrowth"))
    # growth_streets after a table header belongs to [plan]: an unknown key there
    with pytest.raises(ScenarioError, match="unknown key"):
        load_scenario(streets)
    streets = write(tmp_path / "streets2.toml", 'growth_streets = ["A", "D"]\n' + good)
    with pytest.raises(ScenarioError, match="no street 'D'"):
        check_scenario(load_scenario(streets), district)


@pytest.fixture(scope="module")
def dongli():
    from capacity.data import load_district

    return load_district(ROOT / "data" / "streets")


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenarios_fit_the_dongli_data(path, dongli):
    """Levels, street codes and years of every shipped scenario exist in data/streets."""
    from capacity.pipeline import check_scenario

    check_scenario(load_scenario(path), dongli)


def test_baseline_projects_on_dongli(dongli):
    from capacity.pipeline import run_scenario

    run = run_scenario(SCENARIOS / "baseline.toml", solve=False, district=dongli)
    assert run.plan is None and run.name == "baseline"
    assert set(run.demand["level"]) == {"kindergarten", "primary", "junior", "senior",
                                        "vocational"}
    assert {"p05", "p50", "p95"} <= set(run.demand.columns)
    assert run.population["year"].max() == 2035


def test_tfr_path_and_fertility_multiplier_both_set_names_both_keys(tmp_path):
    f = write(tmp_path / "both.toml", '[projection]\ntfr_path = { "2025" = 1.0 }\n'
                                      'fertility_multiplier = 0.8\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(f)
    assert info.value.key == "projection.tfr_path" and info.value.line == 2
    assert "projection.tfr_path and projection.fertility_multiplier" in str(info.value)
    # the baseline's fertility_path is inherited: a child giving tfr_path must switch it off
    child = write(tmp_path / "child.toml", f'extends = "{(SCENARIOS / "baseline.toml").as_posix()}"\n'
                                           '[projection]\ntfr_path = { "2025" = 1.0 }\n')
    with pytest.raises(ScenarioError, match='fertility_path are both set .*baseline.toml.*"off"'):
        load_scenario(child)
    child.write_text(child.read_text() + 'fertility_path = "off"\n')
    assert load_scenario(child).projection.tfr_path == {2025: 1.0}


def test_stage_share_key_checked(tmp_path):
    f = write(tmp_path / "share.toml", '[stage_share]\nvocational = { "2020" = 1.5 }\n')
    with pytest.raises(ScenarioError, match="stage_share.vocational.2020: must be between 0 and 1"):
        load_scenario(f)


def test_stage_enrolment_checked_against_the_district(tmp_path):
    from capacity.data import load_district
    from capacity.pipeline import check_scenario

    district = load_district(ROOT / "data" / "streets")
    base = load_scenario(SCENARIOS / "baseline.toml")
    check_scenario(base, district)
    own = write(tmp_path / "own.toml", f'extends = "{(SCENARIOS / "baseline.toml").as_posix()}"\n'
                                       '[enrolment]\nvocational = { "2020" = 0.3 }\n')
    with pytest.raises(ScenarioError) as info:
        check_scenario(load_scenario(own), district)
    assert info.value.key == "enrolment.vocational" and info.value.file == own.resolve()
    assert "the stage senior_stage has a rate" in str(info.value)
    odd = write(tmp_path / "odd.toml", f'extends = "{(SCENARIOS / "baseline.toml").as_posix()}"\n'
                                       '[stage_share]\nprimary = { "2020" = 0.3 }\n')
    with pytest.raises(ScenarioError, match="stage_share.primary: only a level of a stage"):
        check_scenario(load_scenario(odd), district)


def test_baseline_births_follow_the_observed_birth_rates(dongli):
    import warnings as w

    from capacity.pipeline import run_scenario
    from capacity.projection import first_year_births

    said: list[str] = []
    with w.catch_warnings():
        w.simplefilter("error")            # the baseline joins its base year: no births warning
        run = run_scenario(SCENARIOS / "baseline.toml", solve=False, district=dongli,
                           progress=said.append)
    births = dict(zip(run.projection.years.tolist(), run.projection.births.sum(axis=1), strict=True))
    # 2023 against 2021: Tianjin 4.47 per mille against 5.30 (estimated) -> 0.843; the women of
    # childbearing age change a little as well
    assert births[2023] / births[2021] == pytest.approx(4.47 / 5.30, abs=0.01)
    # first year: the fall of the birth rate (0.8847) and nothing else
    seam = first_year_births(run.projection)
    assert seam.fertility_change == pytest.approx(0.8847)
    assert seam.unexplained == pytest.approx(1.0, abs=0.03)
    assert not any("warning" in s for s in said)


def test_housing_fast_says_where_early_completions_go(dongli):
    from capacity.pipeline import run_scenario

    said: list[str] = []
    fast = run_scenario(SCENARIOS / "housing_fast.toml", solve=False, district=dongli,
                        progress=said.append)
    base = run_scenario(SCENARIOS / "baseline.toml", solve=False, district=dongli)
    assert any("5,000 dwellings completed in 2021" in s and "occupied in 2021" in s for s in said)
    # fast has more early housing than the baseline, not less: 2021 + 2022 completions x 1.25
    # against the baseline's 2021 completions, 2.8 persons each (plus a few births)
    grow = (fast.population.groupby("year")["persons"].sum()
            - base.population.groupby("year")["persons"].sum())
    assert grow[2021] == pytest.approx(2.8 * (1.25 * (4000 + 4200) - 4000), rel=0.01)
