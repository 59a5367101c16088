"""The two-stage stochastic plan: one schedule for several futures (projection draws).

First stage: ``x[i, tau, k]`` (site ``i`` opens in year ``tau`` with ``k`` classes), shared by every
future, with the first-stage families of :mod:`~capacity.optimize.constraints` (one option per
site, ``new_schools``, kindergarten places, yearly limits) added once. Second stage, per future
``f`` (its own :class:`~capacity.optimize.index.PlanIndex` built from the same sites):
``a^f, u^f, o^f`` with that future's ``demand``, ``places`` and ``shares`` rows. The
``define_*`` functions are reused unchanged: each future is a :class:`ModelFrame` whose variable
list ends in the shared ``x`` and whose row names carry the future's prefix.

Measures of a term ``T`` (shortfall, overcrowding, travel) over futures with weights ``w_f``
(summing to 1), taken per level (the levels are solved apart, as in the deterministic model):

* ``expected``: ``sum_f w_f T^f_l``;
* ``cvar`` at ``alpha``: the Rockafellar–Uryasev linearisation
  ``eta_l + 1 / (1 - alpha) sum_f w_f z^f_l`` with ``z^f_l >= T^f_l - eta_l``, ``z >= 0``,
  ``eta_l >= 0`` (the terms are non-negative, so a negative ``eta`` never helps): the mean of the
  worst ``1 - alpha`` of the futures (by weight). One ``eta`` and one ``z`` per term, level and
  future. Each CVaR stage also carries ``CVAR_TIEBREAK`` (1e-3) times the expectation: once a
  stage is fixed, a future outside the worst tail would otherwise be free to trade, in the next
  stage, overcrowded places for shortfall. With it, every stage leaves each future at its own
  lexicographic best given the schedule, so the model is exactly ``lexmin over schedules of
  (measure(shortfall^f), measure(overcrowding^f), measure(travel^f), cost + early)`` with
  ``measure = CVaR + 1e-3 E`` and the futures' own lexicographic optima ``^f`` (what the
  brute-force test enumerates).

The lexicographic order is the same as the deterministic model's (measure of shortfall, then of
overcrowding, then of travel, then ``cost + early``, which are first-stage and certain), solved by
:mod:`~capacity.optimize.driver` level by level.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pulp

from capacity.optimize import checks, driver
from capacity.optimize.constraints import (
    GE,
    ModelFrame,
    define_counts,
    define_demand,
    define_kindergarten_places,
    define_one_option_per_site,
    define_places,
    define_shares,
    define_variables,
    define_yearly_limits,
    expr,
)
from capacity.optimize.driver import BuiltModel
from capacity.optimize.index import build_index, check_parameters, normalise_tables
from capacity.optimize.objective import define_terms
from capacity.optimize.parameters import InfeasiblePlan, PlanParameters, SolverOptions
from capacity.optimize.results import SolverReport, _jsonable, plan_tables

#: The measures a robust plan can minimise.
MEASURES = ("expected", "cvar")
#: The second-stage terms the measure applies to (cost and early opening are first-stage).
RISK_TERMS = ("shortfall", "overcrowding", "travel")

#: Weight of the expectation added to a CVaR stage: without it a future outside the worst tail
#: could, in a later lexicographic stage, trade its overcrowded places for shortfall at no cost.
CVAR_TIEBREAK = 1e-3

#: Families added once (first stage) and per future (second stage), with their relax names.
FIRST_STAGE = ((define_one_option_per_site, None), (define_counts, "counts"),
               (define_kindergarten_places, "places"), (define_yearly_limits, "yearly_limits"))
SECOND_STAGE = ((define_demand, None), (define_places, None), (define_shares, "shares"))


@dataclass
class FutureFrame(ModelFrame):
    """A :class:`ModelFrame` of one future: row names carry ``prefix`` (PuLP names are unique)."""

    prefix: str = ""

    def add_rows(self, family: str, row, col, coef, rhs, sense) -> None:
        super().add_rows(self.prefix + family, row, col, coef, rhs, sense)

    def add_empty_row(self, name: str, sense, rhs: float) -> None:
        super().add_empty_row(self.prefix + name, sense, rhs)


def define_future(ix, prob: pulp.LpProblem, k: int, x_vars: list | None) -> FutureFrame:
    """The variables of future ``k`` (``a, u, o`` named ``f{k}_...``) followed by the shared ``x``
    (``x_vars``; ``None``: this future's own ``x`` become the shared ones)."""
    base = define_variables(ix, name=f"future_{k}")
    X0 = base.offsets[3]
    for v in base.V[:X0]:
        v.name = f"f{k}_{v.name}"
    V = base.V[:X0] + (base.V[X0:] if x_vars is None else list(x_vars))
    return FutureFrame(ix=ix, prob=prob, V=V, offsets=base.offsets, py=base.py, o_py=base.o_py,
                       oy=base.oy, varlev=base.varlev, level_rows=[[] for _ in ix.levels],
                       prefix=f"f{k}_")


def _level_terms(m: FutureFrame) -> dict[str, list[pulp.LpAffineExpression]]:
    """Each risk term of one future split by level: ``{term: [expression per level]}``."""
    A0, U0, O0, X0, _ = m.offsets
    ix = m.ix
    dist = ix.arcs["dist"].to_numpy()
    parts = {"shortfall": np.arange(U0, O0), "overcrowding": np.arange(O0, X0),
             "travel": A0 + np.flatnonzero(dist > 0)}
    coefs = {"shortfall": np.ones(O0 - U0), "overcrowding": np.ones(X0 - O0),
             "travel": dist[dist > 0]}
    out = {}
    for t in RISK_TERMS:
        idx, c = parts[t], coefs[t]
        lv = m.varlev[idx]
        out[t] = [expr([m.V[i] for i in idx[lv == j]], c[lv == j].tolist()) for j in range(len(ix.levels))]
    return out


@dataclass(frozen=True)
class RobustPlan:
    """The result of a :class:`RobustPlanModel`.

    Attributes
    ----------
    schedule : DataFrame
        As :attr:`capacity.optimize.Plan.schedule` (``site, street, level, open_year, classes,
        places, cost, public, inclusive``): the one schedule for every future.
    futures : DataFrame
        ``future, weight, level, shortfall, overcrowding, travel`` (pupil-years, pupil-years,
        pupil-km summed over the balance years) in each future at the solution.
    measures : DataFrame
        ``level, term, value``: the measure of each term per level at the solution.
    measure, alpha : str, float
    report : SolverReport
        Terms ``shortfall``, ``overcrowding``, ``travel`` are the measures summed over levels.
    """

    schedule: pd.DataFrame
    futures: pd.DataFrame
    measures: pd.DataFrame
    measure: str
    alpha: float
    report: SolverReport

    def to_dict(self) -> dict:
        d = self.report.to_dict()
        d["measure"] = self.measure
        d["alpha"] = self.alpha if self.measure == "cvar" else None
        d["futures"] = int(self.futures["future"].nunique()) if len(self.futures) else 0
        return _jsonable(d)


class RobustPlanModel:
    """One schedule for several futures (spopt style: construct, ``solve()``, read ``.plan``).

    Parameters
    ----------
    demands : sequence of DataFrame
        One ``street, level, year, pupils`` table per future.
    weights : sequence of float, optional
        Probability of each future (normalised to sum 1; default equal).
    supply, sites, distance_km, params
        As :class:`capacity.optimize.SchoolPlanModel`.
    measure : str
        ``"expected"`` or ``"cvar"``.
    alpha : float
        CVaR level in [0, 1): the measure is the mean of the worst ``1 - alpha`` of the futures.

    Examples
    --------
    >>> model = RobustPlanModel([dem1, dem2], None, supply, sites, dist, params, measure="cvar")
    >>> schedule = model.solve(SolverOptions()).plan.schedule      # doctest: +SKIP
    """

    def __init__(self, demands: Sequence, weights, supply, sites, distance_km,
                 params: PlanParameters | None = None, *, measure: str = "expected", alpha: float = 0.9):
        self.params = params or PlanParameters()
        check_parameters(self.params)
        self._own_notes: list[str] = []
        if getattr(self.params, "equity", False):
            # the equity stage (largest share of a street's pupils without a place) is not a term
            # of the robust model: it is left out, and said so
            self.params = replace(self.params, equity=False)
            self._own_notes.append("the robust plan has no equity stage (largest share of a street's "
                                   "pupils without a place): its order is shortfall, overcrowding, "
                                   "travel, cost")
        if measure not in MEASURES:
            raise ValueError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
        if not (0.0 <= float(alpha) < 1.0):
            raise ValueError(f"alpha must be in [0, 1), got {alpha}")
        demands = list(demands)
        if not demands:
            raise ValueError("demands: give at least one future")
        w = np.full(len(demands), 1.0) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (len(demands),):
            raise ValueError(f"weights: expected {len(demands)} values (one per future), got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("weights: must be finite, >= 0 and not all 0")
        self.weights = w / w.sum()
        self.measure, self.alpha = measure, float(alpha)
        t0 = time.perf_counter()
        self.indices = []
        for d in demands:
            dem, self.supply, self.sites, self.distance_km = normalise_tables(d, supply, sites, distance_km)
            self.indices.append(build_index(dem, self.supply, self.sites, self.distance_km, self.params))
        ref = self.indices[0].options[["site", "year", "classes"]]
        for k, ix in enumerate(self.indices[1:], start=1):
            if not ix.options[["site", "year", "classes"]].equals(ref) or ix.levels != self.indices[0].levels:
                raise ValueError(f"future {k}: its levels or open options differ from future 0's "
                                 "(every future needs demand for the same levels)")
        self.index_seconds = time.perf_counter() - t0
        self.plan: RobustPlan | None = None
        self.notes: list[str] = []
        self._built = None

    def check(self, raise_on_error: bool = False) -> list[str]:
        """The pre-solve checks of every future (a problem is named once, with its futures)."""
        found: dict[str, list[int]] = {}
        notes: list[str] = []
        for k, ix in enumerate(self.indices):
            problems, n = checks.presolve_checks(ix, self.supply, self.sites)
            notes += [x for x in n if x not in notes]
            for p in problems:
                found.setdefault(p, []).append(k)
        self.notes = notes + self._own_notes
        out = [p if len(f) == len(self.indices) else f"{p} (futures {', '.join(map(str, f))})"
               for p, f in found.items()]
        if out and raise_on_error:
            raise InfeasiblePlan("infeasible plan: " + "; ".join(out), out)
        return out

    def build(self, relax: frozenset[str] = frozenset()) -> RobustPlanModel:
        """Create one PuLP problem: the futures' second stages, the shared first stage and, for
        ``cvar``, the Rockafellar–Uryasev rows."""
        t0 = time.perf_counter()
        prob = pulp.LpProblem("robust_plan", pulp.LpMinimize)
        frames: list[FutureFrame] = []
        x_vars = None
        for k, ix in enumerate(self.indices):
            m = define_future(ix, prob, k, x_vars)
            if x_vars is None:
                x_vars = m.V[m.offsets[3]:]
                for define, fam in FIRST_STAGE:
                    if fam is None or fam not in relax:
                        define(m)
            for define, fam in SECOND_STAGE:
                if fam is None or fam not in relax:
                    define(m)
            frames.append(m)
        n_lv = len(self.indices[0].levels)
        # the combined variable list: every future's a, u, o; the measure's variables; x
        V, varlev, starts = [], [], []
        for m in frames:
            X0 = m.offsets[3]
            starts.append(len(V))
            V += m.V[:X0]
            varlev.append(m.varlev[:X0])
        level_rows = [[c for m in frames for c in m.level_rows[j]] for j in range(n_lv)]
        n_constraints = sum(m.n_constraints for m in frames)
        per_future = [_level_terms(m) for m in frames]
        w = self.weights
        terms: dict[str, pulp.LpAffineExpression] = {}
        aux_lev: list[int] = []
        for t in RISK_TERMS:
            total = pulp.LpAffineExpression()
            for j in range(n_lv):
                exprs = [pf[t][j] for pf in per_future]
                if not any(len(e) for e in exprs):
                    continue
                if self.measure == "expected":
                    for wf, e in zip(w, exprs, strict=True):
                        total += float(wf) * e
                    continue
                eta = prob.add_variable(f"eta_{t}_{j}", 0)
                zs = [prob.add_variable(f"z_{t}_{j}_{f}", 0) for f in range(len(exprs))]
                V += [eta, *zs]
                aux_lev += [j] * (1 + len(zs))
                for f, (z, e) in enumerate(zip(zs, exprs, strict=True)):
                    con = pulp.LpConstraint(z + eta - e, GE, name=f"cvar_{t}_{j}_{f}", rhs=0.0)
                    prob.addConstraint(con)
                    level_rows[j].append(con)
                    n_constraints += 1
                total += eta + pulp.LpAffineExpression(
                    [(z, float(wf) / (1.0 - self.alpha)) for z, wf in zip(zs, w, strict=True)])
                for wf, e in zip(w, exprs, strict=True):       # the tie-breaker (module docstring)
                    total += CVAR_TIEBREAK * float(wf) * e
            terms[t] = total
        X0 = len(V)
        V += x_vars
        varlev = np.r_[np.concatenate(varlev) if varlev else np.array([], int),
                       np.asarray(aux_lev, dtype=np.int64), frames[0].varlev[frames[0].offsets[3]:]]
        varlev = varlev.astype(np.int64)
        first = define_terms(frames[0])
        for k in ("cost", "early", "schools", "places"):      # first-stage terms (x only)
            if k in first:
                terms[k] = first[k]
        components = []
        if not any(m.linked for m in frames):
            for j, lv in enumerate(self.indices[0].levels):
                idx = np.flatnonzero(varlev == j)
                if len(idx):
                    components.append((lv, level_rows[j], idx))
            if len(components) < 2:
                components = []
        self._frames, self._starts = frames, starts
        self._built = BuiltModel(prob=prob, V=V, terms=terms, n_constraints=n_constraints,
                                 seconds=time.perf_counter() - t0 + self.index_seconds,
                                 offsets=(0, 0, 0, X0, len(V)), components=components)
        return self

    def solve(self, options: SolverOptions | None = None) -> RobustPlanModel:
        """Check, build (if needed) and solve; the result goes to ``self.plan`` (a :class:`RobustPlan`).

        Raises
        ------
        InfeasiblePlan
            If a check fails, or the solver proves the model infeasible (naming the family).
        """
        options = options or SolverOptions()
        self.check(raise_on_error=True)
        if self._built is None:
            self.build()
        b = self._built
        out = driver.solve_built(b, options, self.params, bool(len(self.indices[0].options)),
                                 self._diagnose)
        values = out.values
        futures, measures = self._future_values(values)
        msgs = out.messages() + self.notes
        X0, N = b.offsets[3], b.offsets[4]
        x = np.round(values[X0:N])
        opt = self.indices[0].options
        report = SolverReport(
            solver=options.solver.lower(), **out.report_fields(), build_seconds=b.seconds,
            message="; ".join(msgs) if msgs else "optimal", method=self.params.method,
            shortfall=float(measures.loc[measures["term"] == "shortfall", "value"].sum()),
            overcrowding=float(measures.loc[measures["term"] == "overcrowding", "value"].sum()),
            travel=float(measures.loc[measures["term"] == "travel", "value"].sum()),
            cost=float((x * opt["cost"].to_numpy()).sum()), early=float((x * opt["early"].to_numpy()).sum()),
            variables=len(b.V), binaries=len(opt), constraints=b.n_constraints,
        )
        self._values = values
        self.plan = RobustPlan(schedule=self.future_plan(0).schedule, futures=futures, measures=measures,
                               measure=self.measure, alpha=self.alpha, report=report)
        return self

    def future_plan(self, k: int):
        """The :class:`capacity.optimize.Plan` tables (balance, assignment) of future ``k``."""
        m, s = self._frames[k], self._starts[k]
        X0 = m.offsets[3]
        bX0, N = self._built.offsets[3], self._built.offsets[4]
        vals = np.r_[self._values[s:s + X0], self._values[bX0:N]]
        report = SolverReport(solver="", status="", sol_status="", objective=None, bound=None, gap=None,
                              optimal=True, build_seconds=0.0, solve_seconds=0.0,
                              message=f"future {k} of a robust plan")
        return plan_tables(m.ix, m.offsets, m.o_py, vals, report)

    def _future_values(self, values) -> tuple[pd.DataFrame, pd.DataFrame]:
        rows = []
        for k, (m, s) in enumerate(zip(self._frames, self._starts, strict=True)):
            A0, U0, O0, X0, _ = m.offsets
            v = values[s:s + X0]
            lv = m.varlev[:X0]
            dist = m.ix.arcs["dist"].to_numpy()
            for j, level in enumerate(m.ix.levels):
                rows.append({"future": k, "weight": float(self.weights[k]), "level": level,
                             "shortfall": float(v[U0:O0][lv[U0:O0] == j].sum()),
                             "overcrowding": float(v[O0:X0][lv[O0:X0] == j].sum()),
                             "travel": float((v[A0:U0] * dist)[lv[A0:U0] == j].sum())})
        futures = pd.DataFrame(rows, columns=["future", "weight", "level", *RISK_TERMS])
        meas = []
        for level, g in futures.groupby("level", sort=False):
            for t in RISK_TERMS:
                meas.append({"level": level, "term": t,
                             "value": risk_measure(g[t].to_numpy(), g["weight"].to_numpy(),
                                                   self.measure, self.alpha)})
        return futures, pd.DataFrame(meas, columns=["level", "term", "value"])

    def _diagnose(self, options: SolverOptions) -> str:
        """Relax one family at a time; name the one(s) whose removal restores feasibility."""
        active = checks.active_families(self.indices[0])
        quick = replace(options, time_limit=min(60.0, options.time_limit or 60.0))
        culprits = []
        for fam in active:
            trial = RobustPlanModel.__new__(RobustPlanModel)
            trial.__dict__.update({k: v for k, v in self.__dict__.items() if k != "_built"})
            trial.build(frozenset({fam}))
            b = trial._built
            _, vals = driver.run_stages(b.prob, b.V, [("feasibility", pulp.LpAffineExpression())], quick,
                                        None, self.params, is_mip=bool(len(self.indices[0].options)))
            if vals is not None:
                culprits.append(fam)
        return checks.explain_infeasible(active, culprits)


def risk_measure(values, weights, measure: str, alpha: float = 0.9) -> float:
    """The measure of one term over futures: weighted mean (``expected``) or CVaR at ``alpha``
    (the weighted mean of the worst ``1 - alpha`` of the probability mass; exact for discrete
    futures, equal to the Rockafellar–Uryasev minimum).

    Parameters
    ----------
    values, weights : array
        The term in each future and the futures' probabilities (normalised here).
    """
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    if measure == "expected":
        return float(w @ v)
    if measure != "cvar":
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    order = np.argsort(-v, kind="stable")
    v, w = v[order], w[order]
    tail = 1.0 - float(alpha)
    cum = np.cumsum(w)
    take = np.clip(tail - (cum - w), 0.0, w)          # mass of each future inside the worst tail
    return float(take @ v / tail)
