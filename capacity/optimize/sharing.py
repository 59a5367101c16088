"""Realistic sharing: where the objective is indifferent, spread a street's pupils over the places
open to them in proportion to those places.

Inside one street x level x year, the arcs to pools at the same distance (a *tie class*; with the
default own-street catchments of kindergartens and primary schools, all the pools of the pupils'
own street) are interchangeable for every lexicographic stage but overcrowding and the share
targets: moving pupils between them changes neither shortfall, equity, travel nor cost. The solver
picks a vertex, which can fill the public kindergartens and leave the private ones almost empty.

:func:`share_ties` redistributes after the last stage, with the schedule fixed, by one linear
programme whose feasible set keeps every earlier stage's value exactly:

* each tie class keeps its total (``sum_{i in g} a'_i = F_g``) and shortfall is not touched, so
  shortfall, equity and travel are unchanged;
* standard and overcrowded places per pool-year as in the model, with the schedule's sites open;
  total overcrowding at most its value at the solution;
* the public / inclusive share rows of ``target_year`` at least ``min(target, value at the
  solution)``, and the minimum fill rows of ``private_min_fill`` (see :func:`define_min_fill`).

It minimises ``sum_i f_i(a'_i - s_i F_g)``, where ``s_i`` is the pool's share of the tie class's
standard places that year (``sharing = "places"``; with ``"enrolment"`` its share of the base
year's enrolment, plus the places added since: :func:`sharing_basis`) and ``f_i`` a convex piecewise-linear price of
the deviation (``SEGMENT_WIDTH`` / ``SEGMENT_SLOPE``, in shares of the pool's places: least squares
in utilisation, approximately). A pool that a share target or the overcrowding
optimum forces to take more (or less) keeps that; the rest is spread pro rata.

:func:`define_min_fill` is the optional constraint family ``fill`` of the model: existing private
kindergarten places keep at least ``private_min_fill`` of their standard places filled each year, as
far as the pupils who may reach them allow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pulp
from scipy import sparse

from capacity.optimize.backend import solve_lp
from capacity.optimize.conversion import converted_by_pool_year

if TYPE_CHECKING:
    from capacity.optimize.constraints import ModelFrame

#: Values ``PlanParameters.sharing`` may take.
SHARING = ("places", "enrolment", "off")
#: The deviation from the pro-rata part is priced piecewise linearly and convex (an approximation
#: of least squares in utilisation): the first 2 % of a pool-year's standard places cost 1 per
#: pupil, the next 3 % 2, ... and beyond 40 % 32, so that where a target forces pupils away from
#: their pro-rata parts, the shift is spread over the pools instead of piled onto one.
SEGMENT_WIDTH = np.array([0.02, 0.03, 0.05, 0.10, 0.20, np.inf])
SEGMENT_SLOPE = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])


def pool_year_capacity(frame: ModelFrame, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standard and overcrowded places (pupils) of every pool-year of ``frame.py`` with the options
    ``x`` (0/1 per option) open: existing places plus the sites open by that year."""
    py, oy = frame.py, frame.oy
    std = py["std"].to_numpy(float).copy()
    over = py["over"].to_numpy(float).copy()
    if len(oy):
        on = x[oy["opt"].to_numpy()] > 0.5
        np.add.at(std, oy["py"].to_numpy()[on], oy["ostd"].to_numpy(float)[on])
        np.add.at(over, oy["py"].to_numpy()[on], oy["oover"].to_numpy(float)[on])
    return std, over


def sharing_basis(ix, py: pd.DataFrame, std: np.ndarray) -> np.ndarray:
    """What each pool-year's part of its tie class is proportional to: its standard places ``std``
    (``sharing = "places"``), or (``"enrolment"``) the base year's pupils of its existing places
    plus the standard places the options open by then add (a conversion: minus at the pool it
    converts, plus at the inclusive pool), at least 0."""
    if ix.params.sharing != "enrolment":
        return std
    pools = ix.pools.set_index("pool")
    pool = py["pool"].to_numpy()
    existing = pools["std"].reindex(pool).to_numpy(float)
    enrolled = pools["enrolled"].reindex(pool).to_numpy(float)
    return np.maximum(enrolled + std - existing, 0.0)


def tie_classes(arcs: pd.DataFrame) -> np.ndarray:
    """Tie class code of every arc: arcs of one node (street x level x year) at the same distance
    (km, to 1e-9)."""
    if not len(arcs):
        return np.array([], dtype=np.int64)
    key = pd.DataFrame({"node": arcs["node"].to_numpy(), "d": np.round(arcs["dist"].to_numpy(float), 9)})
    return key.groupby(["node", "d"], sort=True).ngroup().to_numpy()


def proportional_targets(arcs: pd.DataFrame, flow: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Each arc's pro-rata part of its tie class's flow: ``flow_g * basis_i / sum_g basis`` (equal
    parts where the class has no basis at all)."""
    g = tie_classes(arcs)
    if not len(g):
        return np.zeros(0)
    n = g.max() + 1
    F = np.bincount(g, weights=flow, minlength=n)
    B = np.bincount(g, weights=basis, minlength=n)
    cnt = np.bincount(g, minlength=n).astype(float)
    share = np.where(B[g] > 0, basis / np.where(B[g] > 0, B[g], 1.0), 1.0 / cnt[g])
    return F[g] * share


def _share_rows(ix, arcs: pd.DataFrame, a_now: np.ndarray):
    """``(arc mask, lower bound)`` of each active share row (public / inclusive in target_year)."""
    p, pools, dem = ix.params, ix.pools, ix.demand
    kg = p.kindergarten_level
    total = float(dem.loc[(dem["level"] == kg) & (dem["year"] == p.target_year), "pupils"].sum())
    rows = []
    for flag, share in (("pub", p.public_share_min), ("inc", p.inclusive_share_min)):
        if share is None or total <= 0:
            continue
        sel = ((arcs["year"] == p.target_year) & arcs["pool"].isin(pools.loc[pools[flag], "pool"])).to_numpy()
        if sel.any():
            rows.append((sel, min(float(share) * total, float(a_now[sel].sum()))))
    return rows


def min_fill_rows(ix, py: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Pool-years under ``private_min_fill`` and their required pupils: existing private (not
    public) kindergarten places, ``min(fill x standard places, pupils of the nodes whose arcs reach
    the pool that year)``."""
    p, pools, arcs = ix.params, ix.pools, ix.arcs
    if p.private_min_fill is None or not len(py):
        return np.array([], dtype=np.int64), np.zeros(0)
    priv = pools.loc[(pools["level"] == p.kindergarten_level) & ~pools["pub"] & (pools["std"] > 0), "pool"]
    sel = py["pool"].isin(priv).to_numpy()
    reach = arcs.groupby(["pool", "year"])["pupils"].sum()
    idx = pd.MultiIndex.from_frame(py[["pool", "year"]])
    reachable = reach.reindex(idx).fillna(0.0).to_numpy()
    need = np.minimum(float(p.private_min_fill) * py["std"].to_numpy(float), reachable)
    keep = sel & (need > 0)
    return np.flatnonzero(keep), need[keep]


def define_min_fill(m: ModelFrame) -> None:
    """Family ``fill``: ``sum_s a[s, p, t] + f * converted[p, t] >= min(f * std_p, reachable
    pupils)`` (``f = private_min_fill``) for every existing private kindergarten pool ``p`` and
    balance year ``t`` (``std_p``: its existing standard places; reachable: the pupils of the
    streets whose catchment reaches it; ``converted``: the places conversions open by ``t`` take
    from it to the inclusive pool, whose own requirement stays that of its existing places)."""
    rows, need = min_fill_rows(m.ix, m.py)
    if not len(rows):
        return
    a_py = m.ix.arcs[["pool", "year", "a"]].merge(m.py[["pool", "year", "py"]], on=["pool", "year"])
    pos = np.full(len(m.py), -1)
    pos[rows] = np.arange(len(rows))
    r = pos[a_py["py"].to_numpy()]
    keep = r >= 0
    # places converted to inclusive leave the pool's requirement: + fill x converted places
    cv = m.oy[(m.oy["ostd"] < 0).to_numpy()]
    rc = pos[cv["py"].to_numpy()]
    kc = rc >= 0
    f = float(m.ix.params.private_min_fill)
    m.add_rows("fill", np.r_[r[keep], rc[kc]],
               np.r_[m.offsets[0] + a_py["a"].to_numpy()[keep], m.offsets[3] + cv["opt"].to_numpy()[kc]],
               np.r_[np.ones(int(keep.sum())), -f * cv["ostd"].to_numpy(float)[kc]], need,
               pulp.LpConstraintGE)


def share_ties(ix, frame: ModelFrame, values: np.ndarray) -> tuple[np.ndarray, str | None]:
    """The solution with every tie class's pupils spread pro rata over its places (see the module
    docstring); returns ``(values, note)``, the values unchanged and a note when the
    redistribution cannot be solved (``note`` None otherwise)."""
    p = ix.params
    if p.sharing == "off" or not len(ix.arcs):
        return values, None
    A0, U0, O0, X0, N = frame.offsets
    arcs, py, o_py = ix.arcs, frame.py, frame.o_py
    a_now = np.clip(values[A0:U0], 0, None)
    x = np.round(values[X0:N])
    std, over = pool_year_capacity(frame, x)
    a_py = arcs[["pool", "year"]].merge(py[["pool", "year", "py"]], on=["pool", "year"], how="left")
    arc_py = a_py["py"].to_numpy()
    target = proportional_targets(arcs, a_now, sharing_basis(ix, py, std)[arc_py])
    g = tie_classes(arcs)
    na, no, ng = len(arcs), len(o_py), int(g.max()) + 1
    K = len(SEGMENT_WIDTH)
    cnt = np.bincount(g, minlength=ng).astype(float)
    # deviations only where a class has a choice (two or more arcs); a lone arc keeps its flow
    tied = np.flatnonzero(cnt[g] > 1)
    nt = len(tied)
    # variables: a' (na), o' (no), then per segment k the deviations above (nt) and below (nt)
    nv = na + no + 2 * K * nt
    ia, io = np.arange(na), na + np.arange(no)
    dev0 = na + no
    c = np.r_[np.zeros(na + no), np.repeat(np.r_[SEGMENT_SLOPE, SEGMENT_SLOPE], nt)]
    # tie classes keep their totals; a' - sum_k above_k + sum_k below_k = target (tied arcs)
    cols_dev = dev0 + np.arange(2 * K * nt)
    rows_dev = ng + np.tile(np.arange(nt), 2 * K)
    sign_dev = np.r_[-np.ones(K * nt), np.ones(K * nt)]
    A_eq = sparse.csr_matrix((np.r_[np.ones(na), np.ones(nt), sign_dev],
                              (np.r_[g, ng + np.arange(nt), rows_dev], np.r_[ia, tied, cols_dev])),
                             shape=(ng + nt, nv))
    b_eq = np.r_[np.bincount(g, weights=a_now, minlength=ng), target[tied]]
    # segment widths in pupils: a share of the pool-year's standard places (of the class's mean
    # flow where the pool has none)
    scale = std[arc_py]
    scale = np.where(scale > 0, scale, np.maximum(b_eq[:ng][g] / cnt[g], 1.0))[tied]
    width = np.tile(np.r_[np.outer(SEGMENT_WIDTH, scale).ravel()], 2)
    rows, cols, vals, rhs = [], [], [], []
    r0 = 0

    def add(r, cidx, v, b):
        nonlocal r0
        rows.append(r0 + np.asarray(r))
        cols.append(np.asarray(cidx))
        vals.append(np.asarray(v, float))
        rhs.append(np.asarray(b, float))
        r0 += len(b)

    # standard places: load - o' <= std (pool-years without o' have none); never below the
    # solution's own load, so that the solution found stays feasible at the solver's tolerances
    o_row = o_py["py"].to_numpy()
    o_val = np.clip(values[O0:X0], 0, None)
    net = np.bincount(arc_py, weights=a_now, minlength=len(py))
    np.subtract.at(net, o_row, o_val)
    add(np.r_[arc_py, o_row], np.r_[ia, io], np.r_[np.ones(na), -np.ones(no)], np.maximum(std, net))
    # total overcrowding no larger than at the solution
    o_now = float(o_val.sum())
    if no:
        add(np.zeros(no, int), io, np.ones(no), [o_now])
    # share rows (>=) and minimum fill rows (>=) as -sum <= -lower
    for sel, lower in _share_rows(ix, arcs, a_now):
        add(np.zeros(int(sel.sum()), int), ia[sel], -np.ones(int(sel.sum())), [-lower])
    fill_rows, need = min_fill_rows(ix, py)
    if len(fill_rows):
        need = need - float(p.private_min_fill) * converted_by_pool_year(frame.oy, x, len(py))[fill_rows]
        pos = np.full(len(py), -1)
        pos[fill_rows] = np.arange(len(fill_rows))
        r = pos[arc_py]
        k = r >= 0
        load_now = np.bincount(r[k], weights=a_now[k], minlength=len(fill_rows))
        add(r[k], ia[k], -np.ones(int(k.sum())), -np.minimum(need, load_now))
    A_ub = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, nv))
    b_ub = np.concatenate(rhs)
    o_cap = over[o_row] if no else np.zeros(0)
    # an overcrowding variable never falls below its value's need: its bound is the pool-year's
    # overcrowded places (existing plus the open sites')
    bounds = np.c_[np.zeros(nv), np.r_[np.full(na, np.inf), np.maximum(o_cap, o_val), width]]
    x, message = solve_lp(c, A_ub, b_ub, A_eq, b_eq, bounds)
    if x is None:
        return values, f"pupils not spread pro rata over tied places (sharing LP: {message})"
    out = values.copy()
    out[A0:U0] = np.clip(x[:na], 0, None)
    if no:
        out[O0:X0] = np.clip(x[na:na + no], 0, None)
    return out, None
