"""fertility.csv, mortality.csv, migration.csv and movers.csv: all **estimates** (see SOURCES.md).

* fertility: Hadwiger age pattern (b = 3.6, c = 30.5: peak at 29, mean age 30.9) over ages 15-49, scaled so that
  the births of the base-year female population equal Tianjin's 2020 crude birth rate (5.99 per 1000)
  times 857,027 residents.
* mortality: Gompertz-Makeham hazard plus an infant/child term and a young-adult (accident) hump,
  q_x = 1 - exp(-mu(x + 0.5)), q_0 set to 0.0030 (boys) / 0.0026 (girls), q_100 = 1; the Gompertz
  level B solved by bisection so that e0 = 79.6 (male) and 84.0 (female), i.e. about 81.7 for both
  sexes (Tianjin 81.69 in 2019; 2014: male 79.02, female 83.23). e0 = sum over x of (l_x - d_x / 2).
* migration: baseline net migration rate = street level + age profile (young-adult inflow peaking at
  25, slight outflow at other ages), men's young-adult inflow x 1.2; housing-led inflow excluded.
* movers: age-sex profile of the residents of newly completed dwellings (young families).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import CBR_TIANJIN_2020, CENSUS_TOTAL, CODE, MAX_AGE, OUT, Q0, SEXES, STREET_IDS

AGES = np.arange(MAX_AGE + 1)
E0_TARGET = {"male": 79.6, "female": 84.0}


# ------------------------------------------------------------------ fertility
def hadwiger(ages: np.ndarray, b: float = 3.6, c: float = 30.5) -> np.ndarray:
    x = ages.astype(float)
    f = (b / c) * (c / x) ** 1.5 * np.exp(-(b ** 2) * (c / x + x / c - 2)) / np.sqrt(np.pi)
    return f / f.sum()


def fertility(pop: pd.DataFrame) -> tuple[pd.DataFrame, float, float]:
    ages = np.arange(15, 50)
    shape = hadwiger(ages)
    women = (pop[pop["sex"] == "female"].groupby("age")["persons"].sum()
             .reindex(ages).to_numpy(dtype=float))
    births = CBR_TIANJIN_2020 * CENSUS_TOTAL
    tfr = births / float((shape * women).sum())
    rate = np.round(tfr * shape, 6)
    return pd.DataFrame({"age": ages, "rate": rate}), tfr, float((rate * women).sum())


# ------------------------------------------------------------------ mortality
def q_from(b: float, sex: str) -> np.ndarray:
    x = AGES + 0.5
    a_mak, c_gom = 0.00015, 0.095
    child = 0.0006 * np.exp(-0.9 * AGES)
    hump = (0.00035 if sex == "male" else 0.00010) * np.exp(-(((AGES - 22) / 7.0) ** 2))
    mu = a_mak + b * np.exp(c_gom * x) + child + hump
    q = 1 - np.exp(-mu)
    q[0] = Q0[sex]
    q = np.minimum(q, 1.0)
    q[-1] = 1.0
    return q


def life_expectancy(q: np.ndarray) -> float:
    lx = np.concatenate([[1.0], np.cumprod(1 - q)[:-1]])
    dx = lx * q
    return float((lx - dx / 2).sum())


def mortality() -> tuple[pd.DataFrame, dict[str, float]]:
    rows, e0 = [], {}
    for sex in SEXES:
        lo, hi = 1e-7, 1e-3
        for _ in range(200):
            mid = np.sqrt(lo * hi)
            if life_expectancy(q_from(mid, sex)) > E0_TARGET[sex]:
                lo = mid
            else:
                hi = mid
        q = np.round(q_from(np.sqrt(lo * hi), sex), 8)
        q[-1] = 1.0
        e0[sex] = life_expectancy(q)
        rows += [(sex, int(a), float(q[a])) for a in AGES]
    return pd.DataFrame(rows, columns=["sex", "age", "death_probability"]), e0


# ------------------------------------------------------------------ migration
STREET_LEVEL = {"张贵庄": -0.004, "丰年村": -0.004, "无瑕": -0.002, "军粮城": -0.001, "万新": 0.0,
                "新立": 0.0, "金钟": 0.002, "华明": 0.002, "金桥": 0.003, "华新": 0.003,
                "东丽湖": 0.004}


def age_profile(sex: str) -> np.ndarray:
    bump = 0.012 * np.exp(-(((AGES - 25) / 5.5) ** 2))
    bump[(AGES < 16) | (AGES > 40)] = 0.0
    if sex == "male":
        bump *= 1.2
    base = np.where(AGES < 16, -0.001, np.where(AGES <= 35, 0.0, np.where(AGES < 80, -0.002,
                                                                            -0.001)))
    return bump + base


def migration() -> pd.DataFrame:
    names = {v: k for k, v in CODE.items()}
    rows = []
    for s in STREET_IDS:
        for sex in SEXES:
            r = np.round(STREET_LEVEL[names[s]] + age_profile(sex), 6)
            assert np.abs(r).max() < 0.03
            rows += [(s, sex, int(a), float(r[a])) for a in AGES]
    return pd.DataFrame(rows, columns=["street", "sex", "age", "net_rate"])


# ------------------------------------------------------------------ movers
def movers() -> pd.DataFrame:
    w = np.zeros(MAX_AGE + 1)
    w += 1.0 * np.exp(-(((AGES - 31) / 5.5) ** 2))           # parents, peak at 31
    w += 0.30 * np.exp(-(((AGES - 48) / 8.0) ** 2))          # older buyers / upgraders
    w += 0.08 * np.exp(-(((AGES - 60) / 6.0) ** 2))          # co-resident grandparents
    kids = np.where(AGES <= 9, 0.55 - 0.025 * AGES, 0.0)     # babies and pre-school/primary children
    kids += np.where((AGES >= 10) & (AGES <= 17), 0.28 - 0.02 * (AGES - 10), 0.0)
    w += kids
    w[AGES >= 75] *= 0.3
    share = np.vstack([w * 0.505, w * 0.495])                # slight male surplus as in Dongli
    share = np.round(share / share.sum(), 12)
    i = np.unravel_index(np.argmax(share), share.shape)
    share[i] = round(share[i] + (1.0 - share.sum()), 12)
    return pd.DataFrame([(sex, int(a), float(share[j, a])) for j, sex in enumerate(SEXES)
                         for a in AGES], columns=["sex", "age", "share"])


def main() -> None:
    pop = pd.read_csv(OUT / "population.csv", dtype={"street": str})
    fert, tfr, births = fertility(pop)
    fert.to_csv(OUT / "fertility.csv", index=False, lineterminator="\n", float_format="%.6f")
    mort, e0 = mortality()
    mort.to_csv(OUT / "mortality.csv", index=False, lineterminator="\n", float_format="%.8f")
    migration().to_csv(OUT / "migration.csv", index=False, lineterminator="\n",
                       float_format="%.6f")
    mov = movers()
    mov.to_csv(OUT / "movers.csv", index=False, lineterminator="\n", float_format="%.12f")
    both = (1.113 * e0["male"] + e0["female"]) / 2.113
    peak = int(fert.loc[fert["rate"].idxmax(), "age"])
    print(f"TFR {tfr:.3f}, births {births:.0f}, peak age {peak}; e0 male {e0['male']:.2f}, "
          f"female {e0['female']:.2f}, both (SRB-weighted) {both:.2f}")
    m = mov.set_index("age").groupby(level=0)["share"].sum()
    print(f"movers: 0-9 {m.loc[0:9].sum():.3f}, 25-39 {m.loc[25:39].sum():.3f}, "
          f"60+ {m.loc[60:].sum():.3f}, sum {mov['share'].sum():.12f}")


if __name__ == "__main__":
    main()
