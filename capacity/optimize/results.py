"""What the model returns: the solver's report (:class:`SolverReport`) and the plan tables
(:class:`Plan`), and :func:`plan_tables`, which turns a solution vector into those tables."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SolverReport:
    """What the solver did.

    ``objective`` / ``bound`` / ``gap`` belong to the last stage solved (for the lexicographic method
    the ``cost + early`` stage); ``gap`` is the largest relative gap of any stage; ``optimal`` is True
    only if every stage was proven optimal within ``mip_gap``. ``shortfall`` (pupil-years),
    ``overcrowding`` (pupil-years), ``travel`` (pupil-km), ``cost`` (million CNY), ``equity`` (sum over
    levels and years of the largest share of a street's pupils without a place; None without the
    equity stage) and ``early``
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
    equity: float | None = None
    variables: int = 0
    binaries: int = 0
    constraints: int = 0
    stages: tuple[Mapping[str, object], ...] = ()
    #: pupils no place can reach, named before solving (street, level, years, pupil-years; see
    #: :func:`capacity.optimize.checks.unreachable_demand`); also in ``message``
    unreachable: tuple[str, ...] = ()
    #: by level: pupil-weighted mean trip and longest trip of the assigned pupils over the balance
    #: years (km between street points; 0 inside the own street; :mod:`capacity.optimize.travel`)
    mean_travel: Mapping[str, float] | None = None
    max_travel: Mapping[str, float] | None = None

    def to_dict(self) -> dict:
        """JSON-ready dict (NaN/inf become None)."""
        return _jsonable(asdict(self))

    def outcome(self) -> str:
        """The solve in words for a planner (:func:`outcome_text`)."""
        return outcome_text(self.optimal, self.gap)


def gap_text(gap: float | None) -> str:
    """A relative gap in per cent, two significant digits (``"12%"``); ``"n/a"`` when unknown."""
    return "n/a" if gap is None or not math.isfinite(gap) else f"{100 * gap:.2g}%"


def outcome_text(optimal: bool, gap: float | None) -> str:
    """``"optimal"``, or, for a plan the solver did not prove (PuLP and HiGHS then still say status
    ``Optimal``), ``"not proven optimal: the best plan found before the time limit (or an early
    stop), gap 12%"`` (``gap`` relative, :func:`gap_text`)."""
    if optimal:
        return "optimal"
    return ("not proven optimal: the best plan found before the time limit (or an early stop), "
            f"gap {gap_text(gap)}")


@dataclass(frozen=True)
class Plan:
    """The result: ``schedule`` (``site, street, level, open_year, classes, places, cost, public,
    inclusive, kind``; cost in million CNY; ``kind`` ``new``, ``expansion`` or ``conversion``: for a
    conversion ``places`` are the places made inclusive and ``cost`` the subsidy to ``plan_end``), ``balance`` (``street, level, year, pupils, places, assigned,
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
    #: standard pupils per class by level (the places of one class), as the model used them
    class_size: Mapping[str, float] | None = None
    #: standard pupils per class by grade (age) of the kindergarten level, or None (one size)
    grade_class_size: Mapping[int, float] | None = None
    #: the level the grades belong to (``PlanParameters.kindergarten_level``), with grades only
    grade_level: str | None = None
    #: ``year, age, share``: each grade's share of the kindergarten level's pupils (set by the
    #: pipeline from the population; None = equal shares), read by :mod:`capacity.measures`
    grade_shares: pd.DataFrame | None = field(default=None, compare=False)

    def to_dict(self) -> dict:
        """``solver.json`` content: the report plus totals of the tables."""
        d = self.report.to_dict()
        d["totals"] = _jsonable(
            {
                "new_schools": {k: int(v) for k, v in _new_only(self.schedule).groupby("level").size().items()},
                "new_places": {
                    k: float(v) for k, v in _added(self.schedule).groupby("level")["places"].sum().items()
                },
                "pupils": float(self.balance["pupils"].sum()),
                "shortfall": float(self.balance["shortfall"].sum()),
                "overcrowded": float(self.balance["overcrowded"].sum()),
                "used_facilities": {k: int(v) for k, v in
                                    self.used_facilities().groupby("level").size().items()},
            }
        )
        return d

    def used_facilities(self, year: int | None = None) -> pd.DataFrame:
        """The facilities that teach any pupil: ``level, site, site_street, new, pupils`` (pupils
        summed over the balance years, or in ``year``; existing places are named
        ``existing:<street>[:public|private:inclusive|non-inclusive]``), by level, most pupils first."""
        a = self.assignment
        if year is not None:
            a = a[a["year"] == year]
        cols = ["level", "site", "site_street", "new"]
        out = a.groupby(cols, as_index=False, sort=True)["pupils"].sum()
        out = out[out["pupils"] > 0]
        return out.sort_values(["level", "pupils", "site"], ascending=[True, False, True],
                               kind="stable").reset_index(drop=True)[[*cols, "pupils"]]


def _new_only(schedule: pd.DataFrame) -> pd.DataFrame:
    """The new schools of a schedule (expansions and conversions left out)."""
    return schedule[schedule["kind"] == "new"] if "kind" in schedule else schedule


def _added(schedule: pd.DataFrame) -> pd.DataFrame:
    """The options of a schedule that add places (conversions left out: they move places)."""
    return schedule[schedule["kind"] != "conversion"] if "kind" in schedule else schedule


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




def plan_tables(ix, offsets, o_py, values, report: SolverReport) -> Plan:
    """The plan tables from a solution vector ``values`` (order ``a, u, o, x``; see
    :class:`capacity.optimize.constraints.ModelFrame`).

    Every pool's flow is split back onto its members (existing supply and each open site),
    standard places first and overcrowded places second, pro rata.
    """
    A0, U0, O0, X0, N = offsets
    p = ix.params
    arcs, nodes, pools, opt = ix.arcs, ix.nodes, ix.pools, ix.options
    xo = np.round(values[X0:N]) > 0.5
    chosen = opt[xo]
    schedule = pd.DataFrame({
        "site": chosen["site"].to_numpy(), "street": chosen["street"].to_numpy(),
        "level": chosen["level"].to_numpy(), "open_year": chosen["year"].to_numpy().astype(int),
        "classes": chosen["classes"].to_numpy().astype(int), "places": chosen["std"].to_numpy(),
        "cost": chosen["cost"].to_numpy(), "public": chosen["public"].to_numpy().astype(bool),
        "inclusive": chosen["inclusive"].to_numpy().astype(bool),
        "kind": chosen["kind"].to_numpy().astype(str) if "kind" in chosen else "new",
    }).sort_values(["level", "open_year", "site"]).reset_index(drop=True)

    flow = arcs[["street", "level", "year", "pool", "pstreet", "node"]].copy()
    flow["flow"] = np.clip(values[A0:U0], 0, None)
    # members of each pool per year: existing + sites open by then
    years = pd.DataFrame({"year": ix.years})
    ex = pools[(pools["std"] + pools["over"]) > 0]
    kg = p.kindergarten_level
    ex_name = np.where(
        ex["level"] == kg,
        "existing:" + ex["pstreet"] + ":" + np.where(ex["pub"], "public", "private") + ":"
        + np.where(ex["inc"], "inclusive", "non-inclusive"),
        "existing:" + ex["pstreet"],
    )
    mem_ex = ex.assign(site=ex_name, new=False)[["pool", "site", "std", "over", "new"]].merge(years, how="cross")
    conv = chosen[chosen["kind"] == "conversion"] if "kind" in chosen else chosen.iloc[:0]
    if len(conv):  # converted places leave the existing non-inclusive places from their year on
        gone = conv[["from_pool", "std", "year"]].rename(columns={"from_pool": "pool", "std": "gone"})
        gone = gone.merge(years.rename(columns={"year": "y"}), how="cross")
        gone = (gone[gone["y"] >= gone["year"]].groupby(["pool", "y"], as_index=False)["gone"].sum()
                .rename(columns={"y": "year"}))
        mem_ex = mem_ex.merge(gone, on=["pool", "year"], how="left").fillna({"gone": 0.0})
        mem_ex["std"] = (mem_ex["std"] - mem_ex["gone"]).clip(lower=0.0)
        mem_ex = mem_ex.drop(columns="gone")
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
    bal = ix.demand[["street", "level", "year", "pupils"]].copy()
    nodes_v = nodes[["street", "level", "year"]].assign(shortfall=np.clip(values[U0:O0], 0, None))
    bal = bal.merge(nodes_v, on=["street", "level", "year"], how="left").fillna({"shortfall": 0.0})
    bal["assigned"] = bal["pupils"] - bal["shortfall"]
    # places by location: existing + opened
    cap_ex = pools.groupby(["pstreet", "level"], as_index=False)[["std", "over"]].sum()
    cap = cap_ex.merge(years, how="cross")
    built = chosen[chosen["kind"] != "conversion"] if "kind" in chosen else chosen
    if len(built):  # (a conversion moves places inside its street: no change there)
        cn = built[["street", "level", "std", "over", "year"]].rename(columns={"street": "pstreet", "year": "oy"})
        cn = cn.merge(years, how="cross")
        cn = cn[cn["year"] >= cn["oy"]].groupby(["pstreet", "level", "year"], as_index=False)[["std", "over"]].sum()
        cap = pd.concat([cap, cn]).groupby(["pstreet", "level", "year"], as_index=False)[["std", "over"]].sum()
    cap = cap.rename(columns={"pstreet": "street", "std": "places"})
    cap["max_places"] = cap["places"] + cap["over"]
    here = flow.groupby(["pstreet", "level", "year"], as_index=False)["flow"].sum().rename(
        columns={"pstreet": "street", "flow": "enrolled_here"})
    o_py = o_py.copy()
    o_py["o"] = np.clip(values[O0:X0], 0, None)
    o_py = o_py.merge(pools[["pool", "pstreet", "level"]], on="pool")
    oc = o_py.groupby(["pstreet", "level", "year"], as_index=False)["o"].sum().rename(
        columns={"pstreet": "street", "o": "overcrowded"})
    keys = ["street", "level", "year"]
    bal = bal.merge(cap[[*keys, "places", "max_places"]], on=keys, how="outer")
    bal = bal.merge(here, on=keys, how="left").merge(oc, on=keys, how="left")
    bal = bal[bal["level"].isin(ix.levels)]
    bal = bal.fillna({"pupils": 0.0, "shortfall": 0.0, "places": 0.0, "max_places": 0.0,
                      "enrolled_here": 0.0, "overcrowded": 0.0})
    bal["assigned"] = bal["pupils"] - bal["shortfall"]
    balance = bal[["street", "level", "year", "pupils", "places", "assigned", "shortfall", "overcrowded",
                   "max_places", "enrolled_here"]].sort_values(["level", "year", "street"]).reset_index(drop=True)
    return Plan(schedule=schedule, balance=balance, assignment=assignment, report=report,
                class_size=dict(ix.cs),
                grade_class_size=None if p.grade_class_size is None else dict(p.grade_class_size),
                grade_level=None if p.grade_class_size is None else p.kindergarten_level)
