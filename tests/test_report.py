"""Tests of capacity.report: files, sheets, layers, round trips and the comparison table."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from fixtures import synthetic_plan as sp

from capacity import report


@pytest.fixture(scope="module")
def tiny():
    return sp.district()


@pytest.fixture(scope="module")
def written(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("plan")
    demand = sp.demand_table()
    plan, cf = sp.make_plan(demand), sp.make_plan(demand, {})
    paths = report.write_plan(out, district=tiny, scenario_name="tiny_base", plan=plan,
                              counterfactual=cf, population=sp.population_table(), demand=demand)
    return out, paths, plan, cf, demand


def test_write_plan_files(written):
    out, paths, *_ = written
    names = {p.name for p in paths}
    assert names == {"schedule.csv", "balance.csv", "assignment.csv", "headline.csv", "summary.md",
                     "solver.json", "timings.json", "plan.xlsx", "plan.gpkg"}
    assert all(p.exists() and p.parent == out for p in paths)


def test_csv_round_trip(written):
    out, _, plan, _, _ = written
    bal = pd.read_csv(out / "balance.csv", dtype={"street": str})
    # street names beside every code a person reads; the planner's measures before the solver's
    assert list(bal.columns[:14]) == ["street", "name_zh", "name_pinyin", "level", "year", "pupils",
                                      "places", "places_short", "classes_short", "spare_places",
                                      "utilisation", "assigned", "shortfall", "overcrowded"]
    # readable order: level (district order), year, street
    assert list(bal["level"].drop_duplicates()) == ["kindergarten", "primary"]
    first = bal[bal["level"] == "kindergarten"]
    assert first["year"].is_monotonic_increasing
    assert pd.api.types.is_integer_dtype(bal["year"]) and pd.api.types.is_integer_dtype(bal["places"])
    merged = bal.merge(plan.balance, on=["street", "level", "year"], suffixes=("", "_p"))
    assert len(merged) == len(plan.balance)
    for c in ("pupils", "places", "shortfall", "overcrowded"):
        np.testing.assert_allclose(merged[c], merged[c + "_p"], atol=1e-3)
    sch = pd.read_csv(out / "schedule.csv")
    assert list(sch.columns[:8]) == ["site", "street", "name_zh", "name_pinyin", "level", "open_year",
                                     "classes", "places"]
    assert pd.api.types.is_integer_dtype(sch["open_year"])
    assert sch.to_dict("list")["site"] == ["k1", "p1"]
    assert sch["places"].tolist() == [120, 180] and pd.api.types.is_integer_dtype(sch["places"])
    asg = pd.read_csv(out / "assignment.csv")
    assert list(asg.columns) == ["street", "name_zh", "name_pinyin", "level", "year", "site", "pupils"]
    assert math.isclose(asg["pupils"].sum(), plan.balance["assigned"].sum(), rel_tol=1e-9)


def test_solver_json(written):
    out, _, plan, cf, _ = written
    info = json.loads((out / "solver.json").read_text(encoding="utf-8"))
    assert info["scenario"] == "tiny_base"
    assert info["status"] == "Optimal" and info["gap"] == 0.0 and info["optimal"] is True
    assert info["totals"]["new_schools"] == {"kindergarten": 1, "primary": 1}
    assert info["totals"]["shortfall_by_level"] == pytest.approx(sp.shortfall_by_hand())
    assert info["totals"]["shortfall_without_new"] == pytest.approx(cf.balance["shortfall"].sum())


def test_solver_json_safe_floats(tiny, tmp_path):
    demand = sp.demand_table()
    plan = sp.make_plan(demand, report=sp.Report(objective=float("nan"), bound=float("inf"),
                                                 gap=np.float64(0.5), optimal=False))
    report.write_plan(tmp_path, district=tiny, scenario_name="x", plan=plan)
    text = (tmp_path / "solver.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    info = json.loads(text)
    assert info["objective"] is None and info["bound"] is None and info["gap"] == 0.5


def test_workbook(written):
    out, _, plan, _, demand = written
    from openpyxl import load_workbook

    wb = load_workbook(out / "plan.xlsx")
    assert wb.sheetnames[0] == "摘要 summary"  # the officials' page first
    for sheet in ("totals", "headline", "schedule", "balance", "assignment", "demand", "solver", "streets",
                  "population", "balance_without_new"):
        assert sheet in wb.sheetnames
        assert wb[sheet].freeze_panes == "A2"
    streets = pd.read_excel(out / "plan.xlsx", sheet_name="streets")
    assert streets.to_dict("list") == {"code": ["A", "B", "C"], "name_zh": ["甲", "乙", "丙"],
                                       "name_pinyin": ["Jia", "Yi", "Bing"]}
    bal = pd.read_excel(out / "plan.xlsx", sheet_name="balance")
    assert list(bal.columns[:4]) == ["street", "name_zh", "name_pinyin", "level"]
    assert bal.loc[bal["street"] == "C", "name_zh"].unique().tolist() == ["丙"]
    np.testing.assert_allclose(bal["shortfall"].sum(), plan.balance["shortfall"].sum(), atol=0.5)
    d = pd.read_excel(out / "plan.xlsx", sheet_name="demand")
    assert {"p05", "p50", "p95"} <= set(d.columns)
    np.testing.assert_allclose(d["pupils"].sum(), demand["pupils"].sum())
    summ = pd.read_excel(out / "plan.xlsx", sheet_name="totals")
    kg = summ[(summ["level"] == "kindergarten")]
    assert kg["shortfall"].sum() == pytest.approx(sp.shortfall_by_hand()["kindergarten"])
    solver = pd.read_excel(out / "plan.xlsx", sheet_name="solver")
    assert "status" in set(solver["item"])
    # column widths are set from the content
    assert wb["balance"].column_dimensions["A"].width >= len("street")


def test_workbook_cells_by_hand(tmp_path):
    """Missing values are empty cells; numbers keep their type and get their format."""
    from openpyxl import load_workbook

    table = pd.DataFrame({"street": ["甲", " B"], "year": [2025, 2026],
                          "pupils": [1234.56, np.nan], "classes": pd.array([12, None], dtype="Int64"),
                          "public": [True, False]})
    path = report.write_workbook(tmp_path / "t.xlsx", {"t": table, "empty": pd.DataFrame()})
    ws = load_workbook(path)["t"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows == [["street", "year", "pupils", "classes", "public"],
                    ["甲", 2025, 1234.56, 12, True],
                    [" B", 2026, None, None, False]]
    assert [ws.cell(2, j).number_format for j in (2, 3, 4)] == ["0", "#,##0.0", "#,##0"]
    assert ws.cell(1, 1).font.b and ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:E3"
    assert ws.column_dimensions["A"].width == len("street") + 3


def test_geopackage(written, tiny):
    out, _, plan, cf, _ = written
    import pyogrio

    layers = {name for name, _ in pyogrio.list_layers(out / "plan.gpkg")}
    assert {"streets", "sites", "balance_by_year", "existing_supply"} <= layers
    long = gpd.read_file(out / "plan.gpkg", layer="balance_by_year")
    # one row per street, level and year, with a date QGIS's temporal controller can play
    assert len(long) == len(plan.balance) and long["date"].str.match(r"^\d{4}-01-01$").all()
    assert {"name_zh", "places_short", "spare_places", "utilisation"} <= set(long.columns)
    assert pd.api.types.is_integer_dtype(long["year"])
    sup = gpd.read_file(out / "plan.gpkg", layer="existing_supply")
    assert sup["places"].sum() == tiny.supply["places"].sum() and set(sup.geom_type) == {"Point"}
    if "flows" in layers:
        fl = gpd.read_file(out / "plan.gpkg", layer="flows")
        assert (fl["street"] != fl["site_street"]).all() and set(fl.geom_type) == {"LineString"}
    # open_year is an integer field (empty for sites that do not open)
    info = pyogrio.read_info(out / "plan.gpkg", layer="sites")
    assert dict(zip(info["fields"], info["dtypes"], strict=True))["open_year"] == "int64"
    st = gpd.read_file(out / "plan.gpkg", layer="streets")
    assert st.crs.to_epsg() == 4326
    assert set(st.geom_type) <= {"Polygon", "MultiPolygon"}
    assert list(st.columns[:3]) == ["street", "name_zh", "name_pinyin"]
    for lv in ("kindergarten", "primary"):
        for y in (2023, 2025):  # latest opening year and last year
            for m in ("pupils", "places", "shortfall", "overcrowded", "shortfall_without_new"):
                assert f"{lv}_{y}_{m}" in st.columns
    assert "primary_2021_shortfall" not in st.columns
    b = plan.balance.set_index(["street", "level", "year"])
    for r in st.itertuples():
        assert r.primary_2025_shortfall == pytest.approx(b.loc[(r.street, "primary", 2025), "shortfall"], abs=0.05)
        assert r.kindergarten_2023_places == b.loc[(r.street, "kindergarten", 2023), "places"]
    assert pd.api.types.is_integer_dtype(st["primary_2025_places"])
    c = st.set_index("street")
    assert c.loc["C", "primary_2023_shortfall_without_new"] == pytest.approx(140 - 0, abs=0.05)

    si = gpd.read_file(out / "plan.gpkg", layer="sites")
    assert set(si.geom_type) == {"Point"}
    assert list(si["site"]) == ["k1", "p1", "k2"]  # opened first
    assert list(si["opened"]) == [True, True, False]
    k1 = si.set_index("site").loc["k1"]
    assert (k1["open_year"], k1["classes"], k1["places"], k1["street"]) == (2022, 4, 120, "C")
    assert si.set_index("site").loc["k2", ["open_year", "classes"]].isna().all()
    assert si.set_index("site").loc["k1", "sizes"] == "2;4"
    assert si.geometry.x.tolist()[0] == pytest.approx(0.0225)


def test_selected_years():
    demand = sp.demand_table()
    plan = sp.make_plan(demand)
    assert report.selected_years(plan) == [2023, 2025]
    assert report.selected_years(plan, plan_end=2024) == [2024, 2025]
    assert report.selected_years(sp.make_plan(demand, {})) == [2025]


def test_plan_summary(tiny):
    demand = sp.demand_table()
    text = report.plan_summary(sp.make_plan(demand), district=tiny,
                               counterfactual=sp.make_plan(demand, {}), scenario_name="tiny_base")
    assert "tiny_base" in text and "Optimal" in text and "gap 0%" in text
    assert "kindergarten: 1 school, 120 places — 2022: 丙(4)" in text
    assert "primary: 1 school, 180 places — 2023: 丙(4)" in text
    lines = {ln.split()[0]: ln.split() for ln in text.splitlines() if ln.startswith("  primary")
             or ln.startswith("  kindergarten")}
    assert lines["primary"][1] == "164" and lines["kindergarten"][1] == "24"
    assert report.plan_summary(sp.make_plan(demand, {})).count("none") == 1


def test_plan_summary_of_a_plan_not_proven(tiny):
    """A time-limit stop: the solver still says "Optimal"; the summary says it is not proven."""
    demand = sp.demand_table()
    stopped = sp.Report(sol_status="Solution Found", optimal=False, gap=0.123, bound=11.0)
    text = report.plan_summary(sp.make_plan(demand, report=stopped), district=tiny)
    first = text.splitlines()[0]
    assert "NOT PROVEN OPTIMAL" in first and "gap 12%" in first
    assert "(optimal)" not in first


def test_compare_table_hand_checked(tiny):
    runs = {"base": sp.run("base", dist=tiny), "low": sp.run("low", 0.5, dist=tiny),
            "none": sp.run("none", new={}, dist=tiny)}
    t = report.compare_table(runs)
    assert list(t.columns) == ["measure", "level", "unit", "base", "low", "none"]
    row = t.set_index(["measure", "level"])
    # kindergarten 2025: A 50 + B 30 + C (40 + 4 * 40) = 280; primary 150 + 160 + 220 = 530
    assert row.loc[("pupils 2025", "kindergarten"), "base"] == 280
    assert row.loc[("pupils 2025", "primary"), "low"] == 265
    assert ("pupils 2030", "primary") not in row.index  # no run reaches 2030
    assert row.loc[("shortfall", "kindergarten"), "base"] == pytest.approx(24)
    assert row.loc[("shortfall", "primary"), "base"] == pytest.approx(164)
    assert row.loc[("new schools", "primary"), "none"] == 0
    assert row.loc[("new places", "kindergarten"), "base"] == 120
    assert row.loc[("shortfall", "primary"), "none"] == row.loc[("shortfall without new schools", "primary"), "base"]
    assert row.loc[("shortfall", "primary"), "unit"] == "pupil-years"

    s = report.compare_schools_table(runs)
    assert list(s.columns[:5]) == ["level", "street", "name_zh", "name_pinyin", "open_year"]
    assert s[["base schools", "low schools", "none schools"]].to_numpy().tolist() == [[1, 1, 0], [1, 1, 0]]
    assert s["base places"].tolist() == [120, 180]


def test_write_compare(tiny, tmp_path):
    runs = {"base": sp.run("base", dist=tiny), "none": sp.run("none", new={}, dist=tiny)}
    runs["proj"] = sp.run("proj", dist=tiny)
    runs["proj"].plan = None  # a projection-only run has no plan rows
    paths = report.write_compare(tmp_path, runs)
    assert [p.name for p in paths] == ["compare.csv", "compare_schools.csv", "compare.xlsx"]
    t = pd.read_csv(paths[0])
    assert t.loc[t["measure"] == "shortfall", "proj"].isna().all()
    assert pd.ExcelFile(paths[2]).sheet_names == ["assumptions", "compare", "schools", "demand"]


# --------------------------------------------------------------------------------------------------
# what differs between scenarios


#: Three scenario files: a base, lower fertility, and no new schools (with the rules that go with it).
SCENARIOS = {
    "base": """
[projection]
end_year = 2030
fertility_multiplier = 1.0
[plan]
new_schools = { kindergarten = 30, primary = 9, junior = 4, senior = 2 }
kindergarten_new_places = 9180
places_rule = "exact"
public_share_min = 0.5
inclusive_share_min = 0.83
""",
    "low_fertility": """
extends = "base.toml"
[projection]
fertility_multiplier = 0.8
""",
    "no_new_schools": """
extends = "base.toml"
[plan]
new_schools = { kindergarten = 0, primary = 0, junior = 0, senior = 0 }
places_rule = "off"
public_share_min = "off"
inclusive_share_min = "off"
""",
}


@pytest.fixture(scope="module")
def shipped_runs(tmp_path_factory):
    """Runs of the three scenarios (only ``scenario`` and ``demand`` are read)."""
    from types import SimpleNamespace

    from capacity.scenario import load_scenario

    folder = tmp_path_factory.mktemp("scenarios")
    for name, text in SCENARIOS.items():
        (folder / f"{name}.toml").write_text(text, encoding="utf-8")
    demand = sp.demand_table()
    return {n: SimpleNamespace(scenario=load_scenario(folder / f"{n}.toml"), demand=demand, plan=None,
                               counterfactual=None, district=None)
            for n in SCENARIOS}


def test_assumptions_table_lists_what_differs(shipped_runs):
    t = report.assumptions_table(shipped_runs).set_index("key")
    assert list(t.columns) == ["base", "low_fertility", "no_new_schools"]
    assert t.loc["projection.fertility_multiplier"].tolist() == [1.0, 0.8, 1.0]
    assert t.loc["plan.new_schools.primary"].tolist() == [9, 9, 0]
    assert t.loc["plan.public_share_min"].tolist() == [0.5, 0.5, "off"]
    assert t.loc["plan.places_rule"].tolist() == ["exact", "exact", "off"]
    assert "projection.end_year" not in t.index  # the same in all three
    same = report.assumptions_table({"a": shipped_runs["base"], "b": shipped_runs["base"]})
    assert same.empty and list(same.columns) == ["key", "a", "b"]


def test_scenario_labels_name_differing_assumptions(shipped_runs):
    labels = report.scenario_labels(shipped_runs, width=200)
    assert labels["low_fertility"] == "low_fertility: fertility_multiplier=0.8"
    assert labels["base"].startswith("base (reference): fertility_multiplier=1.0, ")
    assert labels["no_new_schools"].startswith("no_new_schools: new_schools.kindergarten=0, ")
    assert labels["no_new_schools"].endswith("+4 more")  # 3 named, 4 more differ
    assert max(len(line) for line in report.scenario_labels(shipped_runs)["base"].split("\n")) <= 44


def test_compare_csv_starts_with_assumptions(shipped_runs, tmp_path):
    paths = report.write_compare(tmp_path, shipped_runs)
    t = pd.read_csv(paths[0], keep_default_na=False)
    n = len(report.assumptions_table(shipped_runs))
    assert n >= 5 and (t["unit"].iloc[:n] == "assumption").all()
    assert (t["unit"].iloc[n:] != "assumption").all()
    assert t.loc[t["measure"] == "projection.fertility_multiplier", "low_fertility"].item() == "0.8"


def test_with_a_solved_plan(tiny, tmp_path):
    """The real optimiser's Plan (extra columns, SolverReport with stages) goes through unchanged."""
    from capacity.optimize import PlanParameters, SchoolPlanModel, SolverOptions

    demand = sp.demand_table()
    params = PlanParameters(first_year=2021, last_year=2025, plan_start=2021, plan_end=2025,
                            new_schools={"kindergarten": 1, "primary": 1})
    model = SchoolPlanModel(demand[["street", "level", "year", "pupils"]], tiny.supply, tiny.sites,
                            tiny.distance_km(), params).solve(SolverOptions(time_limit=30))
    cf = model.without_new_schools().solve(SolverOptions(time_limit=30))
    report.write_plan(tmp_path, district=tiny, scenario_name="solved", plan=model.plan,
                      counterfactual=cf.plan, population=sp.population_table(), demand=demand)
    info = json.loads((tmp_path / "solver.json").read_text())
    assert info["stages"][0]["term"] == "shortfall"
    assert info["totals"]["shortfall"] == pytest.approx(model.plan.balance["shortfall"].sum())
    sch = pd.read_csv(tmp_path / "schedule.csv")
    assert sch["site"].tolist() == model.plan.schedule["site"].tolist()
    si = gpd.read_file(tmp_path / "plan.gpkg", layer="sites")
    assert si["opened"].sum() == len(model.plan.schedule)
    asg = pd.read_excel(tmp_path / "plan.xlsx", sheet_name="assignment")
    assert {"site_street", "site_name_zh"} <= set(asg.columns)
