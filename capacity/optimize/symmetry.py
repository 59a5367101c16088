"""Symmetry between identical candidate sites: open them in order.

Two candidate sites are identical when the model cannot tell them apart: same street, level, pool
(kindergarten flags), first possible year, allowed sizes, cost per class and ``public`` /
``inclusive`` flags. Any plan can swap the whole opening (year and size) of two identical sites
without changing a single row or term, so the branch-and-bound would otherwise explore each plan once
per permutation of the sites. The family ``symmetry`` keeps one of them: with the identical sites of a
group sorted by site id, site ``i+1`` has opened by year ``t`` only if site ``i`` has:

``sum_{tau <= t, k} x[i+1, tau, k] - sum_{tau <= t, k} x[i, tau, k] <= 0``  for every ``t``

(so it opens only if site ``i`` opens, and not earlier). The optimum is unchanged; among plans that
tie, the lower site id opens first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

IDENTITY = ["pool", "street", "level", "first_open", "size_set", "cost_per_class", "public", "inclusive",
            "kind"]


def identical_pairs(opt: pd.DataFrame) -> pd.DataFrame:
    """Consecutive pairs ``first, second`` (site ids) of identical sites, sorted by site id."""
    if not len(opt):
        return pd.DataFrame(columns=["first", "second"])
    sizes = opt.groupby("site")["classes"].agg(lambda c: tuple(sorted(set(c)))).rename("size_set")
    sites = (opt.drop_duplicates("site").set_index("site").join(sizes).reset_index()
             .sort_values("site", kind="stable"))
    grp = sites.groupby([c for c in IDENTITY if c in sites], sort=False, dropna=False).ngroup().to_numpy()
    order = np.lexsort((sites["site"].to_numpy(), grp))
    g, s = grp[order], sites["site"].to_numpy()[order]
    same = g[1:] == g[:-1]
    return pd.DataFrame({"first": s[:-1][same], "second": s[1:][same]})


def define_symmetry(m) -> None:
    """Identical sites open in order of site id (rows ``symmetry``, one per pair and year)."""
    from capacity.optimize.constraints import LE

    opt = m.ix.options
    pairs = identical_pairs(opt)
    if not len(pairs):
        return
    pairs["pair"] = np.arange(len(pairs))
    years = opt[["site", "year"]].drop_duplicates().rename(columns={"year": "t"})
    rows = pairs.merge(years, left_on="first", right_on="site")[["pair", "first", "second", "t"]]
    rows["row"] = np.arange(len(rows))
    parts = []
    for col, sign in (("second", 1.0), ("first", -1.0)):
        r = rows.merge(opt[["site", "year", "opt"]], left_on=col, right_on="site")
        r = r[r["year"] <= r["t"]]
        parts.append((r["row"].to_numpy(), r["opt"].to_numpy(), np.full(len(r), sign)))
    row, col, coef = (np.concatenate(z) for z in zip(*parts, strict=True))
    m.add_rows("symmetry", row, m.offsets[3] + col, coef, np.zeros(len(rows)), LE)
