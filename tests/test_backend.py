"""The HiGHS backend (:mod:`capacity.optimize.backend`) on models small enough to solve by hand."""

import numpy as np
import pulp
import pytest

from capacity.optimize import SolverOptions
from capacity.optimize.backend import (
    HighsModel,
    LinearArrays,
    expression_vector,
    read_status,
    solve_lp,
)

OPTS = SolverOptions(time_limit=10, mip_gap=0.0, threads=1)
C = pulp.constants


def tiny():
    """min ... s.t. x + y >= 1.5 (row c1), y <= 0.7 (row c2); x integer in [0, 3], y in [0, 1]."""
    prob = pulp.LpProblem("t", pulp.LpMinimize)
    new = getattr(prob, "add_variable", None) or pulp.LpVariable  # PuLP >= 3.3 / older
    x = new("x", 0, 3, pulp.LpInteger)
    y = new("y", 0, 1, pulp.LpContinuous)
    prob += x + y >= 1.5, "c1"
    prob += y <= 0.7, "c2"
    return prob, [x, y]


def test_arrays_read_from_pulp_by_hand():
    prob, V = tiny()
    a = LinearArrays.from_pulp(prob, V)
    assert a.A.toarray().tolist() == [[1.0, 1.0], [0.0, 1.0]]
    assert a.row_lower.tolist() == [1.5, -np.inf] and a.row_upper.tolist() == [np.inf, 0.7]
    assert a.col_lower.tolist() == [0.0, 0.0] and a.col_upper.tolist() == [3.0, 1.0]
    assert a.integer.tolist() == [True, False] and a.row_names == ("c1", "c2")
    part = a.part(np.array([1]), np.array([1]))
    assert part.A.toarray().tolist() == [[1.0]] and part.row_names == ("c2",)
    fixed = a.fixed(np.array([0]), np.array([2.0]))
    assert fixed.col_lower[0] == fixed.col_upper[0] == 2.0 and not fixed.integer[0]


def test_stages_on_one_model_by_hand():
    prob, V = tiny()
    x, y = V
    pos = {id(v): i for i, v in enumerate(V)}
    m = HighsModel(LinearArrays.from_pulp(prob, V), OPTS)
    # stage 1: min x -> x = 1 (y <= 0.7 cannot reach 1.5 alone), y = 0.5 .. 0.7
    c1, _ = expression_vector(pulp.LpAffineExpression([(x, 1.0)]), pos, 2)
    r1 = m.run(c1, 10)
    assert (r1.status, r1.sol_status) == (C.LpStatusOptimal, C.LpSolutionOptimal)
    assert r1.objective == pytest.approx(1.0) and r1.bound == pytest.approx(1.0)
    # fixed, then stage 2: min y -> 0.5 (x stays 1)
    m.add_row_le(c1, 1.0)
    c2, _ = expression_vector(pulp.LpAffineExpression([(y, 1.0)]), pos, 2)
    r2 = m.run(c2, 10, start=r1.values)
    assert r2.values.tolist() == pytest.approx([1.0, 0.5])


def test_schedule_rounded_and_pupils_reoptimised():
    """A start with x at 0.9999993 (inside HiGHS's integrality tolerance) is read at x = 1, y then
    optimal for the objective given."""
    prob, V = tiny()
    m = HighsModel(LinearArrays.from_pulp(prob, V), OPTS)
    values, ok = m.with_schedule_fixed(np.array([0.0, 1.0]), np.array([0.9999993, 0.6]), 10)
    assert ok and values.tolist() == pytest.approx([1.0, 0.5])
    # a schedule no assignment completes (x = 0: y alone cannot reach 1.5): the start is returned
    values, ok = m.with_schedule_fixed(np.array([0.0, 1.0]), np.array([0.0, 0.6]), 10)
    assert not ok and values.tolist() == [0.0, 0.6]


def test_infeasible_read_as_pulp_does():
    prob, V = tiny()
    prob += V[0] <= 0, "no_x"  # then y >= 1.5 but y <= 0.7
    m = HighsModel(LinearArrays.from_pulp(prob, V), OPTS)
    r = m.run(np.array([1.0, 0.0]), 10)
    assert (r.status, r.sol_status) == (C.LpStatusInfeasible, C.LpSolutionInfeasible)
    assert r.values is None and r.objective is None
    assert read_status(m.h) == (C.LpStatusInfeasible, C.LpSolutionInfeasible)


def test_solve_lp_by_hand():
    from scipy import sparse

    # min -x - y s.t. x + 2y <= 4, x - y = 1, 0 <= x, y <= 10 -> x = 2, y = 1
    x, msg = solve_lp(np.array([-1.0, -1.0]), sparse.csr_matrix([[1.0, 2.0]]), [4.0],
                      sparse.csr_matrix([[1.0, -1.0]]), [1.0], [[0, 10], [0, 10]])
    assert msg == "optimal" and x.tolist() == pytest.approx([2.0, 1.0])
    x, msg = solve_lp(np.array([1.0, 1.0]), sparse.csr_matrix([[1.0, 1.0]]), [-1.0],
                      sparse.csr_matrix((0, 2)), [], [[0, 10], [0, 10]])
    assert x is None and msg == "Infeasible"


def test_relaxation_bound_by_hand():
    """min x over the relaxation: x + y >= 1.5 with y <= 0.7 gives x = 0.8 (the MILP: 1); the
    integrality is back afterwards."""
    prob, V = tiny()
    m = HighsModel(LinearArrays.from_pulp(prob, V), OPTS)
    assert m.relaxation_bound(np.array([1.0, 0.0]), 10) == pytest.approx(0.8)
    assert m.run(np.array([1.0, 0.0]), 10).objective == pytest.approx(1.0)


@pytest.mark.parametrize("on", [False, True])
@pytest.mark.parametrize("option", ["sub_mip_heuristics", "schedule_restarts"])
def test_schedule_stage_switches_follow_the_option_only_from_a_start(option, on):
    """HiGHS's sub-MIP heuristics and its restarts are as HiGHS has them (on) without a start and
    for an objective of pupils; for a schedule objective from a start as the option says."""
    from dataclasses import replace

    from capacity.optimize.backend import SCHEDULE_STAGE_SWITCHES

    names = SCHEDULE_STAGE_SWITCHES[option]
    prob, V = tiny()
    m = HighsModel(LinearArrays.from_pulp(prob, V), replace(OPTS, **{option: on}))
    x, y = V
    pos = {id(v): i for i, v in enumerate(V)}
    schedule, _ = expression_vector(pulp.LpAffineExpression([(x, 1.0)]), pos, 2)  # integer only
    pupils, _ = expression_vector(pulp.LpAffineExpression([(x, 1.0), (y, 1.0)]), pos, 2)

    def switches():
        return [m.h.getOptionValue(name)[1] for name in names]

    first = m.run(schedule, 10)  # no start: HiGHS's default (on)
    assert switches() == [True] * len(names)
    again = m.run(schedule, 10, start=first.values)  # a schedule objective from a start: as asked
    assert switches() == [on] * len(names)
    assert first.objective == again.objective == pytest.approx(1.0)
    m.run(pupils, 10, start=first.values)  # an objective with a continuous column: on
    assert switches() == [True] * len(names)


@pytest.mark.parametrize("name", ["sub_mip_heuristics", "schedule_restarts"])
def test_solver_switches_must_be_true_or_false(name):
    with pytest.raises(ValueError, match=f"{name} must be true or false, got 0"):
        SolverOptions(**{name: 0})
