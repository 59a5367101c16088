"""The objective terms and the stages of the lexicographic method.

Terms (each a plain sum): ``shortfall`` = sum u (pupil-years), ``overcrowding`` = sum o
(pupil-years), ``travel`` = sum dist(s, street_p) a (pupil-km per year, summed over years; zero in
the own street), ``cost`` = sum k cost_per_class_i x (million CNY) and ``early`` = sum (plan_end -
tau) x (school-years a school opens before the last year it could: the tie-breaker that opens a
school no earlier than it is needed).
"""

from __future__ import annotations

import numpy as np
import pulp

from capacity.optimize.constraints import ModelFrame, expr
from capacity.optimize.parameters import DEFAULT_WEIGHTS, TERMS, PlanParameters


def define_terms(m: ModelFrame) -> dict[str, pulp.LpAffineExpression]:
    """``shortfall, overcrowding, travel, cost, early`` as expressions over ``m.V``."""
    A0, U0, O0, X0, _ = m.offsets
    V, arcs, opt = m.V, m.ix.arcs, m.ix.options
    dist, cost, early = arcs["dist"].to_numpy(), opt["cost"].to_numpy(), opt["early"].to_numpy()
    return {
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


def stage_objectives(terms: dict, params: PlanParameters) -> list[tuple[str, pulp.LpAffineExpression]]:
    """The objectives to minimise in order: ``[("weighted", sum w_k term_k)]`` for the weighted
    method; else shortfall, overcrowding, travel and ``cost + early`` (weighted by ``weights``),
    leaving out empty terms."""
    w = weights(params)
    t = terms
    if params.method == "weighted":
        e = pulp.LpAffineExpression()
        for k in (*TERMS, "early"):
            e = e + w[k] * t[k] if len(t[k]) else e
        return [("weighted", e)]
    stages = [(k, t[k]) for k in ("shortfall", "overcrowding", "travel") if len(t[k])]
    last = pulp.LpAffineExpression()
    for k in ("cost", "early"):
        if len(t[k]):
            last = last + w[k] * t[k]
    if len(last):
        stages.append(("cost", last))
    if not stages:
        stages = [("shortfall", t["shortfall"])]
    return stages


def term_values(ix, offsets, values) -> dict[str, float]:
    """The terms at a solution vector (binaries rounded)."""
    A0, U0, O0, X0, N = offsets
    x = np.round(values[X0:N])
    return {
        "shortfall": float(values[U0:O0].sum()),
        "overcrowding": float(values[O0:X0].sum()),
        "travel": float((values[A0:U0] * ix.arcs["dist"].to_numpy()).sum()),
        "cost": float((x * ix.options["cost"].to_numpy()).sum()),
        "early": float((x * ix.options["early"].to_numpy()).sum()),
    }
