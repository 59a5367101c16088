"""The lexicographic driver: solve the stages in order, fixing each optimum before the next, on
the whole model or level by level.

``method="lexicographic"`` (the default) minimises shortfall, fixes it (``<=`` optimum plus a small
tolerance), then overcrowding, then travel, then ``cost + early``. The previous stage's solution is
the next stage's MIP start. ``method="weighted"`` is one stage.

Solving level by level: the levels share no variable, and no constraint links them unless
``max_cost_per_year`` is set (checked row by row while building), and every term is a sum over
levels. The model is then solved as one independent MILP per level (smallest first, each with an
equal share of the time left; every lexicographic stage fixes each level's own optimum), which gives
the same optimum as the whole but adds the branch-and-bound trees of the levels instead of
multiplying them. The report sums objectives and bounds over the levels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pulp

from capacity.optimize.backend import HighsModel, LinearArrays, expression_vector
from capacity.optimize.objective import stage_objectives
from capacity.optimize.parameters import PlanParameters, SolverOptions
from capacity.optimize.solver import classify_status, relative_gap, status_names

C = pulp.constants


@dataclass
class BuiltModel:
    """A built PuLP model: ``prob``, the variables ``V`` (order ``a, u, o, x``), the objective
    ``terms``, the number of constraints, build seconds and the independent parts
    (``components``: ``(level, constraints, indices into V)``; empty when the model must be solved
    as a whole)."""

    prob: pulp.LpProblem
    V: list
    terms: dict
    n_constraints: int
    seconds: float
    offsets: tuple
    components: list = field(default_factory=list)
    _arrays: LinearArrays | None = field(default=None, repr=False)

    def arrays(self) -> LinearArrays:
        """The model's rows (less the lexicographic ones) as arrays, read once from ``prob``."""
        if self._arrays is None:
            self._arrays = LinearArrays.from_pulp(self.prob, self.V, skip_prefix="lex_")
        return self._arrays


def _solver_factory():
    # looked up on the package at call time, so that one place (``capacity.optimize._make_solver``)
    # decides how solvers are made (tests substitute it to simulate a time-limit stop)
    import capacity.optimize as pkg

    return pkg._make_solver


def lex_slack(obj: float, params: PlanParameters) -> float:
    """The slack with which a stage's optimum ``obj`` is fixed: ``lex_tolerance * max(|obj|, 100)``,
    relative to the optimum and never below 100 x ``lex_tolerance`` (1e-5 at the default 1e-7): a
    purely relative slack near a zero optimum made HiGHS return wrong MILP optima. The results never
    carry this slack (:mod:`capacity.optimize.sharing`, :mod:`capacity.optimize.clean`)."""
    return params.lex_tolerance * max(abs(obj), 100.0)


def run_stages(prob, V, stages, options: SolverOptions, deadline, params: PlanParameters,
               is_mip: bool, start=None, arrays=None):
    """Solve ``stages`` (``[(term, expression)]``) in order on ``prob`` with variables ``V``.

    After each stage but the last, its objective is fixed at the optimum found plus
    :func:`lex_slack`. The previous stage's solution is the next stage's MIP start. With HiGHS
    (the default) the model is handed to HiGHS once and kept across the stages
    (:mod:`capacity.optimize.backend`; ``arrays``: the model's :class:`LinearArrays` when already
    read); with CBC each stage is a PuLP solve.

    Returns
    -------
    (list of dict, ndarray or None)
        One record per stage solved (``term, status, sol_status, objective, bound, gap, optimal,
        seconds, cpu_seconds`` (CPU time of this process)) and the values of ``V`` at the last stage
        with a solution.
    """
    if options.solver.lower() == "highs":
        if arrays is None:
            arrays = LinearArrays.from_pulp(prob, V)
        return _run_stages_highs(arrays, V, stages, options, deadline, params, is_mip, start)
    return _run_stages_pulp(prob, V, stages, options, deadline, params, is_mip, start)


def _record(term, status, sol_status, obj, bound, optimal, t0, c0) -> dict:
    st, sst = status_names(status, sol_status)
    return {"term": term, "status": st, "sol_status": sst, "objective": obj, "bound": bound,
            "gap": relative_gap(obj, bound), "optimal": optimal,
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
            "_status": status, "_sol_status": sol_status}


def _suspicious(optimal, obj, bound, options) -> bool:
    # HiGHS (1.16) can return a MIP start as "optimal" although its own bound is better (seen when
    # presolve empties the model): then the stage is solved again without the start
    gap = relative_gap(obj, bound)
    return bool(optimal and gap is not None and gap > 10 * max(options.mip_gap, 1e-6)
                and abs(obj - bound) > 1e-6)


def stage_vectors(stages, V) -> list[tuple[str, np.ndarray, float]]:
    """``stages`` (``[(term, PuLP expression)]``) as ``[(term, cost vector over V, constant)]``."""
    pos = {id(v): i for i, v in enumerate(V)}
    return [(term, *expression_vector(e, pos, len(V))) for term, e in stages]


def _run_stages_highs(arrays: LinearArrays, V, stages, options, deadline, params, is_mip, start):
    return run_stage_vectors(arrays, stage_vectors(stages, V), options, deadline, params, is_mip, start)


def run_stage_vectors(arrays: LinearArrays, vectors, options, deadline, params, is_mip, start):
    """:func:`run_stages` with HiGHS on ``arrays``, the stages given as :func:`stage_vectors`
    (plain arrays: a worker process can solve them)."""
    model = HighsModel(arrays, options, mip=is_mip)
    records, values = [], None
    start = None if start is None else np.asarray(start, float)
    for k, (term, cost, const) in enumerate(vectors):
        tl = None if deadline is None else max(1.0, deadline - time.perf_counter())
        t0, c0 = time.perf_counter(), time.process_time()
        start_ok = start is not None
        if start is not None and model.mip and model.prices_pupils(cost):
            # the schedule found so far with its best assignment for this stage: a good incumbent
            # from the start, which lets HiGHS fix columns by reduced cost at once
            start, start_ok = model.with_schedule_fixed(cost, start, tl)
        if start_ok and model.mip and k < len(vectors) - 1:
            # not in the last stage: its solution is the plan, and there the MIP's presolve also
            # drops options the objective does not price (e.g. a free conversion left open by an
            # earlier stage), which the start may carry
            proven = _proven_by_relaxation(model, cost, const, start, tl)
            if proven is not None:
                obj, bound = proven
                records.append(_record(term, C.LpStatusOptimal, C.LpSolutionOptimal, obj, bound,
                                       True, t0, c0))
                values = start
                model.add_row_le(cost, obj + lex_slack(obj, params) - const)
                continue
        for attempt in ((start, None) if start is not None else (None,)):
            res = model.run(cost, tl, attempt)
            has, optimal = classify_status(res.status, res.sol_status)
            obj = res.objective + const if has else None
            bound = res.bound + const if has and res.bound is not None else None
            if not _suspicious(optimal, obj, bound, options):
                break
        values = res.values
        ic = model.integer_cols
        if has and model.mip and np.abs(values[ic] - np.round(values[ic])).max(initial=0.0) > 1e-9:
            # the stage's value at its schedule rounded (see HighsModel.with_schedule_fixed): the
            # optimum fixed for the next stages is then one a schedule reaches
            fixed, ok = model.with_schedule_fixed(cost, values, tl)
            if ok:
                values, obj = fixed, float(cost @ fixed) + const
        records.append(_record(term, res.status, res.sol_status, obj, bound, optimal, t0, c0))
        if not has:
            break
        start = values
        if k < len(vectors) - 1:
            model.add_row_le(cost, obj + lex_slack(obj, params) - const)
    return records, values


def _proven_by_relaxation(model: HighsModel, cost, const, start, tl):
    """``(objective, bound)`` when the schedule ``start`` already reaches the optimum of the
    stage's linear relaxation (to rounding: 1e-6 plus 1e-9 relative), else None.

    Then no schedule does better and the stage needs no branch and bound: HiGHS would have to
    solve the same relaxation cold at its root node to learn it, which at city scale took
    minutes (a warm start here takes seconds). The stage's optimum, fixed for the next stages, is
    the MILP's; only the next stage's start may be another schedule of the same value. Only exact
    optima are taken: a start merely within the MIP gap might still lose to a schedule that is
    better by a tie-breaker (``early``)."""
    ic = model.integer_cols
    if np.abs(start[ic] - np.round(start[ic])).max(initial=0.0) > 1e-9:
        return None  # not a schedule of whole schools
    obj = float(cost @ start) + const
    lp = model.relaxation_bound(cost, tl)
    if lp is None:
        return None
    bound = lp + const
    if obj - bound <= 1e-6 + 1e-9 * max(1.0, abs(obj)):
        return obj, min(bound, obj)
    return None


def _run_stages_pulp(prob, V, stages, options, deadline, params, is_mip, start):
    make_solver = _solver_factory()
    records = []
    values = None
    names = [v.name for v in V]
    if start is not None and not isinstance(start, dict):
        start = dict(zip(names, np.asarray(start, float).tolist(), strict=True))
    for k, (term, e) in enumerate(stages):
        tl = None
        if deadline is not None:
            tl = max(1.0, deadline - time.perf_counter())
        prob.setObjective(pulp.LpAffineExpression(e))
        t0, c0 = time.perf_counter(), time.process_time()
        for attempt_start in (start, None) if start else (None,):
            prob.solve(make_solver(options, tl, attempt_start))
            status, sol_status = int(prob.status), int(prob.sol_status)
            has, optimal = classify_status(status, sol_status)
            obj = pulp.value(prob.objective) if has else None
            obj = float(obj) if obj is not None else (0.0 if has else None)
            bound = obj if has and optimal else None
            if not _suspicious(optimal, obj, bound, options):
                break
        records.append(_record(term, status, sol_status, obj, bound, optimal, t0, c0))
        if not has:
            break
        values = np.array([v.varValue if v.varValue is not None else 0.0 for v in V], float)
        start = dict(zip(names, values.tolist(), strict=True))
        if k < len(stages) - 1:
            tol = lex_slack(obj, params)
            prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(e), pulp.LpConstraintLE,
                                                 name=f"lex_{term}", rhs=obj + tol))
    return records, values


#: What a merged stage record keeps of each level's own record (``levels``).
LEVEL_RECORD_KEYS = ("objective", "bound", "gap", "optimal", "seconds", "cpu_seconds")


def part_stages(b: BuiltModel, idx, params: PlanParameters) -> tuple[list, list]:
    """``(V, stages)`` of the part with the columns ``idx`` of ``b``: its variables and its
    lexicographic stages (:func:`~capacity.optimize.objective.stage_objectives` of the objective
    terms restricted to them)."""
    V = [b.V[i] for i in idx]
    own = set(V)
    terms = {k: pulp.LpAffineExpression([(v, c) for v, c in e.items() if v in own]) for k, e in b.terms.items()}
    return V, stage_objectives(terms, params)


def part_arrays(whole: LinearArrays, cons, idx, row_of: dict | None = None) -> LinearArrays:
    """The rows ``cons`` (PuLP constraints, found by name; ``row_of``: name -> row of ``whole``,
    built when not given) and the columns ``idx`` of the whole model's arrays."""
    if row_of is None:
        row_of = {name: i for i, name in enumerate(whole.row_names)}
    return whole.part(np.array([row_of[str(c.name)] for c in cons], dtype=np.int64), idx)


def run_components(b: BuiltModel, options: SolverOptions, deadline, params: PlanParameters):
    """Solve the independent parts (levels), smallest first, each with a share of the time left
    (one after the other: an equal share); returns (merged stage records, values, number of
    stages). With HiGHS and ``options.level_workers`` > 1, up to that many parts are solved at once
    in worker processes (:mod:`capacity.optimize.parallel`).

    A lexicographic stage of the whole is the same stage in every part (each part fixes its own
    optimum), so the merged record of a stage sums the parts' objectives and bounds; its ``levels``
    keeps each level's own (``LEVEL_RECORD_KEYS``: objective, bound, gap, whether proven, seconds),
    so that a stage not proven says which level holds the gap."""
    values = np.zeros(len(b.V))
    comps = sorted(b.components, key=lambda c: len(c[2]))
    order: list[str] = []
    planned: list[int] = []
    x0 = b.offsets[3]
    highs = options.solver.lower() == "highs"
    whole = b.arrays() if highs else None
    row_of = {name: i for i, name in enumerate(whole.row_names)} if highs else None
    jobs = []
    for _lv, cons, idx in comps:
        V, stages = part_stages(b, idx, params)
        planned.append(len(stages))
        order += [t for t, _ in stages if t not in order]
        jobs.append((cons, idx, V, stages, bool((idx >= x0).any())))
    from capacity.optimize.parallel import can_start_workers, solve_parts, time_share

    if highs and options.level_workers > 1 and len(jobs) > 1 and can_start_workers():
        parts = [(part_arrays(whole, cons, idx, row_of), stage_vectors(stages, V), is_mip)
                 for cons, idx, V, stages, is_mip in jobs]
        solved = solve_parts(parts, options, deadline, params, options.level_workers)
    else:
        solved = []
        for j, (cons, idx, V, stages, is_mip) in enumerate(jobs):
            left = None if deadline is None else max(0.0, deadline - time.perf_counter())
            share = time_share(left, 1, len(jobs) - j)
            cdl = None if share is None else time.perf_counter() + share
            if highs:
                solved.append(_run_stages_highs(part_arrays(whole, cons, idx, row_of), V, stages, options, cdl, params,
                                                is_mip, None))
            else:
                prob = pulp.LpProblem(f"school_plan_{j}", pulp.LpMinimize)
                for con in cons:
                    prob.addConstraint(con)
                solved.append(_run_stages_pulp(prob, V, stages, options, cdl, params, is_mip, None))
            if solved[-1][1] is None:
                break
    per: list[list[dict]] = []
    for (_cons, idx, _V, stages, _m), (recs, vals) in zip(jobs, solved, strict=False):
        per.append(recs)
        if vals is None:
            return recs, None, len(stages)
        values[idx] = vals
    # each level's own record of a stage, in the model's order of levels
    rank = {lv: i for i, (lv, _c, _i) in enumerate(b.components)}
    named = sorted(zip((c[0] for c in comps), per, strict=False), key=lambda p: rank[p[0]])
    records = []
    for term in order:
        rs = [r for recs in per for r in recs if r["term"] == term]
        worst = next((r for r in rs if not r["optimal"]), rs[0])
        has = all(r["objective"] is not None for r in rs)
        obj = sum(r["objective"] for r in rs) if has else None
        bnd = sum(r["bound"] for r in rs) if has and all(r["bound"] is not None for r in rs) else None
        levels = {str(lv): {k: r[k] for k in LEVEL_RECORD_KEYS}
                  for lv, recs in named for r in recs if r["term"] == term}
        records.append({**worst, "objective": obj, "bound": bnd, "gap": relative_gap(obj, bnd),
                        "optimal": all(r["optimal"] for r in rs),
                        "seconds": sum(r["seconds"] for r in rs),
                        "cpu_seconds": sum(r["cpu_seconds"] for r in rs), "parts": len(rs),
                        "levels": levels})
    # a part that stopped before its last stage: the whole is not proven optimal
    if any(len(recs) < n for recs, n in zip(per, planned, strict=True)):
        records[-1]["optimal"] = False
    return records, values, len(order)


@dataclass(frozen=True)
class StageOutcome:
    """A solved built model: the stage ``records``, the solution ``values``, ``solve_seconds``,
    the ``deadline`` (``time.perf_counter()`` seconds; None without a time limit), the last stage
    with a solution (``final``), whether every stage was proven optimal, and the largest gap."""

    records: list
    values: np.ndarray
    solve_seconds: float
    deadline: float | None
    final: dict
    optimal: bool
    gap: float | None

    def report_fields(self) -> dict:
        """The :class:`~capacity.optimize.results.SolverReport` fields the stages decide."""
        f = self.final
        return {"status": f["status"],
                "sol_status": f["sol_status"] if self.optimal else status_names(1, 2)[1],
                "objective": f["objective"], "bound": f["bound"], "gap": self.gap,
                "optimal": self.optimal, "solve_seconds": self.solve_seconds,
                "stages": tuple({k: v for k, v in r.items() if not k.startswith("_")}
                                for r in self.records)}

    def messages(self) -> list[str]:
        return [] if self.optimal else [
            "not proven optimal (time limit or stopped early): the plan is the best found"]


def solve_built(b: BuiltModel, options: SolverOptions, params: PlanParameters, is_mip: bool,
                diagnose) -> StageOutcome:
    """Solve a built model within ``options.time_limit`` and read the outcome honestly.

    Raises
    ------
    InfeasiblePlan
        The solver proves the model infeasible; the message is ``diagnose(options)``.
    RuntimeError
        No solution for another reason (named, with the time limit when it was reached).
    """
    from capacity.optimize.parameters import InfeasiblePlan

    deadline = None if options.time_limit is None else time.perf_counter() + float(options.time_limit)
    t0 = time.perf_counter()
    records, values, n_stages = run(b, options, deadline, params, is_mip)
    solve_seconds = time.perf_counter() - t0
    if values is None:
        last = records[-1]
        if last["_status"] == pulp.constants.LpStatusInfeasible:
            raise InfeasiblePlan(diagnose(options))
        msg = f"no solution: solver status {last['status']} / {last['sol_status']}"
        if deadline is not None and time.perf_counter() >= deadline - 0.5:
            msg += f" (time limit {options.time_limit:g} s reached before a first solution)"
        raise RuntimeError(msg)
    # if a later stage found nothing, the previous stage's solution stands
    final = next(r for r in reversed(records) if r["objective"] is not None)
    gaps = [r["gap"] for r in records if r["gap"] is not None]
    return StageOutcome(records=records, values=values, solve_seconds=solve_seconds,
                        deadline=deadline, final=final,
                        optimal=all(r["optimal"] for r in records) and len(records) == n_stages,
                        gap=max(gaps) if gaps else None)


def run(b: BuiltModel, options: SolverOptions, deadline, params: PlanParameters, is_mip: bool):
    """Solve a built model, apart by level when it can be; returns (records, values, stages)."""
    if b.components:
        return run_components(b, options, deadline, params)
    stages = stage_objectives(b.terms, params)
    arrays = b.arrays() if options.solver.lower() == "highs" else None
    records, values = run_stages(b.prob, b.V, stages, options, deadline, params, is_mip, arrays=arrays)
    return records, values, len(stages)
