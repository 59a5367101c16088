"""The scheduling MILP: which candidate sites open, in which year, at which size.

(Implementation arrives with issue 4; the parameter dataclasses below are the contract.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PlanParameters:
    """Everything the planning model needs besides the tables.

    Parameters
    ----------
    first_year, last_year
        The years the balance of pupils and places is evaluated (inclusive).
    plan_start, plan_end
        The plan period: new schools counted against ``new_schools`` open in these years (inclusive).
    new_schools
        Schools to open per level over the plan period, e.g. ``{"primary": 9}``.
    count_rule
        ``"exact"`` or ``"at_most"``: how ``new_schools`` binds.
    kindergarten_new_places, places_rule
        Total places of the new kindergartens and how it binds: ``"exact"``, ``"at_least"`` or ``"off"``.
    class_size, max_class_size
        Standard and legal maximum pupils per class, by level. Places between the two are overcrowded
        places; beyond the maximum is shortfall.
    catchment_km
        By level: how far (km between street points) pupils may be assigned. ``0`` = own street only;
        ``None`` = anywhere in the district.
    target_year
        Year in which the kindergarten targets below must hold.
    public_share_min, inclusive_share_min
        Minimum share of kindergarten children in public / inclusive places in ``target_year``
        (``None`` = no constraint).
    max_openings_per_year
        Optional limit of new schools per level and year.
    max_cost_per_year
        Optional limit of capital cost per year (million CNY), when sites carry a cost.
    weights
        Objective weights: ``shortfall`` (per pupil-year without a place), ``overcrowding`` (per pupil-year
        in an overcrowded place), ``travel`` (per pupil-km outside the own street), ``cost`` (per million
        CNY) and ``early`` (per school-year of opening before it is needed; tie-breaker).
    method
        ``"lexicographic"`` (shortfall first, then overcrowding, then travel, then cost) or ``"weighted"``.
    """

    first_year: int = 2021
    last_year: int = 2030
    plan_start: int = 2021
    plan_end: int = 2025
    new_schools: Mapping[str, int] | None = None
    count_rule: str = "exact"
    kindergarten_new_places: int | None = None
    places_rule: str = "off"
    class_size: Mapping[str, float] | None = None
    max_class_size: Mapping[str, float] | None = None
    catchment_km: Mapping[str, float | None] | None = None
    target_year: int = 2025
    public_share_min: float | None = None
    inclusive_share_min: float | None = None
    max_openings_per_year: Mapping[str, int] | None = None
    max_cost_per_year: float | None = None
    weights: Mapping[str, float] | None = None
    method: str = "lexicographic"


@dataclass(frozen=True)
class SolverOptions:
    """How to solve: ``solver`` is ``"highs"`` (default) or ``"cbc"``; ``time_limit`` in seconds;
    ``mip_gap`` relative; ``threads``; ``msg`` prints the solver log."""

    solver: str = "highs"
    time_limit: float | None = 300.0
    mip_gap: float = 1e-4
    threads: int | None = None
    msg: bool = False
