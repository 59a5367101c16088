"""Figures of a robust plan's out-of-sample test (PNG, matplotlib + geopandas).

* :func:`places_short_figure`: per level, the distribution over the fresh draws of the pupil-years
  short (places short summed over the balance years) under the robust and the deterministic
  schedule;
* :func:`street_short_map`: per level, the probability that each street is short in the level's
  peak year, for both schedules.

Figures are :class:`matplotlib.figure.Figure` objects not registered with ``pyplot`` (as in
:mod:`capacity.maps`, whose fonts and street labels they use).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize

from capacity import maps

COLOURS = {"robust": "#1f4e9c", "deterministic": "#c0392b"}
LABELS = {"robust": "robust schedule", "deterministic": "deterministic (central) schedule"}


def _levels(result, district=None) -> list[str]:
    found = list(pd.unique(result.places_short["level"]))
    if district is not None:
        return [lv for lv in district.levels["level"] if lv in found]
    return found


def places_short_figure(result, district=None):
    """Histogram per level of pupil-years short per draw (places short summed over the balance
    years), robust vs deterministic schedule, with the means and 95th percentiles marked.

    Parameters
    ----------
    result : capacity.robust.RobustResult
    district : capacity.data.District, optional
        For the level order and labels.
    """
    levels = _levels(result, district)
    cjk = maps.cjk_font()
    with maps.mpl.rc_context(maps._rc(cjk)):
        fig = maps._figure(figsize=(4.0 * max(1, len(levels)), 3.4), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, max(1, len(levels)), squeeze=False)[0])
        ps = result.places_short
        for ax, level in zip(axes, levels, strict=False):
            tot = ps[ps["level"] == level].groupby(["plan", "future"])["places_short"].sum()
            lo, hi = float(tot.min()), float(tot.max())
            bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 31)
            for plan in ("deterministic", "robust"):
                v = tot.loc[plan].to_numpy() if plan in tot.index.get_level_values(0) else np.zeros(0)
                if not len(v):
                    continue
                ax.hist(v, bins=bins, histtype="step", lw=1.6, color=COLOURS[plan],
                        label=f"{LABELS[plan]}: mean {v.mean():,.0f}, p95 {np.percentile(v, 95):,.0f}")
                ax.axvline(v.mean(), color=COLOURS[plan], lw=1, ls="--")
            ax.set_title(maps._level_label(district, level, cjk is not None) if district is not None else level)
            ax.set_xlabel("pupil-years short (shortfall + overcrowded)")
            ax.set_ylabel("draws")
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7, frameon=False)
        fig.suptitle(f"Places short over {result.settings.evaluation_draws} futures the optimisation did not see")
    return fig


def street_short_map(district, result):
    """Maps of the probability that each street is short (pupils without a place or its schools
    overcrowded) in each level's peak year: one row per schedule, one column per level."""
    levels = _levels(result, district)
    cjk = maps.cjk_font()
    streets = district.streets.to_crs(maps.utm_crs(district.streets))
    norm = Normalize(0, 1)
    with maps.mpl.rc_context(maps._rc(cjk)):
        fig = maps._figure(figsize=(3.4 * max(1, len(levels)), 6.6), layout="constrained")
        axes = fig.subplots(2, max(1, len(levels)), squeeze=False)
        for i, plan in enumerate(("robust", "deterministic")):
            for j, level in enumerate(levels):
                ax = axes[i][j]
                st = result.streets[(result.streets["plan"] == plan) & (result.streets["level"] == level)]
                g = streets.merge(st[["street", "prob_short", "year"]], on="street", how="left")
                g.plot(column="prob_short", ax=ax, cmap=maps.SHORTFALL_CMAP, norm=norm,
                       edgecolor="#555555", linewidth=0.4, missing_kwds={"color": "#eeeeee"})
                for _, r in g.iterrows():
                    if np.isfinite(r["prob_short"]) and r["prob_short"] >= 0.05:
                        p = r.geometry.representative_point()
                        ax.annotate(f"{r['prob_short']:.0%}", (p.x, p.y), ha="center", va="center",
                                    fontsize=6)
                year = int(st["year"].iloc[0]) if len(st) else None
                lv = maps._level_label(district, level, cjk is not None)
                ax.set_title(f"{lv}, {year}\n{LABELS[plan]}", fontsize=8)
                ax.set_axis_off()
        sm = maps.mpl.cm.ScalarMappable(norm=norm, cmap=maps.SHORTFALL_CMAP)
        fig.colorbar(sm, ax=axes, shrink=0.6, label="probability the street is short")
    return fig


def write_robust_figures(out_dir, *, district, result) -> list[Path]:
    """``robust_places_short.png`` and ``robust_street_short.png`` in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [maps._save(places_short_figure(result, district), out / "robust_places_short.png"),
            maps._save(street_short_map(district, result), out / "robust_street_short.png")]
