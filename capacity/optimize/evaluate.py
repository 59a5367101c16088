"""A fixed schedule evaluated on many futures: the second stage only, exact and batched.

With the schedule fixed, every (future, year) of a level is its own small transport LP (a
*block*): pupils of each street go to pools of the catchment, standard places first, overcrowded
places up to the legal maximum, the rest is shortfall. The lexicographic optimum of each block
(shortfall, then overcrowded pupils, then optionally travel) is what the scheduling model would
assign with that schedule. All blocks of a level are solved together as one block-diagonal LP per
stage (HiGHS through :func:`scipy.optimize.linprog`), each stage fixing every block's own optimum
(not only the sum), so that the result is exact block by block. Where every arc of a level stays in
its own street (``catchment_km = 0``) the optimum is closed form and no LP is solved:
``shortfall = max(0, P - std - over)``, ``overcrowded = min(max(0, P - std), over)``.

*Places short* = shortfall + overcrowded pupils = pupils beyond the standard places (the lexicographic
optimum also minimises this sum: augmenting a flow never lowers a pool's intake).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog

from capacity.optimize.index import build_index, normalise_tables
from capacity.optimize.parameters import PlanParameters

#: Futures per batch LP (bounds the LP size; the blocks are independent).
BATCH_FUTURES = 50
#: Most streets of a level whose cuts are enumerated (2^n sets); above it the LP is solved.
MAX_CUT_STREETS = 14
TOL = 1e-6


@dataclass(frozen=True)
class Evaluation:
    """Second-stage results of one schedule over futures.

    Attributes
    ----------
    levels : DataFrame
        ``future, level, year, pupils, shortfall, overcrowded, places_short, travel`` (pupils;
        travel in pupil-km, NaN unless asked for).
    streets : DataFrame
        ``future, level, year, street, pupils, shortfall, overcrowded, short``: by street,
        ``shortfall`` of the street's pupils and ``overcrowded`` pupils in the street's schools;
        ``short`` = either is above 1e-6. These come from one optimal assignment (the LP's), in the
        ``detail_years`` of :meth:`ScheduleEvaluator.evaluate` (default every year).
    schools : DataFrame
        ``future, level, year, site, full``: whether the pool of each opened school has all its
        standard places used (a new school is filled pro rata with the other places of its pool),
        in the same years and assignment as ``streets``, from the school's open year on.
    """

    levels: pd.DataFrame
    streets: pd.DataFrame
    schools: pd.DataFrame


def evaluate_schedule(schedule: pd.DataFrame, demands: pd.DataFrame, supply, sites, distance_km,
                      params: PlanParameters, *, travel: bool = False) -> Evaluation:
    """Evaluate a fixed schedule on every future of ``demands`` (see :class:`ScheduleEvaluator`)."""
    return ScheduleEvaluator(demands, supply, sites, distance_km, params).evaluate(schedule, travel=travel)


class ScheduleEvaluator:
    """Fixed schedules on the same futures: the index and the demand arrays are built once.

    Parameters
    ----------
    demands : DataFrame
        ``future, street, level, year, pupils``.
    supply, sites, distance_km, params
        As :class:`capacity.optimize.SchoolPlanModel`; ``first_year..last_year`` are evaluated.
    """

    def __init__(self, demands: pd.DataFrame, supply, sites, distance_km, params: PlanParameters):
        for c in ("future", "street", "level", "year", "pupils"):
            if c not in demands.columns:
                raise ValueError(f"demands: missing column {c!r}")
        if not len(demands):
            raise ValueError("demands: no rows (give at least one future)")
        self.futures = np.sort(demands["future"].unique())
        one = demands[demands["future"] == self.futures[0]]
        dem, sup, sit, dist = normalise_tables(one, supply, sites, distance_km)
        self.sites = sit
        ix = build_index(dem, sup, sit, dist, params)
        self.ix = ix
        self.streets = ix.streets
        sidx = {s: i for i, s in enumerate(self.streets)}
        self.pairs = _catchment_pairs(ix, sidx)
        d_all = demands.copy()
        d_all["street"] = d_all["street"].astype(str)
        years = ix.years
        d_all = d_all[d_all["year"].between(years[0], years[-1])]
        unknown = sorted(set(d_all["street"]) - set(sidx))
        if unknown:
            raise ValueError(f"demands: streets missing from distance_km: {unknown[:10]}")
        self.P = {}
        for level in ix.levels:
            d = d_all[d_all["level"] == level]
            P = np.zeros((len(self.futures), len(years), len(self.streets)))
            if len(d):
                fpos = np.searchsorted(self.futures, d["future"].to_numpy())
                np.add.at(P, (fpos, d["year"].to_numpy() - years[0], d["street"].map(sidx).to_numpy()),
                          d["pupils"].to_numpy(float))
            self.P[level] = np.clip(P, 0, None)

    def evaluate(self, schedule: pd.DataFrame, *, travel: bool = False,
                 detail_years: Mapping[str, int] | None = None) -> Evaluation:
        """The lexicographic second stage of ``schedule`` (``site, open_year, classes``) in every
        future; ``travel`` also minimises and reports travel (a third stage).

        ``detail_years`` (level -> year) restricts the ``streets`` and ``schools`` tables, which
        need an assignment (an LP), to one year per level; the ``levels`` table always covers every
        year (closed form or min cut where it can, else the LP)."""
        ix, futures, streets = self.ix, self.futures, self.streets
        years, pools = ix.years, ix.pools
        schedule = pd.DataFrame({"site": schedule["site"].astype(str),
                                 "open_year": schedule["open_year"].astype(int),
                                 "classes": schedule["classes"].astype(int)})
        unknown = sorted(set(schedule["site"]) - set(self.sites["site"]))
        if unknown:
            raise ValueError(f"schedule: sites not among the candidate sites: {unknown[:10]}")
        chosen = schedule.merge(ix.options, left_on=["site", "open_year", "classes"],
                                right_on=["site", "year", "classes"], how="left")
        if chosen["opt"].isna().any():
            bad = chosen.loc[chosen["opt"].isna(), ["site", "open_year", "classes"]].iloc[0]
            raise ValueError(f"schedule: site {bad['site']} cannot open in {bad['open_year']} with "
                             f"{bad['classes']} classes (not an option of the model)")
        # capacity of every pool in every year under the schedule
        std = np.repeat(pools["std"].to_numpy()[None, :], len(years), axis=0)
        over = np.repeat(pools["over"].to_numpy()[None, :], len(years), axis=0)
        for r in chosen.itertuples():
            later = years >= int(r.open_year)
            std[later, int(r.pool)] += float(r.std)
            over[later, int(r.pool)] += float(r.over)
            if getattr(r, "converts", False):  # a conversion's places leave the pool they convert
                std[later, int(r.from_pool)] -= float(r.std)
        lv_rows, st_rows, sc_rows = [], [], []
        for level in ix.levels:
            lp = pools[pools["level"] == level]
            lp_ids = lp["pool"].to_numpy()
            pr = self.pairs[self.pairs["level"] == level]
            P = self.P[level]
            S, OV = std[:, lp_ids], over[:, lp_ids]              # (Y, P_l)
            e_s = pr["street"].map({s: i for i, s in enumerate(streets)}).to_numpy()
            e_p = np.searchsorted(lp_ids, pr["pool"].to_numpy())
            e_d = pr["dist"].to_numpy(float)
            pool_street = lp["psi"].to_numpy()
            own_only = bool(np.all(pool_street[e_p] == e_s)) if len(e_s) else True
            ysel = np.arange(len(years))
            if detail_years is not None and level in detail_years:
                ysel = np.flatnonzero(years == int(detail_years[level]))
            if own_only:
                u, o, flow_p, trav = _own_street(P, S, OV, e_s, e_p)
                sf = u.sum(axis=2)
                short = sf + o.sum(axis=2)
            elif not travel and len(np.unique(e_s)) <= MAX_CUT_STREETS:
                sf = P.sum(axis=2) - _max_flow_by_cuts(P, S + OV, e_s, e_p)
                short = P.sum(axis=2) - _max_flow_by_cuts(P, S, e_s, e_p)
                u, o, flow_p, trav = _batched_lp(P[:, ysel], S[ysel], OV[ysel], e_s, e_p, e_d, False)
            else:
                u, o, flow_p, trav = _batched_lp(P, S, OV, e_s, e_p, e_d, travel)
                sf, short = u.sum(axis=2), u.sum(axis=2) + o.sum(axis=2)
            if own_only or travel or len(np.unique(e_s)) > MAX_CUT_STREETS:
                u, o, flow_p = u[:, ysel], o[:, ysel], flow_p[:, ysel]
            fy = np.indices((len(futures), len(years))).reshape(2, -1)
            lv_rows.append(pd.DataFrame({
                "future": futures[fy[0]], "level": level, "year": years[fy[1]],
                "pupils": P.sum(axis=2).reshape(-1), "shortfall": np.clip(sf, 0, None).reshape(-1),
                "overcrowded": np.clip(short - sf, 0, None).reshape(-1),
                "travel": trav.reshape(-1) if travel else np.nan}))
            P, S = P[:, ysel], S[ysel]
            yrs = years[ysel]
            o_street = np.zeros_like(u)
            np.add.at(o_street, (slice(None), slice(None), pool_street), o)
            idx = np.indices(u.shape).reshape(3, -1)
            st_rows.append(pd.DataFrame({
                "future": futures[idx[0]], "level": level, "year": yrs[idx[1]],
                "street": np.asarray(streets, dtype=object)[idx[2]], "pupils": P.reshape(-1),
                "shortfall": u.reshape(-1), "overcrowded": o_street.reshape(-1)}))
            for r in chosen[chosen["level"] == level].itertuples():
                j = int(np.searchsorted(lp_ids, int(r.pool)))
                full = flow_p[:, :, j] >= S[None, :, j] - TOL
                keep = yrs >= int(r.open_year)
                ff = np.indices((len(futures), int(keep.sum()))).reshape(2, -1)
                sc_rows.append(pd.DataFrame({"future": futures[ff[0]], "level": level,
                                             "year": yrs[keep][ff[1]], "site": r.site,
                                             "full": full[:, keep].reshape(-1)}))
        levels = pd.concat(lv_rows, ignore_index=True)
        levels["places_short"] = levels["shortfall"] + levels["overcrowded"]
        levels = levels[["future", "level", "year", "pupils", "shortfall", "overcrowded", "places_short",
                         "travel"]]
        st = pd.concat(st_rows, ignore_index=True)
        st["short"] = (st["shortfall"] > TOL) | (st["overcrowded"] > TOL)
        sc = pd.concat(sc_rows, ignore_index=True) if sc_rows else pd.DataFrame(
            {"future": pd.Series(dtype=int), "level": pd.Series(dtype=object), "year": pd.Series(dtype=int),
             "site": pd.Series(dtype=object), "full": pd.Series(dtype=bool)})
        return Evaluation(levels=levels, streets=st, schools=sc)


def _catchment_pairs(ix, sidx) -> pd.DataFrame:
    """Every (street, pool) pair of a level inside the catchment (own street always)."""
    rows = []
    pools = ix.pools
    for level in ix.levels:
        lp = pools[pools["level"] == level]
        ckm = ix.catchment.get(level)
        lim = np.inf if ckm is None else float(ckm)
        for s, si in sidx.items():
            d = ix.D[si, lp["psi"].to_numpy()]
            own = lp["psi"].to_numpy() == si
            ok = own | (d <= lim + 1e-9)
            rows.append(pd.DataFrame({"street": s, "level": level, "pool": lp["pool"].to_numpy()[ok],
                                      "dist": np.where(own, 0.0, d)[ok]}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["street", "level", "pool", "dist"])


def _max_flow_by_cuts(P, C, e_s, e_p) -> np.ndarray:
    """Most pupils placed in every (future, year), (F, Y), by the min-cut theorem.

    The network is source -> street (pupils) -> pool (any arc of the catchment, unbounded) -> sink
    (capacity ``C``). A cut keeps a set ``T`` of streets on the source side; it must then cut every
    pool reachable from ``T`` (``N(T)``) and every street outside ``T``:
    ``max flow = min_T (sum_{s not in T} P_s + sum_{p in N(T)} C_p)``. Enumerating the ``2^n``
    street sets (``n`` streets with arcs, at most :data:`MAX_CUT_STREETS`) is exact and a few matrix
    products for all futures at once. Streets without arcs place nobody.
    """
    F, Y, _ = P.shape
    st = np.unique(e_s)
    n = len(st)
    pos = np.searchsorted(st, e_s)
    adj = np.zeros((n, C.shape[1]))
    adj[pos, e_p] = 1.0
    T = ((np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1).astype(float)   # (2^n, n)
    NT = (T @ adj > 0).astype(float)                                                  # (2^n, P)
    out = np.empty((F, Y))
    for t in range(Y):
        cut = P[:, t, st] @ (1.0 - T).T + (C[t] @ NT.T)[None, :]                      # (F, 2^n)
        out[:, t] = cut.min(axis=1)
    return out


def _own_street(P, S, OV, e_s, e_p):
    """Closed form when every pupil stays in the own street: standard places first, then
    overcrowded places, pool by pool in the order of the arcs."""
    F, Y, _ = P.shape
    n_p = S.shape[1]
    flow_p = np.zeros((F, Y, n_p))
    o = np.zeros((F, Y, n_p))
    left = P.copy()
    for kind in ("std", "over"):            # fill standard places of every pool, then overcrowded
        for s_, p_ in zip(e_s.tolist(), e_p.tolist(), strict=True):
            cap = S[None, :, p_] if kind == "std" else OV[None, :, p_]
            take = np.minimum(left[:, :, s_], cap - (0 if kind == "std" else o[:, :, p_]))
            take = np.clip(take, 0, None)
            left[:, :, s_] -= take
            flow_p[:, :, p_] += take
            if kind == "over":
                o[:, :, p_] += take
    return left, o, flow_p, np.zeros((F, Y))


def _batched_lp(P, S, OV, e_s, e_p, e_d, travel: bool):
    """The lexicographic second stage of every (future, year) block, batched by futures."""
    F, Y, n_s = P.shape
    n_p, n_e = S.shape[1], len(e_s)
    u_all = np.zeros((F, Y, n_s))
    o_all = np.zeros((F, Y, n_p))
    fl_all = np.zeros((F, Y, n_p))
    tr_all = np.zeros((F, Y))
    for f0 in range(0, F, BATCH_FUTURES):
        f1 = min(F, f0 + BATCH_FUTURES)
        B = (f1 - f0) * Y
        Pb = P[f0:f1].reshape(B, n_s)
        Sb = np.broadcast_to(S[None], (f1 - f0, Y, n_p)).reshape(B, n_p)
        Ob = np.broadcast_to(OV[None], (f1 - f0, Y, n_p)).reshape(B, n_p)
        nv_b = n_e + n_s + n_p                         # variables per block: a, u, o
        nv = B * nv_b
        blk = np.arange(B)
        base = blk * nv_b
        # demand rows (B x n_s): sum_e a + u = P
        r_a = (blk[:, None] * n_s + e_s[None, :]).reshape(-1)
        c_a = (base[:, None] + np.arange(n_e)[None, :]).reshape(-1)
        r_u = (blk[:, None] * n_s + np.arange(n_s)[None, :]).reshape(-1)
        c_u = (base[:, None] + n_e + np.arange(n_s)[None, :]).reshape(-1)
        A_eq = sp.csr_matrix((np.ones(len(r_a) + len(r_u)), (np.r_[r_a, r_u], np.r_[c_a, c_u])),
                             shape=(B * n_s, nv))
        b_eq = Pb.reshape(-1)
        # place rows (B x n_p): sum_e a - o <= std
        r_pa = (blk[:, None] * n_p + e_p[None, :]).reshape(-1)
        r_po = (blk[:, None] * n_p + np.arange(n_p)[None, :]).reshape(-1)
        c_o = (base[:, None] + n_e + n_s + np.arange(n_p)[None, :]).reshape(-1)
        A_ub = sp.csr_matrix((np.r_[np.ones(len(r_pa)), -np.ones(len(r_po))], (np.r_[r_pa, r_po], np.r_[c_a, c_o])),
                             shape=(B * n_p, nv))
        b_ub = Sb.reshape(-1)
        lb = np.zeros(nv)
        ub = np.full(nv, np.inf)
        ub[c_o] = Ob.reshape(-1)
        bounds = np.c_[lb, ub]
        # per-block sums of u and o (for fixing each block's optimum)
        U_sum = sp.csr_matrix((np.ones(len(c_u)), (np.repeat(blk, n_s), c_u)), shape=(B, nv))
        O_sum = sp.csr_matrix((np.ones(len(c_o)), (np.repeat(blk, n_p), c_o)), shape=(B, nv))
        stages = [("u", U_sum), ("o", O_sum)]
        if travel:
            T_sum = sp.csr_matrix((np.tile(e_d, B), (np.repeat(blk, n_e), c_a)), shape=(B, nv))
            stages.append(("t", T_sum))
        A_fix, b_fix = [], []
        x = None
        for _, M in stages:
            c = np.asarray(M.sum(axis=0)).reshape(-1)
            A = sp.vstack([A_ub, *A_fix]).tocsr() if A_fix else A_ub
            b = np.r_[b_ub, *b_fix] if b_fix else b_ub
            res = linprog(c, A_ub=A, b_ub=b, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
            if res.status != 0:
                raise RuntimeError(f"evaluation LP failed: {res.message}")
            x = res.x
            val = M @ x
            A_fix.append(M)
            b_fix.append(val * (1 + 1e-9) + TOL)
        xb = x.reshape(B, nv_b)
        a = xb[:, :n_e]
        u_all[f0:f1] = xb[:, n_e:n_e + n_s].reshape(f1 - f0, Y, n_s)
        o_all[f0:f1] = xb[:, n_e + n_s:].reshape(f1 - f0, Y, n_p)
        fl = np.zeros((B, n_p))
        np.add.at(fl, (slice(None), e_p), a)
        fl_all[f0:f1] = fl.reshape(f1 - f0, Y, n_p)
        tr_all[f0:f1] = (a @ e_d).reshape(f1 - f0, Y)
    return u_all, o_all, fl_all, tr_all
