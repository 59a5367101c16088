"""Kindergarten grades: places and classes of a level whose grades have different class sizes.

A kindergarten's grades (小班, 中班, 大班: ages 3, 4 and 5) have standard class sizes 25, 30 and 35
(幼儿园工作规程, 教育部令第39号, 2016, 第十一条). With the sizes given by grade (age -> pupils per
class, ``PlanParameters.grade_class_size``):

* a new kindergarten of ``N`` classes has its classes spread over the grades as evenly as possible,
  the remainder going to the youngest grades first (a modelling choice: a kindergarten is laid out
  for intake at the youngest grade), and its places are ``sum_g classes_g x size_g``
  (:func:`grade_places`; 10 classes -> 4, 3, 3 -> 4 x 25 + 3 x 30 + 3 x 35 = 295 places);
* classes short are counted in real classes: ``places_short`` is split over the grades by each
  grade's share of the level's pupils, and each grade's part is rounded to whole pupils and then up
  to whole classes of its size (:func:`grade_classes_short`);
* the grade shares come from the projected population (:func:`grade_shares`): the share of each
  age among the level's residents of those ages, per year (the enrolment rate is one per level, so
  this is also the share among pupils).

All functions are pure; ages are integers (years), sizes pupils per class, places pupils.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["grade_classes", "grade_classes_short", "grade_places", "grade_shares", "share_matrix"]

#: The columns of :func:`grade_shares`.
SHARE_COLUMNS = ("year", "age", "share")


def _sorted_sizes(sizes: Mapping[int, float]) -> tuple[np.ndarray, np.ndarray]:
    if not sizes:
        raise ValueError("grade_class_size must give at least one grade (age -> pupils per class)")
    ages = np.array(sorted(int(a) for a in sizes), dtype=np.int64)
    size = np.array([float(sizes[a]) for a in ages], dtype=float)
    if not (np.isfinite(size).all() and (size > 0).all()):
        raise ValueError(f"grade_class_size must be positive pupils per class, got {dict(sizes)!r}")
    return ages, size


def grade_classes(classes, n_grades: int) -> np.ndarray:
    """Classes per grade of kindergartens of ``classes`` classes, youngest grade first.

    The classes are spread as evenly as possible; the remainder goes to the youngest grades first
    (a modelling choice).

    Parameters
    ----------
    classes : int or array-like of int
        Classes of each kindergarten (>= 0).
    n_grades : int
        Number of grades (>= 1).

    Returns
    -------
    ndarray of int, shape ``(len(classes), n_grades)``
        E.g. 10 classes over 3 grades -> ``[4, 3, 3]``.
    """
    k = np.atleast_1d(np.asarray(classes, dtype=np.int64))
    if (k < 0).any():
        raise ValueError(f"classes must be >= 0, got {k[k < 0][0]}")
    base, rest = np.divmod(k, n_grades)
    return base[:, None] + (np.arange(n_grades)[None, :] < rest[:, None]).astype(np.int64)


def grade_places(classes, sizes: Mapping[int, float]) -> np.ndarray:
    """Standard places of kindergartens of ``classes`` classes with class sizes by grade.

    Parameters
    ----------
    classes : int or array-like of int
        Classes of each kindergarten.
    sizes : mapping
        Age (years) -> standard pupils per class of that grade, e.g. ``{3: 25, 4: 30, 5: 35}``.

    Returns
    -------
    ndarray of float
        Places (pupils): ``sum_g classes_g x size_g`` with the classes of :func:`grade_classes`
        (6 -> 180, 9 -> 270, 10 -> 295, 12 -> 360 with 25/30/35).
    """
    _, size = _sorted_sizes(sizes)
    return grade_classes(classes, len(size)) @ size


def share_matrix(years, shares: pd.DataFrame | None, sizes: Mapping[int, float]) -> np.ndarray:
    """Grade shares as a ``(len(years), n_grades)`` matrix (grades by age, youngest first).

    Years missing from ``shares`` (or ``shares=None``) take equal shares (a modelling choice: no
    population to weigh the grades by); each row is normalised to sum to 1.

    Parameters
    ----------
    years : array-like of int
    shares : DataFrame or None
        ``year, age, share`` (:func:`grade_shares`).
    sizes : mapping
        Age -> pupils per class (defines the grades).
    """
    ages, _ = _sorted_sizes(sizes)
    yrs = np.asarray(years, dtype=np.int64)
    out = np.full((len(yrs), len(ages)), 1.0 / len(ages))
    if shares is None or len(shares) == 0:
        return out
    wide = (pd.DataFrame(shares).pivot_table(index="year", columns="age", values="share", aggfunc="sum")
            .reindex(columns=ages).fillna(0.0))
    wide.index = wide.index.astype(np.int64)
    known = np.isin(yrs, wide.index.to_numpy())
    if known.any():
        m = wide.loc[yrs[known]].to_numpy(float)
        tot = m.sum(axis=1, keepdims=True)
        good = tot[:, 0] > 0
        rows = np.flatnonzero(known)[good]
        out[rows] = m[good] / tot[good]
    return out


def grade_classes_short(places_short, shares, sizes: Mapping[int, float]) -> np.ndarray:
    """Classes short in real classes: ``sum_g ceil(round(places_short x share_g) / size_g)``.

    Parameters
    ----------
    places_short : array-like
        Pupils beyond the standard places (expected values, >= 0), one per row.
    shares : array-like, shape ``(rows, n_grades)``
        Each row's grade shares (youngest first; :func:`share_matrix`).
    sizes : mapping
        Age -> standard pupils per class.

    Returns
    -------
    ndarray of int
        E.g. 100 places short with shares 0.3/0.3/0.4 and sizes 25/30/35: ceil(30/25) + ceil(30/30)
        + ceil(40/35) = 2 + 1 + 2 = 5 classes.
    """
    _, size = _sorted_sizes(sizes)
    short = np.asarray(places_short, dtype=float).reshape(-1, 1)
    part = np.round(short * np.asarray(shares, dtype=float).reshape(len(short), len(size)))
    return np.ceil(part / size[None, :]).sum(axis=1).astype(np.int64)


def grade_shares(population: pd.DataFrame, ages) -> pd.DataFrame:
    """Each grade's share of the level's residents, per year (district totals).

    Parameters
    ----------
    population : DataFrame
        ``street, year, sex, age, persons`` (persons).
    ages : iterable of int
        The grades' ages (e.g. 3, 4, 5).

    Returns
    -------
    DataFrame
        ``year, age, share`` (share 0-1 of the persons of those ages that year; years without any
        such person are left out).
    """
    ages = sorted(int(a) for a in ages)
    pop = population[population["age"].isin(ages)]
    g = pop.groupby(["year", "age"], as_index=False, sort=True)["persons"].sum()
    full = pd.MultiIndex.from_product([sorted(pop["year"].unique()), ages], names=["year", "age"])
    g = g.set_index(["year", "age"]).reindex(full, fill_value=0.0).reset_index()
    tot = g.groupby("year")["persons"].transform("sum")
    g = g[tot > 0].assign(share=g["persons"] / tot)
    g["year"] = g["year"].astype(int)
    g["age"] = g["age"].astype(int)
    return g[list(SHARE_COLUMNS)].reset_index(drop=True)
