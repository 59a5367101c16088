"""Tests of pupils by street, level and year."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.demand import (
    DONGLI_ENROLMENT,
    EnrolmentRates,
    enrolment_rate,
    percentile_column,
    pupils,
    pupils_draws,
    school_ages,
)
from capacity.projection import (
    Projection,
    ProjectionAssumptions,
    ProjectionInputs,
    Uncertainty,
    project_draws,
)

LEVELS = pd.DataFrame({
    "level": ["early", "late"],
    "name_zh": ["早", "晚"],
    "first_age": [1, 3],
    "last_age": [2, 4],
})
RATES = EnrolmentRates({"early": {2020: 0.5, 2022: 1.0}, "late": {2021: 1.0}})


def toy_projection() -> Projection:
    """Two streets, ages 0..5, years 2020..2022; persons = 100*year_index + 10*age + sex + street."""
    years = np.array([2020, 2021, 2022])
    persons = np.zeros((3, 2, 2, 6))
    for k in range(3):
        for s in range(2):
            for x in range(2):
                for a in range(6):
                    persons[k, s, x, a] = 100 * k + 10 * a + x + s
    return Projection(years=years, streets=("A", "B"), ages=np.arange(6), persons=persons,
                      births=np.zeros((3, 2)), asfr=np.zeros((3, 6)),
                      assumptions=ProjectionAssumptions(end_year=2022))


def test_pupils_by_hand():
    d = pupils(toy_projection(), LEVELS, RATES)
    assert list(d.columns) == ["street", "level", "year", "pupils"]
    assert len(d) == 2 * 2 * 3
    assert list(d.street.unique()) == ["A", "B"]
    got = d.set_index(["street", "level", "year"])["pupils"]
    # street A, "early" (ages 1-2), 2020: persons 10,11 (age 1) + 20,21 (age 2) = 62; rate 0.5 -> 31
    assert got["A", "early", 2020] == pytest.approx(31.0)
    # 2021: each cell +100 -> 462; rate 0.75 -> 346.5
    assert got["A", "early", 2021] == pytest.approx(346.5)
    # 2022: 862 * 1.0
    assert got["A", "early", 2022] == pytest.approx(862.0)
    # street B adds 1 per cell (4 cells): 2020 -> 66 * 0.5 = 33
    assert got["B", "early", 2020] == pytest.approx(33.0)
    # "late" (ages 3-4), street A, 2020: 30+31+40+41 = 142, rate 1 (flat before 2021)
    assert got["A", "late", 2020] == pytest.approx(142.0)
    assert got["B", "late", 2022] == pytest.approx(142 + 800 + 4)


def test_enrolment_rate_interpolation():
    np.testing.assert_allclose(
        enrolment_rate(DONGLI_ENROLMENT, "kindergarten", [2018, 2020, 2021, 2025, 2035]),
        [0.915, 0.915, 0.922, 0.95, 0.95])
    np.testing.assert_allclose(
        enrolment_rate(DONGLI_ENROLMENT, "senior_stage", [2020, 2025, 2030]), [0.967, 0.99, 0.99])
    # string year keys (as read from TOML)
    rates = EnrolmentRates({"x": {"2020": 0.2, "2030": 0.4}})
    np.testing.assert_allclose(enrolment_rate(rates, "x", [2025]), [0.3])


def test_unknown_level_error():
    rates = EnrolmentRates({"early": {2020: 1.0}})
    with pytest.raises(ValueError, match="'late'"):
        pupils(toy_projection(), LEVELS, rates)
    with pytest.raises(ValueError, match="'nursery'"):
        enrolment_rate(RATES, "nursery", [2020])


def test_level_ages_outside_projection_error():
    levels = pd.concat([LEVELS, pd.DataFrame({"level": ["old"], "name_zh": ["老"],
                                              "first_age": [5], "last_age": [7]})])
    rates = EnrolmentRates({**RATES.paths, "old": {2020: 1.0}})
    with pytest.raises(ValueError, match="'old'"):
        pupils(toy_projection(), levels, rates)


def test_negative_rate_error():
    with pytest.raises(ValueError, match=">= 0"):
        pupils(toy_projection(), LEVELS, EnrolmentRates({"early": {2020: -1}, "late": {2020: 1}}))


@pytest.mark.parametrize(("q", "name"), [(5.0, "p05"), (50, "p50"), (95.0, "p95"),
                                         (97.5, "p97_5"), (2.5, "p02_5"), (100, "p100")])
def test_percentile_column(q, name):
    assert percentile_column(q) == name


def draws_inputs(n_a=12):
    rng = np.random.default_rng(5)
    n_s = 2
    fert = np.zeros(n_a)
    fert[6:10] = 0.3
    dw = np.zeros((3, n_s))
    dw[0, 1] = 50
    movers = np.full((2, n_a), 1 / (2 * n_a))
    return ProjectionInputs(
        population=rng.uniform(20, 80, size=(n_s, 2, n_a)), fertility=fert,
        death_probability=np.full((2, n_a), 0.01), net_rate=rng.uniform(-0.03, 0.03, (n_s, 2, n_a)),
        movers=movers, dwellings=dw, dwelling_years=[2021, 2022, 2023], base_year=2020,
        birth_sex_ratio=1.1, streets=("A", "B"))


def test_pupils_draws_bands():
    inp = draws_inputs()
    levels = pd.DataFrame({"level": ["young", "mid"], "name_zh": ["", ""],
                           "first_age": [0, 3], "last_age": [2, 6]})
    rates = EnrolmentRates({"young": {2020: 0.9, 2025: 1.0}, "mid": {2020: 1.0}})
    dr = project_draws(inp, ProjectionAssumptions(end_year=2027), Uncertainty(draws=300, seed=3),
                       keep_ages=school_ages(levels))
    out = pupils_draws(dr, levels, rates)
    assert list(out.columns) == ["street", "level", "year", "pupils", "p05", "p50", "p95"]
    # pupils = the deterministic run
    det = pupils(dr.central, levels, rates)
    pd.testing.assert_frame_equal(out[det.columns], det)
    assert np.all(out.p05 <= out.p50) and np.all(out.p50 <= out.p95)
    later = out[out.year > 2021]
    assert np.all(later.p05 < later.p95)
    base = out[out.year == 2020]
    np.testing.assert_allclose(base.p05, base.pupils)
    np.testing.assert_allclose(base.p95, base.pupils)
    # the percentile of the drawn pupils, by hand for one cell
    k, s = 5, 1
    drawn = dr.persons[:, k, s][..., 3:7].sum(axis=(1, 2)) * 1.0
    row = out[(out.street == "B") & (out.level == "mid") & (out.year == 2025)]
    assert row.p50.item() == pytest.approx(np.percentile(drawn, 50))
    # custom percentiles
    other = pupils_draws(dr, levels, rates, percentiles=(2.5, 97.5))
    assert list(other.columns)[-2:] == ["p02_5", "p97_5"]
    # a level whose ages were not kept
    wide = pd.DataFrame({"level": ["all"], "name_zh": [""], "first_age": [0], "last_age": [11]})
    with pytest.raises(ValueError, match="'all'"):
        pupils_draws(dr, wide, EnrolmentRates({"all": {2020: 1}}))


def test_zero_sd_bands_collapse():
    inp = draws_inputs()
    dr = project_draws(inp, ProjectionAssumptions(end_year=2024),
                       Uncertainty(draws=5, fertility_sd=0, migration_sd=0))
    out = pupils_draws(dr, LEVELS, RATES)
    for col in ("p05", "p50", "p95"):
        np.testing.assert_allclose(out[col], out.pupils)


@settings(max_examples=40, deadline=None)
@given(st.floats(0, 2), st.floats(0, 2))
def test_property_pupils_scale_with_rate(r1, r2):
    proj = toy_projection()
    d1 = pupils(proj, LEVELS, EnrolmentRates({"early": {2020: r1}, "late": {2020: r2}}))
    d2 = pupils(proj, LEVELS, EnrolmentRates({"early": {2020: 1.0}, "late": {2020: 1.0}}))
    factor = np.where(d1.level == "early", r1, r2)
    np.testing.assert_allclose(d1.pupils, d2.pupils * factor)
    assert np.all(d1.pupils >= 0)


def test_school_ages_and_dongli_rates():
    levels = pd.DataFrame({"level": ["kindergarten"], "name_zh": ["幼儿园"],
                           "first_age": [3], "last_age": [5]})
    d = pupils(toy_projection(), levels, DONGLI_ENROLMENT)
    assert set(d.level) == {"kindergarten"}
    np.testing.assert_array_equal(school_ages(LEVELS), [1, 2, 3, 4])


def test_dongli_base_year_pupils():
    from pathlib import Path

    from capacity.projection import project

    data = pytest.importorskip("capacity.data")
    try:
        district = data.load_district(Path(__file__).resolve().parents[1] / "data" / "streets")
    except Exception as exc:  # pragma: no cover - depends on the shipped data
        pytest.skip(f"data/streets not loadable: {exc}")
    proj = project(district, ProjectionAssumptions(end_year=2025))
    d = pupils(proj, district.levels, DONGLI_ENROLMENT)
    pop = district.population
    primary = pop[pop.age.between(6, 11)].persons.sum()
    got = d[(d.level == "primary") & (d.year == 2020)].pupils.sum()
    assert got == pytest.approx(primary)
    kg = pop[pop.age.between(3, 5)].persons.sum() * 0.915
    assert d[(d.level == "kindergarten") & (d.year == 2020)].pupils.sum() == pytest.approx(kg)


# --- stages: levels sharing ages (general and vocational senior high) -------------------------

STAGED = pd.DataFrame({
    "level": ["early", "general", "vocational"],
    "name_zh": ["早", "普高", "中职"],
    "first_age": [1, 3, 3],
    "last_age": [2, 4, 4],
    "stage": ["early", "senior", "senior"],
})
STAGE_RATES = EnrolmentRates({"early": {2020: 1.0}, "senior": {2020: 0.9, 2022: 1.0}},
                             shares={"vocational": {2020: 0.3, 2022: 0.4}})


def test_stage_rate_split_by_share_by_hand():
    d = pupils(toy_projection(), STAGED, STAGE_RATES).set_index(["street", "level", "year"])
    # street A, ages 3-4 in 2020: 30 + 31 + 40 + 41 = 142 residents; stage rate 0.9
    # vocational 0.3 x 0.9 x 142 = 38.34, general the rest 0.7 x 0.9 x 142 = 89.46
    assert d.loc[("A", "vocational", 2020), "pupils"] == pytest.approx(38.34)
    assert d.loc[("A", "general", 2020), "pupils"] == pytest.approx(89.46)
    # 2021: residents 542, stage rate 0.95, vocational share 0.35
    assert d.loc[("A", "vocational", 2021), "pupils"] == pytest.approx(542 * 0.95 * 0.35)
    # general + vocational = the stage's pupils, every street and year
    both = d.xs("general", level="level")["pupils"] + d.xs("vocational", level="level")["pupils"]
    stage_only = pupils(toy_projection(), STAGED.iloc[:2].assign(stage=["early", "general"]),
                        EnrolmentRates({"early": {2020: 1.0}, "general": {2020: 0.9, 2022: 1.0}}))
    np.testing.assert_allclose(both.to_numpy(),
                               stage_only[stage_only.level == "general"]["pupils"].to_numpy())


@pytest.mark.parametrize(("rates", "match"), [
    (EnrolmentRates({"early": {2020: 1.0}, "senior": {2020: 0.9}}),
     "stage_share: give a share for every level of the stage senior but one"),
    (EnrolmentRates({"early": {2020: 1.0}, "senior": {2020: 0.9}, "general": {2020: 0.5}},
                    shares={"vocational": {2020: 0.3}}),
     "enrolment.general: the stage senior has a rate"),
    (EnrolmentRates({"early": {2020: 1.0}, "general": {2020: 0.5}, "vocational": {2020: 0.3}},
                    shares={"vocational": {2020: 0.3}}),
     "stage_share.vocational: the stage senior has no enrolment rate"),
    (EnrolmentRates({"early": {2020: 1.0}, "senior": {2020: 0.9}},
                    shares={"vocational": {2020: 0.6}, "general": {2020: 0.6}}),
     "stage_share: give a share for every level of the stage senior but one"),
    (EnrolmentRates({"senior": {2020: 0.9}}, shares={"vocational": {2020: 0.3}}),
     "no enrolment rate for level\\(s\\) 'early'"),
])
def test_stage_rate_errors(rates, match):
    with pytest.raises(ValueError, match=match):
        pupils(toy_projection(), STAGED, rates)


def test_stage_shares_above_one_is_an_error():
    three = pd.concat([STAGED, STAGED.iloc[[2]].assign(level="third")], ignore_index=True)
    rates = EnrolmentRates({"early": {2020: 1.0}, "senior": {2020: 0.9}},
                           shares={"vocational": {2020: 0.6}, "third": {2020: 0.3, 2022: 0.5}})
    with pytest.raises(ValueError, match="shares of the stage senior sum to more than 1 in 2022"):
        pupils(toy_projection(), three, rates)
