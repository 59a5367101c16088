"""Pupils to be placed, by street, level and year.

``pupils = Σ persons over the level's ages (both sexes) × enrolment rate(level, year)``, using the
projected residents at each year's reference date. Pupils are not rounded.

Levels of one *stage* (column ``stage`` of ``levels``) share their ages, e.g. general senior high
(普通高中) and secondary vocational (中职) in the senior stage (高中阶段). The stage may have one
enrolment rate for all its levels together; each level then gets the share of it given in
:attr:`EnrolmentRates.shares` (one level of the stage gets the rest):
``rate(level) = rate(stage) × share(level)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from capacity.projection import Projection, ProjectionDraws, interpolate_path


@dataclass(frozen=True)
class EnrolmentRates:
    """Enrolment-rate paths by level: ``{level: {year: rate}}``.

    Rates are pupils per resident of the level's ages (a gross rate may exceed 1). Linear between
    the years given, held flat before the first and after the last.
    Dongli's plan: kindergarten 0.915 (2020) -> 0.95 (2025); primary and junior 1.0;
    senior stage 0.967 (2020) -> 0.99 (2025), 32% of it vocational (:data:`DONGLI_ENROLMENT`).

    Attributes
    ----------
    paths : Mapping[str, Mapping[int, float]]
        ``{level or stage: {year: rate}}``. A stage's rate covers all its levels together.
    shares : Mapping[str, Mapping[int, float]]
        ``{level: {year: share}}``: the level's share of its stage's pupils, in [0, 1], for the
        levels of a stage that has a rate in ``paths``; every level of such a stage but one has a
        share, and that one gets ``1 - Σ shares``. Linear between years, flat outside them.
    """

    paths: Mapping[str, Mapping[int, float]]
    shares: Mapping[str, Mapping[int, float]] = field(default_factory=dict)


#: The enrolment paths of Dongli's plan (gross preschool 91.5 % in 2020 → 95 % by 2025, compulsory
#: 100 %, senior stage, general and vocational together, 96.7 % → 99 %), with the vocational share
#: of the senior stage, 0.32 (Tianjin 2020, pupils in school; data/streets/SOURCES.md).
DONGLI_ENROLMENT = EnrolmentRates({
    "kindergarten": {2020: 0.915, 2025: 0.95},
    "primary": {2020: 1.0},
    "junior": {2020: 1.0},
    "senior_stage": {2020: 0.967, 2025: 0.99},
}, shares={"vocational": {2020: 0.32}})


def enrolment_rate(rates: EnrolmentRates, level: str, years: Iterable[int]) -> np.ndarray:
    """Enrolment rate of a level in the given years.

    Parameters
    ----------
    rates
        The rate paths.
    level
        Level name, e.g. ``"primary"``.
    years
        Years to evaluate.

    Returns
    -------
    ndarray of float
        Pupils per resident of the level's ages, one per year; linear between the years given,
        flat outside them.

    Raises
    ------
    ValueError
        The level has no path, or the path is empty or has a negative rate.
    """
    path = rates.paths.get(level)
    if path is None:
        known = ", ".join(sorted(map(str, rates.paths))) or "none"
        raise ValueError(f"no enrolment-rate path for level '{level}' (paths given: {known})")
    values = interpolate_path(path, years, f"enrolment rate of level '{level}'")
    if np.any(values < 0):
        raise ValueError(f"enrolment rate of level '{level}': rates must be >= 0")
    return values


def _stages(levels: pd.DataFrame) -> dict[str, list[str]]:
    """Stage -> its levels, in table order (a level without a stage is its own stage)."""
    stage = levels["stage"] if "stage" in levels.columns else levels["level"]
    out: dict[str, list[str]] = {}
    for lv, st in zip(levels["level"].astype(str), stage.astype(str), strict=True):
        out.setdefault(st, []).append(lv)
    return out


def enrolment_problem(rates: EnrolmentRates, levels: pd.DataFrame, *,
                      strict: bool = True) -> tuple[str, str] | None:
    """The first problem of the rates for these levels, as (scenario key, message), or None.

    Keys are those of a scenario file: ``enrolment.<level or stage>``, ``stage_share.<level>``.
    ``strict=False`` accepts rates and shares of levels or stages that are not in ``levels``.
    """
    stages = _stages(levels)
    names = [lv for members in stages.values() for lv in members]
    known = list(dict.fromkeys([*names, *stages]))
    for key in rates.paths:
        if strict and key not in known:
            return f"enrolment.{key}", f"no such level or stage in the district ({', '.join(known)})"
    shared = {lv: st for st, members in stages.items() if len(members) > 1 for lv in members}
    for key in rates.shares:
        if (strict or key in names) and key not in shared:
            return (f"stage_share.{key}", "only a level of a stage with several levels has a share "
                    f"({', '.join(shared) or 'the district has none'})")
    missing = []
    for stage, members in stages.items():
        if len(members) == 1 and stage == members[0]:
            if stage not in rates.paths:
                missing.append(stage)
            continue
        if stage in rates.paths:
            own = [lv for lv in members if lv in rates.paths]
            if own:
                return (f"enrolment.{own[0]}", f"the stage {stage} has a rate (enrolment.{stage}); "
                        f"give {own[0]}'s share of it in [stage_share] instead")
            rest = [lv for lv in members if lv not in rates.shares]
            if len(rest) != 1:
                return ("stage_share", f"give a share for every level of the stage {stage} but one "
                        f"(levels without a share: {', '.join(rest) or 'none'})")
        else:
            shares = [lv for lv in members if lv in rates.shares]
            if shares:
                return (f"stage_share.{shares[0]}", f"the stage {stage} has no enrolment rate "
                        f"(enrolment.{stage}) to share")
            missing += [lv for lv in members if lv not in rates.paths]
    if missing:
        given = ", ".join(map(str, rates.paths)) or "none"
        return ("enrolment", f"no enrolment rate for level(s) {', '.join(repr(m) for m in missing)}"
                             f" (rates given: {given})")
    return None


def level_rates(rates: EnrolmentRates, levels: pd.DataFrame, years: Iterable[int]) -> dict[str, np.ndarray]:
    """Enrolment rate of every level in the given years, pupils per resident of its ages.

    A level's own path, or its stage's rate × its share (:class:`EnrolmentRates`).

    Raises
    ------
    ValueError
        Naming the scenario key: see :func:`enrolment_problem`; shares of a stage that sum to
        more than 1 in a year.
    """
    years = np.asarray(list(years), dtype=int)
    problem = enrolment_problem(rates, levels, strict=False)
    if problem:
        raise ValueError(f"{problem[0]}: {problem[1]}")
    out: dict[str, np.ndarray] = {}
    for stage, members in _stages(levels).items():
        if stage not in rates.paths or (len(members) == 1 and stage == members[0]):
            for lv in members:
                out[lv] = enrolment_rate(rates, lv, years)
            continue
        total = enrolment_rate(rates, stage, years)
        given = {}
        for lv in members:
            if lv in rates.shares:
                share = interpolate_path(rates.shares[lv], years, f"stage_share.{lv}")
                if np.any((share < 0) | (share > 1)):
                    raise ValueError(f"stage_share.{lv}: shares must be in [0, 1]")
                given[lv] = share
        rest = 1.0 - sum(given.values())
        if np.any(rest < -1e-12):
            y = int(years[np.argmax(rest < -1e-12)])
            raise ValueError(f"stage_share: the shares of the stage {stage} sum to more than 1 "
                             f"in {y}")
        for lv in members:
            out[lv] = total * given.get(lv, np.clip(rest, 0.0, None))
    return out


def _level_rows(levels: pd.DataFrame, ages: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(level, boolean mask over ``ages``) for each level, in table order."""
    missing = {"level", "first_age", "last_age"} - set(levels.columns)
    if missing:
        raise ValueError(f"levels: missing columns {sorted(missing)}")
    out = []
    for row in levels.itertuples(index=False):
        first, last = int(row.first_age), int(row.last_age)
        if first > last:
            raise ValueError(f"level '{row.level}': first_age {first} > last_age {last}")
        mask = (ages >= first) & (ages <= last)
        if mask.sum() != last - first + 1:
            raise ValueError(
                f"level '{row.level}': ages {first}-{last} are not all in the projection's ages"
            )
        out.append((str(row.level), mask))
    return out


def _level_persons(persons: np.ndarray, ages: np.ndarray, levels: pd.DataFrame):
    """Yield (level, residents of the level's ages summed over sexes, (..., year, street))."""
    for level, mask in _level_rows(levels, ages):
        yield level, persons[..., mask].sum(axis=(-1, -2))


def _frame(streets: Sequence[str], years: np.ndarray, blocks: list[tuple[str, dict]]) -> pd.DataFrame:
    """Long table from per-level {column: (year, street) array} blocks, sorted street, level, year."""
    n_y, n_s = len(years), len(streets)
    parts = []
    for li, (level, cols) in enumerate(blocks):
        part = {
            "street": np.repeat(np.asarray(streets, dtype=object), n_y),
            "level": level,
            "year": np.tile(years.astype(int), n_s),
            "_order": li,
        }
        for name, arr in cols.items():
            part[name] = np.asarray(arr).T.reshape(-1)      # (street, year) order
        parts.append(pd.DataFrame(part))
    if not parts:
        return pd.DataFrame(columns=["street", "level", "year", "pupils"])
    street_order = {s: i for i, s in enumerate(streets)}
    out = pd.concat(parts, ignore_index=True)
    out["_street"] = out["street"].map(street_order)
    out = out.sort_values(["_street", "_order", "year"], kind="stable")
    return out.drop(columns=["_street", "_order"]).reset_index(drop=True)


def pupils(projection: Projection, levels: pd.DataFrame, rates: EnrolmentRates) -> pd.DataFrame:
    """Pupils to be placed by street, level and year.

    Parameters
    ----------
    projection
        A deterministic :class:`capacity.projection.Projection`.
    levels
        Table ``level, name_zh, first_age, last_age`` (ages inclusive, years of age) and optionally
        ``stage``.
    rates
        Enrolment-rate paths; every level in ``levels`` needs one, its own or its stage's.

    Returns
    -------
    DataFrame
        ``street, level, year, pupils`` (pupils as float, not rounded), sorted by street (projection
        order), level (table order), year.

    Raises
    ------
    ValueError
        A level without an enrolment path, or with ages outside the projection.
    """
    blocks = []
    level_rate = level_rates(rates, levels, projection.years)
    for level, residents in _level_persons(projection.persons, projection.ages, levels):
        rate = level_rate[level]
        blocks.append((level, {"pupils": residents * rate[:, None]}))
    return _frame(projection.streets, projection.years, blocks)


def percentile_column(q: float) -> str:
    """Column name of a percentile: 5 → ``p05``, 50 → ``p50``, 97.5 → ``p97_5``, 2.5 → ``p02_5``."""
    q = float(q)
    if not (0 <= q <= 100):
        raise ValueError(f"percentile {q} is not in [0, 100]")
    whole = int(q)
    frac = f"{q:.6f}".split(".")[1].rstrip("0")
    return f"p{whole:02d}" + (f"_{frac}" if frac else "")


def pupils_draws(draws: ProjectionDraws, levels: pd.DataFrame, rates: EnrolmentRates,
                 percentiles: Sequence[float] | None = None) -> pd.DataFrame:
    """Pupils by street, level and year with Monte-Carlo percentile bands.

    Parameters
    ----------
    draws
        From :func:`capacity.projection.project_draws` (its stored ages must cover the levels).
    levels
        Table ``level, name_zh, first_age, last_age``.
    rates
        Enrolment-rate paths (the same in every draw).
    percentiles
        Percentiles in [0, 100]; default ``draws.uncertainty.percentiles``.

    Returns
    -------
    DataFrame
        ``street, level, year, pupils`` plus one column per percentile (:func:`percentile_column`,
        e.g. ``p05, p50, p95``). ``pupils`` is the **deterministic** run (``draws.central``), so it
        equals :func:`pupils` of that run and is the figure the plan is made for; the percentiles
        are over the draws (numpy's linear interpolation), pupils per street, level and year.
    """
    qs = tuple(float(q) for q in (draws.uncertainty.percentiles if percentiles is None
                                  else percentiles))
    names = [percentile_column(q) for q in qs]
    if len(set(names)) != len(names):
        raise ValueError(f"percentiles: duplicate columns {names}")
    central = {lv: arr for lv, arr in _level_persons(draws.central.persons, draws.central.ages,
                                                     levels)}
    blocks = []
    level_rate = level_rates(rates, levels, draws.years)
    for level, residents in _level_persons(draws.persons, draws.ages, levels):
        rate = level_rate[level]
        cols = {"pupils": central[level] * rate[:, None]}
        if qs:
            bands = np.percentile(residents * rate[None, :, None], qs, axis=0)   # (q, year, street)
            cols.update({name: band for name, band in zip(names, bands, strict=True)})
        blocks.append((level, cols))
    return _frame(draws.streets, draws.years, blocks)


def school_ages(levels: pd.DataFrame) -> np.ndarray:
    """All ages covered by the levels (for ``project_draws(keep_ages=...)``)."""
    return np.unique(np.concatenate([
        np.arange(int(r.first_age), int(r.last_age) + 1) for r in levels.itertuples(index=False)
    ] or [np.zeros(0, dtype=int)]))


__all__ = [
    "DONGLI_ENROLMENT",
    "EnrolmentRates",
    "enrolment_problem",
    "enrolment_rate",
    "level_rates",
    "percentile_column",
    "pupils",
    "pupils_draws",
    "school_ages",
]

