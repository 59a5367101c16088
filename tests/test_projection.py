"""Tests of the cohort-component projection: hand checks, Leslie matrix, housing, properties, draws."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capacity.projection import (
    ProjectionAssumptions,
    ProjectionInputs,
    Uncertainty,
    draw_multipliers,
    fertility_by_year,
    interpolate_path,
    project,
    project_arrays,
    project_draws,
)

ROOT = Path(__file__).resolve().parents[1]
BASE = 2020


def toy_arrays(net_rate: float = 0.0):
    """One street, ages 0, 1, 2+ (open)."""
    pop = np.array([[[100.0, 80.0, 50.0], [100.0, 90.0, 60.0]]])
    q = np.array([[0.1, 0.2, 0.5], [0.05, 0.1, 0.5]])
    fert = np.array([0.0, 0.5, 0.2])
    rate = np.full((1, 2, 3), net_rate)
    return pop, fert, q, rate


def test_toy_three_ages_by_hand():
    pop, fert, q, rate = toy_arrays()
    p = project_arrays(pop, fert, q, rate, base_year=BASE, birth_sex_ratio=1.0,
                       assumptions=ProjectionAssumptions(end_year=BASE + 1))
    # Survivors: male 1 = 100*0.9 = 90; male 2+ = 80*0.8 + 50*0.5 = 89
    #            female 1 = 100*0.95 = 95; female 2+ = 90*0.9 + 60*0.5 = 111
    # Births = 0.5*[0.5*(90 + 95) + 0.2*(60 + 111)] = 0.5*(92.5 + 34.2) = 63.35
    # SRB 1: 31.675 each; alive at the end of the year: boys *0.9, girls *0.95
    np.testing.assert_allclose(p.births[1], [63.35])
    np.testing.assert_allclose(p.persons[1, 0, 0], [28.5075, 90.0, 89.0])
    np.testing.assert_allclose(p.persons[1, 0, 1], [30.09125, 95.0, 111.0])
    np.testing.assert_array_equal(p.years, [BASE, BASE + 1])
    assert p.births[0] == 0


def test_toy_with_migration_by_hand():
    pop, fert, q, rate = toy_arrays(net_rate=0.1)
    p = project_arrays(pop, fert, q, rate, base_year=BASE, birth_sex_ratio=1.0,
                       assumptions=ProjectionAssumptions(end_year=BASE + 1))
    # End-of-year survivors * 1.1: male 99, 97.9; female 104.5, 122.1
    # Births = 0.5*[0.5*(90 + 104.5) + 0.2*(60 + 122.1)] = 0.5*(97.25 + 36.42) = 66.835
    # boys 33.4175*0.9*1.1 = 33.083325; girls 33.4175*0.95*1.1 = 34.9212875
    np.testing.assert_allclose(p.births[1], [66.835])
    np.testing.assert_allclose(p.persons[1, 0, 0], [33.083325, 99.0, 97.9])
    np.testing.assert_allclose(p.persons[1, 0, 1], [34.9212875, 104.5, 122.1])


def test_no_events_population_only_ages():
    rng = np.random.default_rng(1)
    n_s, n_a, years = 3, 6, 8
    pop = rng.integers(0, 100, size=(n_s, 2, n_a)).astype(float)
    p = project_arrays(pop, np.zeros(n_a), np.zeros((2, n_a)), np.zeros((n_s, 2, n_a)),
                       base_year=BASE, birth_sex_ratio=1.1,
                       assumptions=ProjectionAssumptions(end_year=BASE + years))
    expected = pop.copy()
    for k in range(1, years + 1):
        nxt = np.zeros_like(expected)
        nxt[..., 1:] = expected[..., :-1]
        nxt[..., -1] += expected[..., -1]          # the open group accumulates
        expected = nxt
        np.testing.assert_allclose(p.persons[k], expected)
    # After n_a - 1 years everyone is in the open group.
    np.testing.assert_allclose(p.persons[-1][..., :-1], 0)
    np.testing.assert_allclose(p.persons[-1][..., -1], pop.sum(axis=2))
    assert np.all(p.births == 0)


def leslie_two_sex(q, fert, srb):
    """Two-sex Leslie matrix of the model (male block first), closed population."""
    n_a = q.shape[1]
    s = 1 - q
    split = [srb / (1 + srb), 1 / (1 + srb)]
    mat = np.zeros((2 * n_a, 2 * n_a))
    for x in range(2):
        for a in range(n_a - 1):
            mat[x * n_a + a + 1, x * n_a + a] = s[x, a]
        mat[x * n_a + n_a - 1, x * n_a + n_a - 1] += s[x, n_a - 1]
    # births = 0.5 * sum_a f_a (W_t[a] + W_{t+1}[a]),  W_{t+1}[a] = s_f[a-1] W_t[a-1] (+ open)
    coef = np.array([0.5 * fert[j] + 0.5 * fert[min(j + 1, n_a - 1)] * s[1, j] for j in range(n_a)])
    for x in range(2):
        mat[x * n_a, n_a:] += coef * split[x] * s[x, 0]
    return mat


def test_closed_single_street_equals_leslie():
    rng = np.random.default_rng(7)
    n_a = 12
    q = rng.uniform(0.0, 0.2, size=(2, n_a))
    fert = np.zeros(n_a)
    fert[3:9] = rng.uniform(0.05, 0.4, size=6)
    pop = rng.uniform(10, 200, size=(1, 2, n_a))
    srb = 1.07
    years = 15
    p = project_arrays(pop, fert, q, np.zeros((1, 2, n_a)), base_year=BASE, birth_sex_ratio=srb,
                       assumptions=ProjectionAssumptions(end_year=BASE + years))
    mat = leslie_two_sex(q, fert, srb)
    v = pop[0].reshape(-1)
    for k in range(1, years + 1):
        v = mat @ v
        np.testing.assert_allclose(p.persons[k, 0].reshape(-1), v, rtol=1e-12)


def housing_setup(n_a: int = 10):
    rng = np.random.default_rng(3)
    n_s = 3
    pop = rng.uniform(50, 100, size=(n_s, 2, n_a))
    q = rng.uniform(0, 0.05, size=(2, n_a))
    fert = np.zeros(n_a)
    fert[5:8] = 0.2
    rate = rng.uniform(-0.02, 0.02, size=(n_s, 2, n_a))
    movers = np.zeros((2, n_a))
    movers[:, 1:4] = 1 / 6               # children aged 1-3 only: no births from movers
    dwellings = np.zeros((4, n_s))
    dwellings[1, 1] = 100.0               # 100 dwellings completed in street 1 in BASE + 2
    return pop, fert, q, rate, movers, dwellings


@pytest.mark.parametrize(("shift", "lag"), [(0, 0), (2, 1), (-1, 0)])
def test_housing_inflow_right_street_years_ages(shift, lag):
    pop, fert, q, rate, movers, dwellings = housing_setup()
    a = ProjectionAssumptions(end_year=BASE + 10, housing_shift_years=shift, occupancy_lag_years=lag,
                              persons_per_dwelling=3.0, housing_multiplier=0.5)
    with_h = project_arrays(pop, fert, q, rate, movers, dwellings, base_year=BASE,
                            birth_sex_ratio=1.1, assumptions=a)
    without = project_arrays(pop, fert, q, rate, movers, None, base_year=BASE,
                             birth_sex_ratio=1.1, assumptions=a)
    diff = with_h.persons - without.persons
    arrival = BASE + 2 + shift + lag
    k = arrival - BASE
    # No difference in other streets, ever.
    np.testing.assert_allclose(diff[:, [0, 2]], 0, atol=1e-9)
    # None before the arrival year.
    np.testing.assert_allclose(diff[:k], 0, atol=1e-9)
    # In the arrival year: exactly dwellings * multiplier * persons per dwelling * movers profile.
    np.testing.assert_allclose(diff[k, 1], 100 * 0.5 * 3.0 * movers, atol=1e-9)
    assert diff[k, 1].sum() == pytest.approx(150.0)
    # Later the movers age (and stay in street 1).
    assert diff[k + 1, 1][:, 2:5].sum() > 0
    np.testing.assert_allclose(with_h.births[:, [0, 2]], without.births[:, [0, 2]])


def test_housing_shifted_past_horizon_is_left_out_and_said():
    pop, fert, q, rate, movers, dwellings = housing_setup()
    a = ProjectionAssumptions(end_year=BASE + 5, housing_shift_years=10)
    with_h = project_arrays(pop, fert, q, rate, movers, dwellings, base_year=BASE,
                            birth_sex_ratio=1.1, assumptions=a)
    without = project_arrays(pop, fert, q, rate, movers, None, base_year=BASE,
                             birth_sex_ratio=1.1, assumptions=a)
    np.testing.assert_array_equal(with_h.persons, without.persons)
    # never silent: the note names the dwellings, the completion year and the last year
    assert len(with_h.notes) == 1
    assert "100 dwellings completed in 2022" in with_h.notes[0]
    assert "after 2025" in with_h.notes[0]
    assert without.notes == ()


@pytest.mark.parametrize("shift", [-2, -3])
def test_housing_shifted_before_first_year_arrives_in_first_year(shift):
    # 100 dwellings completed in BASE + 2, moved 2 or 3 years earlier (to the base year or before):
    # they arrive in BASE + 1, the first projected year, as the scenario intends
    pop, fert, q, rate, movers, dwellings = housing_setup()
    a = ProjectionAssumptions(end_year=BASE + 5, housing_shift_years=shift, persons_per_dwelling=3.0)
    with_h = project_arrays(pop, fert, q, rate, movers, dwellings, base_year=BASE,
                            birth_sex_ratio=1.1, assumptions=a)
    without = project_arrays(pop, fert, q, rate, movers, None, base_year=BASE,
                             birth_sex_ratio=1.1, assumptions=a)
    diff = with_h.persons - without.persons
    np.testing.assert_allclose(diff[1, 1], 100 * 3.0 * movers, atol=1e-9)
    assert diff[1].sum() == pytest.approx(300.0)
    assert len(with_h.notes) == 1 and "they are occupied in 2021" in with_h.notes[0]


def test_housing_two_completions_moved_into_first_year_add_up():
    # completions in BASE + 1 (40) and BASE + 2 (100), shift -1: both arrive in BASE + 1
    pop, fert, q, rate, movers, dwellings = housing_setup()
    dwellings[0, 1] = 40.0
    a = ProjectionAssumptions(end_year=BASE + 3, housing_shift_years=-1, persons_per_dwelling=1.0)
    with_h = project_arrays(pop, fert, q, rate, movers, dwellings, base_year=BASE,
                            birth_sex_ratio=1.1, assumptions=a)
    without = project_arrays(pop, fert, q, rate, movers, None, base_year=BASE,
                             birth_sex_ratio=1.1, assumptions=a)
    assert (with_h.persons - without.persons)[1].sum() == pytest.approx(140.0)


def test_tfr_path_gives_target():
    pop, fert, q, rate = toy_arrays()
    a = ProjectionAssumptions(end_year=BASE + 6, tfr_path={BASE + 2: 1.0, BASE + 4: 2.0})
    p = project_arrays(pop, fert, q, rate, base_year=BASE, birth_sex_ratio=1.0, assumptions=a)
    np.testing.assert_allclose(p.asfr.sum(axis=1), [1.0, 1.0, 1.0, 1.5, 2.0, 2.0, 2.0])
    # the age pattern is kept
    np.testing.assert_allclose(p.asfr[3] / p.asfr[3].sum(), fert / fert.sum())
    # string keys (as read from TOML) work
    b = fertility_by_year(fert, replace(a, tfr_path={"2022": 1.0}), [BASE + 1])
    np.testing.assert_allclose(b.sum(), 1.0)


def test_tfr_path_with_fertility_multiplier_is_an_error():
    pop, fert, q, rate = toy_arrays()
    a = ProjectionAssumptions(end_year=BASE + 2, tfr_path={BASE: 1.0}, fertility_multiplier=5.0)
    with pytest.raises(ValueError, match="tfr_path and fertility_multiplier"):
        project_arrays(pop, fert, q, rate, base_year=BASE, birth_sex_ratio=1.0, assumptions=a)
    a = ProjectionAssumptions(end_year=BASE + 2, tfr_path={BASE: 1.0}, fertility_path={BASE: 1.0})
    with pytest.raises(ValueError, match="tfr_path and fertility_path"):
        project_arrays(pop, fert, q, rate, base_year=BASE, birth_sex_ratio=1.0, assumptions=a)


def test_fertility_path_scales_the_rates_by_year():
    pop, fert, q, rate = toy_arrays()
    a = ProjectionAssumptions(end_year=BASE + 4, fertility_path={BASE + 1: 0.5, BASE + 3: 1.0},
                              fertility_multiplier=2.0)
    p = project_arrays(pop, fert, q, rate, base_year=BASE, birth_sex_ratio=1.0, assumptions=a)
    # flat before the first year given, linear between, flat after; times the multiplier
    np.testing.assert_allclose(p.asfr.sum(axis=1) / fert.sum(), [1.0, 1.0, 1.5, 2.0, 2.0])
    # first year by hand: half the births of test_toy_three_ages_by_hand (63.35) at factor 0.5 x 2
    np.testing.assert_allclose(p.births[1], [63.35])


def test_registered_births_replace_the_rates():
    pop, fert, q, rate = toy_arrays()
    inp = ProjectionInputs(population=pop, fertility=fert, death_probability=q, net_rate=rate,
                           movers=np.zeros((2, 3)), dwellings=np.zeros((0, 1)),
                           dwelling_years=np.zeros(0, dtype=int), base_year=BASE,
                           birth_sex_ratio=1.0, births=[[40.0]], birth_years=[BASE + 1])
    p = project(inp, ProjectionAssumptions(end_year=BASE + 2))
    # 2021: the registered 40 births, 20 boys alive x 0.9, 20 girls x 0.95
    np.testing.assert_allclose(p.births[1], [40.0])
    np.testing.assert_allclose(p.persons[1, 0, :, 0], [18.0, 19.0])
    assert p.registered_years == (BASE + 1,)
    # 2022 again from the rates; draws do not move the registered year
    assert p.births[2, 0] > 0 and p.births[2, 0] != 40.0
    d = project_draws(inp, ProjectionAssumptions(end_year=BASE + 2), Uncertainty(draws=5))
    np.testing.assert_allclose(d.births[:, 1, 0], 40.0)


def test_first_year_births_check():
    from capacity.projection import first_year_births

    pop, _, q, rate = toy_arrays()
    fert = np.array([0.0, 0.0, 0.2])      # only the open group 2+ bears: births do not depend on age 0
    # births = 0.5 * 0.2 * (60 + 111) = 17.1 against 200 residents aged 0: a step the data make
    p = project_arrays(pop, fert, q, rate, base_year=BASE, birth_sex_ratio=1.0,
                       assumptions=ProjectionAssumptions(end_year=BASE + 1))
    seam = first_year_births(p)
    assert seam.age0 == 200 and seam.births == pytest.approx(17.1)
    assert seam.ratio == pytest.approx(17.1 / 200) and seam.fertility_change == 1.0
    assert "0.09 times the 200 residents aged 0" in seam.warning()
    # a base population that agrees with the rates (age 0 = 17.1): no warning
    pop2 = pop.copy()
    pop2[0, :, 0] = 17.1 / 2
    p2 = project_arrays(pop2, fert, q, rate, base_year=BASE, birth_sex_ratio=1.0,
                        assumptions=ProjectionAssumptions(end_year=BASE + 1))
    assert first_year_births(p2).ratio == pytest.approx(1.0)
    assert first_year_births(p2).warning() is None
    # a fall the scenario asks for (fertility x 0.8 from the first year) is explained, not flagged
    p3 = project_arrays(pop2, fert, q, rate, base_year=BASE, birth_sex_ratio=1.0,
                        assumptions=ProjectionAssumptions(end_year=BASE + 1,
                                                          fertility_path={BASE: 1.0,
                                                                          BASE + 1: 0.8}))
    s3 = first_year_births(p3)
    assert s3.ratio == pytest.approx(0.8) and s3.fertility_change == pytest.approx(0.8)
    assert s3.warning() is None


def test_interpolate_path():
    np.testing.assert_allclose(interpolate_path({2020: 1, 2030: 2}, [2010, 2020, 2025, 2030, 2040]),
                               [1, 1, 1.5, 2, 2])
    with pytest.raises(ValueError, match="no years"):
        interpolate_path({}, [2020])


def test_control_totals_hit_pro_rata():
    pop, fert, q, rate, movers, dwellings = housing_setup()
    a = ProjectionAssumptions(end_year=BASE + 5)
    free = project_arrays(pop, fert, q, rate, movers, dwellings, base_year=BASE,
                          birth_sex_ratio=1.1, assumptions=a)
    targets = {BASE + 2: 2000.0, BASE + 4: 5000.0, BASE + 50: 1.0}   # beyond the horizon: ignored
    ctl = project_arrays(pop, fert, q, rate, movers, dwellings, base_year=BASE,
                         birth_sex_ratio=1.1, assumptions=replace(a, district_total=targets))
    assert ctl.persons[2].sum() == pytest.approx(2000.0)
    assert ctl.persons[4].sum() == pytest.approx(5000.0)
    np.testing.assert_allclose(ctl.persons[:2], free.persons[:2])
    ratio = ctl.persons[2] / free.persons[2]
    np.testing.assert_allclose(ratio, ratio.flat[0])          # every cell scaled alike
    assert ctl.total().loc[BASE + 4] == pytest.approx(5000.0)
    with pytest.raises(ValueError, match="base year"):
        project_arrays(pop, fert, q, rate, base_year=BASE, birth_sex_ratio=1.1,
                       assumptions=replace(a, district_total={BASE: 1000.0}))


def test_negative_migration_raises_naming_street():
    pop, fert, q, _ = toy_arrays()
    rate = np.zeros((2, 2, 3))
    rate[1, 1, 2] = -0.6
    with pytest.raises(ValueError, match=r"street B .*female, age 2.*2021"):
        project_arrays(np.concatenate([pop, pop]), fert, q, rate, base_year=BASE,
                       birth_sex_ratio=1.0, streets=("A", "B"),
                       assumptions=ProjectionAssumptions(end_year=BASE + 3, migration_multiplier=2))


def test_input_validation():
    pop, fert, q, rate = toy_arrays()
    with pytest.raises(ValueError, match="age 0"):
        project_arrays(pop, np.array([0.1, 0, 0]), q, rate, base_year=BASE, birth_sex_ratio=1)
    with pytest.raises(ValueError, match="shape"):
        project_arrays(pop, fert, q[:, :2], rate, base_year=BASE, birth_sex_ratio=1)
    with pytest.raises(ValueError, match="before the base year"):
        project_arrays(pop, fert, q, rate, base_year=BASE, birth_sex_ratio=1,
                       assumptions=ProjectionAssumptions(end_year=BASE - 1))
    with pytest.raises(ValueError, match=">= 0"):
        project_arrays(-pop, fert, q, rate, base_year=BASE, birth_sex_ratio=1)


def test_to_frame():
    pop, fert, q, rate = toy_arrays()
    p = project_arrays(pop, fert, q, rate, base_year=BASE, birth_sex_ratio=1.0, streets=("S1",),
                       assumptions=ProjectionAssumptions(end_year=BASE + 2))
    f = p.to_frame()
    assert list(f.columns) == ["street", "year", "sex", "age", "persons"]
    assert len(f) == 3 * 2 * 3
    row = f[(f.year == BASE + 1) & (f.sex == "female") & (f.age == 2)]
    assert row.persons.item() == pytest.approx(111.0)
    assert f.persons.sum() == pytest.approx(p.persons.sum())


# ---------------------------------------------------------------------------------------------
# properties


@st.composite
def small_inputs(draw):
    n_s = draw(st.integers(1, 3))
    n_a = draw(st.integers(3, 8))
    flt = st.floats
    pop = np.array(draw(st.lists(flt(0, 1000), min_size=n_s * 2 * n_a, max_size=n_s * 2 * n_a)))
    q = np.array(draw(st.lists(flt(0, 1), min_size=2 * n_a, max_size=2 * n_a)))
    fert = np.array([0.0] + draw(st.lists(flt(0, 1), min_size=n_a - 1, max_size=n_a - 1)))
    rate = np.array(draw(st.lists(flt(-1, 1), min_size=n_s * 2 * n_a, max_size=n_s * 2 * n_a)))
    movers = np.array(draw(st.lists(flt(0, 1), min_size=2 * n_a, max_size=2 * n_a)))
    dwell = np.array(draw(st.lists(flt(0, 500), min_size=3 * n_s, max_size=3 * n_s)))
    return ProjectionInputs(
        population=pop.reshape(n_s, 2, n_a), fertility=fert,
        death_probability=q.reshape(2, n_a), net_rate=rate.reshape(n_s, 2, n_a),
        movers=movers.reshape(2, n_a), dwellings=dwell.reshape(3, n_s),
        dwelling_years=[BASE + 1, BASE + 2, BASE + 3], base_year=BASE,
        birth_sex_ratio=draw(flt(0.8, 1.3)),
    )


assumption_st = st.builds(
    ProjectionAssumptions,
    end_year=st.integers(BASE, BASE + 8),
    fertility_multiplier=st.floats(0, 3),
    migration_multiplier=st.floats(0, 1),
    housing_shift_years=st.integers(-2, 3),
    housing_multiplier=st.floats(0, 2),
    occupancy_lag_years=st.integers(0, 2),
)

PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(small_inputs(), assumption_st)
def test_property_no_negative_and_base_year_is_data(inp, a):
    p = project(inp, a)
    assert np.all(p.persons >= 0)
    assert np.all(p.births >= 0)
    np.testing.assert_array_equal(p.persons[0], inp.population)
    assert p.persons.shape == (a.end_year - BASE + 1, *inp.population.shape)


@PROPS
@given(small_inputs(), assumption_st, st.floats(1.0, 3.0))
def test_property_more_fertility_never_fewer_births(inp, a, factor):
    low = project(inp, a)
    high = project(inp, replace(a, fertility_multiplier=a.fertility_multiplier * factor))
    assert np.all(high.births >= low.births - 1e-9 * (1 + low.births))
    assert np.all(high.persons >= low.persons - 1e-9 * (1 + low.persons))


@PROPS
@given(small_inputs(), st.floats(100, 1e5))
def test_property_control_total_hit(inp, total):
    a = ProjectionAssumptions(end_year=BASE + 3, district_total={BASE + 2: total})
    if project(inp, replace(a, district_total=None)).persons[2].sum() <= 0:
        with pytest.raises(ValueError):
            project(inp, a)
        return
    p = project(inp, a)
    assert p.persons[2].sum() == pytest.approx(total)


# ---------------------------------------------------------------------------------------------
# draws


def draw_inputs():
    pop, fert, q, rate, movers, dwellings = housing_setup(n_a=20)
    fert[:] = 0
    fert[5:12] = 0.15
    return ProjectionInputs(population=pop, fertility=fert, death_probability=q, net_rate=rate,
                            movers=movers, dwellings=dwellings,
                            dwelling_years=np.arange(BASE + 1, BASE + 5), base_year=BASE,
                            birth_sex_ratio=1.1)


def test_draws_reproducible_and_each_draw_is_a_run():
    inp = draw_inputs()
    a = ProjectionAssumptions(end_year=BASE + 8, fertility_multiplier=1.2, migration_multiplier=0.7)
    u = Uncertainty(draws=40, fertility_sd=0.2, migration_sd=0.3, seed=11)
    d1 = project_draws(inp, a, u)
    d2 = project_draws(inp, a, u)
    np.testing.assert_array_equal(d1.persons, d2.persons)
    np.testing.assert_array_equal(d1.births, d2.births)
    d3 = project_draws(inp, a, replace(u, seed=12))
    assert not np.allclose(d1.persons[:, -1], d3.persons[:, -1])
    assert d1.n_draws == 40
    fm, mm = draw_multipliers(u)
    np.testing.assert_array_equal(fm, d1.fertility_multipliers)
    # central = the deterministic run
    np.testing.assert_array_equal(d1.central.persons, project(inp, a).persons)
    # each draw equals a deterministic run with its factors (migration factor also on housing)
    for d in (0, 17, 39):
        run = project(inp, replace(a, fertility_multiplier=1.2 * fm[d],
                                   migration_multiplier=0.7 * mm[d], housing_multiplier=mm[d]))
        np.testing.assert_allclose(d1.persons[d], run.persons, rtol=1e-12)
        np.testing.assert_allclose(d1.births[d], run.births, rtol=1e-12)


def test_draws_percentiles_ordered_and_keep_ages():
    inp = draw_inputs()
    d = project_draws(inp, ProjectionAssumptions(end_year=BASE + 8), Uncertainty(draws=200),
                      keep_ages=range(3, 10))
    np.testing.assert_array_equal(d.ages, np.arange(3, 10))
    assert d.persons.shape == (200, 9, 3, 2, 7)
    p05, p50, p95 = np.percentile(d.persons, [5, 50, 95], axis=0)
    assert np.all(p05 <= p50) and np.all(p50 <= p95)
    np.testing.assert_allclose(d.persons[:, 0], np.broadcast_to(inp.population[..., 3:10],
                                                               (200, 3, 2, 7)))
    with pytest.raises(ValueError, match="draws"):
        project_draws(inp, ProjectionAssumptions(end_year=BASE + 2), Uncertainty(draws=0))


def test_zero_sd_draws_equal_deterministic():
    inp = draw_inputs()
    a = ProjectionAssumptions(end_year=BASE + 5)
    d = project_draws(inp, a, Uncertainty(draws=3, fertility_sd=0, migration_sd=0))
    for k in range(3):
        np.testing.assert_allclose(d.persons[k], d.central.persons)


def test_dongli_data_if_loadable():
    folder = ROOT / "data" / "streets"
    data = pytest.importorskip("capacity.data")
    try:
        district = data.load_district(folder)
    except Exception as exc:  # pragma: no cover - depends on the shipped data
        pytest.skip(f"data/streets not loadable: {exc}")
    p = project(district, ProjectionAssumptions(end_year=2035))
    np.testing.assert_array_equal(p.years, np.arange(2020, 2036))
    assert p.persons.shape == (16, len(district.street_ids), 2, len(district.ages))
    np.testing.assert_allclose(p.persons[0], district.population_array())
    assert np.all(p.persons >= 0)
    assert p.births[1:].sum(axis=1).min() > 0
    # housing-led inflow lands in the streets with completions
    no_housing = project(district, ProjectionAssumptions(end_year=2035, housing_multiplier=0))
    gained = (p.persons - no_housing.persons).sum(axis=(0, 2, 3))
    built = district.housing.groupby("street")["dwellings"].sum()
    for i, street in enumerate(p.streets):
        assert (gained[i] > 0) == (built.get(street, 0) > 0)


def test_births_csv_overrides_the_rates_on_the_tiny_district(tmp_path):
    import shutil

    from capacity.data import load_district

    folder = tmp_path / "tiny"
    shutil.copytree(ROOT / "tests" / "fixtures" / "tiny", folder)
    a = ProjectionAssumptions(end_year=2023, housing_multiplier=0.0)   # no movers' babies
    rates = project(load_district(folder), a)
    (folder / "births.csv").write_text("street,year,births\nA,2022,7\nB,2022,0\nC,2022,11\n",
                                       encoding="utf-8")
    registered = project(load_district(folder), a)
    # 2021 from the rates in both; 2022 the registered births, street by street
    np.testing.assert_allclose(registered.births[1], rates.births[1])
    np.testing.assert_allclose(registered.births[2], [7.0, 0.0, 11.0])
    assert registered.registered_years == (2022,)
    # tiny: birth_sex_ratio 1, q_0 = 0.005; street C's age-0 net rate 0.01
    np.testing.assert_allclose(registered.persons[2, :, 0, 0], [3.5 * 0.995, 0.0, 5.5 * 0.995 * 1.01])
    # the years after go on from the rates, with the registered cohort ageing
    assert registered.births[3].sum() > 0
