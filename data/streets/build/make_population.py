"""population.csv: base-year (census day 1 Nov 2020) residents by street, sex and single year of age.

Exact (sourced) district figures: total 857,027; males round(0.5287 * total); the broad age groups
0-14, 15-59, 60+ and 65+ as round(share * total). Everything below the district broad groups is an
**estimate** (see SOURCES.md):

* single-year shape within the broad groups: age 0 is the base year's births at the fertility rates
  (Tianjin's 2020 crude birth rate x 857,027, as make_rates.py calibrates them) times 1 - q_0, so that
  the base population and the rates agree and the projection starts without a step; ages 1-14 follow
  Tianjin births by year of birth (facts file, linearly interpolated between the known years) and take
  the rest of the 0-14 group; ages 15+ follow a smooth curve with the broad features of China's 2020
  age pyramid (peaks in the 1960s and late-1980s birth cohorts; ages 15-19 low, 52 against 75 for
  20-24), ages 18-39 raised by 15% for Dongli's in-migration of young workers; then ages 15-21 are
  replaced by one constant rate of growth per year of age from age 14 to age 22, so that the child
  ages (birth cohorts) join the adult curve without a step (scaled to separate census groups, the two
  met with a 25% jump at 17 -> 18), and ages 22-59 take the rest of the 15-59 group;
* sex: males per age from a smooth male-share curve (boys 1.113 at birth, male surplus in working ages,
  female surplus in old age), the working-age level solved so that all males add up exactly;
* streets: STREET_TOTALS (SOURCES.md table), each street's age profile tilted by exp(beta * g(age)),
  g = young-family contrast, beta from -0.20 (old urban) to +0.20 (new towns), then iterative
  proportional fitting to the district age-sex counts and street totals, and controlled rounding so that
  both the district age-sex counts and the street totals are exact integers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import (
    CBR_TIANJIN_2020,
    CENSUS_TOTAL,
    CODE,
    MALE_SHARE,
    MAX_AGE,
    OUT,
    Q0,
    SEXES,
    SHARE_0_14,
    SHARE_15_59,
    SHARE_60_PLUS,
    SHARE_65_PLUS,
    SRB,
    STREET_IDS,
)

AGES = np.arange(MAX_AGE + 1)

# Street totals 2020 (estimates; basis in SOURCES.md). Sum = 857,027.
STREET_TOTALS = {
    "张贵庄": 58_000,   # 57,513 at end 2015; old urban street, about flat
    "丰年村": 19_500,   # 2010 census 19,075; old urban street, about flat
    "万新": 111_527,    # 2010 census 98,673 + growth (new housing, airport-side); remainder street
    "无瑕": 61_000,     # 2010 census 54,126 + 7,000 zone residents (TEDA West)
    "新立": 235_000,    # 228,656 at end 2016 + ~0.7%/yr; includes 8,570 zone residents
    "华明": 118_000,    # linear between 2010 (64,138) and 2024 (~140,000)
    "金钟": 92_000,     # 2010 census 73,732, +25% (north-west growth area)
    "军粮城": 62_000,   # 2010 census 52,112 + 7,000 zone residents + new-town growth
    "金桥": 38_000,     # 2010 census 14,252 + 12,000 airport-zone residents + growth
    "华新": 39_000,     # created after 2010 from parts of 华明/金桥 + new housing; 6,000 zone residents
    "东丽湖": 23_000,   # 2010 census 3,650; strong growth of lake-side housing
}

# age-profile tilt per street (growth streets younger, old urban streets older)
BETA = {"张贵庄": -0.20, "丰年村": -0.20, "无瑕": -0.08, "军粮城": -0.04, "万新": 0.0, "新立": 0.0,
        "金钟": 0.08, "华明": 0.08, "金桥": 0.12, "华新": 0.16, "东丽湖": 0.20}

# Tianjin births by calendar year (facts file: 2011 113,900; 2012 121,100; 2014 ">120,000";
# 2017 119,300; 2020 = CBR 5.99 per 1000 x 13.87 M = 83,081). 2006 and 2010: estimates (CBR about
# 7.5-8 per 1000 on 11-13 M residents), the rest linear between.
BIRTHS_KNOWN = {2006: 85_000, 2010: 100_000, 2011: 113_900, 2012: 121_100, 2014: 120_000,
                2017: 119_300, 2020: 83_081}

# smooth curve for ages 15+: relative 5-year group sizes with the broad features of China's 2020 age
# pyramid (estimate, not a sourced table): low 15-24 (15-19 lowered further), bulge at 30-34 and 45-54, dip at 60-64.
GROUP5 = {15: 52, 20: 75, 25: 92, 30: 124, 35: 99, 40: 93, 45: 114, 50: 121, 55: 101, 60: 73,
          65: 74, 70: 50, 75: 31, 80: 20, 85: 10.6, 90: 3.7, 95: 0.8}


# ages 15 .. BRIDGE_TO - 1 join the child ages and the adult curve at a constant rate of growth per
# year of age (see district_counts): the child ages follow birth cohorts and the adult curve 5-year
# groups, and each is scaled to its own census group, so they meet with a step otherwise
BRIDGE_TO = 22


def largest_remainder(x: np.ndarray, total: int) -> np.ndarray:
    """Round non-negative reals to integers summing to ``total`` (ties by index, deterministic)."""
    x = np.asarray(x, dtype=float) * total / np.sum(x)
    base = np.floor(x).astype(np.int64)
    short = total - int(base.sum())
    order = np.lexsort((np.arange(len(x)), -(x - base)))
    base[order[:short]] += 1
    return base


def age_shape() -> np.ndarray:
    w = np.zeros(MAX_AGE + 1)
    years = sorted(BIRTHS_KNOWN)
    for a in range(15):
        w[a] = np.interp(2020 - a, years, [BIRTHS_KNOWN[y] for y in years])
    starts = np.array(sorted(GROUP5))
    dens = np.array([GROUP5[s] / 5 for s in starts])
    mids = starts + 2.0
    ages = np.arange(15, MAX_AGE + 1)
    d = np.interp(ages, mids, dens)
    # beyond 97: geometric fall-off
    d[ages > 97] = dens[-1] * 0.55 ** (ages[ages > 97] - 97)
    # keep each 5-year group's relative total
    for s in starts:
        sel = (ages >= s) & (ages < s + 5)
        d[sel] *= GROUP5[s] / d[sel].sum()
    d[(ages >= 18) & (ages <= 39)] *= 1.15
    w[15:] = d
    return w


def male_share_curve() -> np.ndarray:
    m = np.zeros(MAX_AGE + 1)
    m[:15] = 1.113 / 2.113 + 0.002 * np.arange(15) / 14   # ~0.527-0.529
    m[15:60] = 0.545                                        # shifted below to hit the total
    m[60:] = np.interp(AGES[60:], [60, 70, 80, 90, 100], [0.50, 0.48, 0.44, 0.36, 0.28])
    return m


def age0_persons() -> int:
    """Base-year residents aged 0: the births of the base year at the fertility rates (Tianjin's 2020
    crude birth rate times the census total, the calibration of make_rates.py) that survive the year
    (1 - q_0 of each sex, weighted by the sex ratio at birth), as the projection treats births."""
    births = CBR_TIANJIN_2020 * CENSUS_TOTAL
    q0 = (SRB * Q0["male"] + Q0["female"]) / (1 + SRB)
    return round(births * (1 - q0))


def district_counts() -> np.ndarray:
    """(sex, age) integer counts with the census totals exact."""
    total = CENSUS_TOTAL
    g0 = round(SHARE_0_14 * total)
    g1 = round(SHARE_15_59 * total)
    g65 = round(SHARE_65_PLUS * total)
    g60 = total - g0 - g1
    assert g60 == round(SHARE_60_PLUS * total)
    males = round(MALE_SHARE * total)
    w = age_shape()
    persons = np.zeros(MAX_AGE + 1, dtype=np.int64)
    persons[0] = age0_persons()
    for lo, hi, n in ((1, 14, g0 - persons[0]), (60, 64, g60 - g65), (65, MAX_AGE, g65)):
        persons[lo:hi + 1] = largest_remainder(w[lo:hi + 1], n)
    # ages 15-59: the adult curve, except that ages 15 .. BRIDGE_TO - 1 grow at one constant rate
    # from age 14 to age BRIDGE_TO; the curve's ages BRIDGE_TO-59 take the rest of the group
    # (fixed point: the bridge's end depends on that scaling)
    bridge = np.arange(15, BRIDGE_TO)
    rest = w[BRIDGE_TO:60]
    top = g1 * rest[0] / w[15:60].sum()
    for _ in range(200):
        steps = np.arange(1, len(bridge) + 1) / (len(bridge) + 1)
        b = persons[14] * (top / persons[14]) ** steps
        top_new = (g1 - b.sum()) * rest[0] / rest.sum()
        if abs(top_new - top) < 1e-9:
            break
        top = top_new
    persons[15:60] = largest_remainder(np.concatenate([b, (g1 - b.sum()) * rest / rest.sum()]), g1)
    m = male_share_curve()
    # shift the 15-59 male share so that the expected males add up
    rest = (m * persons).sum() - (m[15:60] * persons[15:60]).sum()
    m[15:60] = (males - rest) / persons[15:60].sum()
    male = largest_remainder(m * persons, males)
    male = np.minimum(male, persons)
    # re-balance if the cap bit (it does not for these curves)
    assert male.sum() == males
    return np.vstack([male, persons - male])


def young_family_contrast() -> np.ndarray:
    g = np.zeros(MAX_AGE + 1)
    g[0:10] = 1.0
    g[10:15] = 0.5
    g[20:25] = 0.5
    g[25:40] = 1.0
    g[40:45] = 0.5
    g[60:] = -1.0
    return g


def controlled_round(x: np.ndarray, row_tot: np.ndarray, col_tot: np.ndarray) -> np.ndarray:
    """Integers with exact column totals (largest remainder per column), then unit swaps within
    columns between rows with a surplus and rows with a deficit until the row totals are exact."""
    n_r, n_c = x.shape
    out = np.zeros_like(x, dtype=np.int64)
    for c in range(n_c):
        out[:, c] = largest_remainder(x[:, c], int(col_tot[c])) if col_tot[c] else 0
    for _ in range(100_000):
        diff = out.sum(axis=1) - row_tot
        if not diff.any():
            break
        s = int(np.argmax(diff))   # largest surplus
        t = int(np.argmin(diff))   # largest deficit
        # the column where moving one person from s to t costs least (x - out: rounding error)
        cost = (out[s] - x[s]) - (out[t] - x[t])
        cost[out[s] <= 0] = -np.inf
        c = int(np.argmax(cost))
        out[s, c] -= 1
        out[t, c] += 1
    assert (out.sum(axis=1) == row_tot).all() and (out.sum(axis=0) == col_tot).all()
    return out


def main() -> None:
    names = {v: k for k, v in CODE.items()}
    tot = np.array([STREET_TOTALS[names[s]] for s in STREET_IDS], dtype=np.int64)
    assert tot.sum() == CENSUS_TOTAL, tot.sum()
    dist = district_counts()                       # (2, age)
    col = dist.reshape(-1)                         # male ages, then female ages
    g = np.tile(young_family_contrast(), 2)
    beta = np.array([BETA[names[s]] for s in STREET_IDS])
    x = np.exp(beta[:, None] * g[None, :]) * col[None, :].astype(float)
    for _ in range(500):                           # IPF
        x *= (tot / x.sum(axis=1))[:, None]
        x *= np.divide(col, x.sum(axis=0), out=np.zeros_like(col, dtype=float),
                       where=x.sum(axis=0) > 0)[None, :]
    out = controlled_round(x, tot, col)
    rows = []
    for i, s in enumerate(STREET_IDS):
        for j, sex in enumerate(SEXES):
            for a in range(MAX_AGE + 1):
                rows.append((s, sex, a, int(out[i, j * (MAX_AGE + 1) + a])))
    pd.DataFrame(rows, columns=["street", "sex", "age", "persons"]).to_csv(
        OUT / "population.csv", index=False, lineterminator="\n")


if __name__ == "__main__":
    main()
