"""Needs assessment: how many new schools the projected pupils actually need, against the plan.

The plan as written fixes its counts (9 primary schools, 30 kindergartens ...) and its period. The
needs assessment asks the other question: the **fewest** new schools (and classes) per level, with
openings allowed in any year up to the last balance year, that leave no child without a place at
the standard class size, or, where the candidate sites cannot, the least shortfall, and the streets
still short.

It solves the same model (:class:`capacity.optimize.SchoolPlanModel`) with the plan's counts and
its places total switched off, ``count_rule="at_most"``, ``plan_end = last_year``, and the
lexicographic order :data:`capacity.optimize.parameters.NEED_ORDER`:

1. ``shortfall``: pupils without a place (pupil-years), then ``equity`` (no street carries it
   because it is far away);
2. ``overcrowding``: pupils above the standard class size (pupil-years). Together 1-2 are the
   places short at the standard size: a need is met only when both are as small as the sites allow;
3. ``schools``: the fewest new schools that achieve 1-2. Schools before places, because a school is
   the unit a bureau funds, staffs and sites; the number of schools is also what the plan counts;
4. ``places``: the fewest new standard places (so no school is larger than needed);
5. ``cost`` (+ the "not earlier than needed" tie-breaker): the cheapest and latest openings;
6. ``travel`` last: where several equally small schedules exist, the one with the shortest trips.

Travel comes after the number and cost of schools because a need is a count of schools: a shorter
walk is not a reason to build one more school. The plan's other rules stay as the scenario sets them:
the kindergarten public / inclusive share targets (a need that ignores them would not be the plan's
need), catchments, class sizes, yearly opening and budget limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from capacity.kinds import by_kind
from capacity.measures import headline
from capacity.optimize import PlanParameters, SchoolPlanModel, SolverOptions
from capacity.optimize.parameters import NEED_ORDER

__all__ = ["NEED_COLUMNS", "NeedAssessment", "assess_need", "need_parameters", "need_table",
           "needed_plan"]

#: Columns of ``need.csv``.
NEED_COLUMNS = ("level", "plan_schools", "needed_schools", "plan_places", "needed_places",
                "first_needed_year", "plan_classes", "needed_classes", "remaining_places_short",
                "remaining_peak_year", "streets_short", "plan_expansion_places",
                "needed_expansion_places", "plan_converted_places", "needed_converted_places")



def need_parameters(params: PlanParameters) -> PlanParameters:
    """The plan's parameters turned into the needs assessment's (see the module docstring)."""
    return replace(params, new_schools=None, count_rule="at_most", plan_end=params.last_year,
                   places_rule="off", kindergarten_new_places=None, method="lexicographic",
                   objective_order=NEED_ORDER, assignment_stages=("travel",))


@dataclass(frozen=True)
class NeedAssessment:
    """The needed schedule and its comparison with the plan.

    Attributes
    ----------
    plan : Plan
        The needed schedule solved as a plan (``schedule``, ``balance``, ``report``).
    table : DataFrame
        ``need.csv``: one row per level (columns :data:`NEED_COLUMNS`).
    """

    plan: object
    table: pd.DataFrame


def assess_need(demand, supply, sites, distance_km, params: PlanParameters,
                options: SolverOptions | None = None, *, plan=None,
                street_names: Mapping[str, str] | None = None) -> NeedAssessment:
    """Solve the needs assessment and compare it with ``plan`` (the plan as written).

    Parameters
    ----------
    demand, supply, sites, distance_km
        As for :class:`capacity.optimize.SchoolPlanModel`.
    params : PlanParameters
        The plan's parameters (turned into the assessment's by :func:`need_parameters`).
    options : SolverOptions, optional
    plan : Plan, optional
        The plan as written; without it, ``plan_*`` columns come from ``params.new_schools``.
    street_names : mapping, optional
        Street code -> name for ``streets_short``.

    Returns
    -------
    NeedAssessment
    """
    needed = needed_plan(demand, supply, sites, distance_km, params, options)
    return NeedAssessment(plan=needed, table=need_table(needed, plan, params, street_names))


def needed_plan(demand, supply, sites, distance_km, params: PlanParameters,
                options: SolverOptions | None = None):
    """The needs assessment's schedule solved as a plan (the plan's ``params`` turned into the
    assessment's by :func:`need_parameters`); :func:`assess_need` without the comparison.

    Returns
    -------
    Plan
    """
    model = SchoolPlanModel(demand, supply, sites, distance_km, need_parameters(params))
    return model.solve(options).plan


def need_table(needed, plan=None, params: PlanParameters | None = None,
               street_names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``need.csv`` from the needed plan and the plan as written.

    Returns
    -------
    DataFrame
        Per level: ``plan_schools`` / ``needed_schools`` (new schools), ``plan_places`` /
        ``needed_places`` (their standard places), ``first_needed_year`` (the earliest opening of
        a needed new school; empty when none is needed), ``plan_classes`` / ``needed_classes``,
        ``remaining_places_short`` (the largest places short in any year with the needed schools:
        what the candidate sites cannot cover), ``remaining_peak_year`` and ``streets_short``
        (streets short in that year, by name, ';'-separated), ``plan_expansion_places`` /
        ``needed_expansion_places`` (standard places added at existing schools, ``kind =
        expansion``) and ``plan_converted_places`` / ``needed_converted_places`` (private
        kindergarten places made inclusive, ``kind = conversion``). Expansions and conversions are
        not schools: the school and place columns count new schools only.
    """
    names = dict(street_names or {})
    ns, ps = needed.schedule, (plan.schedule if plan is not None else None)
    head = headline(needed)
    levels = list(dict.fromkeys([*head["level"], *ns["level"]]))
    rows = []
    for lv in levels:
        n_all = ns[ns["level"] == lv]
        n = by_kind(n_all, "new")
        if ps is not None:
            p_all = ps[ps["level"] == lv]
            p = by_kind(p_all, "new")
            plan_schools, plan_places, plan_classes = len(p), float(p["places"].sum()), int(p["classes"].sum())
            plan_exp = float(by_kind(p_all, "expansion")["places"].sum())
            plan_conv = float(by_kind(p_all, "conversion")["places"].sum())
        else:
            count = (params.new_schools or {}).get(lv) if params is not None else None
            plan_schools, plan_places, plan_classes = count, np.nan, None
            plan_exp = plan_conv = np.nan
        h = head[head["level"] == lv].sort_values("year")
        short = np.round(h["places_short"].to_numpy(float))
        if len(h) and short.max() > 0:
            i = int(np.argmax(short))
            peak_year, remaining = int(h["year"].iloc[i]), float(h["places_short"].iloc[i])
            b = needed.balance
            b = b[(b["level"] == lv) & (b["year"] == peak_year)]
            short_here = b.loc[(b["shortfall"] + b["overcrowded"]) >= 0.5, "street"]
            streets = ";".join(names.get(s, s) for s in sorted(short_here))
        else:
            peak_year, remaining, streets = None, 0.0, ""
        rows.append({
            "level": lv, "plan_schools": plan_schools, "needed_schools": len(n),
            "plan_places": plan_places, "needed_places": float(n["places"].sum()),
            "first_needed_year": int(n["open_year"].min()) if len(n) else None,
            "plan_classes": plan_classes, "needed_classes": int(n["classes"].sum()),
            "remaining_places_short": remaining, "remaining_peak_year": peak_year,
            "streets_short": streets, "plan_expansion_places": plan_exp,
            "needed_expansion_places": float(by_kind(n_all, "expansion")["places"].sum()),
            "plan_converted_places": plan_conv,
            "needed_converted_places": float(by_kind(n_all, "conversion")["places"].sum()),
        })
    t = pd.DataFrame(rows, columns=list(NEED_COLUMNS))
    for c in ("plan_schools", "first_needed_year", "plan_classes", "remaining_peak_year"):
        t[c] = t[c].astype("Int64")
    return t
