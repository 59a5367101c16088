"""The variables and one ``define_*`` function per constraint family (PyPSA style), each adding
its rows from index arrays in one vectorised call.

Variables (see :class:`ModelFrame`): ``a`` (pupils on an arc), ``u`` (shortfall per node), ``o``
(overcrowded pupils per pool-year that can have any), ``x`` (binary open options). Families:

===================  ======================================================================  ===========
family               rows                                                                    relaxable
===================  ======================================================================  ===========
``demand``           ``sum_p a[s,p,t] + u[s,l,t] = pupils[s,l,t]``                            no
``places``           ``sum_s a[s,p,t] - o[p,t] <= std_p + sum_{tau<=t} std_opt x``             no
                     (a conversion: ``+std_opt x`` at the pool it converts; module
                     :mod:`capacity.optimize.conversion`)
``overcrowded``      ``o[p,t] <= over_p + sum_{tau<=t} over_opt x`` (where options add some)  no
``site``             at most one option per site                                             no
``count``            ``new_schools`` per level (``count_rule``; expansions if counted)       ``counts``
``kgplaces``         new kindergarten places (``places_rule``)                               ``places``
``openings``/``cost``  openings per level and year, capital cost per year                    ``yearly_limits``
``sharepub``/``shareinc``  kindergarten public / inclusive share in ``target_year``          ``shares``
``fill``             existing private kindergarten places kept filled (``private_min_fill``;  ``fill``
                     :func:`capacity.optimize.sharing.define_min_fill`)
``symmetry``         identical sites open in order of site id (module ``symmetry``)          no
===================  ======================================================================  ===========

Overcrowded places of existing supply bound ``o`` as a variable bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pulp

from capacity.optimize.conversion import option_effects
from capacity.optimize.index import PlanIndex, counted
from capacity.optimize.sharing import define_min_fill
from capacity.optimize.symmetry import define_symmetry

LE, GE, EQ = pulp.LpConstraintLE, pulp.LpConstraintGE, pulp.LpConstraintEQ


def expr(vars_, coefs) -> pulp.LpAffineExpression:
    """``sum coef * var`` as one PuLP expression."""
    return pulp.LpAffineExpression(list(zip(vars_, coefs, strict=True)))


@dataclass
class ModelFrame:
    """The PuLP problem under construction and the positions of its variables.

    ``V`` holds every variable in the order ``a, u, o, x``; ``offsets = (A0, U0, O0, X0, N)``.
    ``py`` lists the pool-years that carry arcs (``py, pool, year, std, over, has_o``) and ``o_py``
    those with an overcrowding variable. ``varlev`` is each variable's level code: a row whose
    variables span several levels links them (``linked``); rows that stay inside one level are also
    kept per level in ``level_rows`` so that levels can be solved apart.
    """

    ix: PlanIndex
    prob: pulp.LpProblem
    V: list
    offsets: tuple
    py: pd.DataFrame
    o_py: pd.DataFrame
    oy: pd.DataFrame
    varlev: np.ndarray
    level_rows: list = field(default_factory=list)
    n_constraints: int = 0
    linked: bool = False
    #: variable blocks added after ``a, u, o, x`` by a family: name -> (start, stop) in ``V``
    blocks: dict = field(default_factory=dict)

    def add_variables(self, name: str, upper, level_codes) -> int:
        """Append continuous variables ``name_i >= 0`` (``upper``: bounds, None = none) of the
        given level codes; returns the position of the first one in ``V``."""
        start = len(self.V)
        self.V += [self._new_var(f"{name}_{i}", 0, u, pulp.LpContinuous) for i, u in enumerate(upper)]
        self.varlev = np.r_[self.varlev, np.asarray(level_codes, dtype=np.int64)]
        self.blocks[name] = (start, len(self.V))
        return start

    def add_rows(self, family: str, row, col, coef, rhs, sense) -> None:
        """Add the rows ``sum_j coef * V[col] (sense) rhs[row]`` of one family (triplets; duplicate
        entries are summed, zeros dropped)."""
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
        lv = self.varlev[col]
        lo, hi = np.minimum.reduceat(lv, starts), np.maximum.reduceat(lv, starts)
        self.linked = self.linked or bool((lo != hi).any())
        V, prob = self.V, self.prob
        for r, s, e, c in zip(row[starts].tolist(), starts.tolist(), ends.tolist(), lo.tolist(), strict=True):
            e_ = pulp.LpAffineExpression(list(zip([V[c] for c in cl[s:e]], vl[s:e], strict=True)))
            con = pulp.LpConstraint(e_, sense, name=f"{family}_{r}", rhs=float(rhs[r]))
            prob.addConstraint(con)
            self.level_rows[c].append(con)
            self.n_constraints += 1

    def add_empty_row(self, name: str, sense, rhs: float) -> None:
        """A family with no variable (``0 sense rhs``), kept visible to the solver; it links the
        whole model, so an infeasible one is solved as a whole and then diagnosed."""
        dummy = self._new_var(f"{name}_none", 0, 0, pulp.LpContinuous)
        self.prob.addConstraint(pulp.LpConstraint(expr([dummy], [1.0]), sense, f"{name}_0", rhs=rhs))
        self.linked = True

    def _new_var(self, name, lb, ub, cat):
        add_var = getattr(self.prob, "add_variable", None)
        if add_var is not None:
            return add_var(name, lb, ub, cat)
        return pulp.LpVariable(name, lb, ub, cat)


def define_variables(ix: PlanIndex, name: str = "school_plan") -> ModelFrame:
    """Create the problem and the variables ``a, u, o, x`` with their bounds."""
    prob = pulp.LpProblem(name, pulp.LpMinimize)
    add_var = getattr(prob, "add_variable", None)

    def mk(prefix, ub, cat):
        if add_var is not None:
            return [add_var(f"{prefix}_{i}", 0, u, cat) for i, u in enumerate(ub)]
        return [pulp.LpVariable(f"{prefix}_{i}", 0, u, cat) for i, u in enumerate(ub)]

    arcs, nodes, pools, opt = ix.arcs, ix.nodes, ix.pools, ix.options
    # pool-years that carry arcs
    py = arcs[["pool", "year"]].drop_duplicates().sort_values(["pool", "year"]).reset_index(drop=True)
    py["py"] = np.arange(len(py))
    py = py.merge(pools[["pool", "std", "over"]], on="pool", how="left")
    # options x pool-years they serve (open year <= year)
    # (a conversion also takes its places from the pool it converts: a second row, ostd < 0)
    oy = option_effects(opt).merge(py[["pool", "year", "py"]], on="pool")
    oy = oy[oy["tau"] <= oy["year"]]
    py["has_opt_over"] = py["py"].isin(oy.loc[oy["oover"] > 0, "py"])
    py["has_o"] = (py["over"] > 0) | py["has_opt_over"]
    o_py = py[py["has_o"]].reset_index(drop=True)
    o_ub = np.where(o_py["has_opt_over"], np.nan, o_py["over"])

    na, nu, no, nx = len(arcs), len(nodes), len(o_py), len(opt)
    V = []
    V += mk("a", arcs["pupils"].tolist(), pulp.LpContinuous)
    V += mk("u", nodes["pupils"].tolist(), pulp.LpContinuous)
    V += mk("o", [None if np.isnan(x) else float(x) for x in o_ub], pulp.LpContinuous)
    V += mk("x", [1] * nx, pulp.LpBinary)
    offsets = (0, na, na + nu, na + nu + no, len(V))
    lcode = {lv: i for i, lv in enumerate(ix.levels)}
    pool_lv = pools["level"].map(lcode).to_numpy()
    varlev = np.r_[arcs["level"].map(lcode).to_numpy(), nodes["level"].map(lcode).to_numpy(),
                   pool_lv[o_py["pool"].to_numpy()] if no else np.array([], int),
                   opt["level"].map(lcode).to_numpy()].astype(np.int64)
    return ModelFrame(ix=ix, prob=prob, V=V, offsets=offsets, py=py, o_py=o_py, oy=oy, varlev=varlev,
                      level_rows=[[] for _ in ix.levels])


def define_demand(m: ModelFrame) -> None:
    """Every pupil is taught in a pool of the catchment or counted as shortfall."""
    arcs, nodes = m.ix.arcs, m.ix.nodes
    A0, U0 = m.offsets[0], m.offsets[1]
    nu = len(nodes)
    m.add_rows("demand", np.r_[arcs["node"].to_numpy(), np.arange(nu)],
               np.r_[A0 + arcs["a"].to_numpy(), U0 + np.arange(nu)], np.r_[np.ones(len(arcs)), np.ones(nu)],
               nodes["pupils"].to_numpy(), EQ)


def define_places(m: ModelFrame) -> None:
    """Standard places per pool-year (existing plus sites open by then, less the places conversions
    open by then have taken to the inclusive pool), with overcrowded pupils ``o`` above them; and,
    where new sites add overcrowded places, the bound on ``o``."""
    A0, _, O0, X0, _ = m.offsets
    py, o_py, oy = m.py, m.o_py, m.oy
    no = len(o_py)
    a_py = m.ix.arcs[["pool", "year", "a"]].merge(py[["pool", "year", "py"]], on=["pool", "year"])
    m.add_rows("places",
               np.r_[a_py["py"].to_numpy(), o_py["py"].to_numpy(), oy["py"].to_numpy()],
               np.r_[A0 + a_py["a"].to_numpy(), O0 + np.arange(no), X0 + oy["opt"].to_numpy()],
               np.r_[np.ones(len(a_py)), -np.ones(no), -oy["ostd"].to_numpy()],
               py["std"].to_numpy(), LE)
    over_from_opt = oy[oy["oover"] > 0]
    if len(over_from_opt):
        o_of_py = np.full(len(py), -1)
        o_of_py[o_py["py"].to_numpy()] = np.arange(no)
        bounded = o_py.loc[o_py["has_opt_over"], "py"].to_numpy()
        m.add_rows("overcrowded",
                   np.r_[over_from_opt["py"].to_numpy(), bounded],
                   np.r_[X0 + over_from_opt["opt"].to_numpy(), O0 + o_of_py[bounded]],
                   np.r_[-over_from_opt["oover"].to_numpy(), np.ones(len(bounded))],
                   py["over"].to_numpy(), LE)


def define_one_option_per_site(m: ModelFrame) -> None:
    """A site opens at most once, in one year, at one size."""
    opt = m.ix.options
    if len(opt):
        site_id = opt["site"].astype("category").cat.codes.to_numpy()
        m.add_rows("site", site_id, m.offsets[3] + opt["opt"].to_numpy(), np.ones(len(opt)),
                   np.ones(site_id.max() + 1), LE)


def define_counts(m: ModelFrame) -> None:
    """``new_schools`` per level: exactly or at most (``count_rule``)."""
    req = m.ix.required()
    if not req:
        return
    opt = m.ix.options
    lv_list = list(req)
    lv_code = opt["level"].map({lv: i for i, lv in enumerate(lv_list)})
    mask = lv_code.notna().to_numpy() & counted(opt, m.ix.params, "schools")
    rhs = np.array([req[lv] for lv in lv_list], float)
    m.add_rows("count", lv_code[mask].astype(int).to_numpy(), m.offsets[3] + opt.loc[mask, "opt"].to_numpy(),
               np.ones(int(mask.sum())), rhs, EQ if m.ix.params.count_rule == "exact" else LE)


def define_kindergarten_places(m: ModelFrame) -> None:
    """New kindergarten places total ``kindergarten_new_places`` (``places_rule``)."""
    p = m.ix.params
    if p.places_rule == "off":
        return
    opt = m.ix.options
    sel = (opt["level"] == p.kindergarten_level).to_numpy() & counted(opt, p, "places")
    sense = EQ if p.places_rule == "exact" else GE
    if sel.any():
        m.add_rows("kgplaces", np.zeros(int(sel.sum()), int), m.offsets[3] + opt.loc[sel, "opt"].to_numpy(),
                   opt.loc[sel, "std"].to_numpy(), np.array([float(p.kindergarten_new_places)]), sense)
    elif p.kindergarten_new_places > 0:
        m.add_empty_row("kgplaces", EQ, float(p.kindergarten_new_places))


def define_yearly_limits(m: ModelFrame) -> None:
    """Openings per level and year (``max_openings_per_year``) and capital cost per year
    (``max_cost_per_year``, million CNY) of new schools and expansions (conversions are neither)."""
    p, opt, X0 = m.ix.params, m.ix.options, m.offsets[3]
    building = (opt["kind"] != "conversion").to_numpy()  # a conversion is no opening, no capital
    if p.max_openings_per_year:
        lim = {lv: int(v) for lv, v in p.max_openings_per_year.items()}
        sel = opt["level"].isin(list(lim)).to_numpy() & building
        if sel.any():
            key = opt.loc[sel, ["level", "year"]].astype(str).agg("|".join, axis=1)
            codes, uniq = pd.factorize(key, sort=True)
            rhs = np.array([lim[u.split("|")[0]] for u in uniq], float)
            m.add_rows("openings", codes, X0 + opt.loc[sel, "opt"].to_numpy(), np.ones(int(sel.sum())), rhs, LE)
    if p.max_cost_per_year is not None:
        sel = (opt["cost"] > 0).to_numpy() & building
        if sel.any():
            codes, uniq = pd.factorize(opt.loc[sel, "year"], sort=True)
            m.add_rows("cost", codes, X0 + opt.loc[sel, "opt"].to_numpy(), opt.loc[sel, "cost"].to_numpy(),
                       np.full(len(uniq), float(p.max_cost_per_year)), LE)


def define_shares(m: ModelFrame) -> None:
    """Kindergarten children in public / inclusive places in ``target_year``: at least the share of
    *all* kindergarten-age pupils that year (a target can never be met by leaving children out)."""
    p, arcs, pools = m.ix.params, m.ix.arcs, m.ix.pools
    dem = m.ix.demand
    kg = p.kindergarten_level
    total = float(dem.loc[(dem["level"] == kg) & (dem["year"] == p.target_year), "pupils"].sum())
    for flag, share in (("pub", p.public_share_min), ("inc", p.inclusive_share_min)):
        if share is None or total <= 0:
            continue
        pf = pools.loc[pools[flag], "pool"]
        sel = ((arcs["year"] == p.target_year) & arcs["pool"].isin(pf)).to_numpy()
        need = float(share) * total
        if sel.any():
            m.add_rows(f"share{flag}", np.zeros(int(sel.sum()), int), m.offsets[0] + arcs.loc[sel, "a"].to_numpy(),
                       np.ones(int(sel.sum())), np.array([need]), GE)
        else:
            m.add_empty_row(f"share{flag}", GE, need)


def define_equity(m: ModelFrame) -> None:
    """The largest share of a street's pupils without a place, per level and year:
    ``u[s,l,t] <= z[l,t] * pupils[s,l,t]`` with ``z[l,t] >= 0`` (a share, 0-1); the ``equity``
    stage minimises ``sum z``. Added only when ``params.equity`` and the lexicographic order has
    an ``equity`` stage."""
    p, nodes = m.ix.params, m.ix.nodes
    if not uses_stage(p, "equity") or not len(nodes):
        return
    lt = nodes["level"].astype(str) + "|" + nodes["year"].astype(str)
    code, uniq = pd.factorize(lt, sort=True)
    lcode = {lv: i for i, lv in enumerate(m.ix.levels)}
    z0 = m.add_variables("z", [None] * len(uniq), [lcode[u.split("|")[0]] for u in uniq])
    n = len(nodes)
    m.add_rows("equity", np.r_[np.arange(n), np.arange(n)],
               np.r_[m.offsets[1] + np.arange(n), z0 + code],
               np.r_[np.ones(n), -nodes["pupils"].to_numpy(float)], np.zeros(n), LE)


def stage_order(p) -> tuple[str, ...]:
    """The lexicographic stages of ``p``: ``objective_order`` or ``PLAN_ORDER``, without
    ``equity`` unless ``p.equity``; the weighted method has no stage order (one weighted sum)."""
    from capacity.optimize.parameters import PLAN_ORDER

    order = tuple(p.objective_order) if p.objective_order is not None else PLAN_ORDER
    return tuple(s for s in order if s != "equity" or p.equity)


def uses_stage(p, stage: str) -> bool:
    return p.method == "lexicographic" and stage in stage_order(p)


#: Constraint families in the order they are added, with the name under which each can be relaxed
#: (``None``: never relaxed).
FAMILY_DEFINITIONS = (
    (define_demand, None),
    (define_places, None),
    (define_one_option_per_site, None),
    (define_counts, "counts"),
    (define_kindergarten_places, "places"),
    (define_yearly_limits, "yearly_limits"),
    (define_shares, "shares"),
    (define_equity, None),
    (define_min_fill, "fill"),
    (define_symmetry, None),
)


def define_constraints(m: ModelFrame, relax: frozenset[str] = frozenset()) -> None:
    """Add every family not named in ``relax`` (``counts``, ``places``, ``yearly_limits``,
    ``shares``, ``fill``)."""
    for define, family in FAMILY_DEFINITIONS:
        if family is None or family not in relax:
            define(m)
