"""The model class: construct from tables, ``check()``, ``build()``, ``solve()``, read ``.plan``
(spopt style). The work is done by the functions of the other modules of this package."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pulp

from capacity.optimize import checks, clean, driver, polish, sharing, travel
from capacity.optimize.constraints import define_constraints, define_variables
from capacity.optimize.driver import BuiltModel
from capacity.optimize.index import build_index, check_parameters, normalise_tables
from capacity.optimize.objective import term_values
from capacity.optimize.parameters import InfeasiblePlan, PlanParameters, SolverOptions
from capacity.optimize.results import Plan, SolverReport, plan_tables


def build_model(ix, relax: frozenset[str] = frozenset()) -> tuple[BuiltModel, object]:
    """Variables, constraint families (less ``relax``) and objective terms of an index; returns the
    built model and its frame (the frame keeps the pool-year tables the results need)."""
    from capacity.optimize.objective import define_terms

    frame = define_variables(ix)
    define_constraints(frame, frozenset(relax))
    components = []
    if not frame.linked:
        for c, lv in enumerate(ix.levels):
            idx = np.flatnonzero(frame.varlev == c)
            if len(idx):
                components.append((lv, frame.level_rows[c], idx))
        if len(components) < 2:
            components = []
    built = BuiltModel(prob=frame.prob, V=frame.V, terms=define_terms(frame),
                       n_constraints=frame.n_constraints, seconds=0.0, offsets=frame.offsets,
                       components=components)
    return built, frame


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
        ``cost_per_class`` (million CNY per class; NaN = 0), ``public``, ``inclusive``; optional
        ``places``: the capacity in places directly (then ``sizes`` is not needed: the site is one
        unit of that many standard places, no overcrowded places, cost ``cost_per_class``).
    distance_km : DataFrame
        Street x street distances in km (index and columns: street codes), or a long table
        ``origin, destination, cost`` (any cost unit, e.g. minutes; pairs not listed are
        unreachable; see :func:`capacity.optimize.index.distance_matrix`). ``catchment_km`` and
        the travel terms are then in that unit.
    params : PlanParameters

    Examples
    --------
    >>> model = SchoolPlanModel(demand, supply, sites, dist, PlanParameters(new_schools={"primary": 1}))
    >>> plan = model.solve(SolverOptions()).plan   # doctest: +SKIP
    """

    def __init__(self, demand, supply, sites, distance_km, params: PlanParameters | None = None):
        self.params = params or PlanParameters()
        check_parameters(self.params)
        self.demand, self.supply, self.sites, self.distance_km = normalise_tables(
            demand, supply, sites, distance_km)
        self.plan: Plan | None = None
        self._built: BuiltModel | None = None
        self._frame = None
        self.notes: list[str] = []
        #: notes naming pupils no place can reach (street, level, years), filled by ``check``
        self.unreachable: list[str] = []
        t0 = time.perf_counter()
        self.index = build_index(self.demand, self.supply, self.sites, self.distance_km, self.params)
        self.index_seconds = time.perf_counter() - t0

    # the index tables, by their planner-facing names
    years = property(lambda self: self.index.years)
    levels = property(lambda self: self.index.levels)
    pools = property(lambda self: self.index.pools)
    options = property(lambda self: self.index.options)
    nodes = property(lambda self: self.index.nodes)
    arcs = property(lambda self: self.index.arcs)
    catchment = property(lambda self: self.index.catchment)

    def check(self, raise_on_error: bool = False) -> list[str]:
        """Explain what makes the instance infeasible before solving.

        Returns
        -------
        list of str
            One message per problem, naming the level / constraint and the numbers (empty: nothing
            found). Informational notes (e.g. sites that open only after the plan period) go to
            ``self.notes``. With ``raise_on_error`` an ``InfeasiblePlan`` is raised instead.
        """
        problems, self.notes = checks.presolve_checks(self.index, self.supply, self.sites)
        self.unreachable = [n for n in self.notes if n.startswith("unreachable:")]
        if problems and raise_on_error:
            raise InfeasiblePlan("infeasible plan: " + "; ".join(problems), problems)
        return problems

    def build(self, relax: frozenset[str] | set[str] = frozenset()) -> SchoolPlanModel:
        """Create the PuLP problem from the index tables (``relax``: constraint families to leave out)."""
        t0 = time.perf_counter()
        self._built, self._frame = build_model(self.index, frozenset(relax))
        self._built.seconds = time.perf_counter() - t0 + self.index_seconds
        return self

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
        out = driver.solve_built(b, options, self.params, bool(len(self.index.options)), self._diagnose)
        # the stages once more as LPs with the schedule fixed (no lexicographic slack left), ties
        # spread pro rata over the places (every stage's value kept), then artefacts cleaned
        values, polish_note = polish.polish(b, self.params, options, out.deadline, out.values)
        values, share_note = sharing.share_ties(self.index, self._frame, values)
        values = clean.clean_values(self.index, self._frame, values)
        msgs = out.messages() + self.notes + [n for n in (polish_note, share_note) if n]
        mean_travel, max_travel = travel.travel_by_level(self.index, b.offsets, values)
        report = SolverReport(
            solver=options.solver.lower(),
            **out.report_fields(),
            build_seconds=b.seconds,
            message="; ".join(msgs) if msgs else "optimal",
            method=self.params.method,
            variables=len(b.V),
            binaries=len(self.index.options),
            constraints=b.n_constraints,
            unreachable=tuple(self.unreachable),
            mean_travel=mean_travel,
            max_travel=max_travel,
            **term_values(self.index, b.offsets, values, self._frame.blocks),
        )
        self.plan = plan_tables(self.index, b.offsets, self._frame.o_py, values, report)
        return self

    def _diagnose(self, options: SolverOptions) -> str:
        """Relax one constraint family at a time; name the one(s) whose removal restores feasibility."""
        active = checks.active_families(self.index)
        culprits = []
        quick = replace(options, time_limit=min(60.0, options.time_limit or 60.0))
        for fam in active:
            b, _ = build_model(self.index, frozenset({fam}))
            recs, vals = driver.run_stages(b.prob, b.V, [("feasibility", pulp.LpAffineExpression())], quick,
                                           None, self.params, is_mip=bool(len(self.index.options)))
            if vals is not None:
                culprits.append(fam)
        return checks.explain_infeasible(active, culprits)

    def without_new_schools(self) -> SchoolPlanModel:
        """The same instance with existing supply only (no site opens; counts, places and share
        constraints off): the counterfactual balance."""
        params = replace(self.params, new_schools=None, count_rule="at_most", places_rule="off",
                         public_share_min=None, inclusive_share_min=None, max_openings_per_year=None,
                         max_cost_per_year=None)
        return SchoolPlanModel(self.demand, self.supply, self.sites.iloc[0:0], self.distance_km, params)


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


