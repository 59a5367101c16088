"""Dominance in the first lexicographic stages: what shortfall, overcrowding and travel never need.

More places, and places sooner, never make shortfall, overcrowding or travel worse: every pupil
assignment that fits a plan still fits when a site of it opens earlier or larger (the ``places`` and
``overcrowded`` rows only gain room; ``demand``, ``counts`` and ``shares`` do not see the size or year).
So, in the stages whose term is in :data:`MONOTONE_TERMS`, every site can be taken to open in its
first possible year at its largest size, or not at all: one binary per site instead of one per
(year, size). The optimum of each of these stages is unchanged; the last stage (``cost + early``)
then sees every option again, with the earlier optima fixed and the previous stage's plan as its
MIP start. On the synthetic city (1,000 sites, 6,290 options) the first three stages search 1,000
binaries instead of 6,290.

Among the sites of one pool (same street, level and kindergarten flags), a site that can open no
later and no smaller than another is at least as good in those stages, so the other opens only if
it does (``x_B <= x_A``, consecutive pairs of the pool's sites sorted by first year, largest size
descending, site id). Any plan that breaks such a row is made to satisfy it by moving the opening
to the better site (same count, same pool), which is no worse in these stages.

The reduction holds only while every constraint family is of the kinds listed in
:data:`MONOTONE_FAMILIES` (a family added later, e.g. one that limits places, switches it off until
it is listed here), and it is switched off level by level where a rule sees the year or the size:
``max_openings_per_year`` (years of that level kept), ``places_rule`` (sizes of the kindergarten
level kept) and ``max_cost_per_year`` (nothing reduced: a larger site costs more in its year).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Stages whose term never gets worse with more places sooner.
MONOTONE_TERMS = frozenset({"shortfall", "overcrowding", "travel"})
#: Constraint families (their ``define_*`` names) under which the reduction is valid.
MONOTONE_FAMILIES = frozenset({
    "define_demand", "define_places", "define_one_option_per_site", "define_counts",
    "define_kindergarten_places", "define_yearly_limits", "define_shares", "define_symmetry",
    "define_arc_capacity",
})


def kept_options(ix) -> pd.Series | None:
    """Boolean by option (``ix.options`` order): the options the monotone stages may use; ``None``
    when the reduction does not apply (``max_cost_per_year`` set)."""
    p, opt = ix.params, ix.options
    if p.max_cost_per_year is not None or not len(opt):
        return None
    first = opt.groupby("site")["year"].transform("min")
    largest = opt.groupby("site")["classes"].transform("max")
    year_bound = set(p.max_openings_per_year or {})
    size_bound = {p.kindergarten_level} if p.places_rule != "off" else set()
    keep_year = (opt["year"] == first) | opt["level"].isin(year_bound)
    keep_size = (opt["classes"] == largest) | opt["level"].isin(size_bound)
    return keep_year & keep_size


def dominance_pairs(ix, kept: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(better, worse)`` option ids: in the monotone stages option ``worse`` opens only if
    ``better`` does (sites of one pool with one kept option each)."""
    opt = ix.options.loc[kept.to_numpy(), ["opt", "site", "pool", "year", "classes"]]
    single = opt.groupby("site")["opt"].transform("size") == 1
    opt = opt[single.to_numpy()].sort_values(["pool", "year", "classes", "site"],
                                             ascending=[True, True, False, True], kind="stable")
    same_pool = opt["pool"].to_numpy()[1:] == opt["pool"].to_numpy()[:-1]
    no_smaller = opt["classes"].to_numpy()[:-1] >= opt["classes"].to_numpy()[1:]
    sel = same_pool & no_smaller
    ids = opt["opt"].to_numpy()
    return ids[:-1][sel], ids[1:][sel]


def define_stage_dominance(m) -> StageRestriction | None:
    """Add the dominance rows (family ``dominance``; enforced only in the monotone stages) and return
    the restriction the driver switches on and off, or ``None`` where it does not apply."""
    from capacity.optimize.constraints import FAMILY_DEFINITIONS, LE

    if any(define.__name__ not in MONOTONE_FAMILIES for define, _ in FAMILY_DEFINITIONS):
        return None
    kept = kept_options(m.ix)
    if kept is None:
        return None
    X0 = m.offsets[3]
    better, worse = dominance_pairs(m.ix, kept)
    if len(better):
        k = np.arange(len(better))
        m.add_rows("dominance", np.r_[k, k], X0 + np.r_[worse, better],
                   np.r_[np.ones(len(k)), -np.ones(len(k))], np.zeros(len(k)), LE)
    rows = [c for r in m.level_rows for c in r if c.name.startswith("dominance_")]
    fixed = [m.V[X0 + i] for i in m.ix.options.loc[~kept.to_numpy(), "opt"].to_numpy()]
    return StageRestriction(variables=fixed, rows=rows)


@dataclass
class StageRestriction:
    """Options fixed at 0 and dominance rows, in force in the stages of ``terms`` only.

    ``set(True)`` fixes ``variables`` (binaries) at 0 and makes each row ``x_B - x_A <= 0``;
    ``set(False)`` frees them again (upper bound 1; each row ``<= 1``, which every 0/1 pair meets).
    """

    variables: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    terms: frozenset = MONOTONE_TERMS

    def part(self, own_vars: set, own_rows: set) -> StageRestriction:
        """The restriction on one independent part (its variables and rows)."""
        return StageRestriction([v for v in self.variables if v in own_vars],
                                [r for r in self.rows if r.name in own_rows], self.terms)

    def set(self, active: bool) -> None:
        for v in self.variables:
            v.upBound = 0 if active else 1
        for r in self.rows:
            r.constant = 0.0 if active else -1.0
