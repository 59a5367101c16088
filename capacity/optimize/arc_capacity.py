"""A tighter bound on each arc: the pupils of one street that one pool can take.

The ``places`` and ``overcrowded`` rows bound a pool's whole load by its existing places ``E_p``
(standard plus overcrowded) and the places ``K`` of the options open by then. Read with fractional
``x``, they let a tenth of a new school absorb a tenth of its places, which is what makes the LP
relaxation weak. For one arc (street ``s``, pool ``p``, year ``t``, ``P`` pupils) with ``P > E_p``
the family ``arc_capacity`` adds

``a[s, p, t] <= E_p + sum_{options of p open by t} min(K, P - E_p) x``

It is valid for every 0/1 ``x``: with no option open it reads ``a <= E_p``; with an open option of
``K >= P - E_p`` the right-hand side is at least ``P >= a``; otherwise it is the pool's own bound
``E_p + sum K x``. So it changes no plan and no optimum, only the LP bound (a street short of
``P - E_p`` places needs a whole school, not a fraction of one). Rows are added for the arcs within
the own street (``OWN_STREET_ONLY``), where the LP otherwise hides most of the need.
"""

from __future__ import annotations

import numpy as np

#: Only arcs within the own street (distance 0); the others are left to the pool rows.
OWN_STREET_ONLY = True


def define_arc_capacity(m) -> None:
    """Rows ``arc_capacity`` (see the module docstring)."""
    from capacity.optimize.constraints import LE

    arcs, pools, opt = m.ix.arcs, m.ix.pools, m.ix.options
    if not len(opt) or not len(arcs):
        return
    e = (pools["std"] + pools["over"]).to_numpy()
    a = arcs[["a", "pool", "year", "pupils", "street", "pstreet"]]
    a = a.assign(E=e[a["pool"].to_numpy()])
    sel = a["pupils"].to_numpy() > a["E"].to_numpy() + 1e-9
    if OWN_STREET_ONLY:
        sel &= (a["street"] == a["pstreet"]).to_numpy()
    a = a[sel & a["pool"].isin(opt["pool"]).to_numpy()]
    if not len(a):
        return
    o = opt[["opt", "pool", "year", "std", "over"]].rename(columns={"year": "tau"})
    j = a[["a", "pool", "year", "pupils", "E"]].merge(o, on="pool")
    j = j[j["tau"] <= j["year"]]
    if not len(j):
        return
    rows_a = np.unique(j["a"].to_numpy())
    row_of = {v: i for i, v in enumerate(rows_a.tolist())}
    jr = j["a"].map(row_of).to_numpy()
    coef = -np.minimum((j["std"] + j["over"]).to_numpy(), (j["pupils"] - j["E"]).to_numpy())
    rhs = a.set_index("a").loc[rows_a, "E"].to_numpy()
    A0, X0 = m.offsets[0], m.offsets[3]
    m.add_rows("arc_capacity", np.r_[np.arange(len(rows_a)), jr], np.r_[A0 + rows_a, X0 + j["opt"].to_numpy()],
               np.r_[np.ones(len(rows_a)), coef], rhs, LE)
