"""Clean a solution of solver artefacts before it becomes the plan tables.

A lexicographic stage is fixed with a small slack (:func:`capacity.optimize.driver.lex_slack`) and
solvers work to feasibility tolerances, so a solution can carry, say, 0.00001 pupils of shortfall
or an assignment of 0.00001 pupils that no planner asked for. :func:`clean_values` removes every
such value below ``threshold`` (a thousandth of a pupil by default) and re-balances:

* in every street x level x year with at least ``threshold`` pupils, an arc or a shortfall below
  the threshold is set to zero and its pupils go to the street's largest arc at the same distance
  (else its largest arc; else they stay shortfall), so every pupil is still counted once;
* overcrowded pupils per pool-year are recomputed from the loads (``max(0, load - standard
  places)`` with the schedule's sites open) and set to zero below the threshold;
* the equity variables (largest share of a street's pupils without a place, per level and year)
  are recomputed from the cleaned shortfall.

Streets whose demand itself is below the threshold are left as they are (their values are the
demand, not an artefact).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capacity.optimize.sharing import pool_year_capacity, tie_classes

#: Values below this many pupils are artefacts (a thousandth of a pupil).
THRESHOLD = 1e-3


def clean_values(ix, frame, values: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """A copy of ``values`` (order ``a, u, o, x, ...``) without artefacts below ``threshold``
    pupils (see the module docstring)."""
    A0, U0, O0, X0, N = frame.offsets
    arcs, nodes = ix.arcs, ix.nodes
    out = values.copy()
    a = np.clip(out[A0:U0], 0, None)
    u = np.clip(out[U0:O0], 0, None)
    pupils = nodes["pupils"].to_numpy(float)
    big = pupils >= threshold
    if len(arcs):
        node = arcs["node"].to_numpy()
        g = tie_classes(arcs)
        small = (a < threshold) & big[node]
        amt_all = a.copy()
        a[small] = 0.0
        small_u = (u < threshold) & big
        moved_u = np.where(small_u, u, 0.0)
        u[small_u] = 0.0
        # each snapped arc's pupils go to the largest arc of its tie class, else of its node
        df = pd.DataFrame({"node": node, "g": g, "a": a, "i": np.arange(len(a))})
        best_g = df.sort_values(["g", "a", "i"], ascending=[True, False, True]).drop_duplicates("g")
        best_n = df.sort_values(["node", "a", "i"], ascending=[True, False, True]).drop_duplicates("node")
        to_g = pd.Series(best_g["i"].to_numpy(), index=best_g["g"].to_numpy())
        ok_g = pd.Series(best_g["a"].to_numpy() > 0, index=best_g["g"].to_numpy())
        to_n = np.full(len(nodes), -1)
        has = best_n["a"].to_numpy() > 0
        to_n[best_n["node"].to_numpy()[has]] = best_n["i"].to_numpy()[has]
        # arcs: per snapped arc, target in its class if that class keeps flow
        idx = np.flatnonzero(small)
        if len(idx):
            amt = amt_all[idx]
            tg = to_g.reindex(g[idx]).to_numpy()
            okg = ok_g.reindex(g[idx]).to_numpy().astype(bool)
            dest = np.where(okg, tg, to_n[node[idx]])
            has_dest = dest >= 0
            np.add.at(a, dest[has_dest], amt[has_dest])
            np.add.at(u, node[idx][~has_dest], amt[~has_dest])
        # shortfall snapped: to the node's largest arc
        nd = np.flatnonzero(moved_u > 0)
        dest = to_n[nd]
        ok = dest >= 0
        np.add.at(a, dest[ok], moved_u[nd][ok])
        u[nd[~ok]] += moved_u[nd][~ok]
    out[A0:U0] = a
    out[U0:O0] = u
    # overcrowding recomputed from the loads
    o_py = frame.o_py
    if len(o_py):
        x = np.round(out[X0:N])
        std, _ = pool_year_capacity(frame, x)
        py = frame.py
        a_py = arcs[["pool", "year"]].merge(py[["pool", "year", "py"]], on=["pool", "year"], how="left")
        load = np.bincount(a_py["py"].to_numpy(), weights=a, minlength=len(py))
        row = o_py["py"].to_numpy()
        o = np.clip(load[row] - std[row], 0, None)
        o[o < threshold] = 0.0
        out[O0:X0] = o
    # equity: the largest share of a street's pupils without a place, per level and year
    z0, z1 = frame.blocks.get("z", (0, 0))
    if z1 > z0 and len(nodes):
        lt = nodes["level"].astype(str) + "|" + nodes["year"].astype(str)
        code, _ = pd.factorize(lt, sort=True)
        share = np.where(pupils > 0, u / np.where(pupils > 0, pupils, 1.0), 0.0)
        z = np.zeros(z1 - z0)
        np.maximum.at(z, code, share)
        out[z0:z1] = z
    return out
