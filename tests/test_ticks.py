"""capacity.ticks: ticks drawn as a few artists sit where matplotlib's own would."""

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator, StrMethodFormatter

from capacity.ticks import draw_ticks


def _chart(labelsize=None):
    fig = Figure(figsize=(4, 3), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes([0.25, 0.2, 0.7, 0.7])
    ax.plot([2021, 2030], [0, 4321])
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel("year")
    ax.set_ylabel("pupils")
    if labelsize is not None:
        ax.tick_params(labelsize=labelsize)
    return fig, ax


def _texts(ax):
    return [t for t in ax.texts if t.get_text()]


@pytest.mark.parametrize("labelsize", [None, 7])
def test_labels_and_axis_labels_where_matplotlib_puts_them(labelsize):
    ref_fig, ref = _chart(labelsize)
    ref_fig.canvas.draw()
    r = ref_fig.canvas.get_renderer()
    want = {}  # the tick labels matplotlib draws: those inside the view
    for name, axis, i in (("x", ref.xaxis, 0), ("y", ref.yaxis, 1)):
        lo, hi = axis.get_view_interval()
        for t in axis.get_ticklabels():
            if t.get_text() and lo - 1e-9 <= t.get_position()[i] <= hi + 1e-9:
                want[(name, t.get_text())] = t.get_window_extent(r)
    want_xlabel = ref.xaxis.label.get_window_extent(r)
    want_ylabel = ref.yaxis.label.get_window_extent(r)

    fig, ax = _chart(labelsize)
    draw_ticks(ax, grid={"alpha": 0.3, "lw": 0.5})
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    assert isinstance(ax.xaxis.get_major_locator(), NullLocator)
    assert isinstance(ax.yaxis.get_major_locator(), NullLocator)
    got = {}
    for t in _texts(ax):
        name = "x" if t.get_ha() == "center" else "y"
        got[(name, t.get_text())] = t.get_window_extent(r)
    assert set(got) == set(want)
    assert ("y", "4,000") in got and ("x", "2030") in got
    for key, box in want.items():
        assert np.allclose(got[key].extents, box.extents, atol=1.0), key
    assert np.allclose(ax.xaxis.label.get_window_extent(r).extents, want_xlabel.extents, atol=1.0)
    assert np.allclose(ax.yaxis.label.get_window_extent(r).extents, want_ylabel.extents, atol=1.0)


def test_limits_frozen_and_grid_drawn_below_the_lines():
    fig, ax = _chart()
    before = ax.get_xlim(), ax.get_ylim()
    draw_ticks(ax, grid={"alpha": 0.3, "lw": 0.5})
    ax.plot([2000, 2040], [0, 99999])  # a later line does not rescale the frozen axes
    assert (ax.get_xlim(), ax.get_ylim()) == before
    grids = ax.collections
    assert len(grids) == 2  # one per axis
    assert all(g.get_zorder() < ax.lines[0].get_zorder() for g in grids)
    assert grids[0].get_alpha() == 0.3
    assert np.allclose(grids[0].get_linewidths(), 0.5)


def test_no_grid_when_not_asked():
    fig, ax = _chart()
    draw_ticks(ax)
    assert not ax.collections


def test_log_axis_and_offset_labels_keep_matplotlibs_ticks():
    fig = Figure(figsize=(4, 3), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes([0.2, 0.2, 0.7, 0.7])
    ax.plot([1, 1000], [1_000_000.0, 1_000_001.0])  # y needs an offset label ("+1e6")
    ax.set_xscale("log")
    draw_ticks(ax, grid={"alpha": 0.3})
    assert not isinstance(ax.xaxis.get_major_locator(), NullLocator)
    assert not isinstance(ax.yaxis.get_major_locator(), NullLocator)
    assert not _texts(ax)
    fig.canvas.draw()
    assert ax.yaxis.get_major_formatter().get_offset()


def test_ticks_on_top_keep_matplotlibs_ticks():
    fig, ax = _chart()
    ax.tick_params(axis="x", top=True)
    draw_ticks(ax)
    assert not isinstance(ax.xaxis.get_major_locator(), NullLocator)
    assert isinstance(ax.yaxis.get_major_locator(), NullLocator)


def test_tick_marks_use_the_tick_parameters():
    with mpl.rc_context({"xtick.major.size": 5.0}):
        fig, ax = _chart()
        ax.tick_params(axis="y", length=2.0, color="red")
        draw_ticks(ax)
    marks = [a for a in ax.lines if a.get_marker() in (mpl.lines.TICKDOWN, mpl.lines.TICKLEFT)]
    by_marker = {m.get_marker(): m for m in marks}
    assert by_marker[mpl.lines.TICKDOWN].get_markersize() == 5.0
    assert by_marker[mpl.lines.TICKLEFT].get_markersize() == 2.0
    assert by_marker[mpl.lines.TICKLEFT].get_color() == "red"
