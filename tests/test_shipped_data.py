"""Checks of the shipped Dongli district folder ``data/streets/`` (read directly, not via capacity)."""

from __future__ import annotations

import tomllib
from itertools import product
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, shape

D = Path(__file__).resolve().parents[1] / "data" / "streets"
TOTAL = 857_027
STREETS = [f"1201100{i:02d}" for i in range(1, 12)]


def read(name: str) -> pd.DataFrame:
    return pd.read_csv(D / name, dtype={"street": str}, keep_default_na=False)


def is_true(col: pd.Series) -> pd.Series:
    return col.astype(str).str.lower() == "true"


@pytest.fixture(scope="module")
def pop() -> pd.DataFrame:
    return read("population.csv")


@pytest.fixture(scope="module")
def geo() -> gpd.GeoDataFrame:
    return gpd.read_file(D / "streets.gpkg", layer="streets")


def test_district_toml():
    meta = tomllib.loads((D / "district.toml").read_text(encoding="utf-8"))
    assert meta["code"] == "120110" and meta["base_year"] == 2020 and meta["last_year"] == 2035
    assert meta["birth_sex_ratio"] == pytest.approx(1.113)
    assert meta["census"]["total"] == TOTAL
    assert meta["census"]["tolerance"] == 0.05


def test_streets_csv():
    s = read("streets.csv")
    assert list(s["street"]) == STREETS
    assert s["name_zh"].tolist()[-1] == "东丽湖" and s["name_pinyin"].tolist()[0] == "Zhangguizhuang"
    assert (s["point_source"].str.len() > 10).all()


def test_census_total_and_males(pop):
    assert pop["persons"].sum() == TOTAL
    assert pop.loc[pop["sex"] == "male", "persons"].sum() == round(TOTAL * 0.5287) == 453_110
    assert (pop["persons"] >= 0).all()


@pytest.mark.parametrize("lo,hi,share", [(0, 14, 13.02), (15, 59, 68.67), (60, 100, 18.31),
                                         (65, 100, 11.74)])
def test_broad_age_groups(pop, lo, hi, share):
    n = pop.loc[pop["age"].between(lo, hi), "persons"].sum()
    assert round(100 * n / TOTAL, 2) == share


def test_full_grid(pop):
    want = set(product(STREETS, ["male", "female"], range(101)))
    have = list(zip(pop["street"], pop["sex"], pop["age"], strict=True))
    assert len(have) == len(want) and set(have) == want
    mig = read("migration.csv")
    assert set(zip(mig["street"], mig["sex"], mig["age"], strict=True)) == want
    assert len(mig) == len(want) and (mig["net_rate"].abs() < 0.03).all()


def test_movers_sum_to_one():
    m = read("movers.csv")
    assert len(m) == 2 * 101
    assert abs(m["share"].sum() - 1.0) < 1e-9
    by_age = m.groupby("age")["share"].sum()
    assert by_age.loc[25:39].sum() > 0.35 and by_age.loc[0:9].sum() > 0.15
    assert by_age.loc[60:].sum() < 0.05


def test_polygons(geo):
    assert geo.crs is not None and geo.crs.to_epsg() == 4326
    assert sorted(geo["street"]) == STREETS and geo["street"].is_unique
    assert geo["approximate"].astype(bool).all()
    outline = shape(gpd.read_file(D / "district_outline.geojson").geometry.iloc[0])
    for g in geo.geometry:
        assert g.geom_type == "Polygon" and not g.is_empty and g.is_valid
        assert g.area > 0.001 * outline.area
        assert outline.buffer(1e-6).contains(g)
    assert geo.geometry.union_all().area == pytest.approx(outline.area, rel=1e-3)


def test_street_points_in_own_polygon(geo):
    s = read("streets.csv").merge(geo, on="street")
    for r in s.itertuples():
        assert r.geometry.contains(Point(r.lon, r.lat)), r.street


def test_sites_in_their_street(geo):
    sites = read("sites.csv")
    poly = dict(zip(geo["street"], geo.geometry, strict=True))
    assert sites["site"].is_unique
    for r in sites.itertuples():
        assert poly[r.street].contains(Point(r.lon, r.lat)), r.site
    new = sites[sites["kind"] == "new"]
    assert is_true(new["public"]).all() and is_true(new["inclusive"]).all()
    assert sites["earliest_year"].between(2021, 2028).all()


def test_expansion_and_conversion_options():
    """Expansions at existing public places (2 or 4 classes, half the new-school cost per class);
    one conversion per street with private non-inclusive kindergarten places, at most half of them."""
    sites, sup = read("sites.csv"), read("supply.csv")
    assert set(sites["kind"]) == {"new", "expansion", "conversion"}
    ex = sites[sites["kind"] == "expansion"]
    pub = sup[is_true(sup["public"])]
    assert len(ex) == 11 and (ex["sizes"] == "2;4").all() and (ex["earliest_year"] == 2022).all()
    assert ex.merge(pub, on=["street", "level"]).shape[0] == len(ex)
    assert (ex["annual_cost_per_place"] == "").all()
    half = {"kindergarten": 0.75, "primary": 1.5, "junior": 1.75}
    assert (pd.to_numeric(ex["cost_per_class"]) == ex["level"].map(half)).all()
    cv = sites[sites["kind"] == "conversion"]
    priv = sup[(sup["level"] == "kindergarten") & ~is_true(sup["public"]) & ~is_true(sup["inclusive"])]
    assert sorted(cv["street"]) == sorted(priv["street"])
    assert (cv["level"] == "kindergarten").all() and (cv["cost_per_class"] == "").all()
    assert (~is_true(cv["public"]) & is_true(cv["inclusive"])).all()
    assert (pd.to_numeric(cv["annual_cost_per_place"]) == 2000).all()
    most = cv.set_index("street")["sizes"].map(lambda t: max(int(x) for x in t.split(";")))
    assert (most <= priv.set_index("street")["classes"].reindex(most.index) / 2).all()


def test_kindergarten_targets_2020(pop):
    sup = read("supply.csv")
    assert not sup.duplicated(["street", "level", "public", "inclusive"]).any()
    kg = sup[sup["level"] == "kindergarten"]
    r35 = pop.loc[pop["age"].between(3, 5), "persons"].sum()
    children = 0.915 * r35                                    # plan: gross enrolment 91.5%
    places = kg["places"].sum()
    assert children <= places <= 1.06 * children              # places a little above enrolment
    inclusive = kg.loc[is_true(kg["inclusive"]), "places"].sum() / places
    public = kg.loc[is_true(kg["public"]), "places"].sum() / places
    assert abs(inclusive - 0.68) < 0.01                       # plan: inclusive coverage 68%
    assert 0.35 <= public <= 0.40
    assert is_true(kg.loc[is_true(kg["public"]), "inclusive"]).all()


def test_senior_and_class_sizes(pop):
    sup = read("supply.csv")
    size = {"kindergarten": 30, "primary": 45, "junior": 50, "senior": 50, "vocational": 50}
    assert (sup["places"] == sup["classes"] * sup["level"].map(size)).all()
    senior = sup.loc[sup["level"] == "senior", "places"].sum()
    vocational = sup.loc[sup["level"] == "vocational", "places"].sum()
    r = pop.loc[pop["age"].between(15, 17), "persons"].sum()
    # the plan's 96.7% senior-stage enrolment, general and vocational together; 32% vocational
    assert (senior + vocational) / r == pytest.approx(0.967, abs=0.01)
    assert vocational / (senior + vocational) == pytest.approx(0.32, abs=0.01)
    assert (sup["level"] == "vocational").sum() == 1          # the district's vocational centre


def test_levels_senior_stage():
    lv = read("levels.csv").set_index("level")
    assert lv.loc["senior", "stage"] == lv.loc["vocational", "stage"] == "senior_stage"
    assert (lv.loc["senior", ["first_age", "last_age"]] ==
            lv.loc["vocational", ["first_age", "last_age"]]).all()


def test_age0_agrees_with_the_fertility_rates(pop):
    """The base year's age 0 = births at the rates (CBR 5.99 x total) x (1 - q_0): no step."""
    fert = read("fertility.csv").set_index("age")["rate"]
    women = pop[pop["sex"] == "female"].groupby("age")["persons"].sum()
    births = float((fert * women.reindex(fert.index)).sum())
    assert births == pytest.approx(5.99e-3 * TOTAL, rel=1e-3)
    age0 = pop.loc[pop["age"] == 0, "persons"].sum()
    assert age0 == round(5.99e-3 * TOTAL * (1 - (1.113 * 0.0030 + 0.0026) / 2.113))
    assert age0 / births == pytest.approx(1.0, abs=0.005)


def test_no_step_between_school_and_adult_ages(pop):
    """Ages 14-22 grow at one rate (no 25% jump at 17 -> 18 as before)."""
    by_age = pop.groupby("age")["persons"].sum()
    growth = (by_age.loc[15:22].to_numpy() / by_age.loc[14:21].to_numpy())
    assert growth.max() - growth.min() < 0.002
    assert by_age[18] / by_age[17] < 1.10


def test_sites_can_reach_plan_kindergartens():
    """30 new kindergartens with 9,180 places (= 306 classes of 30) by 2025 must be possible."""
    s = read("sites.csv")
    s = s[s["kind"] == "new"]
    kg = s[(s["level"] == "kindergarten") & (s["earliest_year"] <= 2025)]
    assert len(kg) >= 30
    sizes = [sorted(int(x) for x in t.split(";")) for t in kg["sizes"]]
    # small DP over the sites: which (number of sites, classes) pairs are reachable
    reach = {(0, 0)}
    for opts in sizes:
        reach |= {(n + 1, c + o) for n, c in reach for o in opts if n < 30}
    assert (30, 9180 // 30) in reach
    counts = s["level"].value_counts()
    assert counts["kindergarten"] >= 40 and counts["primary"] >= 12 and counts["junior"] >= 6
    assert counts["senior"] >= 4


def test_housing():
    h = read("housing.csv")
    assert h["year"].between(2021, 2035).all() and not h.duplicated(["street", "year"]).any()
    per_year = h.groupby("year")["dwellings"].sum()
    assert per_year.max() <= 5000
    assert per_year.loc[2021:2027].sum() > per_year.loc[2028:2035].sum()


def life_expectancy(q: np.ndarray) -> float:
    lx = np.concatenate([[1.0], np.cumprod(1 - q)[:-1]])
    return float((lx - lx * q / 2).sum())


def test_life_expectancy():
    m = read("mortality.csv")
    e0 = {}
    for sex in ("male", "female"):
        q = m[m["sex"] == sex].sort_values("age")["death_probability"].to_numpy()
        assert len(q) == 101 and q[-1] == 1.0 and ((q >= 0) & (q <= 1)).all()
        e0[sex] = life_expectancy(q)
    assert abs(e0["male"] - 79.6) < 0.3 and abs(e0["female"] - 84.0) < 0.3
    both = (1.113 * e0["male"] + e0["female"]) / 2.113
    assert abs(both - 81.69) < 0.3


def test_fertility_births():
    f = read("fertility.csv")
    assert f["age"].between(15, 49).all() and f["rate"].between(0, 1).all()
    pop = read("population.csv")
    women = pop[pop["sex"] == "female"].groupby("age")["persons"].sum()
    births = (f.set_index("age")["rate"] * women.reindex(f["age"]).to_numpy()).sum()
    assert births == pytest.approx(5.99e-3 * TOTAL, rel=0.01)
    assert 0.6 < f["rate"].sum() <= 1.3
