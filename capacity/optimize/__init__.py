"""The scheduling MILP: which candidate sites open, in which year, at which size.

The package, one concept a module:

* :mod:`~capacity.optimize.parameters`: what the model is asked (``PlanParameters``, ``SolverOptions``);
* :mod:`~capacity.optimize.index`: input tables normalised into sets and arcs (``PlanIndex``);
* :mod:`~capacity.optimize.constraints`: the variables and one ``define_*`` per constraint family;
* :mod:`~capacity.optimize.objective`: the objective terms and lexicographic stages;
* :mod:`~capacity.optimize.driver`: the lexicographic driver, whole or level by level;
* :mod:`~capacity.optimize.solver`: the HiGHS / CBC wrappers and honest status reading;
* :mod:`~capacity.optimize.checks`: checks before solving and explanations of infeasibility;
* :mod:`~capacity.optimize.results`: the report and the plan tables;
* :mod:`~capacity.optimize.model`: ``SchoolPlanModel``, the thin class over them.

Formulation
-----------
Sets: streets ``s``, levels ``l``, balance years ``t`` (``first_year..last_year``), *pools* ``p`` and
*open options* ``(i, tau, k)``.

A **pool** is all supply of one level in one street that the objective cannot tell apart: existing
places and new sites of a street and level (for the kindergarten level also split by the
``public`` / ``inclusive`` flags, which the share targets need). Distances are between street points,
so a new site is exactly as far from every pupil as the existing places of its street; pooling
therefore loses nothing and keeps the arc count at streets x nearby streets instead of
streets x sites. After solving, every pool's flow is split back onto its members (existing supply and
each open site), standard places first and overcrowded places second, pro rata.

Variables

* ``x[i, tau, k]`` binary: site ``i`` opens in year ``tau`` with ``k`` classes. ``tau`` runs over the
  plan period ``max(earliest_year, plan_start)..plan_end``: sites open only inside the plan period
  (a site that can open only later is never opened; ``check`` names it). At most one option per site.
* ``a[s, p, t] >= 0``: pupils of street ``s`` taught in pool ``p`` in year ``t``; only arcs inside the
  level's catchment (``catchment_km[level]``: ``0`` own street, ``d`` street points at most ``d`` km
  apart, ``None`` anywhere) and only once the pool has any place.
* ``u[s, l, t] >= 0``: shortfall (pupils without a place); ``o[p, t] >= 0``: pupils in overcrowded places.

Constraints

* demand: ``sum_p a[s, p, t] + u[s, l, t] = pupils[s, l, t]``
* standard places: ``sum_s a[s, p, t] - o[p, t] <= places_p + sum_{i in p, tau <= t, k} k c_l x``
  (``c_l`` = ``class_size[level]``; the places of a site count from its open year on; with
  ``grade_class_size`` a kindergarten of ``k`` classes has ``grade_places(k)`` places instead of
  ``k c_kg``, :mod:`capacity.grades`, and ``max(0, k m_kg - grade_places(k))`` overcrowded places)
* overcrowded places: ``o[p, t] <= extra_p + sum_{i in p, tau <= t, k} k (m_l - c_l) x``
  (``m_l`` = ``max_class_size``; for existing supply ``extra_p = max(0, classes m_l - places)``)
* one option per site; ``new_schools`` per level (``count_rule`` exact / at most); kindergarten new
  places ``sum k c_kg x`` (``places_rule``); optional openings per level and year and capital cost
  per year; kindergarten public / inclusive share in ``target_year``:
  ``sum_{public pools} a[., p, target] >= public_share_min * kindergarten pupils[target]`` (the share of
  *all* kindergarten-age pupils, so that a share target can never be met by leaving children out).

Objective terms (each a plain sum): ``shortfall`` = sum u (pupil-years), ``overcrowding`` = sum o
(pupil-years), ``travel`` = sum dist(s, street_p) a (pupil-km per year, summed over years; zero in the
own street), ``cost`` = sum k cost_per_class_i x (million CNY) and ``early`` = sum (plan_end - tau) x
(school-years a school opens before the last year it could; the tie-breaker that opens a school no
earlier than it is needed).

``method="lexicographic"`` (the default) minimises shortfall, fixes it (``<=`` optimum plus a small
tolerance), then overcrowding, then travel, then ``cost + early`` (weighted by ``weights``). It is the
default because the plan's priorities are strict: no finite weight guarantees that a child's place is
never traded for pupil-km or money (with weights, a long enough catchment or an expensive enough site
flips the trade), and lexicographic results do not depend on the units of the terms.
``method="weighted"`` minimises ``sum_k w_k term_k`` once (faster: one MILP instead of up to four).

Solving level by level: the levels share no variable, and no constraint links them unless
``max_cost_per_year`` is set (checked row by row while building), and every term is a sum over levels.
The model is then solved as one independent MILP per level (smallest first, each with an equal share
of the time left; every lexicographic stage fixes each level's own optimum), which gives the same
optimum as the whole but adds the branch-and-bound trees of the levels instead of multiplying them.
The report sums objectives and bounds over the levels (the model sizes are the whole model's).
"""

from capacity.optimize.index import parse_sizes
from capacity.optimize.model import SchoolPlanModel, build_model, evaluate_without_new_schools
from capacity.optimize.parameters import (
    DEFAULT_CATCHMENT_KM,
    DEFAULT_CLASS_SIZE,
    DEFAULT_MAX_CLASS_SIZE,
    DEFAULT_WEIGHTS,
    FAMILIES,
    TERMS,
    InfeasiblePlan,
    PlanParameters,
    SolverOptions,
)
from capacity.optimize.results import Plan, SolverReport
from capacity.optimize.solver import _make_solver as _make_solver  # the driver looks it up here
from capacity.optimize.solver import classify_status, relative_gap

__all__ = [
    "DEFAULT_CATCHMENT_KM",
    "DEFAULT_CLASS_SIZE",
    "DEFAULT_MAX_CLASS_SIZE",
    "DEFAULT_WEIGHTS",
    "FAMILIES",
    "TERMS",
    "InfeasiblePlan",
    "Plan",
    "PlanParameters",
    "SchoolPlanModel",
    "SolverOptions",
    "SolverReport",
    "build_model",
    "classify_status",
    "evaluate_without_new_schools",
    "parse_sizes",
    "relative_gap",
]
