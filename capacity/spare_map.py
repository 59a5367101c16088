"""The map of spare places and utilisation: where a level's places stand empty, and where they
are full, in one year.

Streets are shaded by utilisation (pupils taught ÷ standard places in the street's schools) and
labelled with their spare places (standard places nobody uses); with births falling, empty places
are the plan's largest budget risk. Built on :func:`capacity.maps.street_base`.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from capacity import maps
from capacity.ticks import draw_ticks

__all__ = ["spare_places_map"]

#: Colour map: blue = empty places, white = full at the standard size, red = above it.
UTILISATION_CMAP = "RdBu_r"


def spare_places_map(district, plan, level: str, year: int, *, base=None) -> Figure:
    """One map of ``level`` in ``year``: utilisation by street, spare places as labels.

    Parameters
    ----------
    district
        As for :func:`capacity.maps.siting_map`.
    plan
        The plan (``balance`` with ``places``, ``enrolled_here``, ``overcrowded``).
    level, year
        The level and year shown.
    base
        The district's :func:`capacity.maps.street_base` (default: built here).

    Returns
    -------
    matplotlib.figure.Figure
        Streets coloured by utilisation (share; 1 = full at the standard class size; grey: no
        places), labels ``name / spare places``, colour bar, scale bar, north arrow and a title with
        the district's spare places and utilisation.
    """
    cjk = maps.cjk_font()
    if base is None or base.cjk != (cjk is not None):
        base = maps.street_base(district, cjk is not None)
    with mpl.rc_context(maps._rc(cjk)):
        return _draw(district, base, plan, level, int(year))


def _draw(district, base, plan, level, year):
    b = plan.balance
    if "enrolled_here" not in b:  # pupils taught in the street: by home street when not given
        b = b.assign(enrolled_here=b["assigned"])
    sel = b[(b["level"] == level) & (b["year"] == year)].groupby("street")[
        ["places", "enrolled_here", "overcrowded"]].sum()
    codes = pd.Index(base.streets)
    sel = sel.reindex(codes).fillna(0.0)
    places = sel["places"].to_numpy(float)
    here = sel["enrolled_here"].to_numpy(float)
    spare = np.clip(places - (here - sel["overcrowded"].to_numpy(float)), 0.0, None)
    util = np.where(places > 0, here / np.where(places > 0, places, 1.0), np.nan)
    hi = max(1.25, float(np.nanmax(util)) if np.isfinite(util).any() else 1.25)
    norm = TwoSlopeNorm(vmin=0.0, vcenter=1.0, vmax=hi)
    cmap = mpl.colormaps[UTILISATION_CMAP]

    minx, miny, maxx, maxy = base.bounds
    w, h = maxx - minx, maxy - miny
    xlim = (minx - 0.04 * w, maxx + 0.04 * w)
    pw = 6.6
    m_per_in = (xlim[1] - xlim[0]) / pw
    below, above = 0.5, 0.6
    mh = min(8.0, h / m_per_in + below + above)
    if mh == 8.0:
        m_per_in = h / (mh - below - above)
        pw = (xlim[1] - xlim[0]) / m_per_in
    top, bottom, side = 0.95, 1.2, 0.3
    fw, fh = pw + 2 * side, top + mh + bottom
    fig = maps._figure(figsize=(fw, fh))
    a = fig.add_axes([side / fw, bottom / fh, pw / fw, mh / fh])
    cax = fig.add_axes([(fw - min(4.6, fw - 1.0)) / 2 / fw, 0.75 / fh, min(4.6, fw - 1.0) / fw, 0.16 / fh])
    ylim = (miny - below * m_per_in, maxy + above * m_per_in)
    colours = [cmap(norm(u)) if np.isfinite(u) else (0.85, 0.85, 0.85, 1.0) for u in util]
    maps._draw_streets(a, base, colours)
    a.set_xlim(*xlim)
    a.set_ylim(*ylim)
    a.set_aspect("equal", adjustable="box")
    a.set_xticks([])
    a.set_yticks([])
    a.apply_aspect()
    placer = maps._Placer(a)
    for i in base.area_order:
        text = base.names[i] + (f"\n{spare[i]:,.0f}" if places[i] > 0 else "")
        placer.place(base.label_xy[i, 0], base.label_xy[i, 1], text, [(0, 0), *maps._ring((14, 24, 36))],
                     leader_min=20, fontsize=8.5, color="0.1", linespacing=1.05, zorder=8,
                     bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.6})
    maps._scale_bar(a, xlim[0] + 0.15 * m_per_in, ylim[0] + 0.12 * m_per_in, w, m_per_in)
    maps._north_arrow(a, xlim[1] - 0.25 * m_per_in, ylim[1] - 0.22 * m_per_in, 0.3 * m_per_in)
    cb = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
    cb.set_label(f"utilisation in {year}: pupils taught ÷ standard places (1 = full)")
    draw_ticks(cb.ax)  # the colour scale's ticks as a few artists (capacity.ticks)
    fig.legend(handles=[Patch(facecolor=(0.85, 0.85, 0.85), edgecolor="0.45", label="no places")],
               loc="lower right", bbox_to_anchor=(0.995, 0.02), frameon=False, fontsize=7.5)
    cjk = base.cjk
    name = getattr(district, "name_zh", "") if cjk else getattr(district, "name", "")
    tot_places = float(places.sum())
    util_all = float(here.sum() / tot_places) if tot_places > 0 else float("nan")
    fig.suptitle(f"{name} — {maps._level_label(district, level, cjk)}: spare places in {year}",
                 fontsize=13, x=0.01, y=1 - 0.25 / fh, ha="left")
    fig.text(0.01, 1 - 0.62 / fh, f"{spare.sum():,.0f} spare standard places of {tot_places:,.0f}; "
             f"{100 * util_all:.0f}% full. Labels: street, spare places.", fontsize=8.5, color="0.25")
    if base.approximate:
        fig.text(0.01, 0.08 / fh, "Street boundaries approximate.", fontsize=7.5, color="0.3")
    return fig
