"""Cohort-component projection of residents by street, sex and single year of age.

The model
---------
Arrays are indexed (street, sex, age) with sexes ``("male", "female")`` and single years of age
``0 .. A-1``; the last age is an open group (e.g. 100 = 100+). Population counts refer to the
reference date of the base year (the census, 1 November 2020 for Dongli) and to the same date of
every later year. One projection step, year ``t`` → ``t + 1``, is, for every street at once:

1. **Survival and ageing.** Residents aged ``a`` survive the year with probability
   ``1 - q[sex, a]`` and become ``a + 1``; survivors of the open group stay in it, joined by the
   survivors of the age below.
2. **Baseline net migration.** Net migrants during the year are
   ``net_rate[street, sex, x] × migration_multiplier × survivors[street, sex, x]``, by the age ``x``
   reached at the end of the year (migrants are counted at the end of the year and are not exposed
   to mortality within it). Equivalently, the end-of-year survivors are multiplied by
   ``1 + rate × multiplier``. A product below ``-1`` (more than all residents leaving) raises a
   :class:`ValueError` naming the street, sex, age and year; it is never clipped.
3. **Housing-led inflow.** Dwellings completed in year ``c`` are occupied in year
   ``c + housing_shift_years + occupancy_lag_years``; in that year
   ``dwellings × housing_multiplier × persons_per_dwelling × movers[sex, x]`` persons aged ``x``
   (at the end of the year) are added to the street where the dwellings are. Completions moved to
   the base year or earlier (the base population is data) arrive in the first projected year, and
   completions moved past the last projected year are outside the projection; both are reported in
   :attr:`Projection.notes`, never dropped silently.
4. **Births.** ``B = Σ_a ASFR[a] × (W_t[a] + W_{t+1}[a]) / 2`` per street: the mid-year number of
   women of each age is approximated by the mean of the women aged ``a`` at the start of the year and
   those aged ``a`` at the end (after survival, migration and housing inflow). Boys are
   ``B × SRB / (1 + SRB)``, girls ``B / (1 + SRB)``. A fraction ``1 - q[sex, 0]`` of them is alive
   at the end of the year (or ``infant_survival`` when given), and the street's age-0
   net-migration rate applies to them. Since ``q_0`` is applied again from age 0 to age 1, the
   default overstates infant deaths by at most ``q_0`` of a cohort (0.3 % for Dongli).
   In the years of the optional registered births (``births.csv``), those births replace ``B``.
5. **Control totals (optional).** When ``district_total`` names the year, every street × sex × age
   cell of that year is scaled by the same factor so that they sum to the total; the scaled
   population is carried into the next year. Births are flows and are not scaled.

Everything is vectorised over (draw, street, sex, age); the only Python loop is over years.
The result is deterministic; Monte-Carlo draws (:func:`project_draws`) are seeded. For demand
only, pass ``keep_ages=capacity.demand.school_ages(levels)`` to :func:`project_draws`: 1,000 draws
of all 101 ages over 16 years for 11 streets are 280 MB.

Entry points: :func:`project` (a ``District`` or :class:`ProjectionInputs`), :func:`project_arrays`
(plain arrays), :func:`project_draws`; results :class:`Projection` and :class:`ProjectionDraws`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

SEXES: tuple[str, str] = ("male", "female")


@dataclass(frozen=True)
class ProjectionAssumptions:
    """Assumptions of one deterministic projection run.

    Parameters
    ----------
    end_year
        Last projected year (inclusive). The base year comes from the district data.
    fertility_multiplier
        Scales every age-specific fertility rate (1.0 = the data's rates).
    tfr_path
        Optional target total fertility rate by year (births per woman), e.g. ``{2021: 1.1, 2030: 0.9}``;
        linear between given years, held flat outside them. The age pattern of the data's rates is
        rescaled to the target TFR. It cannot be combined with ``fertility_path`` or a
        ``fertility_multiplier`` other than 1 (an error names both).
        The rate of year ``y`` gives the births during the year ending at the reference date of ``y``.
    fertility_path
        Optional factor by year on the data's fertility rates, e.g. the observed fall of the crude
        birth rate relative to the base year, ``{2020: 1.0, 2023: 0.746}``; linear between the years
        given, held flat before the first and after the last. ``fertility_multiplier`` multiplies it.
    migration_multiplier
        Scales the baseline net-migration rates (1.0 = the data's rates, 0 = closed population).
    housing_shift_years
        Moves every planned housing completion later (positive) or earlier (negative) by this many years.
    housing_multiplier
        Scales the number of dwellings completed (1.0 = as planned).
    persons_per_dwelling
        Residents moving into each newly completed dwelling (persons per dwelling).
    occupancy_lag_years
        Years between a dwelling's completion and its residents moving in (0 = same year).
    district_total
        Optional control totals: ``{year: persons}``; street results are scaled pro rata so that they
        sum to this district total in each year given. Years after ``end_year`` are ignored; the
        base year and earlier are an error (the base population is data).
    infant_survival
        Optional fraction of the births of a year that are alive at the end of it (both sexes).
        ``None`` (default) uses ``1 - q_0`` of each sex.
    """

    end_year: int = 2035
    fertility_multiplier: float = 1.0
    tfr_path: Mapping[int, float] | None = None
    fertility_path: Mapping[int, float] | None = None
    migration_multiplier: float = 1.0
    housing_shift_years: int = 0
    housing_multiplier: float = 1.0
    persons_per_dwelling: float = 2.8
    occupancy_lag_years: int = 0
    district_total: Mapping[int, float] | None = None
    infant_survival: float | None = None


@dataclass(frozen=True)
class Uncertainty:
    """Monte-Carlo draws of fertility and migration.

    Each draw multiplies the fertility rates by a lognormal factor with log-sd ``fertility_sd`` and the
    migration rates (and housing inflow) by a lognormal factor with log-sd ``migration_sd``.
    The factors have median 1 (``exp(sd × z)``, ``z`` standard normal), are drawn once per draw (they
    hold for the whole horizon and all streets) and apply on top of the assumptions' multipliers.
    ``draws = 0`` means no draws. ``percentiles`` are reported as columns ``p05``, ``p50``, ``p95``, ...
    ``seed`` seeds :func:`numpy.random.default_rng`: the same seed gives the same draws.
    """

    draws: int = 0
    fertility_sd: float = 0.10
    migration_sd: float = 0.20
    seed: int = 20201101
    percentiles: tuple[float, ...] = field(default=(5.0, 50.0, 95.0))


# --------------------------------------------------------------------------------------------
# inputs


def _as_float(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.array(value, dtype=float)
    if arr.shape != shape:
        raise ValueError(f"{name}: expected an array of shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return arr


@dataclass(frozen=True, eq=False)
class ProjectionInputs:
    """The arrays one projection needs (validated on construction).

    Parameters
    ----------
    population
        Base-year residents, (street, sex, age), persons ≥ 0. Sexes ``("male", "female")``; the last
        age is an open group. At least two ages.
    fertility
        Age-specific fertility rates (age,), births per woman per year, ≥ 0; must be 0 at age 0.
    death_probability
        ``q_x``, probability of dying within the year, (sex, age), in [0, 1].
    net_rate
        Baseline net migrants per resident per year, (street, sex, age).
    movers
        Age-sex profile of people moving into new dwellings, (sex, age), shares ≥ 0 (normally
        summing to 1; the inflow is ``dwellings × persons_per_dwelling × Σ shares``).
    dwellings
        Dwellings completed, (year, street), ≥ 0, in the years ``dwelling_years``.
    dwelling_years
        Completion years of the rows of ``dwellings`` (distinct integers).
    base_year
        Year of ``population``.
    birth_sex_ratio
        Boys per girl at birth (e.g. 1.113).
    streets
        Street codes (street axis); default ``"0", "1", ...``.
    births
        Optional registered births, (year, street), ≥ 0, in the years ``birth_years``: they replace
        the births of the fertility rates in those years (no fertility factor or draw applies).
    birth_years
        Years of the rows of ``births`` (distinct integers after the base year).
    """

    population: np.ndarray
    fertility: np.ndarray
    death_probability: np.ndarray
    net_rate: np.ndarray
    movers: np.ndarray
    dwellings: np.ndarray
    dwelling_years: np.ndarray
    base_year: int
    birth_sex_ratio: float
    streets: tuple[str, ...] = ()
    births: np.ndarray | None = None
    birth_years: np.ndarray | None = None

    def __post_init__(self) -> None:
        pop = np.array(self.population, dtype=float)
        if pop.ndim != 3 or pop.shape[1] != 2 or pop.shape[2] < 2:
            raise ValueError(
                f"population: expected an array (street, sex=2, age>=2), got shape {pop.shape}"
            )
        n_streets, _, n_ages = pop.shape
        pop = _as_float("population", pop, pop.shape)
        if np.any(pop < 0):
            raise ValueError("population: persons must be >= 0")
        fert = _as_float("fertility", self.fertility, (n_ages,))
        if np.any(fert < 0):
            raise ValueError("fertility: rates must be >= 0")
        if fert[0] != 0:
            raise ValueError("fertility: the rate at age 0 must be 0")
        q = _as_float("death_probability", self.death_probability, (2, n_ages))
        if np.any((q < 0) | (q > 1)):
            raise ValueError("death_probability: q_x must be in [0, 1]")
        rate = _as_float("net_rate", self.net_rate, (n_streets, 2, n_ages))
        movers = _as_float("movers", self.movers, (2, n_ages))
        if np.any(movers < 0):
            raise ValueError("movers: shares must be >= 0")
        dw_years = np.array(self.dwelling_years, dtype=int).reshape(-1)
        if len(np.unique(dw_years)) != len(dw_years):
            raise ValueError("dwelling_years: years must be distinct")
        dwellings = _as_float("dwellings", self.dwellings, (len(dw_years), n_streets))
        if np.any(dwellings < 0):
            raise ValueError("dwellings: completions must be >= 0")
        srb = float(self.birth_sex_ratio)
        if not (np.isfinite(srb) and srb > 0):
            raise ValueError(f"birth_sex_ratio: expected a positive number, got {srb}")
        b_years = np.array([] if self.birth_years is None else self.birth_years,
                           dtype=int).reshape(-1)
        if len(np.unique(b_years)) != len(b_years):
            raise ValueError("birth_years: years must be distinct")
        if np.any(b_years <= int(self.base_year)):
            raise ValueError(f"birth_years: registered births must be after the base year "
                             f"{self.base_year}")
        births = _as_float("births", np.zeros((0, n_streets)) if self.births is None
                           else self.births, (len(b_years), n_streets))
        if np.any(births < 0):
            raise ValueError("births: registered births must be >= 0")
        streets = tuple(str(s) for s in self.streets) or tuple(str(i) for i in range(n_streets))
        if len(streets) != n_streets:
            raise ValueError(f"streets: expected {n_streets} codes, got {len(streets)}")
        for name, value in (
            ("population", pop), ("fertility", fert), ("death_probability", q),
            ("net_rate", rate), ("movers", movers), ("dwellings", dwellings),
            ("dwelling_years", dw_years), ("birth_sex_ratio", srb), ("streets", streets),
            ("base_year", int(self.base_year)), ("births", births), ("birth_years", b_years),
        ):
            object.__setattr__(self, name, value)

    @property
    def ages(self) -> np.ndarray:
        """Single years of age ``0 .. A-1`` (the last is an open group)."""
        return np.arange(self.population.shape[2])

    @classmethod
    def from_district(cls, district: Any) -> ProjectionInputs:
        """Pull the arrays from a :class:`capacity.data.District`.

        The housing table is taken for every year from ``base_year + 1`` to ``last_year``.
        """
        years = np.arange(int(district.base_year) + 1, int(district.last_year) + 1)
        b_years, births = (district.births_array() if hasattr(district, "births_array")
                           else (None, None))
        return cls(
            population=district.population_array(),
            fertility=district.fertility_array(),
            death_probability=district.death_probability_array(),
            net_rate=district.migration_array(),
            movers=district.movers_array(),
            dwellings=district.housing_array(years).reshape(len(years), -1),
            dwelling_years=years,
            base_year=int(district.base_year),
            birth_sex_ratio=float(district.birth_sex_ratio),
            streets=tuple(district.street_ids),
            births=births,
            birth_years=b_years,
        )


def _inputs(source: Any) -> ProjectionInputs:
    return source if isinstance(source, ProjectionInputs) else ProjectionInputs.from_district(source)


# --------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True, eq=False)
class Projection:
    """A deterministic projection.

    Attributes
    ----------
    years : ndarray of int
        ``base_year .. end_year``.
    streets : tuple of str
        Street codes (street axis).
    ages : ndarray of int
        Single years of age (the last is an open group).
    persons : ndarray of float
        Residents at the reference date of each year, (year, street, sex, age), persons.
    births : ndarray of float
        Live births during the year ending at each year's reference date, (year, street); 0 for the
        base year.
    asfr : ndarray of float
        Fertility rates used for the births of each year, (year, age), births per woman per year
        (the base-year row is what the assumptions give for that year; it produces no births).
    assumptions : ProjectionAssumptions
        The assumptions of the run.
    registered_years : tuple of int
        Years whose births are the registered births of the data (``births.csv``), not the rates'.
    notes : tuple of str
        What the run did that a planner should know (housing completions moved to the first
        projected year or past the last); one sentence each.
    """

    years: np.ndarray
    streets: tuple[str, ...]
    ages: np.ndarray
    persons: np.ndarray
    births: np.ndarray
    asfr: np.ndarray
    assumptions: ProjectionAssumptions
    registered_years: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def base_year(self) -> int:
        return int(self.years[0])

    def to_frame(self) -> pd.DataFrame:
        """Long table ``street, year, sex, age, persons`` (persons as float), sorted in that order."""
        n_y, n_s, n_x, n_a = self.persons.shape
        idx = np.indices((n_s, n_y, n_x, n_a)).reshape(4, -1)
        return pd.DataFrame({
            "street": np.asarray(self.streets, dtype=object)[idx[0]],
            "year": self.years[idx[1]].astype(int),
            "sex": np.asarray(SEXES, dtype=object)[idx[2]],
            "age": self.ages[idx[3]].astype(int),
            "persons": self.persons.transpose(1, 0, 2, 3).reshape(-1),
        })

    def total(self) -> pd.Series:
        """District total persons by year."""
        return pd.Series(self.persons.sum(axis=(1, 2, 3)), index=pd.Index(self.years, name="year"),
                         name="persons")


@dataclass(frozen=True, eq=False)
class ProjectionDraws:
    """Monte-Carlo projections.

    Attributes
    ----------
    years, streets : as in :class:`Projection`
    ages : ndarray of int
        The ages stored in ``persons`` (all ages unless ``keep_ages`` restricted them).
    persons : ndarray of float
        (draw, year, street, sex, age), persons.
    births : ndarray of float
        (draw, year, street), births during the year.
    fertility_multipliers, migration_multipliers : ndarray of float
        The lognormal factors of each draw, (draw,).
    central : Projection
        The deterministic run with the same assumptions (factors 1), full ages.
    uncertainty : Uncertainty
        The settings of the draws.
    """

    years: np.ndarray
    streets: tuple[str, ...]
    ages: np.ndarray
    persons: np.ndarray
    births: np.ndarray
    fertility_multipliers: np.ndarray
    migration_multipliers: np.ndarray
    central: Projection
    uncertainty: Uncertainty

    @property
    def n_draws(self) -> int:
        return int(self.persons.shape[0])


# --------------------------------------------------------------------------------------------
# helpers


def interpolate_path(path: Mapping[Any, float], years: Iterable[int], what: str = "path") -> np.ndarray:
    """Values of a ``{year: value}`` path in the given years.

    Linear between the years given, held flat before the first and after the last.

    Parameters
    ----------
    path
        ``{year: value}``; keys may be ints or strings of ints (as read from TOML).
    years
        Years to evaluate.
    what
        Name used in error messages.

    Returns
    -------
    ndarray of float, one value per year.
    """
    if not path:
        raise ValueError(f"{what}: the path gives no years")
    items = sorted((int(k), float(v)) for k, v in path.items())
    xs = np.array([k for k, _ in items], dtype=float)
    ys = np.array([v for _, v in items], dtype=float)
    if len(np.unique(xs)) != len(xs):
        raise ValueError(f"{what}: a year is given twice")
    if not np.all(np.isfinite(ys)):
        raise ValueError(f"{what}: values must be finite")
    return np.interp(np.asarray(list(years), dtype=float), xs, ys)


def fertility_by_year(fertility: np.ndarray, assumptions: ProjectionAssumptions,
                      years: Iterable[int]) -> np.ndarray:
    """Age-specific fertility rates in force in each year, (year, age), births per woman per year.

    ``fertility × fertility_path(year) × fertility_multiplier``, or, with ``tfr_path``, the age
    pattern of ``fertility`` rescaled so that the rates sum to the target TFR of each year.
    """
    years = np.asarray(list(years), dtype=int)
    fertility = np.asarray(fertility, dtype=float)
    m = float(assumptions.fertility_multiplier)
    if not (np.isfinite(m) and m >= 0):
        raise ValueError(f"fertility_multiplier must be >= 0, got {m}")
    if assumptions.tfr_path is not None:
        if assumptions.fertility_path is not None:
            raise ValueError("tfr_path and fertility_path are both set: give one of them (tfr_path "
                             "sets the level of fertility, fertility_path scales the data's rates)")
        if m != 1.0:
            raise ValueError(f"tfr_path and fertility_multiplier ({m:g}) are both set: give one of "
                             "them (tfr_path sets the level of fertility, fertility_multiplier "
                             "scales the data's rates)")
        tfr = interpolate_path(assumptions.tfr_path, years, "tfr_path")
        if np.any(tfr < 0):
            raise ValueError("tfr_path: target TFR must be >= 0")
        base = fertility.sum()
        if base <= 0 and np.any(tfr > 0):
            raise ValueError("tfr_path: the fertility rates are all 0, there is no age pattern to rescale")
        pattern = fertility / base if base > 0 else fertility
        return tfr[:, None] * pattern[None, :]
    factor = np.ones(len(years))
    if assumptions.fertility_path is not None:
        factor = interpolate_path(assumptions.fertility_path, years, "fertility_path")
        if np.any(factor < 0):
            raise ValueError("fertility_path: factors must be >= 0")
    return (factor * m)[:, None] * fertility[None, :]


def _check_assumptions(a: ProjectionAssumptions, base_year: int) -> None:
    if int(a.end_year) < base_year:
        raise ValueError(f"end_year {a.end_year} is before the base year {base_year}")
    for name in ("migration_multiplier", "housing_multiplier", "persons_per_dwelling"):
        v = float(getattr(a, name))
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v}")
    if int(a.occupancy_lag_years) < 0:
        raise ValueError(f"occupancy_lag_years must be >= 0, got {a.occupancy_lag_years}")
    if a.infant_survival is not None and not (0 <= float(a.infant_survival) <= 1):
        raise ValueError(f"infant_survival must be in [0, 1], got {a.infant_survival}")
    for year, total in (a.district_total or {}).items():
        if int(year) <= base_year:
            raise ValueError(
                f"district_total: year {year} is not after the base year {base_year} "
                "(the base population is data)"
            )
        if not (np.isfinite(float(total)) and float(total) > 0):
            raise ValueError(f"district_total: the total for {year} must be > 0, got {total}")


def _housing_inflow_dwellings(inp: ProjectionInputs, a: ProjectionAssumptions,
                              years: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Dwellings whose residents move in during each year, (year, street); row 0 (base) is 0.

    Completions that arrive in the base year or earlier (``housing_shift_years < 0``) arrive in the
    first projected year; those arriving after the last year are outside the projection. Both are
    described in the returned notes.
    """
    out = np.zeros((len(years), inp.population.shape[0]))
    notes: list[str] = []
    if len(years) < 2 or len(inp.dwelling_years) == 0:
        return out, notes
    mult = float(a.housing_multiplier)
    delay = int(a.housing_shift_years) + int(a.occupancy_lag_years)
    arrive = inp.dwelling_years + delay
    first, last = int(years[1]), int(years[-1])
    per_year = inp.dwellings.sum(axis=1) * mult
    early = (arrive < first) & (per_year > 0)
    late = (arrive > last) & (per_year > 0)
    if early.any():
        done = ", ".join(str(int(y)) for y in inp.dwelling_years[early])
        notes.append(f"housing: {per_year[early].sum():,.0f} dwellings completed in {done} would "
                     f"be occupied in {int(arrive[early].min())}-{int(arrive[early].max())}, before "
                     f"the first projected year (housing_shift_years {a.housing_shift_years}, "
                     f"occupancy_lag_years {a.occupancy_lag_years}); they are occupied in {first}")
    if late.any():
        done = ", ".join(str(int(y)) for y in inp.dwelling_years[late])
        notes.append(f"housing: {per_year[late].sum():,.0f} dwellings completed in {done} are "
                     f"occupied after {last}, the last projected year (housing_shift_years "
                     f"{a.housing_shift_years}, occupancy_lag_years {a.occupancy_lag_years}): "
                     "not in this projection")
    k = np.clip(arrive, first, None) - int(years[0])
    inside = arrive <= last
    np.add.at(out, k[inside], inp.dwellings[inside])
    return out * mult, notes


def _simulate(inp: ProjectionInputs, a: ProjectionAssumptions, fert_mult: np.ndarray,
              mig_mult: np.ndarray, keep: np.ndarray | slice = slice(None)):
    """The engine, vectorised over (draw, street, sex, age); loops over years only."""
    _check_assumptions(a, inp.base_year)
    years = np.arange(inp.base_year, int(a.end_year) + 1)
    n_d = len(fert_mult)
    n_s, _, n_a = inp.population.shape
    n_y = len(years)

    asfr = fertility_by_year(inp.fertility, a, years)               # (Y, A)
    q = inp.death_probability
    surv = 1.0 - q                                                  # (2, A)
    mig = float(a.migration_multiplier) * inp.net_rate              # (S, 2, A)
    # The end-of-year factor of net migration is 1 + M_d × mig (M_d > 0); its minimum over the
    # draws is at the largest M_d where mig < 0.
    d_max = int(np.argmax(mig_mult))
    bad = 1.0 + mig_mult[d_max] * mig < 0
    if np.any(bad):
        s, x, age = (int(v[0]) for v in np.nonzero(bad))
        raise ValueError(
            f"net migration would remove more than all residents of street {inp.streets[s]} "
            f"({SEXES[x]}, age {age}) from year {years[1] if n_y > 1 else years[0]}: "
            f"net_rate {inp.net_rate[s, x, age]:g} × migration_multiplier {a.migration_multiplier:g}"
            + (f" × draw {d_max} factor {mig_mult[d_max]:.4g}" if n_d > 1 else "")
            + " < -1"
        )
    # a -> a+1: survival × migration at the age reached, (D, S, 2, A-1)
    shift = np.multiply.outer(mig_mult, mig[..., 1:])
    shift += 1.0
    stay_open = shift[..., -1] * surv[None, None, :, -1]             # open group, (D, S, 2)
    shift *= surv[None, None, :, :-1]
    srb = inp.birth_sex_ratio
    split = np.array([srb / (1 + srb), 1 / (1 + srb)])
    infant = (np.full(2, float(a.infant_survival)) if a.infant_survival is not None
              else surv[:, 0])
    to_age0 = (split * infant)[None, None, :] * (1.0 + np.multiply.outer(mig_mult, mig[..., 0]))

    inflow_dw, notes = _housing_inflow_dwellings(inp, a, years)     # (Y, S)
    registered = {int(y): i for i, y in enumerate(inp.birth_years)}
    movers = float(a.persons_per_dwelling) * inp.movers             # (2, A)
    controls = {int(y): float(v) for y, v in (a.district_total or {}).items()}

    kept = inp.ages[keep]
    persons = np.empty((n_d, n_y, n_s, 2, len(kept)))
    births = np.zeros((n_d, n_y, n_s))
    direct = isinstance(keep, slice) and keep == slice(None)
    if direct:          # work in the output array itself: no copies
        persons[:, 0] = inp.population
    else:
        cur = np.broadcast_to(inp.population, (n_d, n_s, 2, n_a)).copy()
        new = np.empty_like(cur)
        persons[:, 0] = cur[..., keep]
    inflow = np.empty((n_d, n_s, 2, n_a)) if inflow_dw.any() else None
    women = np.empty((n_d, n_s, n_a - 1))
    fert_mult_col = fert_mult[:, None]
    for k in range(1, n_y):
        if direct:
            cur, new = persons[:, k - 1], persons[:, k]
        np.multiply(cur[..., :-1], shift, out=new[..., 1:])
        new[..., -1] += cur[..., -1] * stay_open
        new[..., 0] = 0.0
        if inflow is not None and inflow_dw[k].any():
            h = inflow_dw[k][:, None, None] * movers[None]           # (S, 2, A)
            np.multiply.outer(mig_mult, h, out=inflow)
            new += inflow
        np.add(cur[:, :, 1, 1:], new[:, :, 1, 1:], out=women)        # (D, S, A-1)
        year = int(years[k])
        if year in registered:        # registered births replace the rates (no draw factor)
            b = np.broadcast_to(inp.births[registered[year]], (n_d, n_s))
        else:
            b = 0.5 * np.einsum("dsa,a->ds", women, asfr[k, 1:]) * fert_mult_col   # (D, S)
        new[..., 0] += b[:, :, None] * to_age0
        if year in controls:
            tot = new.sum(axis=(1, 2, 3))
            if np.any(tot <= 0):
                raise ValueError(f"district_total: no residents to scale in {year}")
            new *= (controls[year] / tot)[:, None, None, None]
        births[:, k] = b
        if not direct:
            persons[:, k] = new[..., keep]
            cur, new = new, cur
    return years, persons, births, asfr, notes


# --------------------------------------------------------------------------------------------
# public entry points


def project(district: Any, assumptions: ProjectionAssumptions | None = None) -> Projection:
    """Deterministic cohort-component projection, base year → ``assumptions.end_year``.

    Parameters
    ----------
    district
        A :class:`capacity.data.District` (its arrays are pulled with
        :meth:`ProjectionInputs.from_district`) or a :class:`ProjectionInputs`.
    assumptions
        Scenario assumptions (default :class:`ProjectionAssumptions()`).

    Returns
    -------
    Projection
        Persons (year, street, sex, age) and births (year, street).

    Raises
    ------
    ValueError
        Invalid assumptions, or net migration that would remove more than all residents.
    """
    inp = _inputs(district)
    a = assumptions or ProjectionAssumptions()
    one = np.ones(1)
    years, persons, births, asfr, notes = _simulate(inp, a, one, one)
    registered = tuple(int(y) for y in inp.birth_years if int(y) in set(years[1:].tolist()))
    return Projection(years=years, streets=inp.streets, ages=inp.ages, persons=persons[0],
                      births=births[0], asfr=asfr, assumptions=a, registered_years=registered,
                      notes=tuple(notes))


#: Largest relative gap, not explained by the scenario's fertility change, between the first
#: projected year's births and the base year's residents aged 0 before :func:`first_year_births`
#: warns (a base population and fertility rates that disagree make a step in the projection).
BIRTHS_SEAM_TOLERANCE = 0.05


@dataclass(frozen=True)
class FirstYearBirths:
    """The join of the base year and the first projected year, district totals.

    Attributes
    ----------
    year : int
        The first projected year.
    births : float
        Births during it (persons).
    age0 : float
        Residents aged 0 in the base year (persons).
    ratio : float
        ``births / age0``.
    fertility_change : float
        The scenario's fertility in the first projected year relative to the base year (sum of the
        age-specific rates of the two years); 1 when the first year's births are registered.
    unexplained : float
        ``ratio / fertility_change``: about 1 when the base population's age 0 and the fertility
        rates agree (it also carries the small change in the number of women, infant deaths and
        the migration of babies).
    registered : bool
        The first year's births are registered births (``births.csv``), not the rates'.
    """

    year: int
    births: float
    age0: float
    ratio: float
    fertility_change: float
    unexplained: float
    registered: bool

    def warning(self, tolerance: float = BIRTHS_SEAM_TOLERANCE) -> str | None:
        """One line when ``unexplained`` is more than ``tolerance`` away from 1, else None.

        Registered births are data and are not flagged."""
        if self.registered or not np.isfinite(self.unexplained):
            return None
        if abs(self.unexplained - 1.0) <= tolerance:
            return None
        return (f"births in {self.year} ({self.births:,.0f}) are {self.ratio:.2f} times the "
                f"{self.age0:,.0f} residents aged 0 in the base year, and the scenario's fertility "
                f"change explains {self.fertility_change:.2f}: the base population's age 0 and the "
                f"fertility rates disagree by {self.unexplained - 1:+.0%} (the projection starts "
                "with a step; make population.csv and fertility.csv agree)")


def first_year_births(projection: Projection) -> FirstYearBirths:
    """Compare the first projected year's births with the base year's residents aged 0.

    Parameters
    ----------
    projection : Projection
        With at least one projected year.

    Returns
    -------
    FirstYearBirths
        Use :meth:`FirstYearBirths.warning` for the check.
    """
    if len(projection.years) < 2:
        raise ValueError("first_year_births: the projection has no projected year")
    year = int(projection.years[1])
    births = float(projection.births[1].sum())
    age0 = float(projection.persons[0, :, :, 0].sum())
    ratio = births / age0 if age0 > 0 else float("nan")
    registered = year in projection.registered_years
    base_rate = float(projection.asfr[0].sum())
    change = (1.0 if registered or base_rate <= 0
              else float(projection.asfr[1].sum()) / base_rate)
    unexplained = ratio / change if change > 0 else float("nan")
    return FirstYearBirths(year=year, births=births, age0=age0, ratio=ratio,
                           fertility_change=change, unexplained=unexplained, registered=registered)


def project_arrays(population, fertility, death_probability, net_rate=None, movers=None,
                   dwellings=None, *, base_year: int, birth_sex_ratio: float,
                   assumptions: ProjectionAssumptions | None = None, dwelling_years=None,
                   streets: Iterable[str] = ()) -> Projection:
    """Deterministic projection from plain arrays (no files needed).

    Parameters
    ----------
    population : array (street, sex, age)
        Base-year persons; sexes ``("male", "female")``; last age an open group.
    fertility : array (age,)
        Births per woman per year; 0 at age 0.
    death_probability : array (sex, age)
        ``q_x`` in [0, 1].
    net_rate : array (street, sex, age), optional
        Net migrants per resident per year (default 0: closed).
    movers : array (sex, age), optional
        Age-sex shares of people moving into new dwellings (default 0: no inflow).
    dwellings : array (year, street), optional
        Dwellings completed in ``dwelling_years`` (default none).
    base_year : int
        Year of ``population``.
    birth_sex_ratio : float
        Boys per girl.
    assumptions : ProjectionAssumptions, optional
    dwelling_years : array of int, optional
        Completion years of the rows of ``dwellings``; default ``base_year + 1, base_year + 2, ...``.
    streets : iterable of str, optional
        Street codes.

    Returns
    -------
    Projection
    """
    pop = np.asarray(population, dtype=float)
    n_s, _, n_a = pop.shape if pop.ndim == 3 else (0, 0, 0)
    if dwellings is None:
        dwellings = np.zeros((0, n_s))
    dwellings = np.asarray(dwellings, dtype=float)
    if dwelling_years is None:
        dwelling_years = np.arange(base_year + 1, base_year + 1 + len(dwellings))
    inp = ProjectionInputs(
        population=pop,
        fertility=fertility,
        death_probability=death_probability,
        net_rate=np.zeros((n_s, 2, n_a)) if net_rate is None else net_rate,
        movers=np.zeros((2, n_a)) if movers is None else movers,
        dwellings=dwellings,
        dwelling_years=dwelling_years,
        base_year=base_year,
        birth_sex_ratio=birth_sex_ratio,
        streets=tuple(streets),
    )
    return project(inp, assumptions)


def draw_multipliers(uncertainty: Uncertainty) -> tuple[np.ndarray, np.ndarray]:
    """The lognormal fertility and migration factors of each draw, each (draws,).

    ``default_rng(seed)`` draws ``draws`` standard normals for fertility, then ``draws`` for
    migration; the factors are ``exp(sd × z)`` (median 1).
    """
    n = int(uncertainty.draws)
    if n < 1:
        raise ValueError("uncertainty.draws must be >= 1 (0 means no draws: use project())")
    for name in ("fertility_sd", "migration_sd"):
        v = float(getattr(uncertainty, name))
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"uncertainty.{name} must be >= 0, got {v}")
    rng = np.random.default_rng(uncertainty.seed)
    z_f = rng.standard_normal(n)
    z_m = rng.standard_normal(n)
    return (np.exp(float(uncertainty.fertility_sd) * z_f),
            np.exp(float(uncertainty.migration_sd) * z_m))


def project_draws(district: Any, assumptions: ProjectionAssumptions | None = None,
                  uncertainty: Uncertainty | None = None, *,
                  keep_ages: Iterable[int] | None = None) -> ProjectionDraws:
    """Monte-Carlo projections: ``uncertainty.draws`` runs with lognormal fertility and migration.

    Draw ``d`` multiplies the fertility rates (after ``fertility_multiplier`` / ``tfr_path``) by
    ``F_d`` and the net-migration rates and the housing-led inflow by ``M_d``
    (see :func:`draw_multipliers`). All draws are computed together as arrays
    (draw, street, sex, age); the loop is over years only.

    Parameters
    ----------
    district
        A :class:`capacity.data.District` or :class:`ProjectionInputs`.
    assumptions
        As in :func:`project`.
    uncertainty
        Number of draws, log-sds, seed (``draws`` must be ≥ 1).
    keep_ages
        Ages to store in ``persons`` (default all). Storing only school ages saves memory:
        1,000 draws × 16 years × 11 streets × 2 sexes × 101 ages are 280 MB as float64.

    Returns
    -------
    ProjectionDraws
        With ``central``, the deterministic run.
    """
    inp = _inputs(district)
    a = assumptions or ProjectionAssumptions()
    u = uncertainty or Uncertainty(draws=1000)
    fm, mm = draw_multipliers(u)
    central = project(inp, a)
    if keep_ages is None:
        keep: np.ndarray | slice = slice(None)
    else:
        keep = np.unique(np.asarray(list(keep_ages), dtype=int))
        if keep.size and (keep[0] < 0 or keep[-1] >= len(inp.ages)):
            raise ValueError(f"keep_ages: ages must be in 0..{len(inp.ages) - 1}")
    years, persons, births, _, _ = _simulate(inp, a, fm, mm, keep)
    return ProjectionDraws(years=years, streets=inp.streets, ages=inp.ages[keep], persons=persons,
                           births=births, fertility_multipliers=fm, migration_multipliers=mm,
                           central=central, uncertainty=u)
