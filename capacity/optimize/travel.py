"""How far the plan sends pupils, per level: mean and longest trip (km between street points, or
the cost unit of the distance table), from a solution vector.

A trip inside the pupils' own street counts as 0 km (distances are between street points)."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Flows below this many pupils are not counted as trips (a thousandth of a pupil).
MIN_PUPILS = 1e-3


def travel_by_level(ix, offsets, values: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
    """``(mean_travel, max_travel)`` by level: pupil-weighted mean km of the assigned pupils over
    all balance years, and the longest trip any assigned pupil makes (levels with no assigned
    pupil are left out)."""
    A0, U0 = offsets[0], offsets[1]
    arcs = ix.arcs
    if not len(arcs):
        return {}, {}
    f = pd.DataFrame({"level": arcs["level"].to_numpy(), "dist": arcs["dist"].to_numpy(float),
                      "a": np.clip(values[A0:U0], 0, None)})
    f = f[f["a"] >= MIN_PUPILS]
    if not len(f):
        return {}, {}
    f["pkm"] = f["a"] * f["dist"]
    g = f.groupby("level", sort=True)
    mean = (g["pkm"].sum() / g["a"].sum()).to_dict()
    longest = g["dist"].max().to_dict()
    return ({str(k): float(v) for k, v in mean.items()}, {str(k): float(v) for k, v in longest.items()})
