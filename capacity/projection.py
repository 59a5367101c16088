"""Cohort-component projection of residents by street, sex and single year of age.

(Implementation arrives with issue 3; the parameter dataclasses below are the contract.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


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
        linear between given years, held flat outside them. When given, it replaces
        ``fertility_multiplier``: the age pattern of the data's rates is rescaled to the target TFR.
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
        sum to this district total in each year given.
    """

    end_year: int = 2035
    fertility_multiplier: float = 1.0
    tfr_path: Mapping[int, float] | None = None
    migration_multiplier: float = 1.0
    housing_shift_years: int = 0
    housing_multiplier: float = 1.0
    persons_per_dwelling: float = 2.8
    occupancy_lag_years: int = 0
    district_total: Mapping[int, float] | None = None


@dataclass(frozen=True)
class Uncertainty:
    """Monte-Carlo draws of fertility and migration.

    Each draw multiplies the fertility rates by a lognormal factor with log-sd ``fertility_sd`` and the
    migration rates (and housing inflow) by a lognormal factor with log-sd ``migration_sd``.
    ``draws = 0`` means no draws. ``percentiles`` are reported as columns ``p05``, ``p50``, ``p95``, ...
    """

    draws: int = 0
    fertility_sd: float = 0.10
    migration_sd: float = 0.20
    seed: int = 20201101
    percentiles: tuple[float, ...] = field(default=(5.0, 50.0, 95.0))
