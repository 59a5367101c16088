"""Pupils to be placed, by street, level and year.

(Implementation arrives with issue 3; the parameter dataclass below is the contract.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class EnrolmentRates:
    """Enrolment-rate paths by level: ``{level: {year: rate}}``.

    Rates are pupils per resident of the level's ages (a gross rate may exceed 1). Linear between
    the years given, held flat before the first and after the last.
    Dongli's plan: kindergarten 0.915 (2020) -> 0.95 (2025); primary and junior 1.0;
    senior 0.967 (2020) -> 0.99 (2025).
    """

    paths: Mapping[str, Mapping[int, float]]
