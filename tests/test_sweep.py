"""Sensitivity sweeps: the --vary argument, the runs, the measures, and a sweep on a Dask cluster.

The cluster tests run the tiny district on a ``LocalCluster`` of 2 worker processes and check
that every row of ``sweep.csv`` equals the same scenario run alone in this process.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from capacity.cli import main
from capacity.data import load_district
from capacity.pipeline import run_scenario
from capacity.scenario import ScenarioError, load_scenario
from capacity.sweep import (
    MEASURES,
    Vary,
    headline_measures,
    parse_vary,
    run_sweep,
    sweep_runs,
    write_sweep,
)

ROOT = Path(__file__).parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"

#: The tiny district's scenario of test_cli.py, with its data folder.
TINY_SCENARIO = f"""\
description = "test scenario for the tiny district"
data = "{TINY.as_posix()}"
[projection]
end_year = 2028
fertility_multiplier = 1.0
[uncertainty]
draws = 10
[enrolment]
kindergarten = {{ "2020" = 0.9, "2025" = 0.95 }}
primary = {{ "2020" = 1.0 }}
[plan]
first_year = 2021
last_year = 2027
plan_start = 2021
plan_end = 2025
new_schools = {{ kindergarten = 1, primary = 1 }}
count_rule = "exact"
places_rule = "off"
[catchment]
kindergarten = 1.5
primary = "district"
[solver]
time_limit = 60
"""


@pytest.fixture
def scenario(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SCENARIO, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------
# the --vary argument


def test_vary_list_keeps_toml_types():
    v = parse_vary("projection.fertility_multiplier=0.8,1,1.2")
    assert v == Vary("projection.fertility_multiplier", (0.8, 1, 1.2))
    assert [type(x) for x in v.values] == [float, int, float]
    assert parse_vary("objective.method=weighted,lexicographic").values == ("weighted", "lexicographic")
    assert parse_vary("plan.public_share_min=off,0.5").values == ("off", 0.5)


def test_vary_range():
    assert parse_vary("projection.housing_shift_years=-2:2:5").values == (-2, -1, 0, 1, 2)
    assert parse_vary("projection.fertility_multiplier=0.7:1.3:5").values == (0.7, 0.85, 1.0, 1.15, 1.3)
    assert parse_vary("projection.fertility_multiplier=1:2:3").values == (1.0, 1.5, 2.0)
    assert parse_vary("projection.fertility_multiplier=0.9:0.9:1").values == (0.9,)


@pytest.mark.parametrize("text, words", [
    ("projection.fertility_multiplier", "expected KEY=VALUES"),
    ("=1,2", "no key before '='"),
    ("projection.fertility_multiplier=", "give values"),
    ("projection.fertility_multiplier=1,,2", "give values"),
    ("projection.fertility_multiplier=0.7:1.3:0", "n a whole number"),
    ("projection.fertility_multiplier=0.7:1.3:x", "n a whole number"),
    ("projection.fertility_multiplier=1,1", "given twice"),
    ("projection.fertility_multiplier=1:1:2", "given twice"),
])
def test_vary_bad_argument(text, words):
    with pytest.raises(ScenarioError) as e:
        parse_vary(text)
    assert str(e.value).startswith("--vary: ") and words in str(e.value)


# ------------------------------------------------------------------------------------------------
# the runs


def test_one_at_a_time_runs(scenario):
    runs = sweep_runs(scenario, [parse_vary("projection.fertility_multiplier=0.8,1,1.2"),
                                 parse_vary("projection.housing_shift_years=-1,0,2")])
    # the baseline, then each key's values other than the scenario's own (1.0 and 0)
    assert [r.changed for r in runs] == [
        (), ("projection.fertility_multiplier",), ("projection.fertility_multiplier",),
        ("projection.housing_shift_years",), ("projection.housing_shift_years",)]
    assert [r.values["projection.fertility_multiplier"] for r in runs] == [1.0, 0.8, 1.2, 1.0, 1.0]
    assert [r.values["projection.housing_shift_years"] for r in runs] == [0, 0, 0, -1, 2]
    assert [r.scenario.projection.fertility_multiplier for r in runs] == [1.0, 0.8, 1.2, 1.0, 1.0]
    assert [r.scenario.projection.housing_shift_years for r in runs] == [0, 0, 0, -1, 2]
    assert runs[0].scenario == load_scenario(scenario)


def test_grid_runs(scenario):
    runs = sweep_runs(scenario, [parse_vary("projection.fertility_multiplier=0.8,1"),
                                 parse_vary("enrolment.kindergarten.2025=0.95,1.0,0.9")], grid=True)
    assert len(runs) == 6
    pairs = [(r.scenario.projection.fertility_multiplier, r.scenario.enrolment.paths["kindergarten"][2025])
             for r in runs]
    assert pairs == [(0.8, 0.95), (0.8, 1.0), (0.8, 0.9), (1.0, 0.95), (1.0, 1.0), (1.0, 0.9)]
    # the rest of the table is inherited
    assert all(r.scenario.enrolment.paths["kindergarten"][2020] == 0.9 for r in runs)
    assert runs[3].changed == ()
    assert runs[4].changed == ("enrolment.kindergarten.2025",)


def test_same_parameters_run_once(scenario):
    runs = sweep_runs(scenario, [parse_vary("projection.fertility_multiplier=1,1.0")], grid=True)
    assert len(runs) == 1


@pytest.mark.parametrize("varies, words", [
    (["projection.fertility_multiplir=1,2"], "did you mean 'projection.fertility_multiplier'"),
    (["projection.fertility_multiplier=-1,1"], "must be at least 0"),
    (["projection.housing_shift_years=0.5"], "expected an integer"),
    (["class_size.standard.primary=big"], "expected a number"),
    (["name=x"], "cannot be overridden"),
    (["projection.end_year=2026"], "must be at least plan.last_year"),
    (["projection.fertility_multiplier=1", "projection.fertility_multiplier=2"], "varied twice"),
    ([], "at least one --vary"),
])
def test_bad_vary_is_named(scenario, varies, words):
    with pytest.raises(ScenarioError) as e:
        sweep_runs(scenario, [parse_vary(v) for v in varies])
    assert str(e.value).startswith("--vary") and words in str(e.value)


def test_level_unknown_to_the_district_fails_before_any_run(scenario):
    with pytest.raises(ScenarioError) as e:
        run_sweep(scenario, ["class_size.standard.senior=40,45"], scheduler="tcp://unused:1")
    assert "class_size.standard.senior" in str(e.value) and "no such level" in str(e.value)


# ------------------------------------------------------------------------------------------------
# measures


class _Plan:
    def __init__(self, balance, schedule):
        self.balance, self.schedule = balance, schedule


def test_headline_measures_by_hand():
    demand = pd.DataFrame({"street": ["A", "B"] * 3, "level": "primary",
                           "year": [2021, 2021, 2022, 2022, 2023, 2023],
                           "pupils": [100.0, 50.0, 120.0, 60.0, 90.0, 40.0]})
    balance = pd.DataFrame({
        "street": ["A", "B"] * 2, "level": "primary", "year": [2021, 2021, 2022, 2022],
        "pupils": [100.0, 50.0, 120.0, 60.0], "places": [90.0, 60.0, 90.0, 100.0],
        "shortfall": [5.0, 0.0, 10.0, 0.0], "overcrowded": [5.0, 0.0, 10.0, 0.0],
        "enrolled_here": [95.0, 50.0, 100.0, 70.0]})
    schedule = pd.DataFrame({"level": ["primary", "primary"], "cost": [10.0, 12.5]})
    m = headline_measures(demand, _Plan(balance, schedule), ["kindergarten", "primary"], 2021, 2022)
    assert list(m["level"]) == ["primary"]  # no kindergarten demand: no row
    r = m.iloc[0]
    assert (r.peak_pupils, r.peak_pupils_year) == (180.0, 2022)  # 2023 is after last_year
    assert (r.peak_places_short, r.peak_places_short_year) == (20.0, 2022)
    # 2022: A 90 - (100 - 10) = 0, B 100 - 70 = 30
    assert r.spare_places_end == 30.0
    assert (r.schools_opened, r.cost) == (2.0, 22.5)


def test_projection_only_measures_are_nan():
    demand = pd.DataFrame({"street": ["A"], "level": ["primary"], "year": [2021], "pupils": [7.0]})
    r = headline_measures(demand, None, ["primary"], 2021, 2021).iloc[0]
    assert r.peak_pupils == 7.0
    assert all(math.isnan(r[c]) for c in list(MEASURES)[2:])


# ------------------------------------------------------------------------------------------------
# on a Dask cluster of 2 processes


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=40) as cluster, Client(cluster) as c:
        yield c


def _alone(run) -> pd.DataFrame:
    """The run's scenario run alone in this process (HiGHS on one thread, as on the workers)."""
    s = run.scenario
    assert s.solver.threads == 1
    r = run_scenario(s, district=load_district(TINY))
    return headline_measures(r.demand, r.plan, ["kindergarten", "primary"], s.plan.first_year,
                             s.plan.last_year)


def test_sweep_rows_equal_runs_alone(scenario, client, tmp_path):
    # new_schools.primary = 5 cannot be met (one primary site): that run fails, the others go on
    result = run_sweep(scenario, ["projection.fertility_multiplier=0.5,1,2",
                                  "projection.housing_shift_years=-1:1:3",
                                  "plan.new_schools.primary=1,5"], scheduler=client)
    assert len(result.runs) == 6
    table = result.table
    assert [r.run for r, _ in result.failed] == [5]
    failed = table[table["run"] == 5]
    assert len(failed) == 1 and failed["plan.new_schools.primary"].item() == 5
    assert failed["status"].item() == "failed"
    assert "primary needs 5 new schools" in failed["error"].item()
    for run in result.runs[:5]:
        rows = table[table["run"] == run.run]
        assert (rows["status"] == "optimal").all()
        for k, v in run.values.items():
            assert (rows[k] == v).all()
        got = rows[["level", *MEASURES]].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, _alone(run), check_exact=True)
    # different assumptions, different results
    kg = table[table["level"] == "kindergarten"].set_index("run")
    assert kg.loc[3, "peak_places_short"] != kg.loc[0, "peak_places_short"]

    paths = write_sweep(tmp_path, result)
    names = {p.name for p in paths}
    assert names == {"sweep.csv", "tornado_kindergarten.png", "tornado_primary.png",
                     "sweep_projection.fertility_multiplier.png",
                     "sweep_projection.housing_shift_years.png",
                     "sweep_plan.new_schools.primary.png"}
    csv = pd.read_csv(tmp_path / "sweep.csv")
    assert list(csv.columns[:5]) == ["run", "projection.fertility_multiplier",
                                     "projection.housing_shift_years", "plan.new_schools.primary",
                                     "changed"]
    assert len(csv) == 5 * 2 + 1


def test_project_only_grid(scenario, client, tmp_path):
    result = run_sweep(scenario, ["projection.fertility_multiplier=0.5,2",
                                  "projection.housing_shift_years=0,2"],
                       grid=True, solve=False, scheduler=client.scheduler.address)
    t = result.table
    assert len(result.runs) == 4 and len(t) == 8 and (t["status"] == "projected").all()
    assert t["peak_places_short"].isna().all()
    assert result.workers == 2
    # projection only: the same demand as projecting alone
    run = result.runs[3]
    alone = run_scenario(run.scenario, district=load_district(TINY), solve=False)
    m = headline_measures(alone.demand, None, ["kindergarten", "primary"], 2021, 2027)
    got = t[t["run"] == 3][["level", *MEASURES]].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, m, check_exact=True)
    # no run at the scenario's own fertility (1.0): no baseline, yet the figures are written
    assert (t["changed"] != "").all()
    names = {p.name for p in write_sweep(tmp_path, result)}
    assert {"tornado_primary.png", "sweep_projection.fertility_multiplier.png"} <= names


# ------------------------------------------------------------------------------------------------
# the command


def test_sweep_command(scenario, tmp_path, capsys):
    out = tmp_path / "sw"
    assert main(["sweep", str(scenario), "--vary", "projection.fertility_multiplier=0.5,1",
                 "--workers", "2", "--out", str(out), "-q"]) == 0
    assert (out / "sweep.csv").is_file() and (out / "tornado_primary.png").is_file()
    assert "Swept 2 runs on 2 Dask workers" in capsys.readouterr().out


def test_sweep_command_failed_run_exit_status(scenario, tmp_path, capsys):
    out = tmp_path / "sw"
    assert main(["sweep", str(scenario), "--vary", "plan.new_schools.primary=1,5", "--workers", "1",
                 "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "run 1 failed (plan.new_schools.primary=5)" in err[0]
    assert "primary needs 5 new schools" in err[0]
    assert err[-1].startswith("capacity: error: 1 of 2 runs failed")
    t = pd.read_csv(out / "sweep.csv")
    assert t["status"].tolist() == ["optimal", "optimal", "failed"]


@given(lo=st.floats(-50, 50, allow_nan=False), span=st.floats(0.01, 50, allow_nan=False),
       n=st.integers(1, 30))
def test_vary_range_property(lo, span, n):
    """A range has n distinct values from lo to hi, in order (lo:lo:n with n > 1 repeats a value:
    an error, tested above)."""
    lo, hi = round(lo, 3), round(lo + span, 3)
    values = parse_vary(f"projection.fertility_multiplier={lo!r}:{hi!r}:{n}").values
    assert len(values) == n
    assert values[0] == pytest.approx(lo) and values[-1] == pytest.approx(hi if n > 1 else lo)
    assert all(a < b for a, b in itertools.pairwise(values))


def test_sweep_command_bad_vary_is_one_line(scenario, capsys):
    assert main(["sweep", str(scenario), "--vary", "projection.fertility_multiplier=-1", "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0] == ("capacity: error: --vary: projection.fertility_multiplier: must be at "
                      "least 0, got -1.0")
