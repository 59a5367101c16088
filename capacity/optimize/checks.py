"""Checks before solving, and explanations after an infeasible solve.

:func:`presolve_checks` explains, with the numbers, what makes an instance infeasible before any
solver runs (counts that exceed the candidate sites, a places total no choice of sizes gives, share
targets beyond all places that can open in time, a budget below the cheapest schools).
:func:`diagnose` relaxes one constraint family at a time after the solver proves infeasibility and
names the family (or families) whose removal restores feasibility.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capacity.grades import grade_places
from capacity.optimize.index import PlanIndex, counted
from capacity.optimize.parameters import DEFAULT_CLASS_SIZE


def presolve_checks(ix: PlanIndex, supply: pd.DataFrame, sites: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Problems (each names the family and the numbers) and informational notes (sites that can
    open only after the plan period; pupils no place can reach, :func:`unreachable_demand`).

    Parameters
    ----------
    ix : PlanIndex
    supply, sites : DataFrame
        The normalised input tables (see :func:`capacity.optimize.index.normalise_tables`).
    """
    p = ix.params
    problems: list[str] = []
    notes: list[str] = []
    late = sites[np.maximum(sites["earliest_year"], p.plan_start) > p.plan_end]
    for lv, g in late.groupby("level"):
        notes.append(
            f"{lv}: {len(g)} candidate site(s) can open only after the plan period "
            f"{p.plan_start}-{p.plan_end}: "
            + ", ".join(f"{r.site} ({r.earliest_year})" for r in g.itertuples())
        )
    req = ix.required()
    opt = ix.options
    for lv, n in req.items():
        cands = opt.loc[(opt["level"] == lv).to_numpy() & counted(opt, p, "schools"), "site"].nunique()
        if p.count_rule == "exact" and n > cands:
            nlate = int((late["level"] == lv).sum())
            problems.append(
                f"counts: {lv} needs {n} new schools (count_rule='exact') but only {cands} candidate "
                f"site(s) can open in {p.plan_start}-{p.plan_end}"
                + (f" ({nlate} more open only after {p.plan_end})" if nlate else "")
            )
        if p.max_openings_per_year and lv in p.max_openings_per_year and p.count_rule == "exact":
            m = int(p.max_openings_per_year[lv])
            first = np.sort(sites.loc[sites["level"] == lv, "earliest_year"].to_numpy())
            first = np.maximum(first, p.plan_start)
            first = first[first <= p.plan_end]
            # greedy (optimal: every window ends at plan_end): open up to m available sites per year
            possible, j = 0, 0
            for y in range(p.plan_start, p.plan_end + 1):
                avail = int(np.searchsorted(first, y, side="right")) - j
                take = min(m, avail)
                possible += take
                j += take
            if possible < n:
                problems.append(
                    f"yearly_limits: {lv} needs {n} new schools but with at most {m} opening per year "
                    f"and the sites' earliest years only {possible} can open in {p.plan_start}-{p.plan_end}"
                )
    notes += unreachable_demand(ix)
    problems += _check_places(ix, req)
    problems += _check_shares(ix, req, supply)
    problems += _check_cost(ix, req)
    return problems, notes


def _years_text(years) -> str:
    """``2021-2023, 2025`` from a sorted list of years."""
    years = sorted(int(y) for y in years)
    runs, start = [], years[0]
    for a, b in zip(years, [*years[1:], None], strict=True):
        if b != a + 1:
            runs.append(f"{start}" if start == a else f"{start}-{a}")
            start = b
    return ", ".join(runs)


def _catchment_text(km) -> str:
    if km is None:
        return "anywhere in the district"
    return "own street" if float(km) == 0 else f"{float(km):g} km"


def unreachable_demand(ix: PlanIndex) -> list[str]:
    """One note per street and level whose pupils have no place within their catchment in some
    balance years (no existing place and no candidate site that can open by then within
    ``catchment_km``): those pupils are shortfall whatever the plan. Names the street, the level,
    the years and the pupil-years."""
    nodes, arcs = ix.nodes, ix.arcs
    if not len(nodes):
        return []
    dead = nodes[~nodes["node"].isin(arcs["node"])]
    out = []
    for (lv, street), g in dead.groupby(["level", "street"], sort=True):
        out.append(
            f"unreachable: {lv} pupils of street {street} in {_years_text(g['year'])} "
            f"({g['pupils'].sum():,.1f} pupil-years) have no place within their catchment "
            f"({_catchment_text(ix.catchment.get(lv))}): no existing place and no candidate site "
            "that can open by then; they are shortfall whatever the plan")
    return out


def _kg_options(ix: PlanIndex) -> pd.DataFrame:
    opt = ix.options
    opt = opt[(opt["level"] == ix.params.kindergarten_level).to_numpy() & counted(opt, ix.params, "places")]
    return opt.drop_duplicates(["site", "classes"])

def _check_places(ix: PlanIndex, req) -> list[str]:
    p = ix.params
    if p.places_rule == "off":
        return []
    kg = p.kindergarten_level
    K = float(p.kindergarten_new_places)
    c = ix.cs.get(kg, DEFAULT_CLASS_SIZE.get(kg, 30.0))
    n = req.get(kg) if req else None
    sizes = [tuple(sorted(set(g["classes"]))) for _, g in _kg_options(ix).groupby("site")]
    grades = p.grade_class_size
    if grades is None:
        unit, per = c, f"{c:g} places per class"
        values = sizes  # places in units of one class
    else:  # places by grade mix, in units of the gcd of all option places (whole pupils)
        places = [tuple(int(round(v)) for v in grade_places(np.array(s, int), grades)) for s in sizes]
        unit = float(np.gcd.reduce([v for s in places for v in s] or [1]) or 1)
        per = "places by grade " + "/".join(f"{grades[a]:g}" for a in sorted(grades))
        values = [tuple(int(v // unit) for v in s) for s in places]
    if p.places_rule == "at_least":
        best = sorted((max(s) for s in values), reverse=True)
        cap = sum(best if n is None else best[:n]) * unit
        if cap + 1e-6 < K:
            return [
                f"places: {kg} new places must be at least {K:g} but the "
                + (f"{n} largest " if n is not None else "")
                + f"candidate kindergartens give at most {cap:g} ({per})"
            ]
        return []
    target = K / unit
    if abs(target - round(target)) > 1e-6:
        if grades is None:
            return [f"places: {kg} new places {K:g} is not a multiple of the class size {c:g}"]
        return [f"places: {kg} new places {K:g} is not a multiple of {unit:g}, so no mix of "
                f"candidate kindergartens ({per}) gives it"]
    T = int(round(target))
    nmax = len(values) if n is None else min(n, len(values))
    reach = np.zeros((nmax + 1, T + 1), bool)
    reach[0, 0] = True
    for s in values:
        new = reach.copy()
        for k in s:
            if k <= T:
                new[1:, k:] |= reach[:-1, : T + 1 - k]
        reach = new
    ok_counts = [n] if (n is not None and p.count_rule == "exact") else range(nmax + 1)
    if n is not None and p.count_rule == "exact" and n > nmax:
        return []  # reported by the count check
    if not any(reach[m, T] for m in ok_counts):
        lo = sum(sorted(min(s) for s in values)[: n or 0]) * unit if n else 0
        hi = sum(sorted((max(s) for s in values), reverse=True)[:nmax]) * unit
        how = f"exactly {n}" if (n is not None and p.count_rule == "exact") else f"at most {nmax}"
        what = f"{T} classes of {c:g}" if grades is None else per
        return [
            f"places: no choice of sizes gives exactly {K:g} new {kg} places ({what}) "
            f"with {how} new {kg}s (reachable range about {lo:g}-{hi:g})"
        ]
    return []

def _check_shares(ix: PlanIndex, req, supply) -> list[str]:
    p = ix.params
    out = []
    kg = p.kindergarten_level
    if p.public_share_min is None and p.inclusive_share_min is None:
        return out
    if not p.first_year <= p.target_year <= p.last_year:
        return [f"shares: target_year {p.target_year} is outside the balance years {p.first_year}-{p.last_year}"]
    dem = ix.demand
    total = float(dem.loc[(dem["level"] == kg) & (dem["year"] == p.target_year), "pupils"].sum())
    n = req.get(kg) if req else None
    sup = supply[supply["level"] == kg]
    mx = ix.mcs.get(kg, 35.0)
    for flag, share in (("public", p.public_share_min), ("inclusive", p.inclusive_share_min)):
        if share is None or total <= 0:
            continue
        s = sup[sup[flag]]
        existing = float(np.maximum(s["classes"] * mx, s["places"]).sum())
        o = ix.options
        o = o[(o["level"] == kg) & o[flag] & (o["year"] <= p.target_year)]
        best = sorted(o.groupby("site")["classes"].max().to_numpy() * mx, reverse=True)
        new = float(sum(best if n is None else best[:n]))
        need = share * total
        if existing + new + 1e-6 < need:
            out.append(
                f"shares: {kg} {flag} share >= {share:.0%} in {p.target_year} needs {need:,.0f} {flag} "
                f"places for {total:,.0f} children, but existing {flag} places ({existing:,.0f} at the "
                f"maximum class size) plus all new {flag} {kg}s that can open by then "
                f"({new:,.0f}) give only {existing + new:,.0f}"
            )
    return out

def _check_cost(ix: PlanIndex, req) -> list[str]:
    p = ix.params
    if p.max_cost_per_year is None or not req or p.count_rule != "exact":
        return []
    cheapest = 0.0
    for lv, n in req.items():
        o = ix.options[ix.options["level"] == lv]
        c = np.sort(o.groupby("site")["cost"].min().to_numpy())
        cheapest += float(c[:n].sum())
    budget = p.max_cost_per_year * (p.plan_end - p.plan_start + 1)
    if cheapest > budget + 1e-6:
        return [
            f"yearly_limits: the required schools cost at least {cheapest:,.1f} million CNY but "
            f"max_cost_per_year {p.max_cost_per_year:g} over {p.plan_end - p.plan_start + 1} years "
            f"allows {budget:,.1f}"
        ]
    return []


def active_families(ix: PlanIndex) -> list[str]:
    """The relaxable constraint families this instance uses."""
    p = ix.params
    active = []
    if ix.required():
        active.append("counts")
    if p.places_rule != "off":
        active.append("places")
    if p.public_share_min is not None or p.inclusive_share_min is not None:
        active.append("shares")
    if p.max_openings_per_year or p.max_cost_per_year is not None:
        active.append("yearly_limits")
    if p.private_min_fill is not None:
        active.append("fill")
    return active


def explain_infeasible(active: list[str], culprits: list[str]) -> str:
    """The message for a solver-proven infeasible plan, given the families whose removal alone
    restores feasibility."""
    if culprits:
        return ("infeasible plan: the solver proves the constraints infeasible; leaving out the "
                + " or the ".join(f"'{c}'" for c in culprits)
                + " constraints makes it feasible (families: counts = new_schools, places = "
                "kindergarten_new_places, shares = public/inclusive share, yearly_limits = "
                "max_openings_per_year / max_cost_per_year, fill = private_min_fill)")
    return ("infeasible plan: the solver proves the constraints infeasible and no single family "
            f"({', '.join(active) or 'none active'}) explains it; several constraints conflict")
