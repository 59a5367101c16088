"""The scheduling MILP: which candidate sites open, in which year, at which size.

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
  (``c_l`` = ``class_size[level]``; the places of a site count from its open year on)
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

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
import pulp

#: Default objective weights of ``method="weighted"`` (and the cost / early mix of the last
#: lexicographic stage): per pupil-year without a place, per pupil-year in an overcrowded place,
#: per pupil-km, per million CNY and per school-year of opening before needed.
DEFAULT_WEIGHTS: dict[str, float] = {
    "shortfall": 1000.0,
    "overcrowding": 100.0,
    "travel": 1.0,
    "cost": 0.1,
    "early": 0.01,
}
#: Standard pupils per class (kindergarten: the mean of 25/30/35 for the three grades).
DEFAULT_CLASS_SIZE: dict[str, float] = {"kindergarten": 30, "primary": 45, "junior": 50, "senior": 50}
#: Legal maximum pupils per class.
DEFAULT_MAX_CLASS_SIZE: dict[str, float] = {"kindergarten": 35, "primary": 55, "junior": 55, "senior": 55}
#: Catchments in km between street points (0 = own street, None = anywhere in the district).
DEFAULT_CATCHMENT_KM: dict[str, float | None] = {
    "kindergarten": 0.0,
    "primary": 0.0,
    "junior": 5.0,
    "senior": None,
}
TERMS = ("shortfall", "overcrowding", "travel", "cost")
FAMILIES = ("counts", "places", "shares", "yearly_limits")


@dataclass(frozen=True)
class PlanParameters:
    """Everything the planning model needs besides the tables.

    Parameters
    ----------
    first_year, last_year
        The years the balance of pupils and places is evaluated (inclusive).
    plan_start, plan_end
        The plan period: new schools counted against ``new_schools`` open in these years (inclusive).
        Sites open only in the plan period (never after ``plan_end``).
    new_schools
        Schools to open per level over the plan period, e.g. ``{"primary": 9}``. A level missing from
        the mapping gets no new school; ``None`` = no limit on any level.
    count_rule
        ``"exact"`` or ``"at_most"``: how ``new_schools`` binds.
    kindergarten_new_places, places_rule
        Total places of the new kindergartens and how it binds: ``"exact"``, ``"at_least"`` or ``"off"``.
        The places of a new kindergarten are classes x ``class_size[kindergarten]``.
    class_size, max_class_size
        Standard and legal maximum pupils per class, by level. Places between the two are overcrowded
        places; beyond the maximum is shortfall. Missing levels take ``DEFAULT_CLASS_SIZE`` /
        ``DEFAULT_MAX_CLASS_SIZE``.
    catchment_km
        By level: how far (km between street points) pupils may be assigned. ``0`` = own street only;
        ``None`` = anywhere in the district. Missing levels take ``DEFAULT_CATCHMENT_KM`` (unknown
        levels: anywhere).
    target_year
        Year in which the kindergarten targets below must hold.
    public_share_min, inclusive_share_min
        Minimum share of kindergarten children in public / inclusive places in ``target_year``
        (``None`` = no constraint). The share is of all kindergarten pupils (demand) that year.
    max_openings_per_year
        Optional limit of new schools per level and year.
    max_cost_per_year
        Optional limit of capital cost per year (million CNY), when sites carry a cost.
    weights
        Objective weights: ``shortfall`` (per pupil-year without a place), ``overcrowding`` (per pupil-year
        in an overcrowded place), ``travel`` (per pupil-km outside the own street), ``cost`` (per million
        CNY) and ``early`` (per school-year of opening before it is needed; tie-breaker). Missing keys
        take ``DEFAULT_WEIGHTS`` (1000, 100, 1, 0.1, 0.01).
    method
        ``"lexicographic"`` (shortfall first, then overcrowding, then travel, then cost) or ``"weighted"``.
    kindergarten_level
        The level the places total and the public / inclusive shares refer to.
    lex_tolerance
        Relative tolerance (plus 1e-5 absolute) with which each lexicographic optimum is fixed.
    """

    first_year: int = 2021
    last_year: int = 2030
    plan_start: int = 2021
    plan_end: int = 2025
    new_schools: Mapping[str, int] | None = None
    count_rule: str = "exact"
    kindergarten_new_places: int | None = None
    places_rule: str = "off"
    class_size: Mapping[str, float] | None = None
    max_class_size: Mapping[str, float] | None = None
    catchment_km: Mapping[str, float | None] | None = None
    target_year: int = 2025
    public_share_min: float | None = None
    inclusive_share_min: float | None = None
    max_openings_per_year: Mapping[str, int] | None = None
    max_cost_per_year: float | None = None
    weights: Mapping[str, float] | None = None
    method: str = "lexicographic"
    kindergarten_level: str = "kindergarten"
    lex_tolerance: float = 1e-7


@dataclass(frozen=True)
class SolverOptions:
    """How to solve: ``solver`` is ``"highs"`` (default) or ``"cbc"``; ``time_limit`` in seconds
    (the total budget of all lexicographic stages); ``mip_gap`` relative; ``threads``; ``msg`` prints
    the solver log."""

    solver: str = "highs"
    time_limit: float | None = 300.0
    mip_gap: float = 1e-4
    threads: int | None = None
    msg: bool = False


class InfeasiblePlan(ValueError):
    """The plan cannot be met; ``problems`` lists one explanation per failed check."""

    def __init__(self, message: str, problems: Sequence[str] = ()):
        super().__init__(message)
        self.problems = tuple(problems) or (message,)


@dataclass(frozen=True)
class SolverReport:
    """What the solver did.

    ``objective`` / ``bound`` / ``gap`` belong to the last stage solved (for the lexicographic method
    the ``cost + early`` stage); ``gap`` is the largest relative gap of any stage; ``optimal`` is True
    only if every stage was proven optimal within ``mip_gap``. ``shortfall`` (pupil-years),
    ``overcrowding`` (pupil-years), ``travel`` (pupil-km), ``cost`` (million CNY) and ``early``
    (school-years) are the terms at the solution. Times in seconds; ``solve_seconds`` includes
    handing the model to the solver.
    """

    solver: str
    status: str
    sol_status: str
    objective: float | None
    bound: float | None
    gap: float | None
    optimal: bool
    build_seconds: float
    solve_seconds: float
    message: str
    method: str = "lexicographic"
    shortfall: float | None = None
    overcrowding: float | None = None
    travel: float | None = None
    cost: float | None = None
    early: float | None = None
    variables: int = 0
    binaries: int = 0
    constraints: int = 0
    stages: tuple[Mapping[str, object], ...] = ()

    def to_dict(self) -> dict:
        """JSON-ready dict (NaN/inf become None)."""
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class Plan:
    """The result: ``schedule`` (``site, street, level, open_year, classes, places, cost, public,
    inclusive``; cost in million CNY), ``balance`` (``street, level, year, pupils, places, assigned,
    shortfall, overcrowded, max_places, enrolled_here``), ``assignment`` (``street, level, year, site,
    pupils, site_street, new``) and ``report``.

    In ``balance``, ``pupils``, ``assigned`` and ``shortfall`` are by the pupils' home street;
    ``places`` (standard), ``max_places`` (at the legal maximum class size), ``enrolled_here`` and
    ``overcrowded`` (pupils above the standard places) are by the street the schools are in.
    """

    schedule: pd.DataFrame
    balance: pd.DataFrame
    assignment: pd.DataFrame
    report: SolverReport

    def to_dict(self) -> dict:
        """``solver.json`` content: the report plus totals of the tables."""
        d = self.report.to_dict()
        d["totals"] = _jsonable(
            {
                "new_schools": {k: int(v) for k, v in self.schedule.groupby("level").size().items()},
                "new_places": {
                    k: float(v) for k, v in self.schedule.groupby("level")["places"].sum().items()
                },
                "pupils": float(self.balance["pupils"].sum()),
                "shortfall": float(self.balance["shortfall"].sum()),
                "overcrowded": float(self.balance["overcrowded"].sum()),
            }
        )
        return d


def _jsonable(obj):
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


# --------------------------------------------------------------------------------------------------
# input normalisation


def _to_bool(s: pd.Series) -> pd.Series:
    if s.dtype == bool:
        return s
    m = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
    return s.map(lambda v: m[str(v).strip().lower()] if not isinstance(v, (bool, np.bool_)) else bool(v))


def parse_sizes(value) -> tuple[int, ...]:
    """Allowed sizes in classes from a tuple/list, an int or a ``"12;18;24"`` string."""
    if isinstance(value, str):
        parts = [p for p in value.replace(",", ";").split(";") if p.strip()]
        return tuple(int(p) for p in parts)
    if isinstance(value, (int, np.integer)):
        return (int(value),)
    return tuple(int(v) for v in value)


def _norm_tables(demand, supply, sites, distance_km):
    dem = pd.DataFrame(demand)[["street", "level", "year", "pupils"]].copy()
    dem["street"] = dem["street"].astype(str)
    dem["year"] = dem["year"].astype(int)
    dem["pupils"] = dem["pupils"].astype(float).clip(lower=0)
    cols = ["street", "level", "public", "inclusive", "classes", "places"]
    sup = pd.DataFrame(columns=cols) if supply is None else pd.DataFrame(supply)[cols].copy()
    sup["street"] = sup["street"].astype(str)
    for c in ("public", "inclusive"):
        sup[c] = _to_bool(sup[c]).astype(bool)
    sup["classes"] = sup["classes"].astype(float)
    sup["places"] = sup["places"].astype(float)
    scols = ["site", "street", "level", "earliest_year", "sizes"]
    if sites is None or len(sites) == 0:
        sit = pd.DataFrame(columns=[*scols, "cost_per_class", "public", "inclusive"])
    else:
        sit = pd.DataFrame(sites).copy()
        for c, default in (("cost_per_class", 0.0), ("public", True), ("inclusive", True)):
            if c not in sit:
                sit[c] = default
        sit = sit[[*scols, "cost_per_class", "public", "inclusive"]]
    sit["site"] = sit["site"].astype(str)
    sit["street"] = sit["street"].astype(str)
    sit["earliest_year"] = sit["earliest_year"].astype(int)
    sit["sizes"] = [parse_sizes(v) for v in sit["sizes"]]
    sit["cost_per_class"] = pd.to_numeric(sit["cost_per_class"], errors="coerce").fillna(0.0).astype(float)
    for c in ("public", "inclusive"):
        sit[c] = _to_bool(sit[c]).astype(bool)
    if sit["site"].duplicated().any():
        raise ValueError(f"duplicate site ids: {sorted(sit.loc[sit['site'].duplicated(), 'site'])}")
    dist = pd.DataFrame(distance_km).copy()
    dist.index = dist.index.astype(str)
    dist.columns = dist.columns.astype(str)
    dist = dist.loc[dist.index, dist.index]  # square, same order
    used = set(dem["street"]) | set(sup["street"]) | set(sit["street"])
    missing = sorted(used - set(dist.index))
    if missing:
        raise ValueError(f"streets missing from distance_km: {missing[:10]}")
    return dem, sup, sit, dist


# --------------------------------------------------------------------------------------------------
# solver plumbing


def _status_names(status: int, sol_status: int) -> tuple[str, str]:
    return (
        pulp.constants.LpStatus.get(status, str(status)),
        pulp.constants.LpSolution.get(sol_status, str(sol_status)),
    )


def classify_status(status: int, sol_status: int) -> tuple[bool, bool]:
    """``(has_solution, proven_optimal)`` from PuLP's ``status`` and ``sol_status``.

    PuLP reports a MIP stopped by the time limit with an incumbent as status ``Optimal``; only
    ``sol_status == LpSolutionOptimal`` means proven optimal (within the MIP gap).
    """
    has = sol_status in (pulp.constants.LpSolutionOptimal, pulp.constants.LpSolutionIntegerFeasible)
    return has, bool(has and sol_status == pulp.constants.LpSolutionOptimal and status == 1)


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """``|objective - bound| / max(|objective|, 1e-9)``, 0 when both are (nearly) equal, None if unknown."""
    if objective is None or bound is None or not math.isfinite(objective) or not math.isfinite(bound):
        return None
    diff = abs(objective - bound)
    if diff <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    return diff / max(abs(objective), 1e-9)


def _make_solver(options: SolverOptions, time_limit: float | None, start: dict | None = None):
    name = options.solver.lower()
    if name == "highs":
        solver = _HiGHS(
            msg=options.msg, timeLimit=time_limit, gapRel=options.mip_gap, threads=options.threads
        )
        if not solver.available():
            raise RuntimeError("solver 'highs' is not available: install highspy (pip install highspy)")
        solver.start = start
        return solver
    if name == "cbc":
        cls = getattr(pulp, "PULP_CBC_CMD", None) or getattr(pulp, "COIN_CMD", None)
        solver = None
        if cls is not None:
            with warnings.catch_warnings():  # PuLP 3.3 deprecates the bundled CBC (gone in PuLP 4)
                warnings.simplefilter("ignore", DeprecationWarning)
                solver = cls(msg=options.msg, timeLimit=time_limit, gapRel=options.mip_gap,
                             threads=options.threads)
        if solver is None or not solver.available():
            raise RuntimeError(
                "solver 'cbc' is not available in this PuLP installation (PuLP 4 no longer bundles CBC: "
                "install a cbc binary on PATH) — use solver='highs'"
            )
        return solver
    raise ValueError(f"unknown solver {options.solver!r}: expected 'highs' or 'cbc'")


@contextlib.contextmanager
def _stdout_fd_silenced():
    """Send what C code writes to file descriptor 1 to ``os.devnull`` for the duration.

    highspy 1.16 prints its banner ("Running HiGHS ... Copyright ...") from the C++ constructor of the
    first ``Highs()`` of a process, before any option (``output_flag``) can be set, so PuLP's
    ``msg=False`` cannot stop it. If fd 1 cannot be redirected, nothing is silenced.
    """
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001
        pass
    try:
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    libc = None
    try:
        import ctypes

        libc = ctypes.CDLL(None)
    except Exception:  # noqa: BLE001 - no C library handle (not Linux/macOS): skip the C flush
        libc = None
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        if libc is not None:
            with contextlib.suppress(Exception):
                libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


class _HiGHS(pulp.HiGHS):
    """PuLP's HiGHS interface, plus a MIP start (the previous lexicographic stage's solution) and a
    silent solve with ``msg=False`` (PuLP sets ``output_flag=False`` only after highspy's constructor
    has printed its banner; see ``_stdout_fd_silenced``)."""

    start: dict | None = None

    def createAndConfigureSolver(self, lp):  # noqa: N802 (PuLP's name)
        if self.msg:
            return super().createAndConfigureSolver(lp)
        with _stdout_fd_silenced():
            super().createAndConfigureSolver(lp)
        lp.solverModel.setOptionValue("output_flag", False)
        lp.solverModel.setOptionValue("log_to_console", False)

    def callSolver(self, lp):  # noqa: N802 (PuLP's name)
        if self.start:
            try:
                import highspy

                sol = highspy.HighsSolution()
                vals = [0.0] * lp.solverModel.getNumCol()
                for var in lp.variables():
                    vals[var.index] = self.start.get(var.name, 0.0)
                sol.col_value = vals
                sol.value_valid = True
                lp.solverModel.setSolution(sol)
            except Exception:  # a start is only a hint  # noqa: BLE001
                pass
        # HiGHS keeps one thread scheduler per process, sized by the first solve; a later solve
        # asking for another number of threads then stops at once with "Not Solved". Resetting it
        # makes every solve use its own ``threads`` option, whatever ran before in the process.
        lp.solverModel.resetGlobalScheduler(True)
        lp.solverModel.run()


def _expr(vars_, coefs) -> pulp.LpAffineExpression:
    return pulp.LpAffineExpression(list(zip(vars_, coefs, strict=True)))


# --------------------------------------------------------------------------------------------------
# the model


@dataclass
class _Built:
    prob: pulp.LpProblem
    V: list
    terms: dict
    n_constraints: int
    seconds: float
    #: independent parts (one per level when no constraint links levels): (level, constraints,
    #: indices into ``V``); empty when the model must be solved as a whole
    components: list = None


class SchoolPlanModel:
    """The scheduling MILP on plain tables (spopt style: construct, ``solve()``, read ``.plan``).

    Parameters
    ----------
    demand : DataFrame
        ``street, level, year, pupils`` (pupils by home street).
    supply : DataFrame
        ``street, level, public, inclusive, classes, places``: existing supply, available every year.
    sites : DataFrame
        ``site, street, level, earliest_year, sizes`` (classes; tuple or ``"12;18;24"``),
        ``cost_per_class`` (million CNY per class; NaN = 0), ``public``, ``inclusive``.
    distance_km : DataFrame
        Street x street distances in km (index and columns: street codes).
    params : PlanParameters

    Examples
    --------
    >>> model = SchoolPlanModel(demand, supply, sites, dist, PlanParameters(new_schools={"primary": 1}))
    >>> plan = model.solve(SolverOptions()).plan   # doctest: +SKIP
    """

    def __init__(self, demand, supply, sites, distance_km, params: PlanParameters | None = None):
        self.params = params or PlanParameters()
        self._check_params()
        self.demand, self.supply, self.sites, self.distance_km = _norm_tables(demand, supply, sites, distance_km)
        self.plan: Plan | None = None
        self._built: _Built | None = None
        self.notes: list[str] = []
        t0 = time.perf_counter()
        self._index()
        self.index_seconds = time.perf_counter() - t0

    # ---------------------------------------------------------------------------------------------
    def _check_params(self):
        p = self.params
        if p.count_rule not in ("exact", "at_most"):
            raise ValueError(f"count_rule must be 'exact' or 'at_most', got {p.count_rule!r}")
        if p.places_rule not in ("exact", "at_least", "off"):
            raise ValueError(f"places_rule must be 'exact', 'at_least' or 'off', got {p.places_rule!r}")
        if p.method not in ("lexicographic", "weighted"):
            raise ValueError(f"method must be 'lexicographic' or 'weighted', got {p.method!r}")
        if p.first_year > p.last_year or p.plan_start > p.plan_end:
            raise ValueError("first_year <= last_year and plan_start <= plan_end are required")
        if p.places_rule != "off" and p.kindergarten_new_places is None:
            raise ValueError(f"places_rule={p.places_rule!r} needs kindergarten_new_places")

    def _size(self, mapping, defaults, level, what):
        if mapping is not None and level in mapping:
            return float(mapping[level])
        if level in defaults:
            return float(defaults[level])
        raise ValueError(f"{what} has no value for level {level!r}")

    def _index(self):
        """Index tables (pandas, no solver objects): pools, options, arcs, nodes."""
        p = self.params
        dem, sup, sit = self.demand, self.supply, self.sites
        years = np.arange(p.first_year, p.last_year + 1)
        self.years = years
        dem = dem[(dem["year"] >= p.first_year) & (dem["year"] <= p.last_year)]
        dem = dem.groupby(["street", "level", "year"], as_index=False, sort=True)["pupils"].sum()
        self._demand = dem
        levels = list(dict.fromkeys([*dem["level"], *sup["level"], *sit["level"]]))
        self.levels = levels
        cs = {lv: self._size(p.class_size, DEFAULT_CLASS_SIZE, lv, "class_size") for lv in levels}
        mcs = {lv: max(cs[lv], self._size(p.max_class_size, DEFAULT_MAX_CLASS_SIZE, lv, "max_class_size"))
               for lv in levels}
        self.cs, self.mcs = cs, mcs
        kg = p.kindergarten_level
        streets = list(self.distance_km.index)
        sidx = {s: i for i, s in enumerate(streets)}
        D = self.distance_km.to_numpy(dtype=float).copy()
        np.fill_diagonal(D, 0.0)
        self._D, self._sidx, self.streets = D, sidx, streets

        # existing supply -> pool members
        sup = sup.copy()
        sup["std"] = sup["places"]
        sup["over"] = (sup["classes"] * sup["level"].map(mcs) - sup["places"]).clip(lower=0)
        sup["pub"] = sup["public"] & (sup["level"] == kg)
        sup["inc"] = sup["inclusive"] & (sup["level"] == kg)
        pkey = ["pstreet", "level", "pub", "inc"]
        ex = (sup.rename(columns={"street": "pstreet"})
              .groupby(pkey, as_index=False, sort=True)[["std", "over"]].sum())
        ex = ex[(ex["std"] + ex["over"]) > 0]
        sit = sit.copy()
        sit["pstreet"] = sit["street"]
        sit["pub"] = sit["public"] & (sit["level"] == kg)
        sit["inc"] = sit["inclusive"] & (sit["level"] == kg)

        # open options (site, year, size) inside the plan period
        lo = np.maximum(sit["earliest_year"].to_numpy(int), p.plan_start) if len(sit) else np.array([], int)
        sit["first_open"] = lo
        sit["openable"] = lo <= p.plan_end
        opt = sit[sit["openable"]].copy()
        opt["year"] = [list(range(a, p.plan_end + 1)) for a in opt["first_open"]]
        opt = opt.explode("year").explode("sizes").rename(columns={"sizes": "classes"})
        if len(opt):
            opt["year"] = opt["year"].astype(int)
            opt["classes"] = opt["classes"].astype(int)
        else:
            opt = opt.assign(year=pd.Series(dtype=int), classes=pd.Series(dtype=int))
        opt = opt.sort_values(["site", "year", "classes"], kind="stable").reset_index(drop=True)
        opt["std"] = opt["classes"] * opt["level"].map(cs).astype(float)
        opt["over"] = opt["classes"] * (opt["level"].map(mcs) - opt["level"].map(cs)).astype(float)
        opt["cost"] = opt["classes"] * opt["cost_per_class"]
        opt["early"] = (p.plan_end - opt["year"]).astype(float)

        # pools
        pools = pd.concat([ex[pkey], opt[pkey]]).drop_duplicates().sort_values(pkey).reset_index(drop=True)
        pools = pools.merge(ex, on=pkey, how="left").fillna({"std": 0.0, "over": 0.0})
        first_opt = opt.groupby(pkey, as_index=False)["year"].min().rename(columns={"year": "first_opt"})
        pools = pools.merge(first_opt, on=pkey, how="left")
        has_ex = (pools["std"] + pools["over"]) > 0
        pools["avail"] = np.where(has_ex, p.first_year, pools["first_opt"].fillna(p.last_year + 1)).astype(int)
        pools["pool"] = np.arange(len(pools))
        pools["psi"] = pools["pstreet"].map(sidx).astype(int)
        self.pools = pools
        opt = opt.merge(pools[[*pkey, "pool"]], on=pkey, how="left")
        opt["opt"] = np.arange(len(opt))
        self.options = opt

        # demand nodes and arcs
        nodes = dem[dem["pupils"] > 0].reset_index(drop=True)
        nodes["node"] = np.arange(len(nodes))
        nodes["si"] = nodes["street"].map(sidx).astype(int)
        self.nodes = nodes
        sl = nodes[["street", "level", "si"]].drop_duplicates()
        arcs = sl.merge(pools[["level", "pool", "pstreet", "psi", "avail"]], on="level")
        arcs["dist"] = D[arcs["si"].to_numpy(), arcs["psi"].to_numpy()] if len(arcs) else 0.0
        ckm = {lv: (p.catchment_km[lv] if p.catchment_km is not None and lv in p.catchment_km
                    else DEFAULT_CATCHMENT_KM.get(lv)) for lv in levels}
        self.catchment = ckm
        lim = arcs["level"].map(lambda lv: np.inf if ckm[lv] is None else float(ckm[lv])).astype(float)
        own = arcs["street"] == arcs["pstreet"]
        arcs = arcs[own | (arcs["dist"] <= lim + 1e-9)]
        arcs.loc[arcs["street"] == arcs["pstreet"], "dist"] = 0.0
        ay = nodes[["street", "level", "year", "node", "pupils"]].merge(arcs, on=["street", "level"])
        ay = ay[ay["year"] >= ay["avail"]]
        self.arcs = ay.sort_values(["node", "pool"]).reset_index(drop=True)
        self.arcs["a"] = np.arange(len(self.arcs))

    # ---------------------------------------------------------------------------------------------
    def check(self, raise_on_error: bool = False) -> list[str]:
        """Explain what makes the instance infeasible before solving.

        Returns
        -------
        list of str
            One message per problem, naming the level / constraint and the numbers (empty: nothing
            found). Informational notes (e.g. sites that open only after the plan period) go to
            ``self.notes``. With ``raise_on_error`` an ``InfeasiblePlan`` is raised instead.
        """
        p = self.params
        problems: list[str] = []
        notes: list[str] = []
        sit = self.sites
        late = sit[np.maximum(sit["earliest_year"], p.plan_start) > p.plan_end]
        for lv, g in late.groupby("level"):
            notes.append(
                f"{lv}: {len(g)} candidate site(s) can open only after the plan period "
                f"{p.plan_start}-{p.plan_end}: "
                + ", ".join(f"{r.site} ({r.earliest_year})" for r in g.itertuples())
            )
        req = self._required()
        opt = self.options
        for lv, n in req.items():
            cands = opt.loc[opt["level"] == lv, "site"].nunique()
            if p.count_rule == "exact" and n > cands:
                nlate = int((late["level"] == lv).sum())
                problems.append(
                    f"counts: {lv} needs {n} new schools (count_rule='exact') but only {cands} candidate "
                    f"site(s) can open in {p.plan_start}-{p.plan_end}"
                    + (f" ({nlate} more open only after {p.plan_end})" if nlate else "")
                )
            if p.max_openings_per_year and lv in p.max_openings_per_year and p.count_rule == "exact":
                m = int(p.max_openings_per_year[lv])
                first = np.sort(self.sites.loc[self.sites["level"] == lv, "earliest_year"].to_numpy())
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
        problems += self._check_places(req)
        problems += self._check_shares(req)
        problems += self._check_cost(req)
        self.notes = notes
        if problems and raise_on_error:
            raise InfeasiblePlan("infeasible plan: " + "; ".join(problems), problems)
        return problems

    def _required(self) -> dict[str, int]:
        """Schools per level bound by ``new_schools`` (all levels with candidate sites or demand)."""
        p = self.params
        if p.new_schools is None:
            return {}
        lv = list(dict.fromkeys([*self.levels, *p.new_schools]))
        return {level: int(p.new_schools.get(level, 0)) for level in lv}

    def _kg_options(self):
        p = self.params
        opt = self.options[self.options["level"] == p.kindergarten_level]
        return opt.drop_duplicates(["site", "classes"])

    def _check_places(self, req) -> list[str]:
        p = self.params
        if p.places_rule == "off":
            return []
        kg = p.kindergarten_level
        K = float(p.kindergarten_new_places)
        c = self.cs.get(kg, DEFAULT_CLASS_SIZE.get(kg, 30.0))
        n = req.get(kg) if req else None
        sizes = [tuple(sorted(set(g["classes"]))) for _, g in self._kg_options().groupby("site")]
        if p.places_rule == "at_least":
            best = sorted((max(s) for s in sizes), reverse=True)
            cap = sum(best if n is None else best[:n]) * c
            if cap + 1e-6 < K:
                return [
                    f"places: {kg} new places must be at least {K:g} but the "
                    + (f"{n} largest " if n is not None else "")
                    + f"candidate kindergartens give at most {cap:g} ({c:g} places per class)"
                ]
            return []
        target = K / c
        if abs(target - round(target)) > 1e-6:
            return [f"places: {kg} new places {K:g} is not a multiple of the class size {c:g}"]
        T = int(round(target))
        nmax = len(sizes) if n is None else min(n, len(sizes))
        reach = np.zeros((nmax + 1, T + 1), bool)
        reach[0, 0] = True
        for s in sizes:
            new = reach.copy()
            for k in s:
                if k <= T:
                    new[1:, k:] |= reach[:-1, : T + 1 - k]
            reach = new
        ok_counts = [n] if (n is not None and p.count_rule == "exact") else range(nmax + 1)
        if n is not None and p.count_rule == "exact" and n > nmax:
            return []  # reported by the count check
        if not any(reach[m, T] for m in ok_counts):
            lo = sum(sorted(min(s) for s in sizes)[: n or 0]) * c if n else 0
            hi = sum(sorted((max(s) for s in sizes), reverse=True)[:nmax]) * c
            how = f"exactly {n}" if (n is not None and p.count_rule == "exact") else f"at most {nmax}"
            return [
                f"places: no choice of sizes gives exactly {K:g} new {kg} places ({T} classes of {c:g}) "
                f"with {how} new {kg}s (reachable range about {lo:g}-{hi:g})"
            ]
        return []

    def _check_shares(self, req) -> list[str]:
        p = self.params
        out = []
        kg = p.kindergarten_level
        if p.public_share_min is None and p.inclusive_share_min is None:
            return out
        if not p.first_year <= p.target_year <= p.last_year:
            return [f"shares: target_year {p.target_year} is outside the balance years {p.first_year}-{p.last_year}"]
        dem = self._demand
        total = float(dem.loc[(dem["level"] == kg) & (dem["year"] == p.target_year), "pupils"].sum())
        n = req.get(kg) if req else None
        sup = self.supply[self.supply["level"] == kg]
        mx = self.mcs.get(kg, 35.0)
        for flag, share in (("public", p.public_share_min), ("inclusive", p.inclusive_share_min)):
            if share is None or total <= 0:
                continue
            s = sup[sup[flag]]
            existing = float(np.maximum(s["classes"] * mx, s["places"]).sum())
            o = self.options
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

    def _check_cost(self, req) -> list[str]:
        p = self.params
        if p.max_cost_per_year is None or not req or p.count_rule != "exact":
            return []
        cheapest = 0.0
        for lv, n in req.items():
            o = self.options[self.options["level"] == lv]
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

    # ---------------------------------------------------------------------------------------------
    def build(self, relax: frozenset[str] | set[str] = frozenset()) -> SchoolPlanModel:
        """Create the PuLP problem from the index tables (``relax``: constraint families to leave out)."""
        t0 = time.perf_counter()
        self._built = self._build(frozenset(relax))
        self._built.seconds = time.perf_counter() - t0 + self.index_seconds
        return self

    def _build(self, relax: frozenset[str]) -> _Built:
        p = self.params
        prob = pulp.LpProblem("school_plan", pulp.LpMinimize)
        add_var = getattr(prob, "add_variable", None)

        def mk(prefix, n, lb, ub, cat):
            if add_var is not None:
                if ub is None:
                    return [add_var(f"{prefix}_{i}", lb, None, cat) for i in range(n)]
                return [add_var(f"{prefix}_{i}", lb, u, cat) for i, u in enumerate(ub)]
            if ub is None:
                return [pulp.LpVariable(f"{prefix}_{i}", lb, None, cat) for i in range(n)]
            return [pulp.LpVariable(f"{prefix}_{i}", lb, u, cat) for i, u in enumerate(ub)]

        arcs, nodes, pools, opt = self.arcs, self.nodes, self.pools, self.options
        na, nu, nx = len(arcs), len(nodes), len(opt)
        # pool-years that carry arcs
        py = arcs[["pool", "year"]].drop_duplicates().sort_values(["pool", "year"]).reset_index(drop=True)
        py["py"] = np.arange(len(py))
        py = py.merge(pools[["pool", "std", "over"]], on="pool", how="left")
        # options x pool-years they serve (open year <= year)
        oy = opt[["opt", "pool", "year", "std", "over"]].rename(columns={"year": "tau", "std": "ostd", "over": "oover"})
        oy = oy.merge(py[["pool", "year", "py"]], on="pool")
        oy = oy[oy["tau"] <= oy["year"]]
        over_from_opt = oy[oy["oover"] > 0]
        py["has_opt_over"] = py["py"].isin(over_from_opt["py"])
        py["has_o"] = (py["over"] > 0) | py["has_opt_over"]
        o_py = py[py["has_o"]].reset_index(drop=True)
        no = len(o_py)
        o_of_py = np.full(len(py), -1)
        o_of_py[o_py["py"].to_numpy()] = np.arange(no)
        o_ub = np.where(o_py["has_opt_over"], np.nan, o_py["over"])

        V = []
        V += mk("a", na, 0, arcs["pupils"].tolist(), pulp.LpContinuous)
        V += mk("u", nu, 0, nodes["pupils"].tolist(), pulp.LpContinuous)
        V += [v for v in mk("o", no, 0, [None if np.isnan(x) else float(x) for x in o_ub], pulp.LpContinuous)]
        V += mk("x", nx, 0, [1] * nx, pulp.LpBinary)
        A0, U0, O0, X0 = 0, na, na + nu, na + nu + no
        self._offsets = (A0, U0, O0, X0, len(V))
        self._py, self._o_py = py, o_py
        n_con = 0
        # level of every variable: constraints that stay inside one level make independent parts
        lcode = {lv: i for i, lv in enumerate(self.levels)}
        pool_lv = pools["level"].map(lcode).to_numpy()
        varlev = np.r_[arcs["level"].map(lcode).to_numpy(), nodes["level"].map(lcode).to_numpy(),
                       pool_lv[o_py["pool"].to_numpy()] if no else np.array([], int),
                       opt["level"].map(lcode).to_numpy()].astype(np.int64)
        comp_cons: list[list] = [[] for _ in self.levels]
        linked = False

        def rows(family, row, col, coef, rhs, sense):
            nonlocal n_con
            row = np.asarray(row, dtype=np.int64)
            col = np.asarray(col, dtype=np.int64)
            coef = np.asarray(coef, dtype=float)
            if len(row) == 0:
                return
            keep = coef != 0
            row, col, coef = row[keep], col[keep], coef[keep]
            order = np.lexsort((col, row))
            row, col, coef = row[order], col[order], coef[order]
            dup = (row[1:] == row[:-1]) & (col[1:] == col[:-1])
            if dup.any():
                f = pd.DataFrame({"r": row, "c": col, "v": coef}).groupby(["r", "c"], sort=True)["v"].sum()
                row = f.index.get_level_values(0).to_numpy()
                col = f.index.get_level_values(1).to_numpy()
                coef = f.to_numpy()
            starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
            ends = np.r_[starts[1:], len(row)]
            cl, vl = col.tolist(), coef.tolist()
            lv = varlev[col]
            lo, hi = np.minimum.reduceat(lv, starts), np.maximum.reduceat(lv, starts)
            nonlocal linked
            linked = linked or bool((lo != hi).any())
            for r, s, e, c in zip(row[starts].tolist(), starts.tolist(), ends.tolist(), lo.tolist(), strict=True):
                expr = pulp.LpAffineExpression(list(zip([V[c] for c in cl[s:e]], vl[s:e], strict=True)))
                con = pulp.LpConstraint(expr, sense, name=f"{family}_{r}", rhs=float(rhs[r]))
                prob.addConstraint(con)
                comp_cons[c].append(con)
                n_con += 1

        LE, GE, EQ = pulp.LpConstraintLE, pulp.LpConstraintGE, pulp.LpConstraintEQ
        ones_a = np.ones(na)
        # demand
        rows("demand", np.r_[arcs["node"].to_numpy(), np.arange(nu)],
             np.r_[A0 + arcs["a"].to_numpy(), U0 + np.arange(nu)], np.r_[ones_a, np.ones(nu)],
             nodes["pupils"].to_numpy(), EQ)
        # standard places per pool-year
        a_py = arcs[["pool", "year", "a"]].merge(py[["pool", "year", "py"]], on=["pool", "year"])
        o_rows = o_py["py"].to_numpy()
        rows("places",
             np.r_[a_py["py"].to_numpy(), o_rows, oy["py"].to_numpy()],
             np.r_[A0 + a_py["a"].to_numpy(), O0 + np.arange(no), X0 + oy["opt"].to_numpy()],
             np.r_[np.ones(len(a_py)), -np.ones(no), -oy["ostd"].to_numpy()],
             py["std"].to_numpy(), LE)
        # overcrowded places where new sites add them
        if len(over_from_opt):
            rows("overcrowded",
                 np.r_[over_from_opt["py"].to_numpy(), o_py.loc[o_py["has_opt_over"], "py"].to_numpy()],
                 np.r_[X0 + over_from_opt["opt"].to_numpy(),
                       O0 + o_of_py[o_py.loc[o_py["has_opt_over"], "py"].to_numpy()]],
                 np.r_[-over_from_opt["oover"].to_numpy(), np.ones(int(o_py["has_opt_over"].sum()))],
                 py["over"].to_numpy(), LE)
        # one option per site
        site_id = opt["site"].astype("category").cat.codes.to_numpy()
        if nx:
            rows("site", site_id, X0 + opt["opt"].to_numpy(), np.ones(nx),
                 np.ones(site_id.max() + 1), LE)
        # counts per level
        req = self._required()
        if req and "counts" not in relax:
            lv_list = list(req)
            lv_code = opt["level"].map({lv: i for i, lv in enumerate(lv_list)})
            mask = lv_code.notna().to_numpy()
            rhs = np.array([req[lv] for lv in lv_list], float)
            rows("count", lv_code[mask].astype(int).to_numpy(), X0 + opt.loc[mask, "opt"].to_numpy(),
                 np.ones(int(mask.sum())), rhs, EQ if p.count_rule == "exact" else LE)
        # kindergarten places total
        if p.places_rule != "off" and "places" not in relax:
            m = (opt["level"] == p.kindergarten_level).to_numpy()
            if m.any():
                rows("kgplaces", np.zeros(int(m.sum()), int), X0 + opt.loc[m, "opt"].to_numpy(),
                     opt.loc[m, "std"].to_numpy(), np.array([float(p.kindergarten_new_places)]),
                     EQ if p.places_rule == "exact" else GE)
            elif p.kindergarten_new_places > 0:
                # no candidate: the constraint reads 0 = K; keep it visible to the solver
                dummy = add_var("kgplaces_none", 0, 0) if add_var else pulp.LpVariable("kgplaces_none", 0, 0)
                prob.addConstraint(pulp.LpConstraint(_expr([dummy], [1.0]), EQ, "kgplaces_0",
                                                     rhs=float(p.kindergarten_new_places)))
                linked = True  # (infeasible: solved as a whole, then diagnosed)
        # yearly limits
        if "yearly_limits" not in relax:
            if p.max_openings_per_year:
                lim = {lv: int(v) for lv, v in p.max_openings_per_year.items()}
                m = opt["level"].isin(list(lim)).to_numpy()
                if m.any():
                    key = opt.loc[m, ["level", "year"]].astype(str).agg("|".join, axis=1)
                    codes, uniq = pd.factorize(key, sort=True)
                    rhs = np.array([lim[u.split("|")[0]] for u in uniq], float)
                    rows("openings", codes, X0 + opt.loc[m, "opt"].to_numpy(), np.ones(int(m.sum())), rhs, LE)
            if p.max_cost_per_year is not None:
                m = (opt["cost"] > 0).to_numpy()
                if m.any():
                    codes, uniq = pd.factorize(opt.loc[m, "year"], sort=True)
                    rows("cost", codes, X0 + opt.loc[m, "opt"].to_numpy(), opt.loc[m, "cost"].to_numpy(),
                         np.full(len(uniq), float(p.max_cost_per_year)), LE)
        # kindergarten shares in the target year
        if "shares" not in relax:
            kg = p.kindergarten_level
            dem = self._demand
            total = float(dem.loc[(dem["level"] == kg) & (dem["year"] == p.target_year), "pupils"].sum())
            for flag, share in (("pub", p.public_share_min), ("inc", p.inclusive_share_min)):
                if share is None or total <= 0:
                    continue
                pf = pools.loc[pools[flag], "pool"]
                m = ((arcs["year"] == p.target_year) & arcs["pool"].isin(pf)).to_numpy()
                need = float(share) * total
                if m.any():
                    rows(f"share{flag}", np.zeros(int(m.sum()), int), A0 + arcs.loc[m, "a"].to_numpy(),
                         np.ones(int(m.sum())), np.array([need]), GE)
                else:
                    dummy = (add_var or pulp.LpVariable)(f"share{flag}_none", 0, 0)
                    prob.addConstraint(pulp.LpConstraint(_expr([dummy], [1.0]), GE, f"share{flag}_0", rhs=need))
                    linked = True

        terms = {
            "shortfall": _expr(V[U0:O0], [1.0] * nu),
            "overcrowding": _expr(V[O0:X0], [1.0] * no),
            "travel": _expr([V[A0 + i] for i in np.flatnonzero(arcs["dist"].to_numpy() > 0)],
                            arcs.loc[arcs["dist"] > 0, "dist"].tolist()),
            "cost": _expr([V[X0 + i] for i in np.flatnonzero(opt["cost"].to_numpy() > 0)],
                          opt.loc[opt["cost"] > 0, "cost"].tolist()),
            "early": _expr([V[X0 + i] for i in np.flatnonzero(opt["early"].to_numpy() > 0)],
                           opt.loc[opt["early"] > 0, "early"].tolist()),
        }
        components = []
        if not linked:
            for c, lv in enumerate(self.levels):
                idx = np.flatnonzero(varlev == c)
                if len(idx):
                    components.append((lv, comp_cons[c], idx))
            if len(components) < 2:
                components = []
        return _Built(prob=prob, V=V, terms=terms, n_constraints=n_con, seconds=0.0, components=components)

    # ---------------------------------------------------------------------------------------------
    def _weights(self) -> dict[str, float]:
        w = dict(DEFAULT_WEIGHTS)
        if self.params.weights:
            w.update({k: float(v) for k, v in self.params.weights.items()})
        return w

    def _stage_objectives(self, terms=None):
        w = self._weights()
        t = self._built.terms if terms is None else terms
        if self.params.method == "weighted":
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

    def _run(self, options: SolverOptions, stages, deadline, start=None, prob=None, V=None, is_mip=None):
        """Solve the stages in order on ``prob`` (default: the whole model) with variables ``V``;
        returns (records, values of ``V``)."""
        b = self._built
        prob = b.prob if prob is None else prob
        V = b.V if V is None else V
        is_mip = bool(len(self.options)) if is_mip is None else is_mip
        records = []
        values = None
        names = [v.name for v in V]
        for k, (term, expr) in enumerate(stages):
            tl = None
            if deadline is not None:
                tl = max(1.0, deadline - time.perf_counter())
            prob.setObjective(pulp.LpAffineExpression(expr))
            t0 = time.perf_counter()
            for attempt_start in (start, None) if start else (None,):
                prob.solve(_make_solver(options, tl, attempt_start))
                status, sol_status = int(prob.status), int(prob.sol_status)
                has, optimal = classify_status(status, sol_status)
                obj = pulp.value(prob.objective) if has else None
                obj = float(obj) if obj is not None else (0.0 if has else None)
                bound = None
                if has and options.solver.lower() == "highs":
                    bound = _highs_bound(prob, obj, optimal, is_mip)
                elif has and optimal:
                    bound = obj
                gap = relative_gap(obj, bound)
                # HiGHS (1.16) can return a MIP start as "optimal" although its own bound is better
                # (seen when presolve empties the model): then solve again without the start
                suspicious = optimal and gap is not None and gap > 10 * max(options.mip_gap, 1e-6) \
                    and abs(obj - bound) > 1e-6
                if not suspicious:
                    break
            secs = time.perf_counter() - t0
            st, sst = _status_names(status, sol_status)
            records.append({"term": term, "status": st, "sol_status": sst, "objective": obj, "bound": bound,
                            "gap": gap, "optimal": optimal, "seconds": secs, "_status": status,
                            "_sol_status": sol_status})
            if not has:
                break
            values = np.array([v.varValue if v.varValue is not None else 0.0 for v in V], float)
            start = dict(zip(names, values.tolist(), strict=True))
            if k < len(stages) - 1:
                tol = self.params.lex_tolerance * abs(obj) + 1e-5
                prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(expr), pulp.LpConstraintLE,
                                                     name=f"lex_{term}", rhs=obj + tol))
        return records, values

    def _run_components(self, options: SolverOptions, deadline):
        """Solve the independent parts (levels) one after the other, smallest first, each with an
        equal share of the time left; returns (merged stage records, values, stages).

        The levels share no constraint (checked while building), and every objective term is a sum
        over levels, so the optimum of the whole is the sum of the parts' optima, and a lexicographic
        stage of the whole is the same stage in every part (each part fixes its own optimum). A
        branch-and-bound on the whole multiplies the trees of the parts; solved apart, they are
        added."""
        b = self._built
        values = np.zeros(len(b.V))
        comps = sorted(b.components, key=lambda c: len(c[2]))
        per: list[list[dict]] = []
        order: list[str] = []
        planned: list[int] = []
        x0 = self._offsets[3]
        for j, (_lv, cons, idx) in enumerate(comps):
            cdl = None
            if deadline is not None:
                cdl = time.perf_counter() + max(0.0, deadline - time.perf_counter()) / (len(comps) - j)
            prob = pulp.LpProblem(f"school_plan_{j}", pulp.LpMinimize)
            for con in cons:
                prob.addConstraint(con)
            V = [b.V[i] for i in idx]
            own = set(V)
            terms = {k: pulp.LpAffineExpression([(v, c) for v, c in e.items() if v in own])
                     for k, e in b.terms.items()}
            stages = self._stage_objectives(terms)
            planned.append(len(stages))
            order += [t for t, _ in stages if t not in order]
            recs, vals = self._run(options, stages, cdl, prob=prob, V=V, is_mip=bool((idx >= x0).any()))
            per.append(recs)
            if vals is None:
                return recs, None, len(stages)
            values[idx] = vals
        records = []
        for term in order:
            rs = [r for recs in per for r in recs if r["term"] == term]
            worst = next((r for r in rs if not r["optimal"]), rs[0])
            has = all(r["objective"] is not None for r in rs)
            obj = sum(r["objective"] for r in rs) if has else None
            bnd = sum(r["bound"] for r in rs) if has and all(r["bound"] is not None for r in rs) else None
            records.append({**worst, "objective": obj, "bound": bnd, "gap": relative_gap(obj, bnd),
                            "optimal": all(r["optimal"] for r in rs),
                            "seconds": sum(r["seconds"] for r in rs), "parts": len(rs)})
        # a part that stopped before its last stage: the whole is not proven optimal
        if any(len(recs) < n for recs, n in zip(per, planned, strict=True)):
            records[-1]["optimal"] = False
        return records, values, len(order)

    def solve(self, options: SolverOptions | None = None) -> SchoolPlanModel:
        """Check, build (if needed) and solve; the result goes to ``self.plan``.

        Raises
        ------
        InfeasiblePlan
            If a check fails before solving, or the solver proves the model infeasible (the message
            names the constraint family whose removal makes it feasible).
        """
        options = options or SolverOptions()
        self.check(raise_on_error=True)
        if self._built is None:
            self.build()
        b = self._built
        deadline = None if options.time_limit is None else time.perf_counter() + float(options.time_limit)
        t0 = time.perf_counter()
        if b.components:
            records, values, n_stages = self._run_components(options, deadline)
        else:
            records, values = self._run(options, self._stage_objectives(), deadline)
            n_stages = len(self._stage_objectives())
        solve_seconds = time.perf_counter() - t0
        last = records[-1]
        if values is None:
            if last["_status"] == pulp.constants.LpStatusInfeasible:
                raise InfeasiblePlan(self._diagnose(options))
            msg = f"no solution: solver status {last['status']} / {last['sol_status']}"
            if deadline is not None and time.perf_counter() >= deadline - 0.5:
                msg += f" (time limit {options.time_limit:g} s reached before a first solution)"
            raise RuntimeError(msg)
        # if a later stage found nothing, the previous stage's solution stands
        final = next(r for r in reversed(records) if r["objective"] is not None)
        optimal = all(r["optimal"] for r in records) and len(records) == n_stages
        gaps = [r["gap"] for r in records if r["gap"] is not None]
        term_values = self._term_values(values)
        msgs = []
        if not optimal:
            msgs.append("not proven optimal (time limit or stopped early): the plan is the best found")
        msgs += self.notes
        report = SolverReport(
            solver=options.solver.lower(),
            status=final["status"],
            sol_status=final["sol_status"] if optimal else _status_names(1, 2)[1],
            objective=final["objective"],
            bound=final["bound"],
            gap=max(gaps) if gaps else None,
            optimal=optimal,
            build_seconds=b.seconds,
            solve_seconds=solve_seconds,
            message="; ".join(msgs) if msgs else "optimal",
            method=self.params.method,
            variables=len(b.V),
            binaries=len(self.options),
            constraints=b.n_constraints,
            stages=tuple({k: v for k, v in r.items() if not k.startswith("_")} for r in records),
            **term_values,
        )
        self.plan = self._results(values, report)
        return self

    def _term_values(self, values) -> dict[str, float]:
        A0, U0, O0, X0, N = self._offsets
        arcs, opt = self.arcs, self.options
        return {
            "shortfall": float(values[U0:O0].sum()),
            "overcrowding": float(values[O0:X0].sum()),
            "travel": float((values[A0:U0] * arcs["dist"].to_numpy()).sum()),
            "cost": float((np.round(values[X0:N]) * opt["cost"].to_numpy()).sum()),
            "early": float((np.round(values[X0:N]) * opt["early"].to_numpy()).sum()),
        }

    def _diagnose(self, options: SolverOptions) -> str:
        """Relax one constraint family at a time; name the one(s) whose removal restores feasibility."""
        active = []
        p = self.params
        if self._required():
            active.append("counts")
        if p.places_rule != "off":
            active.append("places")
        if p.public_share_min is not None or p.inclusive_share_min is not None:
            active.append("shares")
        if p.max_openings_per_year or p.max_cost_per_year is not None:
            active.append("yearly_limits")
        culprits = []
        quick = replace(options, time_limit=min(60.0, options.time_limit or 60.0))
        for fam in active:
            saved = self._built
            self._built = self._build(frozenset({fam}))
            try:
                recs, vals = self._run(quick, [("feasibility", pulp.LpAffineExpression())], None)
            finally:
                self._built = saved
            if vals is not None:
                culprits.append(fam)
        if culprits:
            return ("infeasible plan: the solver proves the constraints infeasible; leaving out the "
                    + " or the ".join(f"'{c}'" for c in culprits)
                    + " constraints makes it feasible (families: counts = new_schools, places = "
                    "kindergarten_new_places, shares = public/inclusive share, yearly_limits = "
                    "max_openings_per_year / max_cost_per_year)")
        return ("infeasible plan: the solver proves the constraints infeasible and no single family "
                f"({', '.join(active) or 'none active'}) explains it; several constraints conflict")

    # ---------------------------------------------------------------------------------------------
    def _results(self, values, report) -> Plan:
        A0, U0, O0, X0, N = self._offsets
        p = self.params
        arcs, nodes, pools, opt = self.arcs, self.nodes, self.pools, self.options
        xo = np.round(values[X0:N]) > 0.5
        chosen = opt[xo]
        schedule = pd.DataFrame({
            "site": chosen["site"].to_numpy(), "street": chosen["street"].to_numpy(),
            "level": chosen["level"].to_numpy(), "open_year": chosen["year"].to_numpy().astype(int),
            "classes": chosen["classes"].to_numpy().astype(int), "places": chosen["std"].to_numpy(),
            "cost": chosen["cost"].to_numpy(), "public": chosen["public"].to_numpy().astype(bool),
            "inclusive": chosen["inclusive"].to_numpy().astype(bool),
        }).sort_values(["level", "open_year", "site"]).reset_index(drop=True)

        flow = arcs[["street", "level", "year", "pool", "pstreet", "node"]].copy()
        flow["flow"] = np.clip(values[A0:U0], 0, None)
        # members of each pool per year: existing + sites open by then
        years = pd.DataFrame({"year": self.years})
        ex = pools[(pools["std"] + pools["over"]) > 0]
        kg = p.kindergarten_level
        ex_name = np.where(
            ex["level"] == kg,
            "existing:" + ex["pstreet"] + ":" + np.where(ex["pub"], "public", "private") + ":"
            + np.where(ex["inc"], "inclusive", "non-inclusive"),
            "existing:" + ex["pstreet"],
        )
        mem_ex = ex.assign(site=ex_name, new=False)[["pool", "site", "std", "over", "new"]].merge(years, how="cross")
        if len(chosen):
            ch = chosen[["pool", "site", "std", "over", "year"]].rename(columns={"year": "open_year"})
            mem_new = ch.merge(years, how="cross")
            mem_new = mem_new[mem_new["year"] >= mem_new["open_year"]].drop(columns="open_year").assign(new=True)
            members = pd.concat([mem_ex, mem_new], ignore_index=True)
        else:
            members = mem_ex
        load = flow.groupby(["pool", "year"], as_index=False)["flow"].sum().rename(columns={"flow": "load"})
        members = members.merge(load, on=["pool", "year"], how="inner")
        tot = members.groupby(["pool", "year"])[["std", "over"]].transform("sum")
        fill_std = np.minimum(1.0, members["load"] / tot["std"].where(tot["std"] > 0, np.inf))
        rest = (members["load"] - tot["std"]).clip(lower=0)
        fill_over = np.minimum(1.0, rest / tot["over"].where(tot["over"] > 0, np.inf))
        ml = members["std"] * fill_std + members["over"] * fill_over
        members["share"] = np.where(members["load"] > 0, ml / members["load"].where(members["load"] > 0, 1), 0)
        asg = flow[flow["flow"] > 1e-9].merge(members[["pool", "year", "site", "share", "new"]], on=["pool", "year"])
        asg["pupils"] = asg["flow"] * asg["share"]
        asg = asg[asg["pupils"] > 1e-6]
        assignment = (asg.rename(columns={"pstreet": "site_street"})
                      [["street", "level", "year", "site", "pupils", "site_street", "new"]]
                      .groupby(["street", "level", "year", "site", "site_street", "new"], as_index=False)["pupils"].sum()
                      [["street", "level", "year", "site", "pupils", "site_street", "new"]]
                      .sort_values(["level", "year", "street", "site"]).reset_index(drop=True))

        # balance
        bal = self._demand[["street", "level", "year", "pupils"]].copy()
        nodes_v = nodes[["street", "level", "year"]].assign(shortfall=np.clip(values[U0:O0], 0, None))
        bal = bal.merge(nodes_v, on=["street", "level", "year"], how="left").fillna({"shortfall": 0.0})
        bal["assigned"] = bal["pupils"] - bal["shortfall"]
        # places by location: existing + opened
        cap_ex = pools.groupby(["pstreet", "level"], as_index=False)[["std", "over"]].sum()
        cap = cap_ex.merge(years, how="cross")
        if len(chosen):
            cn = chosen[["street", "level", "std", "over", "year"]].rename(columns={"street": "pstreet", "year": "oy"})
            cn = cn.merge(years, how="cross")
            cn = cn[cn["year"] >= cn["oy"]].groupby(["pstreet", "level", "year"], as_index=False)[["std", "over"]].sum()
            cap = pd.concat([cap, cn]).groupby(["pstreet", "level", "year"], as_index=False)[["std", "over"]].sum()
        cap = cap.rename(columns={"pstreet": "street", "std": "places"})
        cap["max_places"] = cap["places"] + cap["over"]
        here = flow.groupby(["pstreet", "level", "year"], as_index=False)["flow"].sum().rename(
            columns={"pstreet": "street", "flow": "enrolled_here"})
        o_py = self._o_py.copy()
        o_py["o"] = np.clip(values[O0:X0], 0, None)
        o_py = o_py.merge(pools[["pool", "pstreet", "level"]], on="pool")
        oc = o_py.groupby(["pstreet", "level", "year"], as_index=False)["o"].sum().rename(
            columns={"pstreet": "street", "o": "overcrowded"})
        keys = ["street", "level", "year"]
        bal = bal.merge(cap[[*keys, "places", "max_places"]], on=keys, how="outer")
        bal = bal.merge(here, on=keys, how="left").merge(oc, on=keys, how="left")
        bal = bal[bal["level"].isin(self.levels)]
        bal = bal.fillna({"pupils": 0.0, "shortfall": 0.0, "places": 0.0, "max_places": 0.0,
                          "enrolled_here": 0.0, "overcrowded": 0.0})
        bal["assigned"] = bal["pupils"] - bal["shortfall"]
        balance = bal[["street", "level", "year", "pupils", "places", "assigned", "shortfall", "overcrowded",
                       "max_places", "enrolled_here"]].sort_values(["level", "year", "street"]).reset_index(drop=True)
        return Plan(schedule=schedule, balance=balance, assignment=assignment, report=report)

    # ---------------------------------------------------------------------------------------------
    def without_new_schools(self) -> SchoolPlanModel:
        """The same instance with existing supply only (no site opens; counts, places and share
        constraints off): the counterfactual balance."""
        params = replace(self.params, new_schools=None, count_rule="at_most", places_rule="off",
                         public_share_min=None, inclusive_share_min=None, max_openings_per_year=None,
                         max_cost_per_year=None)
        return SchoolPlanModel(self.demand, self.supply, self.sites.iloc[0:0], self.distance_km, params)


def _highs_bound(prob, obj, optimal, is_mip) -> float | None:
    """Dual bound of the last HiGHS run (``mip_dual_bound`` for a MIP; the objective for a solved LP)."""
    h = getattr(prob, "solverModel", None)
    if h is None:
        return obj if optimal else None
    try:
        info = h.getInfo()
        if is_mip and getattr(info, "mip_node_count", -1) >= 0:
            bound = float(info.mip_dual_bound)
            if math.isfinite(bound):
                return bound
        return obj if optimal else None
    except Exception:  # noqa: BLE001
        return obj if optimal else None


def evaluate_without_new_schools(demand, supply, sites, distance_km, params: PlanParameters | None = None,
                                 options: SolverOptions | None = None) -> Plan:
    """The balance with existing supply only (no new school): an LP.

    Returns
    -------
    Plan
        ``schedule`` is empty; ``balance`` shows shortfall and overcrowding without new schools.
    """
    model = SchoolPlanModel(demand, supply, sites, distance_km, params).without_new_schools()
    return model.solve(options).plan


__all__ = [
    "DEFAULT_CATCHMENT_KM",
    "DEFAULT_CLASS_SIZE",
    "DEFAULT_MAX_CLASS_SIZE",
    "DEFAULT_WEIGHTS",
    "InfeasiblePlan",
    "Plan",
    "PlanParameters",
    "SchoolPlanModel",
    "SolverOptions",
    "SolverReport",
    "classify_status",
    "evaluate_without_new_schools",
    "parse_sizes",
    "relative_gap",
]
