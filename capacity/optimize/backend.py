"""The HiGHS backend: a built model as arrays, handed to HiGHS once and kept there across the
lexicographic stages.

PuLP's HiGHS interface rebuilds the solver's model from Python objects at every ``solve()`` (one
``addCol`` per variable, one ``addRow`` per constraint) and reads every value back the same way: on
the baseline that was a third of the solve time, paid once per stage. Here the model is read from
the PuLP problem once (:meth:`LinearArrays.from_pulp`), passed to HiGHS in one call, and each stage
only changes the objective (``changeColsCost``), adds the previous stage's optimum as one row and
hands over the previous solution as a MIP start; values come back as one numpy array.

Statuses are read as PuLP's ``(status, sol_status)`` pair (:func:`read_status`), so the driver
reports them exactly as it does for CBC: a time-limit stop with an incumbent is ``Optimal`` /
``Solution Found``, never proven optimal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pulp
from scipy import sparse

from capacity.optimize.parameters import SolverOptions
from capacity.optimize.solver import _stdout_fd_silenced

C = pulp.constants
INF = math.inf


@dataclass(frozen=True)
class LinearArrays:
    """A mixed-integer linear model as arrays: ``row_lower <= A x <= row_upper``, ``col_lower <= x
    <= col_upper``, ``x[integer]`` integral. Columns are the variables ``V`` in their order; rows
    are the problem's constraints in their order (``row_names``)."""

    A: sparse.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray
    row_names: tuple

    @classmethod
    def from_pulp(cls, prob: pulp.LpProblem, V: list, skip_prefix: str | None = None) -> LinearArrays:
        """The rows of ``prob`` (less those whose name starts with ``skip_prefix``) over the columns
        ``V`` (every variable of the rows must be in ``V``)."""
        pos = {id(v): i for i, v in enumerate(V)}
        cons = prob.constraints
        cons = cons() if callable(cons) else cons.values()
        rows, cols, vals, lo, hi, names = [], [], [], [], [], []
        r = 0
        for con in cons:
            name = str(con.name)
            if skip_prefix is not None and name.startswith(skip_prefix):
                continue
            items = [(pos[id(v)], c) for v, c in con.items() if c != 0]
            if items:
                c_, v_ = zip(*items, strict=True)
                cols.extend(c_)
                vals.extend(v_)
                rows.extend([r] * len(items))
            low, up = con.getLb(), con.getUb()
            lo.append(-INF if low is None else float(low))
            hi.append(INF if up is None else float(up))
            names.append(name)
            r += 1
        n = len(V)
        A = sparse.csr_matrix((np.asarray(vals, float), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))),
                              shape=(r, n))
        A.sum_duplicates()
        return cls(A=A, row_lower=np.asarray(lo, float), row_upper=np.asarray(hi, float),
                   col_lower=np.array([-INF if v.lowBound is None else float(v.lowBound) for v in V]),
                   col_upper=np.array([INF if v.upBound is None else float(v.upBound) for v in V]),
                   integer=np.array([v.cat == C.LpInteger for v in V], dtype=bool),
                   row_names=tuple(names))

    def part(self, rows: np.ndarray, cols: np.ndarray) -> LinearArrays:
        """The rows ``rows`` over the columns ``cols`` (positions)."""
        A = self.A[rows][:, cols].tocsr()
        return LinearArrays(A=A, row_lower=self.row_lower[rows], row_upper=self.row_upper[rows],
                            col_lower=self.col_lower[cols], col_upper=self.col_upper[cols],
                            integer=self.integer[cols],
                            row_names=tuple(self.row_names[i] for i in np.asarray(rows).tolist()))

    def fixed(self, cols: np.ndarray, values: np.ndarray) -> LinearArrays:
        """The same model with the columns ``cols`` fixed at ``values`` and made continuous."""
        lo, hi, integer = self.col_lower.copy(), self.col_upper.copy(), self.integer.copy()
        lo[cols] = hi[cols] = values
        integer[cols] = False
        return replace(self, col_lower=lo, col_upper=hi, integer=integer)


def expression_vector(e, V_pos: dict, n: int) -> tuple[np.ndarray, float]:
    """A PuLP expression as a cost vector over the columns (``V_pos``: ``id(variable)`` ->
    position) and its constant."""
    c = np.zeros(n)
    for v, k in e.items():
        c[V_pos[id(v)]] += k
    return c, float(getattr(e, "constant", 0.0) or 0.0)


def read_status(h) -> tuple[int, int]:
    """PuLP's ``(status, sol_status)`` for the last run of the ``highspy.Highs`` object ``h``
    (the mapping of PuLP's own HiGHS interface): optimal is ``(1, 1)``; a stop by a limit with a
    feasible solution ``(1, 2)`` (status "Optimal", solution only "Solution Found"); infeasible
    ``(-1, -1)``; no solution ``(0, 0)``."""
    import highspy

    S = highspy.HighsModelStatus
    status = h.getModelStatus()
    if status == S.kOptimal:
        return C.LpStatusOptimal, C.LpSolutionOptimal
    if status in (S.kInfeasible, S.kUnboundedOrInfeasible):
        return C.LpStatusInfeasible, C.LpSolutionInfeasible
    if status == S.kUnbounded:
        return C.LpStatusUnbounded, C.LpSolutionUnbounded
    feasible = h.getInfo().primal_solution_status == 2  # kSolutionStatusFeasible
    if feasible and status in (S.kTimeLimit, S.kIterationLimit, S.kSolutionLimit, S.kInterrupt,
                               S.kObjectiveBound, S.kObjectiveTarget):
        return C.LpStatusOptimal, C.LpSolutionIntegerFeasible
    return C.LpStatusNotSolved, C.LpSolutionNoSolutionFound


@dataclass(frozen=True)
class RunResult:
    """One HiGHS run: PuLP's ``status`` / ``sol_status``, the ``objective`` (None without a
    solution), HiGHS's dual ``bound`` (None when unknown), and the column ``values``."""

    status: int
    sol_status: int
    objective: float | None
    bound: float | None
    values: np.ndarray | None


#: HiGHS options by the :class:`SolverOptions` switch that governs them: on (HiGHS's default) in a
#: run without a MIP start and in a run whose objective prices a continuous (pupil) column; in a run
#: from a start whose objective prices only integer (schedule) columns, as the switch says. The
#: heuristics that solve a smaller MIP (RINS, RENS, root reduced cost) and the restarts from the root.
SCHEDULE_STAGE_SWITCHES = {
    "sub_mip_heuristics": ("mip_heuristic_run_rins", "mip_heuristic_run_rens",
                           "mip_heuristic_run_root_reduced_cost"),
    "schedule_restarts": ("mip_allow_restart",),
}


class HighsModel:
    """One HiGHS model of :class:`LinearArrays`, kept across runs (objectives, added rows, MIP
    starts). ``mip`` False solves the linear relaxation (integrality dropped)."""

    def __init__(self, arrays: LinearArrays, options: SolverOptions, mip: bool = True):
        import highspy

        if options.msg:
            h = highspy.Highs()
        else:
            with _stdout_fd_silenced():  # highspy prints a banner from its first constructor
                h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            h.setOptionValue("log_to_console", False)
        self.h, self.options, self.n = h, options, arrays.A.shape[1]
        self.mip = bool(mip and arrays.integer.any())
        lp = highspy.HighsLp()
        A = arrays.A.tocsc()
        lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
        lp.col_cost_ = np.zeros(A.shape[1])
        lp.col_lower_, lp.col_upper_ = arrays.col_lower, arrays.col_upper
        lp.row_lower_, lp.row_upper_ = arrays.row_lower, arrays.row_upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = A.indptr.astype(np.int32)
        lp.a_matrix_.index_ = A.indices.astype(np.int32)
        lp.a_matrix_.value_ = A.data.astype(float)
        if self.mip:
            lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                               for i in arrays.integer.tolist()]
        h.passModel(lp)
        h.setOptionValue("mip_rel_gap", float(options.mip_gap))
        if options.threads is not None:
            h.setOptionValue("threads", int(options.threads))
        self.integer_cols = np.flatnonzero(arrays.integer).astype(np.int32) if self.mip else np.array([], np.int32)
        self._continuous = ~np.asarray(arrays.integer, bool)

    def prices_pupils(self, cost: np.ndarray) -> bool:
        """Whether the objective ``cost`` prices a continuous column (pupils), not only the
        schedule's integer columns."""
        return bool((np.asarray(cost)[self._continuous] != 0).any())

    def run(self, cost: np.ndarray, time_limit: float | None, start: np.ndarray | None = None) -> RunResult:
        """Minimise ``cost @ x`` (from ``start`` as a MIP start, when given)."""
        import highspy

        h = self.h
        h.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), np.asarray(cost, float))
        h.setOptionValue("time_limit", float(time_limit) if time_limit is not None else INF)
        # HiGHS's defaults (on) for a run without a start and for an objective that prices pupils;
        # off, unless asked, for a schedule-only objective (schools, places, cost) from a start
        default = start is None or self.prices_pupils(cost)
        for switch, names in SCHEDULE_STAGE_SWITCHES.items():
            for name in names:
                h.setOptionValue(name, bool(default or getattr(self.options, switch)))
        if start is not None and self.mip:
            sol = highspy.HighsSolution()
            sol.col_value = np.asarray(start, float)
            sol.value_valid = True
            h.setSolution(sol)
        # HiGHS keeps one thread scheduler per process, sized by the first solve; a later solve
        # asking for another number of threads then stops at once with "Not Solved"
        h.resetGlobalScheduler(True)
        h.run()
        status, sol_status = read_status(h)
        has = sol_status in (C.LpSolutionOptimal, C.LpSolutionIntegerFeasible)
        if not has:
            return RunResult(status, sol_status, None, None, None)
        info = h.getInfo()
        values = np.asarray(h.getSolution().col_value, float)
        objective = float(cost @ values)
        bound = None
        if self.mip and info.mip_node_count >= 0 and math.isfinite(info.mip_dual_bound):
            bound = float(info.mip_dual_bound)
        elif status == C.LpStatusOptimal and sol_status == C.LpSolutionOptimal:
            bound = objective
        return RunResult(status, sol_status, objective, bound, values)

    def relaxation_bound(self, cost: np.ndarray, time_limit: float | None) -> float | None:
        """The optimum of ``cost @ x`` over the linear relaxation (integrality dropped): a lower
        bound on the MILP's optimum; None when it is not solved to optimality. HiGHS starts from
        the basis of its last linear solve (a warm start)."""
        import highspy

        ic = self.integer_cols
        h = self.h
        h.changeColsIntegrality(len(ic), ic, np.full(len(ic), highspy.HighsVarType.kContinuous))
        try:
            res = self.run(cost, time_limit)
        finally:
            h.changeColsIntegrality(len(ic), ic, np.full(len(ic), highspy.HighsVarType.kInteger))
        if res.sol_status != C.LpSolutionOptimal or res.status != C.LpStatusOptimal:
            return None
        return res.objective

    def add_row_le(self, coefs: np.ndarray, rhs: float) -> None:
        """Add ``coefs @ x <= rhs``."""
        nz = np.flatnonzero(coefs)
        self.h.addRow(-INF, float(rhs), len(nz), nz.astype(np.int32), coefs[nz].astype(float))

    def with_schedule_fixed(self, cost: np.ndarray, start: np.ndarray,
                            time_limit: float | None) -> tuple[np.ndarray, bool]:
        """``(values, True)``: the integer columns of ``start`` rounded and fixed, the continuous
        columns optimal for ``cost`` (a linear programme); ``(start, False)`` when it has no optimum.

        A MILP solution may hold an integer column at, say, 7e-7 (within HiGHS's integrality
        tolerance) and use that sliver of a school's places; its objective is then a little better
        than any true schedule gives. Fixed after rounding, the objective is one a schedule reaches.
        """
        import highspy

        ic = self.integer_cols
        if not len(ic):
            return start, False
        h = self.h
        lp = h.getLp()
        lo = np.asarray(lp.col_lower_)[ic]
        hi = np.asarray(lp.col_upper_)[ic]
        x = np.clip(np.round(start[ic]), lo, hi)
        cont = np.full(len(ic), highspy.HighsVarType.kContinuous)
        h.changeColsIntegrality(len(ic), ic, cont)
        h.changeColsBounds(len(ic), ic, x, x)
        # from scratch, with presolve (which removes the fixed columns): a basis left by another
        # solve made this linear programme several times slower (city scale: 82,000 simplex
        # iterations warm against 14,000 cold)
        h.clearSolver()
        try:
            res = self.run(cost, time_limit)
        finally:
            h.changeColsBounds(len(ic), ic, lo, hi)
            h.changeColsIntegrality(len(ic), ic, np.full(len(ic), highspy.HighsVarType.kInteger))
        if res.values is None or res.sol_status != C.LpSolutionOptimal:
            return start, False
        out = res.values.copy()
        out[ic] = x
        return out, True


def solve_lp(c, A_ub, b_ub, A_eq, b_eq, bounds, options: SolverOptions | None = None):
    """``min c @ x`` s.t. ``A_ub x <= b_ub``, ``A_eq x = b_eq``, ``bounds[:, 0] <= x <=
    bounds[:, 1]`` (scipy's ``linprog`` arguments, sparse matrices) on HiGHS.

    Returns
    -------
    (ndarray or None, str)
        The optimal ``x`` and ``"optimal"``, or None and HiGHS's model status.
    """
    A = sparse.vstack([sparse.csr_matrix(A_ub), sparse.csr_matrix(A_eq)]).tocsr()
    n_ub = A_ub.shape[0]
    lo = np.r_[np.full(n_ub, -INF), np.asarray(b_eq, float)]
    hi = np.r_[np.asarray(b_ub, float), np.asarray(b_eq, float)]
    bounds = np.asarray(bounds, float)
    arrays = LinearArrays(A=A, row_lower=lo, row_upper=hi, col_lower=bounds[:, 0], col_upper=bounds[:, 1],
                          integer=np.zeros(A.shape[1], dtype=bool), row_names=())
    model = HighsModel(arrays, options or SolverOptions(time_limit=None), mip=False)
    res = model.run(np.asarray(c, float), None)
    if res.sol_status != C.LpSolutionOptimal:
        return None, model.h.modelStatusToString(model.h.getModelStatus())
    return res.values, "optimal"
