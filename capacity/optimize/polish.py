"""Polish: the lexicographic stages solved once more as linear programmes with the schedule fixed.

The MILP stages are fixed with a slack (:func:`capacity.optimize.driver.lex_slack`), which a later
stage may use: a shortfall of 10.00001 and overcrowding of 19.99999 pupil-years instead of 10 and
20. With the schedule found (every binary ``x``) fixed, the rest of the model is a linear programme
whose optima are exact vertex values, so :func:`polish` solves the same stages again on it and
fixes each at its optimum (no slack: an LP optimum is a vertex value), which keeps every
stage's value at least as good as the MILP's and removes the slack from the results.
"""

from __future__ import annotations

import time

import numpy as np
import pulp

from capacity.optimize.backend import HighsModel, expression_vector
from capacity.optimize.objective import stage_objectives
from capacity.optimize.solver import classify_status

#: Relative slack of a fixed LP stage (none: the previous optimum is feasible at the solver's tolerances).
LP_SLACK = 0.0


def polish(built, params, options, deadline, values: np.ndarray) -> tuple[np.ndarray, str | None]:
    """The solution ``values`` with its continuous part re-optimised stage by stage, the binaries
    fixed at their values (see the module docstring).

    Returns
    -------
    (ndarray, str or None)
        The polished values and None, or the values unchanged and a note when a stage has no
        optimal solution within the time left.
    """
    X0, N = built.offsets[3], built.offsets[4]
    x = np.round(values[X0:N])
    stages = stage_objectives(built.terms, params, assignment=True)
    if options.solver.lower() == "highs":
        out, term = _polish_highs(built, stages, options, deadline, X0, N, x)
    else:
        out, term = _polish_pulp(built, stages, options, deadline, X0, N, x)
    if term is not None:
        return values, f"stages not polished with the schedule fixed (stage {term}: no optimal LP)"
    if out is None:
        return values, None
    out[X0:N] = x
    return out, None


def _polish_highs(built, stages, options, deadline, X0, N, x):
    """The polish on one HiGHS linear programme (:mod:`capacity.optimize.backend`)."""
    arrays = built.arrays().fixed(np.arange(X0, N), x)
    model = HighsModel(arrays, options, mip=False)
    pos = {id(v): i for i, v in enumerate(built.V)}
    out = None
    for k, (term, e) in enumerate(stages):
        tl = None if deadline is None else max(1.0, deadline - time.perf_counter())
        cost, _ = expression_vector(e, pos, len(built.V))
        res = model.run(cost, tl)
        if not classify_status(res.status, res.sol_status)[1]:
            return None, term
        if k < len(stages) - 1:
            model.add_row_le(cost, res.objective + LP_SLACK * max(1.0, abs(res.objective)))
        out = res.values.copy()
    return out, None


def _polish_pulp(built, stages, options, deadline, X0, N, x):
    """The polish as PuLP solves (CBC)."""
    import capacity.optimize as pkg  # the one place that makes solvers (tests substitute it)

    V = built.V
    prob = pulp.LpProblem("school_plan_polish", pulp.LpMinimize)
    cons = built.prob.constraints
    for con in (cons() if callable(cons) else cons.values()):
        if not str(con.name).startswith("lex_"):
            prob.addConstraint(con)
    xs = V[X0:N]
    saved = [(v.lowBound, v.upBound, v.cat) for v in xs]
    out = None
    try:
        for v, val in zip(xs, x.tolist(), strict=True):
            v.lowBound = v.upBound = float(val)
            v.cat = pulp.LpContinuous
        for k, (term, e) in enumerate(stages):
            tl = None if deadline is None else max(1.0, deadline - time.perf_counter())
            prob.setObjective(pulp.LpAffineExpression(e))
            prob.solve(pkg._make_solver(options, tl, None))
            has, optimal = classify_status(int(prob.status), int(prob.sol_status))
            if not optimal:
                return None, term
            obj = float(pulp.value(prob.objective) or 0.0)
            if k < len(stages) - 1:
                prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(e), pulp.LpConstraintLE,
                                                     name=f"polish_{term}",
                                                     rhs=obj + LP_SLACK * max(1.0, abs(obj))))
            out = np.array([v.varValue if v.varValue is not None else 0.0 for v in V], float)
    finally:
        for v, (lo, up, cat) in zip(xs, saved, strict=True):
            v.lowBound, v.upBound, v.cat = lo, up, cat
    return out, None
