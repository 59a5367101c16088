"""Axis ticks, tick labels and grid lines of a chart drawn as a handful of artists.

matplotlib draws every tick of an axis as an object of five artists (two tick marks, a grid line
and two labels), created when the figure is drawn and copied property by property from a template
tick. A demand chart has eight axes with about a dozen ticks each: making and drawing those ticks
was 60% of the chart's time (``benchmarks/README.md``). :func:`draw_ticks` draws the same ticks
after the chart is laid out: per axis one line of tick marks (markers, as matplotlib draws them),
one text per label and one line collection for the grid, and switches matplotlib's own ticks off.
They sit where matplotlib puts its own (same tick values and labels from the axis's locator and
formatter, same sizes, pads and colours from the axis's ``tick_params`` over the rc defaults), and
the axis labels move out by the tick labels' extent as matplotlib moves them.

Where matplotlib would draw something these few artists do not (an offset or scale label such as
``1e6``, minor ticks, ticks inside or on the top and right side, a log or other non-linear scale),
the axis keeps matplotlib's ticks.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import TICKDOWN, TICKLEFT, Line2D
from matplotlib.ticker import NullLocator
from matplotlib.transforms import ScaledTranslation

__all__ = ["draw_ticks"]


def _params(axis, name: str) -> dict:
    """The axis's major tick parameters (``Axis.get_tick_params``, set by ``tick_params``) over the
    rc defaults, in ``tick_params``'s names."""
    rc = mpl.rcParams
    side, other = ("bottom", "top") if name == "x" else ("left", "right")
    p = {"length": rc[f"{name}tick.major.size"], "width": rc[f"{name}tick.major.width"],
         "pad": rc[f"{name}tick.major.pad"], "color": rc[f"{name}tick.color"],
         "labelcolor": rc[f"{name}tick.labelcolor"], "labelsize": rc[f"{name}tick.labelsize"],
         "direction": rc[f"{name}tick.direction"], side: rc[f"{name}tick.{side}"],
         other: rc[f"{name}tick.{other}"], f"label{side}": rc[f"{name}tick.label{side}"],
         f"label{other}": rc[f"{name}tick.label{other}"]}
    p.update(axis.get_tick_params(which="major"))
    if p["labelcolor"] == "inherit":
        p["labelcolor"] = p["color"]
    return p


def _plain(axis, name: str, p: dict) -> bool:
    """Whether ``axis`` ("x" or "y") draws only what :func:`draw_ticks` draws."""
    side, other = ("bottom", "top") if name == "x" else ("left", "right")
    return (axis.get_scale() == "linear"
            and isinstance(axis.get_minor_locator(), NullLocator)
            and p["direction"] == "out" and p[side] and p[f"label{side}"]
            and not p[other] and not p[f"label{other}"]
            and axis.get_label_position() == side)


def _ticks(axis, lo: float, hi: float) -> tuple[np.ndarray, list[str]] | None:
    """The major tick values inside ``lo..hi`` and their labels, or None when the formatter also
    needs an offset or scale label."""
    locs = np.asarray(axis.get_major_locator().tick_values(lo, hi), float)
    a, b = min(lo, hi), max(lo, hi)
    eps = 1e-10 * max(b - a, 1e-300)
    locs = locs[(locs >= a - eps) & (locs <= b + eps)]
    formatter = axis.get_major_formatter()
    labels = formatter.format_ticks(list(locs))
    if formatter.get_offset():
        return None
    return locs, labels


#: ``Line2D`` property names given for the grid -> the ``LineCollection`` ones.
_COLLECTION_NAMES = {"lw": "linewidths", "linewidth": "linewidths", "color": "colors", "c": "colors",
                     "ls": "linestyles", "linestyle": "linestyles"}


def draw_ticks(ax, *, grid: dict | None = None) -> None:
    """Draw the major ticks, tick labels and grid of ``ax`` as a few artists, in place of
    matplotlib's ticks.

    Call it when the chart's data, limits, locators, formatters, tick parameters (``tick_params``:
    they also decide how many ticks an automatic locator places) and axis labels are set: the
    limits are frozen at their current values. An axis matplotlib would draw differently (see the
    module docstring) keeps its own ticks (and then ``grid`` goes to matplotlib's grid).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    grid : dict, optional
        Grid line properties (e.g. ``{"alpha": 0.3, "lw": 0.5}``) on top of the rc ``grid.*``
        ones; None draws no grid.
    """
    rc = mpl.rcParams
    fig = ax.figure
    xlim, ylim = ax.get_xlim(), ax.get_ylim()  # autoscaled now, frozen below
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    for name, axis, (lo, hi) in (("x", ax.xaxis, xlim), ("y", ax.yaxis, ylim)):
        p = _params(axis, name)
        found = _ticks(axis, lo, hi) if _plain(axis, name, p) else None
        if found is None:  # matplotlib's own ticks
            if grid is not None:
                ax.grid(axis=name, **grid)
            continue
        locs, labels = found
        axis.set_major_locator(NullLocator())
        pad = p["length"] + p["pad"]  # points from the spine to the label
        zorder = axis.get_zorder()
        if name == "x":
            at = ax.get_xaxis_transform()
            xy = np.column_stack([locs, np.zeros(len(locs))])
            shift = ScaledTranslation(0, -pad / 72, fig.dpi_scale_trans)
            marker, align = TICKDOWN, {"ha": "center", "va": "top"}
            segments = [((v, 0.0), (v, 1.0)) for v in locs]
        else:
            at = ax.get_yaxis_transform()
            xy = np.column_stack([np.zeros(len(locs)), locs])
            shift = ScaledTranslation(-pad / 72, 0, fig.dpi_scale_trans)
            marker, align = TICKLEFT, {"ha": "right", "va": "center_baseline"}
            segments = [((0.0, v), (1.0, v)) for v in locs]
        if grid is not None:
            style = {"colors": rc["grid.color"], "linestyles": rc["grid.linestyle"],
                     "linewidths": rc["grid.linewidth"], "alpha": rc["grid.alpha"]}
            style.update({_COLLECTION_NAMES.get(k, k): v for k, v in grid.items()})
            ax.add_collection(LineCollection(segments, transform=at, zorder=zorder, **style),
                              autolim=False)
        ax.add_artist(Line2D(xy[:, 0], xy[:, 1], transform=at, marker=marker,
                             markersize=p["length"], markeredgewidth=p["width"], color=p["color"],
                             linestyle="none", clip_on=False, zorder=zorder))
        texts = [ax.text(x, y, s, transform=at + shift, fontsize=p["labelsize"],
                         color=p["labelcolor"], clip_on=False, zorder=zorder, **align)
                 for (x, y), s in zip(xy, labels, strict=True) if s]
        # matplotlib puts the axis label beyond its tick labels: move it out by their extent
        if axis.label.get_text() and texts:
            boxes = [t.get_window_extent() for t in texts]  # the figure's renderer
            extent = max(b.height if name == "x" else b.width for b in boxes) * 72 / fig.dpi
            axis.labelpad = axis.labelpad + pad + extent
