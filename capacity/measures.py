"""The planner's measures: places and classes short, spare places and utilisation, per year.

A plan's ``balance`` counts pupils (expected values) by street, level and year. Planners ask in
places and classes (班) *in a given year* at the *standard* class size, so every later figure is read
through these functions:

``places_short``
    Pupils beyond the standard places reachable to them: pupils without any place (``shortfall``)
    plus pupils in overcrowded places (above the standard class size, ``overcrowded``). By street,
    shortfall counts at the pupils' home street and overcrowding at the street the school is in.
``classes_short``
    ``places_short`` in classes of the standard size, rounded up. Places short are first rounded to
    whole pupils (they are expected values; a thousandth of a pupil is not a class). With class
    sizes by grade (``grade_class_size``, the kindergarten level), in real classes:
    ``sum_g ceil(round(places_short x share_g) / size_g)``, ``share_g`` the grade's share of the
    level's pupils that year (``grade_shares``; :mod:`capacity.grades`).
``spare_places``
    Standard places nobody uses: ``places - (enrolled_here - overcrowded)``, at least 0.
``utilisation``
    Pupils taught divided by standard places (``enrolled_here / places``; above 1 means overcrowded
    classes; empty where there are no places).

Identity on every row (district or street): ``pupils - places_short = places - spare_places``
holds for the district totals of a level and year (pupils with a standard place on both sides).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from capacity.grades import grade_classes_short, share_matrix
from capacity.optimize import DEFAULT_CLASS_SIZE

__all__ = ["classes_for", "headline", "peaks", "plan_grades", "street_measures"]

#: The columns of :func:`headline`.
HEADLINE_COLUMNS = ("level", "year", "pupils", "places", "places_short", "classes_short",
                    "spare_places", "utilisation", "shortfall", "overcrowded")


def classes_for(places_short, class_size) -> np.ndarray:
    """Classes of ``class_size`` pupils needed for ``places_short`` pupils (rounded to whole pupils,
    then up to whole classes).

    Parameters
    ----------
    places_short : array-like
        Pupils (expected values, >= 0).
    class_size : float or array-like
        Standard pupils per class.

    Returns
    -------
    ndarray of int
    """
    short = np.round(np.asarray(places_short, dtype=float))
    return np.ceil(short / np.asarray(class_size, dtype=float)).astype(np.int64)


def _class_sizes(plan, class_size: Mapping[str, float] | None) -> dict[str, float]:
    sizes = dict(DEFAULT_CLASS_SIZE)
    if getattr(plan, "class_size", None):
        sizes.update(plan.class_size)
    if class_size:
        sizes.update(class_size)
    return sizes


def plan_grades(plan, grade_class_size=None, grade_shares=None) -> dict:
    """The grade keywords of :func:`street_measures` for ``plan``: the arguments if given, else
    the plan's ``grade_class_size``, ``grade_shares`` and kindergarten level (``{}`` without
    grades)."""
    sizes = grade_class_size if grade_class_size is not None else getattr(plan, "grade_class_size", None)
    if not sizes:
        return {}
    shares = grade_shares if grade_shares is not None else getattr(plan, "grade_shares", None)
    return {"grade_class_size": sizes, "grade_shares": shares,
            "grade_level": getattr(plan, "grade_level", None) or "kindergarten"}


def _classes_short(frame: pd.DataFrame, cs: pd.Series, grade_class_size, grade_shares,
                   grade_level) -> np.ndarray:
    out = classes_for(frame["places_short"], cs.fillna(1.0))
    if grade_class_size:
        kg = (frame["level"] == grade_level).to_numpy()
        if kg.any():
            shares = share_matrix(frame.loc[kg, "year"].to_numpy(int), grade_shares, grade_class_size)
            out[kg] = grade_classes_short(frame.loc[kg, "places_short"].to_numpy(float), shares,
                                          grade_class_size)
    return out


def street_measures(balance: pd.DataFrame, class_size: Mapping[str, float], *,
                    grade_class_size: Mapping[int, float] | None = None,
                    grade_shares: pd.DataFrame | None = None,
                    grade_level: str = "kindergarten") -> pd.DataFrame:
    """``balance`` with ``places_short, classes_short, spare_places, utilisation`` added.

    Parameters
    ----------
    balance : DataFrame
        ``street, level, year, pupils, places, assigned, shortfall, overcrowded, enrolled_here``
        (pupils; places at the standard class size).
    class_size : mapping
        Standard pupils per class by level.
    grade_class_size : mapping, optional
        Age -> standard pupils per class of ``grade_level``'s grades; with it that level's
        ``classes_short`` are real classes by grade (:func:`capacity.grades.grade_classes_short`).
    grade_shares : DataFrame, optional
        ``year, age, share``: each grade's share of the level's pupils (district; the same shares
        are used in every street). Missing years (or None): equal shares.
    grade_level : str
        The level the grades belong to.

    Returns
    -------
    DataFrame
        A copy with the four columns (pupils, classes, places, share 0-1).
    """
    b = balance.copy()
    here = b["enrolled_here"] if "enrolled_here" in b else b["assigned"]
    b["places_short"] = b["shortfall"] + b["overcrowded"]
    cs = b["level"].map(lambda lv: float(class_size.get(lv, np.nan)))
    b["classes_short"] = _classes_short(b, cs, grade_class_size, grade_shares, grade_level)
    b["spare_places"] = (b["places"] - (here - b["overcrowded"])).clip(lower=0.0)
    b["utilisation"] = (here / b["places"].where(b["places"] > 0)).astype(float)
    return b


def headline(plan, class_size: Mapping[str, float] | None = None, *,
             grade_class_size: Mapping[int, float] | None = None,
             grade_shares: pd.DataFrame | None = None) -> pd.DataFrame:
    """District totals per level and year in the planner's units.

    Parameters
    ----------
    plan
        A plan (``balance``; ``class_size`` if it carries one).
    class_size : mapping, optional
        Standard pupils per class by level; default the plan's, else ``DEFAULT_CLASS_SIZE``.
    grade_class_size, grade_shares : optional
        Class sizes by grade (age -> pupils per class) and grade shares (``year, age, share``) of
        the kindergarten level; default the plan's (``None`` there: one class size). With them the
        kindergarten ``classes_short`` are real classes by grade.

    Returns
    -------
    DataFrame
        ``level, year, pupils, places, places_short, classes_short, spare_places, utilisation,
        shortfall, overcrowded`` (pupils; standard places; classes; share 0-1; the last two are
        the parts of ``places_short``).
    """
    sizes = _class_sizes(plan, class_size)
    grades = plan_grades(plan, grade_class_size, grade_shares)
    b = street_measures(plan.balance, sizes, **grades)
    here = b["enrolled_here"] if "enrolled_here" in b else b["assigned"]
    b = b.assign(_here=here)
    g = b.groupby(["level", "year"], as_index=False, sort=False)[
        ["pupils", "places", "shortfall", "overcrowded", "spare_places", "_here"]].sum()
    g["places_short"] = g["shortfall"] + g["overcrowded"]
    g["classes_short"] = _classes_short(g, g["level"].map(sizes).astype(float),
                                        grades.get("grade_class_size"), grades.get("grade_shares"),
                                        grades.get("grade_level", "kindergarten"))
    g["utilisation"] = (g["_here"] / g["places"].where(g["places"] > 0)).astype(float)
    g["year"] = g["year"].astype(int)
    return g[list(HEADLINE_COLUMNS)].sort_values(["level", "year"], kind="stable").reset_index(drop=True)


def peaks(table: pd.DataFrame) -> pd.DataFrame:
    """Peak year of places short per level (the first year of the largest value; the last year when
    nothing is short).

    Parameters
    ----------
    table : DataFrame
        :func:`headline`.

    Returns
    -------
    DataFrame
        ``level, peak_year, places_short, classes_short, pupils`` (of the peak year) and
        ``end_year, spare_places_end, utilisation_end`` (of the last year).
    """
    rows = []
    for level, g in table.groupby("level", sort=False):
        g = g.sort_values("year")
        short = np.round(g["places_short"].to_numpy(float))
        i = int(np.argmax(short)) if short.max() > 0 else len(g) - 1
        peak, end = g.iloc[i], g.iloc[-1]
        rows.append({"level": level, "peak_year": int(peak["year"]),
                     "places_short": float(peak["places_short"]), "classes_short": int(peak["classes_short"]),
                     "pupils": float(peak["pupils"]), "end_year": int(end["year"]),
                     "spare_places_end": float(end["spare_places"]),
                     "utilisation_end": float(end["utilisation"])})
    return pd.DataFrame(rows)
