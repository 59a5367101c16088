"""The objective terms and the stages of the lexicographic method.

Terms (each a plain sum): ``shortfall`` = sum u (pupil-years), ``overcrowding`` = sum o
(pupil-years), ``travel`` = sum dist(s, street_p) a (pupil-km per year, summed over years; zero in
the own street), ``cost`` = sum k cost_per_class_i x (million CNY), ``early`` = sum (plan_end -
tau) x (school-years a school opens before the last year it could: the tie-breaker that opens a
school no earlier than it is needed), ``schools`` = sum x (new schools), ``places`` = sum std x (new
standard places; conversions add none) and ``equity`` = sum over levels and years of the largest
share of a street's pupils without a place (see :func:`capacity.optimize.constraints.define_equity`).
"""

from __future__ import annotations

import numpy as np
import pulp

from capacity.optimize.constraints import ModelFrame, expr, stage_order, uses_stage
from capacity.optimize.index import counted
from capacity.optimize.parameters import DEFAULT_WEIGHTS, TERMS, PlanParameters


def define_terms(m: ModelFrame) -> dict[str, pulp.LpAffineExpression]:
    """``shortfall, overcrowding, travel, cost, early, schools, places, equity`` as expressions
    over ``m.V``."""
    A0, U0, O0, X0, N = m.offsets
    V, arcs, opt = m.V, m.ix.arcs, m.ix.options
    dist, cost, early = arcs["dist"].to_numpy(), opt["cost"].to_numpy(), opt["early"].to_numpy()
    z0, z1 = m.blocks.get("z", (0, 0))
    return {
        "schools": expr(V[X0:N], counted(opt, m.ix.params, "schools").astype(float).tolist()),
        "places": expr(V[X0:N], opt["std"].where(opt["kind"] != "conversion", 0.0).astype(float).tolist()),
        "equity": expr(V[z0:z1], [1.0] * (z1 - z0)),
        "shortfall": expr(V[U0:O0], [1.0] * (O0 - U0)),
        "overcrowding": expr(V[O0:X0], [1.0] * (X0 - O0)),
        "travel": expr([V[A0 + i] for i in np.flatnonzero(dist > 0)], dist[dist > 0].tolist()),
        "cost": expr([V[X0 + i] for i in np.flatnonzero(cost > 0)], cost[cost > 0].tolist()),
        "early": expr([V[X0 + i] for i in np.flatnonzero(early > 0)], early[early > 0].tolist()),
    }


def weights(params: PlanParameters) -> dict[str, float]:
    """``DEFAULT_WEIGHTS`` updated with ``params.weights``."""
    w = dict(DEFAULT_WEIGHTS)
    if params.weights:
        w.update({k: float(v) for k, v in params.weights.items()})
    return w


def stage_objectives(terms: dict, params: PlanParameters,
                     assignment: bool = False) -> list[tuple[str, pulp.LpAffineExpression]]:
    """The objectives to minimise in order: ``[("weighted", sum w_k term_k)]`` for the weighted
    method; else the stages of ``objective_order`` (default shortfall, equity, overcrowding, travel
    and ``cost + early`` weighted by ``weights``), leaving out empty terms and, unless
    ``assignment``, the ``assignment_stages`` (solved with the schedule fixed)."""
    w = weights(params)
    t = terms
    if params.method == "weighted":
        e = pulp.LpAffineExpression()
        for k in (*TERMS, "early"):
            e = e + w[k] * t[k] if len(t[k]) else e
        return [("weighted", e)]
    stages = []
    for k in stage_order(params):
        if k == "cost":
            last = pulp.LpAffineExpression()
            for c in ("cost", "early"):
                if len(t[c]):
                    last = last + w[c] * t[c]
            if len(last):
                stages.append(("cost", last))
        elif len(t.get(k, ())):
            stages.append((k, t[k]))
    if not stages:
        stages = [("shortfall", t["shortfall"])]
    if not assignment and params.assignment_stages:  # solved with the schedule fixed (polish)
        stages = [st for st in stages if st[0] not in params.assignment_stages] or stages[:1]
    return stages


def term_values(ix, offsets, values, blocks=None) -> dict[str, float]:
    """The terms at a solution vector (binaries rounded); ``equity`` (sum over levels and years of
    the largest share of a street's pupils without a place) only when the order has that stage."""
    A0, U0, O0, X0, N = offsets
    x = np.round(values[X0:N])
    z0, z1 = (blocks or {}).get("z", (0, 0))
    extra = {"equity": float(values[z0:z1].sum())} if uses_stage(ix.params, "equity") else {}
    return {
        **extra,
        "shortfall": float(values[U0:O0].sum()),
        "overcrowding": float(values[O0:X0].sum()),
        "travel": float((values[A0:U0] * ix.arcs["dist"].to_numpy()).sum()),
        "cost": float((x * ix.options["cost"].to_numpy()).sum()),
        "early": float((x * ix.options["early"].to_numpy()).sum()),
    }
