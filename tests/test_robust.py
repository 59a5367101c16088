"""Robust plans: settings, futures, in-sample and out-of-sample comparison, the [robust] scenario
table, the richer projection draws and the outputs of ``capacity plan``."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capacity.cli import main
from capacity.data import load_district
from capacity.optimize import SchoolPlanModel
from capacity.optimize.evaluate import ScheduleEvaluator
from capacity.optimize.stochastic import CVAR_TIEBREAK, RobustPlanModel, risk_measure
from capacity.projection import ProjectionAssumptions, Uncertainty, draw_factors, project_draws
from capacity.robust import RobustSettings, kmedoids, run_robust, select_futures
from capacity.scenario import ScenarioError, load_scenario

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import TINY, TINY_SCENARIO  # noqa: E402
from test_stochastic import EXACT, tiny  # noqa: E402

ROBUST = TINY_SCENARIO + """
[robust]
draws = 3
select = "kmedoids"
pool = 9
measure = "cvar"
alpha = 0.5
evaluation_draws = 20
"""


@pytest.fixture
def robust_scenario(tmp_path) -> Path:
    path = tmp_path / "tiny_robust.toml"
    path.write_text(ROBUST, encoding="utf-8")
    return path


# -- measures and selection ---------------------------------------------------------------------

def test_cvar_by_hand():
    v, w = [0.0, 10.0, 20.0, 30.0], [1, 1, 1, 1]
    assert risk_measure(v, w, "expected") == pytest.approx(15.0)
    assert risk_measure(v, w, "cvar", 0.5) == pytest.approx(25.0)        # mean of 20 and 30
    assert risk_measure(v, w, "cvar", 0.6) == pytest.approx((30 * 0.25 + 20 * 0.15) / 0.4)
    assert risk_measure(v, w, "cvar", 0.0) == pytest.approx(15.0)


def test_kmedoids_two_clusters():
    X = np.array([[0.0], [0.1], [0.2], [10.0], [10.1]])
    med, sizes = kmedoids(X, 2, seed=1)
    assert list(med) == [1, 3] or list(med) == [1, 4]
    assert list(sizes) == [3, 2]
    idx, w = select_futures(X, RobustSettings(draws=2, select="kmedoids", pool=5), seed=1)
    assert w.sum() == pytest.approx(1.0) and list(w) == pytest.approx([0.6, 0.4])
    idx, w = select_futures(X, RobustSettings(draws=3), seed=1)
    assert list(idx) == [0, 1, 2] and list(w) == pytest.approx([1 / 3] * 3)


def test_schedule_changes_by_hand():
    from capacity.robust import schedule_changes
    rob = pd.DataFrame({"site": ["a", "b"], "street": ["S", "S"], "level": "primary", "open_year": [2022, 2023],
                        "places": [540.0, 270.0]})
    det = pd.DataFrame({"site": ["b", "c"], "street": ["S", "T"], "level": "primary", "open_year": [2022, 2022],
                        "places": [540.0, 270.0]})
    ch = schedule_changes(rob, det)
    assert ch[["street", "year", "robust_places", "deterministic_places", "difference"]].values.tolist() == [
        ["S", 2023, 270.0, 0.0, 270.0], ["T", 2022, 0.0, 270.0, -270.0]]
    # places made inclusive are not places opened: a conversion never offsets a new school
    rob = pd.DataFrame({"street": ["S"], "level": "kindergarten", "open_year": [2022], "places": [30.0],
                        "kind": ["conversion"]})
    det = pd.DataFrame({"street": ["S"], "level": "kindergarten", "open_year": [2022], "places": [30.0],
                        "kind": ["new"]})
    ch = schedule_changes(rob, det)
    assert ch[["kind", "difference"]].values.tolist() == [["conversion", 30.0], ["new", -30.0]]


# -- the model's bad inputs -----------------------------------------------------------------------

def test_robust_model_bad_inputs():
    demands, supply, sites, dist, params = tiny(0, 2, 2, 0.0)
    with pytest.raises(ValueError, match="weights: expected 2"):
        RobustPlanModel(demands, [1.0], supply, sites, dist, params)
    with pytest.raises(ValueError, match="measure must be"):
        RobustPlanModel(demands, None, supply, sites, dist, params, measure="worst")
    with pytest.raises(ValueError, match="alpha must be"):
        RobustPlanModel(demands, None, supply, sites, dist, params, measure="cvar", alpha=1.0)
    with pytest.raises(ValueError, match="at least one future"):
        RobustPlanModel([], None, supply, sites, dist, params)
    with pytest.raises(ValueError, match="weights: must be"):
        RobustPlanModel(demands, [0.0, 0.0], supply, sites, dist, params)


def test_evaluation_bad_inputs():
    demands, supply, sites, dist, params = tiny(0, 2, 2, 0.0)
    long = pd.concat([d.assign(future=k) for k, d in enumerate(demands)])
    ev = ScheduleEvaluator(long, supply, sites, dist, params)
    with pytest.raises(ValueError, match="not among the candidate sites"):
        ev.evaluate(pd.DataFrame({"site": ["zz"], "open_year": [2021], "classes": [1]}))
    with pytest.raises(ValueError, match="cannot open in 2021 with 7 classes"):
        ev.evaluate(pd.DataFrame({"site": ["s0"], "open_year": [2021], "classes": [7]}))
    with pytest.raises(ValueError, match="missing column 'future'"):
        ScheduleEvaluator(demands[0], supply, sites, dist, params)


# -- in sample: never worse than the deterministic schedule ----------------------------------------

@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), measure=st.sampled_from(["expected", "cvar"]),
       catchment=st.sampled_from([0.0, None]))
def test_robust_never_worse_in_sample(seed, measure, catchment):
    demands, supply, sites, dist, params = tiny(seed, 3, 3, catchment)
    central = demands[0].assign(pupils=np.mean([d["pupils"].to_numpy() for d in demands], axis=0))
    det = SchoolPlanModel(central, supply, sites, dist, params).solve(EXACT).plan.schedule
    rob = RobustPlanModel(demands, None, supply, sites, dist, params, measure=measure,
                          alpha=0.6).solve(EXACT).plan.schedule
    long = pd.concat([d.assign(future=k) for k, d in enumerate(demands)], ignore_index=True)
    ev = ScheduleEvaluator(long, supply, sites, dist, params)
    w = np.full(3, 1 / 3)

    def key(schedule):
        per = ev.evaluate(schedule, travel=True).levels.groupby("future")[
            ["shortfall", "overcrowded", "travel"]].sum()
        out = []
        for c in ("shortfall", "overcrowded", "travel"):
            m = risk_measure(per[c], w, measure, 0.6)
            out.append(m + (CVAR_TIEBREAK * risk_measure(per[c], w, "expected") if measure == "cvar" else 0))
        return out
    kr, kd = key(rob), key(det)
    for r, d in zip(kr, kd, strict=True):          # lexicographically no worse
        assert r <= d + 1e-6 * max(1.0, abs(d))
        if r < d - 1e-6 * max(1.0, abs(d)):
            break


# -- out of sample and the pipeline ------------------------------------------------------------------

def test_out_of_sample_seeds_differ_from_in_sample(robust_scenario):
    s = replace(load_scenario(robust_scenario), data=None)
    d = load_district(TINY)
    r = s.robust
    seed, eval_seed = r.seeds(s.uncertainty.seed)
    assert eval_seed != seed
    from capacity.robust import _draw_demand
    a = _draw_demand(d, s, seed, 5)
    b = _draw_demand(d, s, eval_seed, 5)
    assert not np.allclose(a["pupils"].to_numpy(), b["pupils"].to_numpy())
    # the deterministic schedule here is empty (no new school)
    res = run_robust(d, s, r, pd.DataFrame({"site": [], "open_year": [], "classes": [], "street": [],
                                            "level": []}),
                     _draw_demand(d, s, seed, 1).drop(columns="future"))
    assert res.seeds == (seed, eval_seed)
    assert res.robustness["plan"].unique().tolist() == ["robust", "deterministic"]
    with pytest.raises(ValueError, match="must differ from the in-sample seed"):
        RobustSettings(seed=5, evaluation_seed=5).seeds(1)


def test_plan_with_robust_writes_robustness(tmp_path, robust_scenario):
    out = tmp_path / "out"
    assert main(["plan", str(robust_scenario), "--data", str(TINY), "--out", str(out)]) == 0
    rob = pd.read_csv(out / "robustness.csv")
    assert list(rob.columns) == ["plan", "level", "year", "expected_places_short", "p90_places_short",
                                 "p95_places_short", "prob_short"]
    assert set(rob["plan"]) == {"robust", "deterministic"}
    assert (rob["p95_places_short"] >= rob["p90_places_short"] - 1e-9).all()
    assert rob["prob_short"].between(0, 1).all()
    for name in ("robust_places_short.png", "robust_street_short.png", "robust_schedule.csv",
                 "robust_value.csv", "robust_schools.csv", "robust_streets.csv", "robust_changes.csv"):
        assert (out / name).is_file(), name
    info = json.loads((out / "solver.json").read_text(encoding="utf-8"))["robust"]
    assert info["draws"] == 3 and info["measure"] == "cvar" and info["alpha"] == 0.5
    assert info["evaluation_draws"] == 20 and info["seed"] != info["evaluation_seed"]
    assert len(info["weights"]) == 3 and sum(info["weights"]) == pytest.approx(1.0)


# -- the [robust] table ----------------------------------------------------------------------------

@pytest.mark.parametrize("line, key", [
    ('select = "best"', "robust.select"),
    ('measure = "worst"', "robust.measure"),
    ("alpha = 1.0", "robust.alpha"),
    ("pool = 2", "robust.pool"),
    ("evaluation_seed = 20201101", "robust.evaluation_seed"),
    ("draws = 0", "robust.draws"),
])
def test_robust_table_errors(tmp_path, line, key):
    text = ROBUST.replace("[robust]\n", f"[robust]\n{line}\n")
    # TOML forbids a key twice: drop the fixture's own line of the key
    name = line.split(" ")[0]
    lines = text.splitlines()
    start = lines.index("[robust]")
    kept = lines[:start + 2] + [x for x in lines[start + 2:] if not x.startswith(name + " ")]
    path = tmp_path / "bad.toml"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    assert key in str(exc.value)


# -- the richer draws -------------------------------------------------------------------------------

def test_default_draws_unchanged_by_the_new_terms():
    d = load_district(TINY)
    a = ProjectionAssumptions(end_year=2028)
    base = project_draws(d, a, Uncertainty(draws=6))
    again = project_draws(d, a, Uncertainty(draws=6, fertility_year_rho=0.5))   # sd 0: no effect
    np.testing.assert_array_equal(base.persons, again.persons)


def test_each_new_term_moves_the_draws_and_keeps_the_seed():
    d = load_district(TINY)
    a = ProjectionAssumptions(end_year=2028)
    base = project_draws(d, a, Uncertainty(draws=6)).persons
    for kw in ({"fertility_year_sd": 0.1}, {"migration_street_sd": 0.3}, {"housing_delay_mean": 2.0},
               {"housing_cut_probability": 1.0, "housing_cut_share": 0.5}, {"population_street_sd": 0.2}):
        u = Uncertainty(draws=6, **kw)
        p1 = project_draws(d, a, u).persons
        p2 = project_draws(d, a, u).persons
        np.testing.assert_array_equal(p1, p2)
        assert not np.allclose(p1, base), kw


def test_population_split_keeps_the_district_total():
    d = load_district(TINY)
    pop = d.population_array()
    f = draw_factors(Uncertainty(draws=50, population_street_sd=0.3), 5, pop)
    totals = (f.population * pop.sum(axis=(1, 2))[None, :]).sum(axis=1)
    np.testing.assert_allclose(totals, pop.sum())
    assert f.population.std() > 0.05


def test_housing_cut_by_hand():
    d = load_district(TINY)
    f = draw_factors(Uncertainty(draws=4, housing_cut_probability=1.0, housing_cut_share=0.25), 5,
                     d.population_array())
    np.testing.assert_allclose(f.housing_kept, 0.75)
    assert (f.housing_delay == 0).all()


def test_fertility_random_walk_by_year():
    d = load_district(TINY)
    f = draw_factors(Uncertainty(draws=2000, fertility_sd=0.0, fertility_year_sd=0.1,
                                 fertility_year_rho=1.0), 5, d.population_array())
    np.testing.assert_allclose(f.fertility[:, 0], 1.0)
    sd = np.log(f.fertility).std(axis=0)
    np.testing.assert_allclose(sd[1:], 0.1 * np.sqrt(np.arange(1, 5)), rtol=0.1)   # a random walk


@pytest.mark.parametrize("kw, name", [({"housing_cut_probability": 1.5}, "housing_cut_probability"),
                                      ({"fertility_year_sd": -1.0}, "fertility_year_sd"),
                                      ({"fertility_year_rho": 2.0}, "fertility_year_rho")])
def test_bad_uncertainty_values(kw, name):
    d = load_district(TINY)
    with pytest.raises(ValueError, match=f"uncertainty.{name}"):
        project_draws(d, ProjectionAssumptions(end_year=2028), Uncertainty(draws=2, **kw))


def test_pupils_by_draw_agrees_with_the_bands():
    from capacity.demand import DONGLI_ENROLMENT, pupils_by_draw, pupils_draws, school_ages
    d = load_district(TINY)
    dr = project_draws(d, ProjectionAssumptions(end_year=2028), Uncertainty(draws=7, migration_street_sd=0.2),
                       keep_ages=school_ages(d.levels))
    every = pupils_by_draw(dr, d.levels, DONGLI_ENROLMENT)
    bands = pupils_draws(dr, d.levels, DONGLI_ENROLMENT, percentiles=(50.0,))
    med = every.groupby(["street", "level", "year"])["pupils"].median().rename("med").reset_index()
    m = bands.merge(med, on=["street", "level", "year"])
    assert len(m) == len(bands) and set(every["draw"]) == set(range(7))
    np.testing.assert_allclose(m["p50"], m["med"])


def test_assumptions_list_the_robust_table_only_when_set(robust_scenario, tmp_path):
    from capacity.scenario import assumptions
    with_robust = assumptions(load_scenario(robust_scenario))
    assert with_robust["robust.measure"] == "cvar" and with_robust["robust.draws"] == 3
    plain = tmp_path / "plain.toml"
    plain.write_text(TINY_SCENARIO, encoding="utf-8")
    assert not any(k.startswith("robust.") for k in assumptions(load_scenario(plain)))
