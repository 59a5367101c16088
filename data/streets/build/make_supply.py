"""supply.csv, housing.csv, sites.csv: all **estimates** (Dongli school counts were not found).

supply (base year 2020), made consistent with the 2021-2025 education plan:
* kindergarten: children = 0.915 x residents aged 3-5 (gross enrolment 91.5%, plan); places = 1.03 x
  children (a few vacancies), split public 37% / private inclusive 31% / private non-inclusive 32%
  (inclusive coverage 68%, plan; public share chosen so the plan's >= 50% target is a stretch). Streets
  get places in proportion to their residents 3-5 times a pressure factor (growth streets tight, old
  streets slack); the public share is higher in the old streets. classes = places / 30.
* primary (6-11, 45 per class), junior (12-14, 50 per class): public schools, places about the
  district's residents of those ages, growth streets short and old streets with slack.
* senior stage (15-17, 50 per class): places = 0.967 x residents 15-17 (senior-stage gross enrolment
  96.7%, plan), split into general senior high (普通高中, level "senior") 68%, in four streets, and
  secondary vocational (中职, level "vocational") 32%, all in the district's vocational centre
  (东丽区职业教育中心学校, named by the plan; its places and street are not known: placed in 张贵庄,
  the district seat). 32% = Tianjin's vocational share of senior-stage pupils in school in 2020
  (secondary specialised 58,658 + vocational high 19,491 against general senior high 168,573;
  technical schools excluded).
housing: planned completions 2021-2035 in the growth streets, front-loaded (illustrative).
sites: illustrative candidate sites (not real parcels), seeded random points inside the street polygons;
then the plan's other levers as options at existing places, at the street point (estimates):
* expansions (kind = expansion; 内部挖潜 / 改扩建): 2 or 4 more classes at the public places of a street,
  from 2022, at half the cost per class of a new school of the level: kindergartens in the five streets
  where the plan builds public kindergartens, primary and junior schools in the three northern streets
  it names;
* conversions (kind = conversion; 普惠 through rent relief and purchased places): a quarter or half of a
  street's private non-inclusive kindergarten classes made inclusive, from 2021, at
  CONVERSION_YUAN yuan per place per year.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from common import CODE, OUT, STREET_IDS
from make_population import largest_remainder
from shapely.geometry import Point

SEED = 20201101
NAMES = {v: k for k, v in CODE.items()}

KG_ENROL = 0.915      # plan: gross preschool enrolment 2020
KG_VACANCY = 1.03     # places per enrolled child (estimate)
KG_SPLIT = {(True, True): 0.37, (False, True): 0.31, (False, False): 0.32}
SENIOR_RATE = 0.967   # plan: senior-stage gross enrolment 2020 (general and vocational together)
# Tianjin 2020, pupils in school: secondary specialised 58,658 + vocational high 19,491 = 78,149
# vocational against 168,573 general senior high: 78,149 / 246,722 = 0.317 (technical schools,
# 20,252, excluded: they are not run by the education bureau)
VOCATIONAL_SHARE = 0.32
VOCATIONAL_STREET = "张贵庄"   # estimate: the vocational centre's street is not known
CLASS = {"kindergarten": 30, "primary": 45, "junior": 50, "senior": 50, "vocational": 50}

# places per resident of the level's ages, relative (normalised to the district total below)
PRESSURE = {
    "张贵庄": 1.18, "丰年村": 1.18, "无瑕": 1.06, "军粮城": 1.06, "万新": 0.97, "新立": 0.98,
    "华明": 0.92, "金钟": 0.90, "金桥": 0.90, "华新": 0.85, "东丽湖": 0.80,
}
# junior schools: the north (东丽湖, 华新) is short
JUNIOR_PRESSURE = dict(PRESSURE, 华新=0.55, 东丽湖=0.50)
# public share of kindergarten places, relative (old streets more public)
KG_PUBLIC = {"张贵庄": 1.35, "丰年村": 1.35, "无瑕": 1.15, "军粮城": 1.15, "万新": 1.0, "新立": 1.0,
             "华明": 0.85, "金钟": 0.85, "金桥": 0.8, "华新": 0.8, "东丽湖": 0.75}
SENIOR_STREETS = {"张贵庄": 0.30, "新立": 0.35, "军粮城": 0.20, "无瑕": 0.15}

HOUSING_YEARS = list(range(2021, 2036))
HOUSING_TOTAL = [4000, 4200, 3800, 3300, 2800, 2300, 1800, 1300, 1000, 800, 600, 500, 400, 300,
                 300]
HOUSING_SPLIT = {"华明": 0.20, "东丽湖": 0.18, "金桥": 0.15, "新立": 0.13, "万新": 0.12,
                 "金钟": 0.12, "华新": 0.10}

SITES = {
    "kindergarten": {"华明": 8, "金桥": 7, "新立": 7, "万新": 6, "东丽湖": 6, "金钟": 4, "华新": 4,
                     "张贵庄": 1, "无瑕": 1, "军粮城": 1},
    "primary": {"东丽湖": 3, "金钟": 3, "华新": 3, "华明": 2, "金桥": 1, "万新": 1, "新立": 1,
                "军粮城": 1},
    "junior": {"东丽湖": 2, "金钟": 2, "华新": 2, "华明": 1, "新立": 1},
    "senior": {"华明": 1, "东丽湖": 1, "金钟": 1, "万新": 1, "华新": 1},
}
PREFIX = {"kindergarten": "K", "primary": "P", "junior": "J", "senior": "S"}
SIZES = {"kindergarten": "6;9;12", "primary": "12;18;24;30", "junior": "12;18;24;30",
         "senior": "18;24;30;36"}
COST = {"kindergarten": 1.5, "primary": 3.0, "junior": 3.5, "senior": 4.0}
# expansions (内部挖潜 / 改扩建): the plan's public-kindergarten growth streets (line 142) and its
# northern compulsory-school streets (line 153); classes each may add, first year, share of the
# new-school cost per class (estimates)
EXPANSION_STREETS = {"kindergarten": ["华明", "金桥", "万新", "新立", "东丽湖"],
                     "primary": ["东丽湖", "金钟", "华新"], "junior": ["东丽湖", "金钟", "华新"]}
EXPANSION_SIZES = "2;4"
EXPANSION_YEAR = 2022
EXPANSION_COST_SHARE = 0.5
# conversions of private non-inclusive kindergarten places to inclusive (普惠): annual subsidy per
# place (estimate: no Tianjin or Dongli figure found) and the shares of a street's classes offered
CONVERSION_YUAN = 2000
CONVERSION_SHARES = (0.25, 0.5)
CONVERSION_YEAR = 2021
# earliest opening year: most sites free now, some only later (timing matters)
YEARS = [2021, 2021, 2021, 2022, 2022, 2022, 2023, 2023, 2024, 2024, 2025, 2026, 2027, 2028]


def residents(pop: pd.DataFrame, lo: int, hi: int) -> pd.Series:
    sel = pop[(pop["age"] >= lo) & (pop["age"] <= hi)]
    return sel.groupby("street")["persons"].sum().reindex(list(STREET_IDS))


def spread(weights: pd.Series, total: float) -> pd.Series:
    return weights / weights.sum() * total


def supply(pop: pd.DataFrame) -> pd.DataFrame:
    rows = []
    press = pd.Series({s: PRESSURE[NAMES[s]] for s in STREET_IDS})
    # kindergarten
    k = residents(pop, 3, 5)
    places = spread(k * press, KG_ENROL * KG_VACANCY * k.sum())
    pub_w = pd.Series({s: KG_PUBLIC[NAMES[s]] for s in STREET_IDS})
    public = spread(places * pub_w, KG_SPLIT[(True, True)] * places.sum())
    public = np.minimum(public, 0.7 * places)
    rest = places - public
    inc = spread(rest, KG_SPLIT[(False, True)] * places.sum())
    for s in STREET_IDS:
        for (pub, incl), p in (((True, True), public[s]), ((False, True), inc[s]),
                               ((False, False), rest[s] - inc[s])):
            c = int(round(p / CLASS["kindergarten"]))
            if c > 0:
                rows.append((s, "kindergarten", pub, incl, c, c * CLASS["kindergarten"]))
    # primary and junior: public schools
    for level, lo, hi, pr in (("primary", 6, 11, PRESSURE), ("junior", 12, 14, JUNIOR_PRESSURE)):
        r = residents(pop, lo, hi)
        w = pd.Series({s: pr[NAMES[s]] for s in STREET_IDS})
        pl = spread(r * w, r.sum())
        for s in STREET_IDS:
            c = int(round(pl[s] / CLASS[level]))
            if c > 0:
                rows.append((s, level, True, True, c, c * CLASS[level]))
    # senior stage: general senior high in four streets, vocational in the vocational centre
    stage = SENIOR_RATE * residents(pop, 15, 17).sum()
    total = (1 - VOCATIONAL_SHARE) * stage
    for name, sh in SENIOR_STREETS.items():
        c = int(round(sh * total / CLASS["senior"]))
        rows.append((CODE[name], "senior", True, True, c, c * CLASS["senior"]))
    c = int(round(VOCATIONAL_SHARE * stage / CLASS["vocational"]))
    rows.append((CODE[VOCATIONAL_STREET], "vocational", True, True, c, c * CLASS["vocational"]))
    out = pd.DataFrame(rows, columns=["street", "level", "public", "inclusive", "classes",
                                      "places"])
    order = {lv: i for i, lv in enumerate(CLASS)}
    out = out.sort_values(["street", "level"], key=lambda c: c.map(order) if c.name == "level"
                          else c, kind="stable").reset_index(drop=True)
    return out


def housing() -> pd.DataFrame:
    rows = []
    names = list(HOUSING_SPLIT)
    for y, tot in zip(HOUSING_YEARS, HOUSING_TOTAL, strict=True):
        d = largest_remainder(np.array([HOUSING_SPLIT[n] for n in names]), tot)
        rows += [(CODE[n], y, int(v)) for n, v in zip(names, d, strict=True)]
    out = pd.DataFrame(rows, columns=["street", "year", "dwellings"])
    return out.sort_values(["street", "year"]).reset_index(drop=True)


def sites(polys: dict[str, object]) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    rows = []
    for level, per_street in SITES.items():
        n = 0
        for name, count in per_street.items():
            poly = polys[CODE[name]]
            inner = poly.buffer(-0.004)
            if inner.is_empty or inner.area < 0.1 * poly.area:
                inner = poly.buffer(-0.001)
            x0, y0, x1, y1 = inner.bounds
            for _ in range(count):
                n += 1
                while True:
                    x = round(float(rng.uniform(x0, x1)), 6)
                    y = round(float(rng.uniform(y0, y1)), 6)
                    if inner.contains(Point(x, y)):
                        break
                year = int(rng.choice(YEARS))
                cost = round(COST[level] * float(rng.uniform(0.9, 1.1)), 2)
                rows.append((f"{PREFIX[level]}{n:02d}", CODE[name], level, year, SIZES[level],
                             x, y, cost, "true", "true"))
    return pd.DataFrame(rows, columns=["site", "street", "level", "earliest_year", "sizes", "lon",
                                       "lat", "cost_per_class", "public", "inclusive"])


def options(sup: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """Expansion and conversion options at existing places, located at the street point."""
    pt = points.set_index("street")
    rows = []
    n = 0
    for level, names in EXPANSION_STREETS.items():
        cost = round(EXPANSION_COST_SHARE * COST[level], 2)
        for name in names:
            s = CODE[name]
            have = sup[(sup["street"] == s) & (sup["level"] == level) & sup["public"]]
            if not len(have):
                continue
            n += 1
            rows.append((f"E{n:02d}", s, level, EXPANSION_YEAR, EXPANSION_SIZES, pt.at[s, "lon"],
                         pt.at[s, "lat"], f"{cost:.6f}", "true", "true", "expansion", ""))
    priv = sup[(sup["level"] == "kindergarten") & ~sup["public"] & ~sup["inclusive"]]
    for i, r in enumerate(priv.sort_values("street").itertuples(), start=1):
        sizes = sorted({max(1, int(r.classes * sh)) for sh in CONVERSION_SHARES})
        rows.append((f"C{i:02d}", r.street, "kindergarten", CONVERSION_YEAR, ";".join(map(str, sizes)),
                     pt.at[r.street, "lon"], pt.at[r.street, "lat"], "", "false", "true", "conversion",
                     str(CONVERSION_YUAN)))
    out = pd.DataFrame(rows, columns=["site", "street", "level", "earliest_year", "sizes", "lon", "lat",
                                      "cost_per_class", "public", "inclusive", "kind",
                                      "annual_cost_per_place"])
    for c in ("lon", "lat"):
        out[c] = out[c].map(lambda v: f"{v:.6f}")
    return out


def all_sites(new: pd.DataFrame, sup: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """New-school sites (formatted as before) followed by the expansion and conversion options."""
    new = new.copy()
    for c, fmt in (("lon", "{:.6f}"), ("lat", "{:.6f}"), ("cost_per_class", "{:.6f}")):
        new[c] = new[c].map(fmt.format)
    new["kind"] = "new"
    new["annual_cost_per_place"] = ""
    return pd.concat([new, options(sup, points)], ignore_index=True)


def main() -> None:
    pop = pd.read_csv(OUT / "population.csv", dtype={"street": str})
    sup = supply(pop)
    sup_out = sup.copy()
    for c in ("public", "inclusive"):
        sup_out[c] = sup_out[c].map({True: "true", False: "false"})
    sup_out.to_csv(OUT / "supply.csv", index=False, lineterminator="\n")
    housing().to_csv(OUT / "housing.csv", index=False, lineterminator="\n")
    geo = gpd.read_file(OUT / "streets.gpkg", layer="streets")
    polys = {s: shapely.make_valid(g) for s, g in zip(geo["street"], geo.geometry, strict=True)}
    points = pd.read_csv(OUT / "streets.csv", dtype={"street": str})[["street", "lon", "lat"]]
    all_sites(sites(polys), sup, points).to_csv(OUT / "sites.csv", index=False, lineterminator="\n")
    # report
    kg = sup[sup["level"] == "kindergarten"]
    r35 = residents(pop, 3, 5).sum()
    pl = kg["places"].sum()
    print(f"kindergarten: residents 3-5 {r35}, places {pl} ({pl / r35:.3f} per resident), "
          f"children at 91.5% {KG_ENROL * r35:.0f}; inclusive share "
          f"{kg[kg['inclusive']]['places'].sum() / pl:.3f}, public share "
          f"{kg[kg['public']]['places'].sum() / pl:.3f}")
    for level, lo, hi in (("primary", 6, 11), ("junior", 12, 14), ("senior", 15, 17),
                          ("vocational", 15, 17)):
        p = sup[sup["level"] == level]["places"].sum()
        r = residents(pop, lo, hi).sum()
        print(f"{level}: residents {r}, places {p} ({p / r:.3f})")


if __name__ == "__main__":
    main()
