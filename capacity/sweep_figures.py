"""Figures of a sensitivity sweep (PNG): tornado charts per level and swept curves per key.

Both read the ``sweep.csv`` table (:func:`capacity.sweep.sweep_table`; also after a round trip
through the CSV file) and use the *one-at-a-time slice* of a key: the runs in which no other
varied key differs from the scenario (``changed`` empty or that key alone). In a one-at-a-time
sweep that is every run of the key; in a grid it is the row of the grid through the scenario's own
values (absent if the grid leaves them out; the curves then show every combination, thin).

Figures are matplotlib :class:`~matplotlib.figure.Figure` objects not registered with ``pyplot``
(as in :mod:`capacity.maps`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from capacity.maps import _figure, _rc, _save, cjk_font

__all__ = ["swept_curves_figure", "tornado_figure", "write_sweep_figures"]

#: Measure column -> axis label (with unit).
LABELS = {
    "peak_pupils": "peak pupils (persons)",
    "peak_places_short": "peak places short (places)",
    "spare_places_end": "spare places, last year (places)",
    "schools_opened": "schools opened",
    "cost": "cost (million CNY)",
}
LOW_COLOUR, HIGH_COLOUR = "#4575b4", "#d73027"


def _changed(table: pd.DataFrame) -> pd.Series:
    return table["changed"].fillna("").astype(str)


def _slice(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """Rows of the baseline run and of the runs that change ``key`` alone."""
    c = _changed(table)
    return table[(c == "") | (c == key)]


def _order(values: Sequence) -> list:
    """Distinct values, numerically sorted when all are numbers, else in the order met."""
    out = []
    for v in values:
        if not any(v == o for o in out):
            out.append(v)
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
           and not (isinstance(v, float) and math.isnan(v)) for v in out):
        return sorted(out)
    return out


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{v:g}"
    return str(v)


def tornado_figure(table: pd.DataFrame, keys: Sequence[str], level: str,
                   measure: str = "peak_places_short") -> Figure:
    """Which assumption, from its low to its high value, moves ``measure`` most at ``level``.

    One bar per key, from the measure at the key's lowest value (blue, upper half of the row) to
    that at its highest (red, lower half), around the baseline run's value (the vertical line); largest swing on top. Values are
    ordered numerically (else as given). Keys without a baseline run or without a changed run are
    listed as "no one-at-a-time runs".

    Parameters
    ----------
    table : DataFrame
        ``sweep.csv``.
    keys : sequence of str
        The varied keys (columns of ``table``).
    level : str
    measure : str
        A column of :data:`capacity.sweep.MEASURES` (places, pupils, ...).
    """
    t = table[(table["level"] == level) & table[measure].notna()]
    base = t[_changed(t) == ""]
    base_value = float(base[measure].iloc[0]) if len(base) else math.nan
    bars = []
    for k in keys:
        s = _slice(t, k)
        if not len(base) or len(s) < 2:
            bars.append((k, None))
            continue
        order = _order(list(s[k]))
        by = {repr(v): float(s.loc[s[k].map(repr) == repr(v), measure].iloc[0]) for v in order}
        lo, hi = order[0], order[-1]
        vals = list(by.values())
        bars.append((k, (lo, hi, by[repr(lo)], by[repr(hi)], min(vals), max(vals))))
    bars.sort(key=lambda b: -1 if b[1] is None else b[1][5] - b[1][4])
    cjk = cjk_font()
    with mpl.rc_context(_rc(cjk)):
        fig = _figure(figsize=(8.0, 1.2 + 0.62 * max(1, len(bars))), layout="constrained")
        a = fig.subplots()
        ends = [base_value] if np.isfinite(base_value) else [0.0]
        for y, (_key, b) in enumerate(bars):
            if b is None:
                a.text(ends[0], y, "  no one-at-a-time runs", va="center", fontsize=8, color="0.4")
                continue
            lo, hi, v_lo, v_hi, v_min, v_max = b
            ends += [v_min, v_max]
            # lowest value: upper half of the row, highest: lower half
            for v, x, dy, colour in ((v_lo, lo, -0.16, LOW_COLOUR), (v_hi, hi, 0.16, HIGH_COLOUR)):
                a.barh(y + dy, v - base_value, left=base_value, height=0.3, color=colour,
                       alpha=0.85)
                right = v >= base_value
                a.text(v, y + dy, f" {_fmt(x)}: {v:,.0f} ", va="center",
                       ha="left" if right else "right", fontsize=7, color=colour)
            if v_min < min(v_lo, v_hi, base_value) or v_max > max(v_lo, v_hi, base_value):
                a.plot([v_min, v_max], [y, y], color="0.2", lw=0.8, marker="|", ms=10)
        span = max(ends) - min(ends)
        pad = 0.3 * span if span > 0 else 1.0
        a.set_xlim(min(ends) - pad, max(ends) + pad)
        a.set_yticks(range(len(bars)), [k for k, _ in bars])
        a.invert_yaxis()
        a.set_ylim(len(bars) - 0.3, -0.7)
        if np.isfinite(base_value):
            a.axvline(base_value, color="0.2", lw=1)
        a.set_xlabel(LABELS.get(measure, measure))
        a.xaxis.set_major_formatter(mpl.ticker.StrMethodFormatter("{x:,.0f}"))
        a.grid(axis="x", alpha=0.3, lw=0.5)
        handles = [Patch(color=LOW_COLOUR, label="lowest value of the assumption"),
                   Patch(color=HIGH_COLOUR, label="highest value"),
                   mpl.lines.Line2D([], [], color="0.2", label=f"baseline run: {base_value:,.0f}")]
        fig.legend(handles=handles, loc="outside lower center", ncols=3)
        fig.suptitle(f"{level}: what moves {LABELS.get(measure, measure).split(' (')[0]} most",
                     fontsize=11)
        return fig


def swept_curves_figure(table: pd.DataFrame, keys: Sequence[str], key: str,
                        measures: Sequence[str] = ("peak_pupils", "peak_places_short",
                                                   "spare_places_end")) -> Figure:
    """Each measure against the value of ``key``: one panel per measure (rows) and level (columns).

    The bold line is the key's one-at-a-time slice (the baseline run ringed); in a grid, the other
    combinations are thin grey lines. A non-numeric key is drawn on a categorical axis.
    """
    t = table[table["level"].fillna("") != ""]
    measures = [m for m in measures if t[m].notna().any()]
    levels = list(dict.fromkeys(t["level"]))
    others = [k for k in keys if k != key]
    order = _order(list(t[key]))
    numeric = all(isinstance(v, (int, float, np.integer, np.floating)) for v in order)

    def xs(values):
        return [float(v) for v in values] if numeric else [
            next(i for i, o in enumerate(order) if o == v) for v in values]

    cjk = cjk_font()
    with mpl.rc_context(_rc(cjk)):
        nr, nc = max(1, len(measures)), max(1, len(levels))
        fig = _figure(figsize=(2.9 * nc + 0.6, 2.3 * nr + 0.9), layout="constrained")
        axes = fig.subplots(nr, nc, squeeze=False, sharex=True)
        for j, lv in enumerate(levels):
            tl = t[t["level"] == lv]
            for i, m in enumerate(measures):
                a = axes[i, j]
                drawn = []
                if others:  # a grid: the other combinations (a single point is no curve)
                    for _, g in tl.groupby([tl[o].map(repr) for o in others], sort=False):
                        if len(g) < 2:
                            continue
                        g = g.assign(_x=xs(g[key])).sort_values("_x")
                        a.plot(g["_x"], g[m], color="0.75", lw=0.7, zorder=1)
                        drawn += list(g[m])
                s = _slice(tl, key)
                s = s.assign(_x=xs(s[key])).sort_values("_x")
                a.plot(s["_x"], s[m], color="C0", lw=2, marker="o", ms=4, zorder=3)
                drawn += list(s[m])
                b = s[_changed(s) == ""]
                a.plot(b["_x"], b[m], ls="none", marker="o", ms=9, mfc="none", mec="0.1", zorder=4)
                lo, hi = np.nanmin(drawn), np.nanmax(drawn)
                if np.isfinite(lo) and hi - lo < max(2.0, 0.01 * abs(hi)):  # flat: say so
                    pad = max(1.0, 0.05 * abs(hi))
                    a.set_ylim(lo - pad, hi + pad)
                    a.yaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
                a.yaxis.set_major_formatter(mpl.ticker.StrMethodFormatter("{x:,.0f}"))
                if numeric and all(float(v).is_integer() for v in order):
                    a.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
                a.grid(alpha=0.3, lw=0.5)
                if i == 0:
                    a.set_title(lv)
                if j == 0:
                    a.set_ylabel(LABELS.get(m, m))
                if i == nr - 1:
                    a.set_xlabel(key)
                    if not numeric:
                        a.set_xticks(range(len(order)), [_fmt(v) for v in order])
        fig.suptitle(f"Sweep of {key} (ringed: the scenario's own value)", fontsize=11)
        return fig


def _file_key(key: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in key)


def write_sweep_figures(out_dir, table: pd.DataFrame, result) -> list[Path]:
    """Write ``tornado_<level>.png`` (peak places short; peak pupils for a projection-only sweep)
    and ``sweep_<key>.png`` for a sweep's table.

    Parameters
    ----------
    out_dir : path
    table : DataFrame
        ``sweep.csv``.
    result : SweepResult
        For the keys, the levels and whether plans were solved.

    Returns
    -------
    list of Path
    """
    out = Path(out_dir)
    keys = [v.key for v in result.varies]
    measure = "peak_places_short" if result.solve else "peak_pupils"
    paths = []
    done = table[table["level"].fillna("") != ""]
    if done.empty:
        return paths
    for lv in result.levels:
        if (done["level"] == lv).any():
            paths.append(_save(tornado_figure(done, keys, lv, measure), out / f"tornado_{lv}.png"))
    for k in keys:
        paths.append(_save(swept_curves_figure(done, keys, k), out / f"sweep_{_file_key(k)}.png"))
    return paths
