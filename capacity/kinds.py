"""What a schedule row is (a new school, an expansion, a conversion) and the kindergarten places
and pupils by type (public / private inclusive / private non-inclusive).

* :func:`by_kind`: the rows of one ``kind``; new schools are what the plan counts, expansions add
  classes at existing places, conversions make private non-inclusive kindergarten places inclusive.
* :func:`kindergarten_types`: per year and type of kindergarten, the standard places (the base
  year's supply plus the schedule's options open by then; a conversion moves its places from the
  private non-inclusive type to the private inclusive one), the pupils taught and the utilisation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Kindergarten types in the order the planner reads them: (label, public, inclusive).
KINDERGARTEN_TYPES = (("public", True, True), ("private inclusive", False, True),
                      ("private non-inclusive", False, False))


def by_kind(schedule: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The rows of a schedule of one ``kind`` (``new``, ``expansion``, ``conversion``); a schedule
    without a ``kind`` column is all new schools."""
    if "kind" not in schedule:
        return schedule if kind == "new" else schedule.iloc[0:0]
    return schedule[schedule["kind"] == kind]


def _type_label(public, inclusive) -> np.ndarray:
    pub = np.asarray(public, dtype=bool)
    inc = np.asarray(inclusive, dtype=bool)
    return np.where(pub, "public", np.where(inc, "private inclusive", "private non-inclusive"))


def kindergarten_types(plan, supply: pd.DataFrame, level: str = "kindergarten") -> pd.DataFrame:
    """Kindergarten places, pupils and utilisation by type and year.

    Parameters
    ----------
    plan
        A plan (``schedule`` with ``public, inclusive[, kind]``; ``assignment`` with ``site``:
        existing places are named ``existing:<street>:public|private:inclusive|non-inclusive``).
    supply : DataFrame
        The base year's places (``level, public, inclusive, places``).
    level : str
        The kindergarten level.

    Returns
    -------
    DataFrame
        ``year, type, places, pupils, utilisation`` (places: standard places; pupils: pupils
        taught there; utilisation = pupils / places, NaN without places), one row per year of the
        assignment and type of :data:`KINDERGARTEN_TYPES`.
    """
    years = sorted(plan.assignment.loc[plan.assignment["level"] == level, "year"].unique())
    types = [t for t, _, _ in KINDERGARTEN_TYPES]
    sup = supply[supply["level"] == level]
    base = pd.Series(sup["places"].to_numpy(float), index=_type_label(sup["public"], sup["inclusive"]))
    base = base.groupby(level=0).sum().reindex(types, fill_value=0.0)
    sch = plan.schedule[plan.schedule["level"] == level]
    for c in ("public", "inclusive"):  # a schedule without the flags: new public schools
        if c not in sch:
            sch = sch.assign(**{c: True})
    rows = []
    a = plan.assignment[plan.assignment["level"] == level]
    existing = a["site"].str.startswith("existing:")
    # existing places: ``existing:<street>:<public|private>:<inclusive|non-inclusive>`` (a name
    # without the type counts as public)
    # each site name split once (the assignment repeats it for every street and year)
    codes, names = pd.factorize(a["site"].astype(str))
    parts = pd.Series(names).str.split(":", n=3, expand=True).reindex(columns=range(4))
    sch_type = pd.Series(_type_label(sch["public"], sch["inclusive"]), index=sch["site"].to_numpy())
    if len(a):
        ex_type = np.where((parts[2] == "public") | parts[2].isna(), "public",
                           np.where(parts[3] == "inclusive", "private inclusive",
                                    "private non-inclusive"))[codes]
        a_type = np.where(existing, ex_type, a["site"].map(sch_type).to_numpy())
    else:
        a_type = np.array([], dtype=object)
    pupils = pd.Series(a["pupils"].to_numpy(float)).groupby([a["year"].to_numpy(), a_type]).sum()
    for y in years:
        places = base.copy()
        open_ = sch[sch["open_year"] <= y]
        kinds = open_["kind"] if "kind" in open_ else pd.Series("new", index=open_.index)
        for public, inclusive, n, kind in zip(open_["public"], open_["inclusive"], open_["places"],
                                              kinds, strict=True):
            places[_type_label(public, inclusive).item()] += float(n)
            if kind == "conversion":
                places["private non-inclusive"] -= float(n)
        for t in types:
            p = float(pupils.get((y, t), 0.0))
            rows.append({"year": int(y), "type": t, "places": float(places[t]), "pupils": p,
                         "utilisation": p / places[t] if places[t] > 0 else np.nan})
    return pd.DataFrame(rows, columns=["year", "type", "places", "pupils", "utilisation"])
