"""Conversions: private non-inclusive kindergarten places made inclusive (普惠) through a subsidy.

A candidate site with ``kind = "conversion"`` is an offer at one street's private non-inclusive
kindergarten places: from ``earliest_year``, up to ``sizes`` classes (or ``places``) of them may be
made inclusive at ``annual_cost_per_place`` (yuan per place per year; e.g. the subsidy or purchased
service that makes a private kindergarten 普惠). When the optimizer chooses it in year ``tau``:

* its standard places leave the street's private non-inclusive pool and join the street's private
  inclusive pool from ``tau`` on (so they count towards ``inclusive_share_min``); the overcrowded
  margin of the converted classes stays with the non-inclusive pool (modelling choice: a subsidy
  buys standard places);
* its cost (million CNY) is ``places x annual_cost_per_place x (plan_end - tau + 1) / 10^6``: the
  subsidy over the years from ``tau`` to the end of the plan period (modelling choice: the plan's
  budget; years after ``plan_end`` are the next plan's);
* it is neither a new school nor new places: it never counts towards ``new_schools``,
  ``kindergarten_new_places``, ``max_openings_per_year`` or the capital budget
  ``max_cost_per_year`` (a subsidy is a running cost), nor the ``schools`` / ``places`` terms of the
  needs assessment.

The site's ``public`` and ``inclusive`` flags describe the places after conversion and must be
``false`` / ``true``; ``cost_per_class`` must be empty or 0 (the cost is the annual one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The site kind of a conversion.
CONVERSION = "conversion"
#: Yuan per million CNY (``annual_cost_per_place`` is in yuan, the model's costs in million CNY).
YUAN_PER_MILLION = 1e6


def _first(mask) -> int:
    return int(np.flatnonzero(np.asarray(mask))[0])


def check_conversion_rows(sit: pd.DataFrame) -> pd.DataFrame:
    """Read ``annual_cost_per_place`` (yuan per place per year) and check the conversion rows of a
    normalised sites table; returns the table with the column as floats (NaN where not given) and,
    for conversions, ``cost_per_class`` set to the annual cost per place in million CNY (so that
    two conversions at different prices are never taken for identical sites).

    Raises ``ValueError`` naming the site for a cost that is not a number or negative, a cost given
    on a site that is not a conversion, a conversion without a cost or with ``cost_per_class``, and a
    conversion whose flags are not ``public = false``, ``inclusive = true``.
    """
    sit = sit.copy()
    raw = sit["annual_cost_per_place"]
    given = raw.notna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy()
    num = pd.to_numeric(raw.where(given, np.nan), errors="coerce").astype(float)
    conv = (sit["kind"] == CONVERSION).to_numpy()
    name = sit["site"].to_numpy()
    bad = given & num.isna().to_numpy()
    if bad.any():
        i = _first(bad)
        raise ValueError(f"site {name[i]}: annual_cost_per_place {raw.iloc[i]!r} is not a number "
                         "(yuan per place per year)")
    neg = given & (num.fillna(0).to_numpy() < 0)
    if neg.any():
        i = _first(neg)
        raise ValueError(f"site {name[i]}: annual_cost_per_place {num.iloc[i]:g} must be >= 0 "
                         "(yuan per place per year)")
    odd = given & ~conv
    if odd.any():
        i = _first(odd)
        raise ValueError(f"site {name[i]}: annual_cost_per_place is for conversions only (kind "
                         f"{sit['kind'].iloc[i]!r}; its cost is cost_per_class)")
    missing = conv & ~given
    if missing.any():
        i = _first(missing)
        raise ValueError(f"site {name[i]}: a conversion needs annual_cost_per_place (yuan per place "
                         "per year)")
    capital = conv & (sit["cost_per_class"].to_numpy(float) != 0)
    if capital.any():
        i = _first(capital)
        raise ValueError(f"site {name[i]}: a conversion's cost is annual_cost_per_place; "
                         f"cost_per_class {sit['cost_per_class'].iloc[i]:g} must be empty or 0")
    flags = conv & (sit["public"].to_numpy(bool) | ~sit["inclusive"].to_numpy(bool))
    if flags.any():
        i = _first(flags)
        raise ValueError(f"site {name[i]}: a conversion makes private places inclusive: public must "
                         f"be false and inclusive true (got public={bool(sit['public'].iloc[i])}, "
                         f"inclusive={bool(sit['inclusive'].iloc[i])})")
    sit["annual_cost_per_place"] = num
    sit.loc[conv, "cost_per_class"] = num[conv] / YUAN_PER_MILLION
    return sit


def conversion_sources(opt: pd.DataFrame, ex: pd.DataFrame, kg: str, plan_end: int) -> pd.DataFrame:
    """The options with ``from_pool_key`` resolved: for conversions the key ``pstreet, level`` of
    the street's private non-inclusive kindergarten places they take, the overcrowded places set
    to 0 and the cost set to the subsidy from the open year to ``plan_end`` (million CNY).

    ``opt`` are the open options (``site, street, level, year, classes, std, over, cost, kind,
    annual_cost_per_place``), ``ex`` the existing pools (``pstreet, level, pub, inc, std, over``).

    Raises ``ValueError`` naming the site for a conversion not at the kindergarten level, at a
    street without private non-inclusive kindergarten places, or whose conversions together may
    take more standard places than the street has.
    """
    opt = opt.copy()
    conv = (opt["kind"] == CONVERSION).to_numpy()
    opt["converts"] = conv
    if not conv.any():
        return opt
    c = opt[conv]
    wrong = (c["level"] != kg).to_numpy()
    if wrong.any():
        r = c.iloc[_first(wrong)]
        raise ValueError(f"site {r['site']}: a conversion is of {kg} places, not {r['level']}")
    src = ex[(ex["level"] == kg) & ~ex["pub"] & ~ex["inc"]].set_index("pstreet")["std"]
    have = c["street"].map(src).fillna(0.0).to_numpy()
    none = have <= 0
    if none.any():
        r = c.iloc[_first(none)]
        raise ValueError(f"site {r['site']}: a conversion needs private non-inclusive {kg} places in "
                         f"street {r['street']}, and there are none")
    most = c.groupby(["street", "site"])["std"].max().groupby(level="street").sum()
    over = most[most > src.reindex(most.index).to_numpy() + 1e-9]
    if len(over):
        st = over.index[0]
        sites = ", ".join(sorted(c.loc[c["street"] == st, "site"].unique()))
        raise ValueError(f"site {sites}: conversions in street {st} may take {over.iloc[0]:g} places, "
                         f"more than its {src[st]:g} private non-inclusive {kg} places")
    opt.loc[conv, "over"] = 0.0
    years = plan_end - opt.loc[conv, "year"].to_numpy(float) + 1.0
    opt.loc[conv, "cost"] = (opt.loc[conv, "std"].to_numpy(float) * years
                             * opt.loc[conv, "annual_cost_per_place"].to_numpy(float) / YUAN_PER_MILLION)
    return opt


def option_effects(opt: pd.DataFrame) -> pd.DataFrame:
    """What each open option does to the places of the pools: ``opt, pool, tau, ostd, oover``, one
    row per option at its own pool (places added) and, for a conversion, a second row at the pool
    it takes its places from (``ostd`` negative, ``oover`` 0)."""
    base = opt[["opt", "pool", "year", "std", "over"]].rename(
        columns={"year": "tau", "std": "ostd", "over": "oover"})
    if "from_pool" not in opt or not opt["converts"].any():
        return base
    c = opt[opt["converts"].to_numpy()]
    out = pd.DataFrame({"opt": c["opt"].to_numpy(), "pool": c["from_pool"].to_numpy(int),
                        "tau": c["year"].to_numpy(), "ostd": -c["std"].to_numpy(float),
                        "oover": np.zeros(len(c))})
    return pd.concat([base, out], ignore_index=True)


def converted_by_pool_year(oy: pd.DataFrame, x: np.ndarray, n_py: int) -> np.ndarray:
    """Standard places converted away from every pool-year (``oy``: option x pool-year rows with a
    ``py`` column) with the options ``x`` (0/1) open: >= 0, zero where nothing is converted."""
    out = np.zeros(n_py)
    if not len(oy):
        return out
    neg = oy["ostd"].to_numpy(float) < 0
    on = neg & (x[oy["opt"].to_numpy()] > 0.5)
    np.add.at(out, oy["py"].to_numpy()[on], -oy["ostd"].to_numpy(float)[on])
    return out
