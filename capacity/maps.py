"""Siting maps and figures of a plan and of a scenario comparison (PNG, matplotlib + geopandas).

Figures are built on :class:`matplotlib.figure.Figure` objects that are not registered with
``pyplot``: nothing here changes the global backend or ``rcParams``, and a figure is freed as soon as
it is no longer referenced (the ``write_*`` functions save and drop them).

Chinese street names need a CJK font. The font file shipped inside the ``mplfonts`` wheel (Noto Sans
CJK SC) is registered with matplotlib's font manager for this process only (no download, no
``mplfonts init``, no change to matplotlib's data folder). Without it, an installed CJK font is used
if matplotlib knows one; with none (or with ``use_cjk(False)`` or the environment variable
``CAPACITY_NO_CJK=1``) labels fall back to pinyin, see :func:`street_label`.

Table contracts are those of :mod:`capacity.report` (duck-typed plans and runs).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.text import Text
from matplotlib.transforms import Bbox, IdentityTransform, blended_transform_factory

from capacity.kinds import by_kind
from capacity.ticks import draw_ticks

__all__ = [
    "StreetBase",
    "cjk_enabled",
    "cjk_font",
    "compare_demand_figure",
    "compare_schools_map",
    "compare_shortfall_figure",
    "demand_places_chart",
    "growth_streets",
    "population_pyramid",
    "siting_map",
    "street_base",
    "street_label",
    "use_cjk",
    "utm_crs",
    "warm_up",
    "write_compare_figures",
    "write_plan_figures",
]

DPI = 150
#: Font files looked for inside the mplfonts package, in order of preference.
MPLFONTS_FILES = ("NotoSansCJKsc-Regular.otf", "SimHei.ttf")
#: Installed CJK families matplotlib may know (used only if mplfonts is missing).
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
                "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC")
LATIN_FAMILY = "DejaVu Sans"
SHORTFALL_CMAP = "YlOrRd"
SCHOOL_COLOUR = "#1f4e9c"
#: Expansions and conversions (options at existing places, not new schools) on the siting map.
LEVER_COLOUR = "#2a9d8f"
#: Line styles of scenarios (identical paths stay visible on top of each other).
LINESTYLES = ("-", "--", "-.", ":")

_enabled = {"cjk": os.environ.get("CAPACITY_NO_CJK", "") in ("", "0")}


# --------------------------------------------------------------------------------------------------
# fonts and labels


@functools.cache
def _find_cjk_font() -> str | None:
    """Register the CJK font shipped with mplfonts and return its family name (None if none)."""
    from matplotlib import font_manager

    spec = importlib.util.find_spec("mplfonts")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            for name in MPLFONTS_FILES:
                path = Path(folder) / "fonts" / name
                if path.is_file():
                    try:
                        font_manager.fontManager.addfont(str(path))
                        return font_manager.FontProperties(fname=str(path)).get_name()
                    except (OSError, RuntimeError, ValueError):  # unreadable font file
                        continue
    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    return None


def use_cjk(enabled: bool = True) -> None:
    """Switch Chinese labels on or off for this process (off: pinyin labels).

    Parameters
    ----------
    enabled
        False forces pinyin labels even where a CJK font is available.
    """
    _enabled["cjk"] = bool(enabled)


def cjk_enabled() -> bool:
    """Whether Chinese labels are switched on for this process (see :func:`use_cjk`)."""
    return _enabled["cjk"]


def warm_up() -> None:
    """Load the fonts (the CJK font file is large) by drawing a little text off screen, so that
    the first figure does not pay for it (worker processes do this while the solver runs)."""
    cjk = cjk_font()
    with mpl.rc_context(_rc(cjk)):
        fig = _figure(figsize=(1, 1))
        fig.text(0.5, 0.5, ("街道 小学 " if cjk else "") + "0123456789,. km")
        fig.canvas.draw()


def cjk_font() -> str | None:
    """The CJK font family used for Chinese labels, or None (labels fall back to pinyin)."""
    return _find_cjk_font() if _enabled["cjk"] else None


def street_label(row, cjk: bool | None = None) -> str:
    """The label of a street on maps and charts.

    Parameters
    ----------
    row
        Anything with ``name_zh``, ``name_pinyin`` and ``street`` (a table row, a mapping).
    cjk
        Whether Chinese can be drawn; default: whether :func:`cjk_font` finds a font.

    Returns
    -------
    str
        ``name_zh`` when Chinese can be drawn and the name is given, else ``name_pinyin``, else the
        street code.
    """
    if cjk is None:
        cjk = cjk_font() is not None
    get = row.get if hasattr(row, "get") else (lambda k, d=None: getattr(row, k, d))
    for key in (("name_zh", "name_pinyin") if cjk else ("name_pinyin",)):
        v = get(key, None)
        if isinstance(v, str) and v.strip():
            return v.strip()
    return str(get("street", ""))


def _level_label(district, level: str, cjk: bool) -> str:
    if cjk and district is not None and "name_zh" in district.levels.columns:
        zh = district.levels.set_index("level")["name_zh"].get(level)
        if isinstance(zh, str) and zh:
            return f"{zh} {level}"
    return level


def _rc(cjk: str | None) -> dict:
    """rcParams for our figures: explicit family names (not the generic ``sans-serif``), so that
    text keeps its font when the figure is drawn later outside this context."""
    families = [cjk, LATIN_FAMILY] if cjk else [LATIN_FAMILY]
    return {"font.family": families, "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
            "legend.fontsize": 8, "figure.dpi": DPI, "savefig.dpi": DPI, "axes.unicode_minus": True}


def _figure(**kw) -> Figure:
    fig = Figure(**kw)
    FigureCanvasAgg(fig)
    return fig


def _street_names(district) -> dict[str, str]:
    if district is None:
        return {}
    cjk = cjk_font() is not None
    return {r["street"]: street_label(r, cjk) for _, r in district.streets.iterrows()}


# --------------------------------------------------------------------------------------------------
# map furniture


def utm_crs(gdf: gpd.GeoDataFrame) -> str:
    """The UTM zone CRS (WGS-84) of the centre of ``gdf``, e.g. ``"EPSG:32650"`` for Tianjin."""
    g = gdf.to_crs("EPSG:4326") if gdf.crs is not None and not gdf.crs.is_geographic else gdf
    minx, miny, maxx, maxy = g.total_bounds
    lon, lat = (minx + maxx) / 2, (miny + maxy) / 2
    zone = int(math.floor((lon + 180) / 6)) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def _nice_length(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 × 10^k m) near a fifth of ``span_m``."""
    target = max(span_m / 5, 1e-9)
    k = 10 ** math.floor(math.log10(target))
    for f in (5, 2, 1):
        if f * k <= target:
            return f * k
    return k


def _scale_bar(ax, x0: float, y0: float, span_m: float, m_per_in: float) -> None:
    """Two-segment scale bar in metres (data coordinates of a metric CRS) at ``x0, y0``, about a
    fifth of ``span_m`` long; ``m_per_in`` (metres per inch on the page) sets its thickness."""
    length = _nice_length(span_m)
    h = 0.05 * m_per_in
    for i in range(2):
        ax.add_patch(Rectangle((x0 + i * length / 2, y0), length / 2, h, facecolor="k" if i == 0 else "w",
                               edgecolor="k", linewidth=0.8, zorder=6))
    km = length / 1000

    def fmt(v):
        return f"{v:g}"

    unit = "km" if km >= 1 else "m"
    val = km if km >= 1 else length
    for x, v in ((x0, 0), (x0 + length / 2, val / 2), (x0 + length, val)):
        ax.text(x, y0 + 1.6 * h, fmt(v) + (f" {unit}" if x == x0 + length else ""), ha="center",
                va="bottom", fontsize=7, zorder=6)


def _north_arrow(ax, x: float, y: float, size: float) -> None:
    """North arrow (grid north of the UTM projection, within a degree of true north here)."""
    ax.annotate("", xy=(x, y), xytext=(x, y - size), zorder=6,
                arrowprops={"arrowstyle": "-|>,head_width=0.35,head_length=0.8", "color": "k", "lw": 1.5})
    ax.text(x, y + size * 0.05, "N", ha="center", va="bottom", fontsize=10, fontweight="bold",
            fontfamily=LATIN_FAMILY, zorder=6)


def _renderer(fig):
    try:
        return fig.canvas.get_renderer()
    except AttributeError:  # a canvas without its own renderer (e.g. a bare Figure)
        return fig._get_renderer()


def _overlap(a, b) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


class _Placer:
    """Greedy label placement: each label takes the first candidate offset whose box overlaps no
    label (or marker) placed before and stays inside the axes; else the least overlapping one."""

    def __init__(self, ax):
        self.ax = ax
        self.renderer = _renderer(ax.figure)
        self.boxes = []

    def block(self, x, y, radius_pt: float = 6) -> None:
        """Reserve the area around a marker at data point ``(x, y)``."""
        px, py = self.ax.transData.transform((x, y))
        r = radius_pt * self.ax.figure.dpi / 72
        self.boxes.append(Bbox([[px - r, py - r], [px + r, py + r]]))

    def place(self, x, y, text, offsets, leader_min: float = 12, **kw):
        """Annotate ``text`` at data point ``(x, y)`` at the first of ``offsets`` (points) where its
        box is free (see the class); a label moved further than ``leader_min`` points gets a
        leader line. The text is laid out once: its box at each offset is that box moved (the
        alignment follows the offset's direction), so only the label kept is drawn."""
        ax = self.ax
        axbox = ax.get_window_extent(self.renderer)
        px, py = ax.transData.transform((x, y))
        # the label's box centred on the point, from a bare Text with the label's properties (its
        # box is the annotation's: neither includes the bbox patch, which is left out here)
        props = {k: v for k, v in kw.items() if k not in ("bbox", "arrowprops")}
        box = Text(px, py, text, ha="center", va="center", transform=IdentityTransform(),
                   figure=ax.figure, **props).get_window_extent(self.renderer)
        width, height = box.width, box.height
        cx, cy = (box.x0 + box.x1) / 2 - px, (box.y0 + box.y1) / 2 - py  # centre offset at (0, 0)
        scale = ax.figure.dpi / 72
        best, best_cost = None, math.inf
        for i, (dx, dy) in enumerate(offsets):
            # the box's centre: anchored by its left/right edge or bottom/top when moved that way
            mx = px + dx * scale + (cx if dx == 0 else (width / 2 if dx > 0 else -width / 2))
            my = py + dy * scale + (cy if dy == 0 else (height / 2 if dy > 0 else -height / 2))
            bb = Bbox.from_bounds(mx - width / 2, my - height / 2, width, height).expanded(1.06, 1.12)
            cost = sum(_overlap(bb, b) for b in self.boxes)
            outside = (max(0, axbox.x0 - bb.x0) + max(0, bb.x1 - axbox.x1)
                       + max(0, axbox.y0 - bb.y0) + max(0, bb.y1 - axbox.y1))
            cost += outside * bb.height * 4 + i * 1e-3
            if cost < best_cost:
                best, best_cost = (bb, dx, dy), cost
            if cost < 1e-2 * (i + 1):
                break
        bb, dx, dy = best
        leader = ({"arrowprops": {"arrowstyle": "-", "color": "0.35", "lw": 0.6, "shrinkA": 0,
                                  "shrinkB": 2}} if math.hypot(dx, dy) > leader_min else {})
        t = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                        ha="center" if dx == 0 else ("left" if dx > 0 else "right"),
                        va="center" if dy == 0 else ("bottom" if dy > 0 else "top"), **leader, **kw)
        self.boxes.append(bb)
        return t


def _ring(radii: Sequence[float], n: int = 8) -> list[tuple[float, float]]:
    out = []
    for r in radii:
        for k in range(n):
            a = math.pi / 2 * 0 + 2 * math.pi * k / n
            out.append((round(r * math.cos(a), 1), round(r * math.sin(a), 1)))
    return out


# --------------------------------------------------------------------------------------------------
# base layer of the district maps


@dataclass(frozen=True, eq=False)
class StreetBase:
    """What every map of a district shares, computed once (see :func:`street_base`).

    Projected to the district's UTM zone (metres). Built from the district alone, so that a run
    draws any number of maps (levels, years, measures) from one base; small and picklable, so
    that worker processes get it once.

    Attributes
    ----------
    crs : str
        The projected CRS, e.g. ``"EPSG:32650"``.
    streets : tuple of str
        Street codes, in the order of ``district.streets``.
    paths : tuple of matplotlib.path.Path
        Each street's polygon(s) in metres (holes and parts included).
    outline : tuple of ndarray
        The district boundary as lines, ``(n, 2)`` arrays in metres.
    label_xy : ndarray
        ``(streets, 2)`` a point inside each street for its label (the street's own point where
        it lies inside, else a representative point), metres.
    area_order : ndarray
        Street indexes, largest street first (the order in which labels are placed).
    names : tuple of str
        Street labels (Chinese names when ``cjk``, else pinyin).
    bounds : tuple of float
        ``minx, miny, maxx, maxy`` of the streets, metres.
    approximate : bool
        Whether any street boundary is approximate (noted under the map).
    site_xy : DataFrame
        ``x, y`` (metres) of every candidate site, indexed by ``site``; NaN without coordinates.
    street_xy : DataFrame
        ``x, y`` (metres) of each street's point (``lon, lat``), indexed by ``street``.
    cjk : bool
        Whether the labels are Chinese.
    """

    crs: str
    streets: tuple
    paths: tuple
    outline: tuple
    label_xy: np.ndarray
    area_order: np.ndarray
    names: tuple
    bounds: tuple
    approximate: bool
    site_xy: pd.DataFrame
    street_xy: pd.DataFrame
    cjk: bool


def _polygon_path(geom) -> MplPath:
    """One compound path of a (multi)polygon: every exterior and interior ring."""
    polys = getattr(geom, "geoms", [geom])
    rings = [MplPath(np.asarray(r.coords)[:, :2]) for p in polys for r in (p.exterior, *p.interiors)]
    return MplPath.make_compound_path(*rings)


def _lines(geom) -> list[np.ndarray]:
    parts = getattr(geom, "geoms", [geom])
    return [np.asarray(g.coords)[:, :2] for g in parts if not g.is_empty]


def _label_points(streets_m: gpd.GeoDataFrame, district) -> gpd.GeoSeries:
    """A point inside each street: the street's own point if it is inside, else a representative
    point."""
    rep = streets_m.geometry.representative_point()
    if {"lon", "lat"} <= set(district.streets.columns):
        pts = gpd.GeoSeries(gpd.points_from_xy(district.streets["lon"], district.streets["lat"]),
                            crs=district.streets.crs, index=district.streets.index).to_crs(streets_m.crs)
        inside = pts.within(streets_m.geometry.buffer(-1.0))
        rep = pts.where(inside, rep)
    return rep


def _projected_xy(lon, lat, crs_from, crs_to, index) -> pd.DataFrame:
    g = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=crs_from).to_crs(crs_to)
    return pd.DataFrame({"x": g.x.to_numpy(), "y": g.y.to_numpy()}, index=pd.Index(index))


def street_base(district, cjk: bool | None = None) -> StreetBase:
    """The base layer of the district's maps: projected streets, outline, label points, sites.

    Parameters
    ----------
    district
        ``streets`` (polygons with ``street``, names, ``lon, lat``), ``sites`` (``site, lon,
        lat``).
    cjk
        Chinese labels; default: whether :func:`cjk_font` finds a font.

    Returns
    -------
    StreetBase
    """
    if cjk is None:
        cjk = cjk_font() is not None
    crs = utm_crs(district.streets)
    streets = district.streets.to_crs(crs)
    label_pts = _label_points(streets, district)
    outline = gpd.GeoSeries([streets.geometry.union_all()], crs=crs).boundary.iloc[0]
    has_xy = {"lon", "lat"} <= set(district.streets.columns)
    street_xy = (_projected_xy(district.streets["lon"], district.streets["lat"], district.streets.crs, crs,
                               district.streets["street"]) if has_xy
                 else pd.DataFrame({"x": np.nan, "y": np.nan}, index=pd.Index(district.streets["street"])))
    sites = district.sites
    site_xy = _projected_xy(sites["lon"], sites["lat"], district.streets.crs, crs, sites["site"])
    return StreetBase(
        crs=crs, streets=tuple(streets["street"]),
        paths=tuple(_polygon_path(g) for g in streets.geometry),
        outline=tuple(_lines(outline)),
        label_xy=np.column_stack([label_pts.x.to_numpy(), label_pts.y.to_numpy()]),
        area_order=np.argsort(-streets.geometry.area.to_numpy(), kind="stable"),
        names=tuple(street_label(r, cjk) for _, r in district.streets.iterrows()),
        bounds=tuple(float(v) for v in streets.total_bounds),
        approximate=bool(streets["approximate"].any()) if "approximate" in streets.columns else False,
        site_xy=site_xy, street_xy=street_xy, cjk=bool(cjk))


def _draw_streets(ax, base: StreetBase, colours) -> None:
    """Street polygons filled with ``colours`` (one per street), grey edges, the district outline."""
    ax.add_collection(PatchCollection([PathPatch(p) for p in base.paths], facecolors=colours,
                                      edgecolors="0.45", linewidths=0.7), autolim=False)
    ax.add_collection(LineCollection(base.outline, colors="0.15", linewidths=1.3), autolim=False)


# --------------------------------------------------------------------------------------------------
# siting map


def _shortfall(plan, level: str, year: int) -> pd.Series:
    b = plan.balance
    sel = b[(b["level"] == level) & (b["year"] == year)]
    return sel.groupby("street")["shortfall"].sum()


def _places_short(plan, level: str, year: int) -> pd.Series:
    """Places short by street (:mod:`capacity.measures`): pupils of the street without a place plus
    pupils above the standard class size in the street's schools."""
    b = plan.balance
    sel = b[(b["level"] == level) & (b["year"] == year)]
    return (sel["shortfall"] + sel["overcrowded"]).groupby(sel["street"]).sum()


def _late_sites(district, level: str, year: int) -> pd.Series:
    """Candidate sites of ``level`` that cannot open by ``year`` (their earliest year is later)."""
    s = district.sites[district.sites["level"] == level]
    if "earliest_year" not in s:
        return s["site"].iloc[0:0]
    return s.loc[s["earliest_year"] > year, "site"]


def _new_schools(base: StreetBase, plan, level: str, year: int, kind: str = "new") -> pd.DataFrame:
    """The plan's new schools (or its options of another ``kind``: ``expansion``, ``conversion``)
    of ``level`` open by ``year``, with ``x, y`` (metres); a site without coordinates is drawn at
    its street's point."""
    sch = plan.schedule[(plan.schedule["level"] == level) & (plan.schedule["open_year"] <= year)]
    s = by_kind(sch, kind).reset_index(drop=True)
    xy = base.site_xy.reindex(s["site"]).reset_index(drop=True)
    at_street = base.street_xy.reindex(s["street"]).reset_index(drop=True)
    s["x"] = xy["x"].fillna(at_street["x"]).to_numpy()
    s["y"] = xy["y"].fillna(at_street["y"]).to_numpy()
    return s


def _school_text(open_year, classes, cjk: bool) -> str:
    return f"{int(open_year)} · {int(classes)}班" if cjk else f"{int(open_year)} · {int(classes)} classes"


def siting_map(district, plan, counterfactual, level: str, year: int, ax=None, *,
               show_candidates: bool = True, base: StreetBase | None = None) -> Figure:
    """Two maps of one level: places short without the new schools, and with them.

    Parameters
    ----------
    district
        ``streets`` (polygons with names), ``sites`` (``site, lon, lat``), ``levels``, ``name_zh``.
    plan, counterfactual
        The plan and the plan without new schools (``balance``; the plan's ``schedule``).
    level, year
        The level and the year whose places short (pupils of the street without a place plus
        pupils above the standard class size in the street's schools) are shown.
    ax
        Optional pair of Axes to draw into; default a new figure.
    show_candidates
        Also mark candidate sites of the level that do not open: small grey circles where the site
        could have opened by ``year``, grey crosses where it cannot open by then.
    base
        The district's :func:`street_base` (default: built here); pass it to draw several maps
        of a district from one base.

    Returns
    -------
    matplotlib.figure.Figure
        Streets shaded on one colour scale (colour bar in places short), new schools as
        markers labelled with opening year and size in classes (e.g. ``2023 · 24班``), street
        names, scale bar, north arrow, title and a note when boundaries are approximate.
    """
    cjk = cjk_font()
    if base is None or base.cjk != (cjk is not None):
        base = street_base(district, cjk is not None)
    with mpl.rc_context(_rc(cjk)):
        return _siting_map(district, base, plan, counterfactual, level, int(year), ax, show_candidates)


def _siting_map(district, base, plan, counterfactual, level, year, ax, show_candidates):
    cjk = base.cjk
    codes = pd.Index(base.streets)
    before = _places_short(counterfactual, level, year).reindex(codes).fillna(0.0).to_numpy(float)
    after = _places_short(plan, level, year).reindex(codes).fillna(0.0).to_numpy(float)
    vmax = max(1.0, float(np.nanmax(np.r_[before, after])))
    norm = Normalize(0, vmax)
    cmap = mpl.colormaps[SHORTFALL_CMAP]

    minx, miny, maxx, maxy = base.bounds
    w, h = maxx - minx, maxy - miny
    xlim = (minx - 0.04 * w, maxx + 0.04 * w)
    xr = xlim[1] - xlim[0]
    # free bands (inches) below the district for the scale bar and above it for the north arrow
    below, above = 0.5, 0.6
    if ax is None:
        # size the figure to the district's shape: two panels side by side (inches)
        pw = 6.6
        m_per_in = xr / pw
        mh = h / m_per_in + below + above
        if mh > 8.0:  # a tall district: limit the height, narrow the panels
            mh = 8.0
            m_per_in = h / (mh - below - above)
            pw = xr / m_per_in
        if mh < 2.5:  # a flat district: pad above and below
            extra = (2.5 - mh) / 2
            below, above, mh = below + extra, above + extra, 2.5
        top, ptitle, bottom, gap, side = 0.6, 0.35, 1.3, 0.2, 0.15
        fw = max(2 * pw + gap + 2 * side, 9.0)
        fh = top + ptitle + mh + bottom
        fig = _figure(figsize=(fw, fh))
        x0 = (fw - (2 * pw + gap)) / 2
        axes = [fig.add_axes([(x0 + k * (pw + gap)) / fw, bottom / fh, pw / fw, mh / fh]) for k in range(2)]
        cw = min(4.6, fw - 5.4)
        cax = fig.add_axes([(fw - cw) / 2 / fw, 0.8 / fh, cw / fw, 0.16 / fh])
        own = True
    else:
        axes = list(ax) if np.iterable(ax) else [ax]
        if len(axes) != 2:
            raise ValueError("siting_map: ax must be a pair of Axes (without, with the new schools)")
        fig = axes[0].figure
        m_per_in = xr / max(axes[0].get_position().width * fig.get_figwidth(), 0.5)
        cax = None
        own = False
    ylim = (miny - below * m_per_in, maxy + above * m_per_in)

    schools = _new_schools(base, plan, level, year)
    # options at existing places (not new schools): classes added, private places made inclusive
    levers = pd.concat([_new_schools(base, plan, level, year, k) for k in ("expansion", "conversion")],
                       ignore_index=True)

    titles = ("Without new schools", f"With the plan's new schools ({len(schools)} by {year})")
    for k, (a, values) in enumerate(zip(axes, (before, after), strict=True)):
        colours = [cmap(norm(v)) if v > 0.05 else (0.96, 0.96, 0.96, 1.0) for v in values]
        _draw_streets(a, base, colours)
        a.set_xlim(*xlim)
        a.set_ylim(*ylim)
        a.set_aspect("equal", adjustable="box")
        a.set_xticks([])
        a.set_yticks([])
        a.set_xlabel("")
        a.set_ylabel("")
        for s in a.spines.values():
            s.set_linewidth(0.6)
            s.set_color("0.5")
        a.set_title(titles[k], fontsize=11, loc="left", y=1.0)  # y: no search for ticks above
        a.apply_aspect()
        placer = _Placer(a)
        if k == 1:
            if show_candidates:
                sites = by_kind(district.sites, "new")  # options at existing places are not sites
                cand = sites[(sites["level"] == level) & ~sites["site"].isin(schools["site"])]
                late = cand["site"].isin(_late_sites(district, level, year))
                if (~late).any():  # could have opened by the year, not chosen
                    cxy = base.site_xy.reindex(cand.loc[~late, "site"])
                    a.scatter(cxy["x"], cxy["y"], s=10, facecolor="none", edgecolor="0.45", linewidth=0.6,
                              zorder=4)
                if late.any():  # could not open by the year
                    cxy = base.site_xy.reindex(cand.loc[late, "site"])
                    a.scatter(cxy["x"], cxy["y"], s=14, marker="x", color="0.55", linewidth=0.7,
                              zorder=4)
            if len(schools):
                a.scatter(schools["x"], schools["y"], s=70, marker="^", color=SCHOOL_COLOUR,
                          edgecolor="white", linewidth=0.8, zorder=7)
                for gx, gy in zip(schools["x"], schools["y"], strict=True):
                    placer.block(gx, gy, 5)
            if len(levers):
                a.scatter(levers["x"], levers["y"], s=60, marker="P", color=LEVER_COLOUR,
                          edgecolor="white", linewidth=0.6, zorder=7)
                for gx, gy in zip(levers["x"], levers["y"], strict=True):
                    placer.block(gx, gy, 5)
        # street labels: name and, where there is any, the shortfall
        for i in base.area_order:
            v = values[i]
            text = base.names[i] + (f"\n{v:,.0f}" if v >= 0.5 else "")
            placer.place(base.label_xy[i, 0], base.label_xy[i, 1], text, [(0, 0), *_ring((14, 24, 36))],
                         leader_min=20, fontsize=8.5, color="0.1", linespacing=1.05, zorder=8,
                         bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.6})
        if k == 1 and len(schools):
            # one label per location (schools at the same point share it)
            schools["_xy"] = list(zip(schools["x"].round(0), schools["y"].round(0), strict=True))
            for (gx, gy), g in schools.sort_values("open_year").groupby("_xy", sort=False):
                text = "\n".join(_school_text(y, c, cjk)
                                 for y, c in zip(g["open_year"], g["classes"], strict=True))
                placer.place(gx, gy, text, _ring((10, 18, 28, 40), 8), fontsize=7.5, color=SCHOOL_COLOUR,
                             zorder=9, bbox={"boxstyle": "round,pad=0.15", "fc": "white",
                                             "ec": SCHOOL_COLOUR, "lw": 0.5, "alpha": 0.85})
        _scale_bar(a, xlim[0] + 0.15 * m_per_in, ylim[0] + 0.12 * m_per_in, w, m_per_in)
        _north_arrow(a, xlim[1] - 0.25 * m_per_in, ylim[1] - 0.22 * m_per_in, 0.3 * m_per_in)

    sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
    unit = f"places short in {year} (pupils without a place + pupils above the standard class size)"
    if cax is not None:
        cb = fig.colorbar(sm, cax=cax, orientation="horizontal")
    else:
        cb = fig.colorbar(sm, ax=axes, orientation="horizontal", shrink=0.5, pad=0.03)
    cb.set_label(unit)
    draw_ticks(cb.ax)  # the colour scale's ticks as a few artists (capacity.ticks)
    handles = [Patch(facecolor=(0.96, 0.96, 0.96), edgecolor="0.45", label="no place short"),
               Line2D([], [], marker="^", linestyle="none", color=SCHOOL_COLOUR, markeredgecolor="white",
                      markersize=9, label="new school: opening year · classes")]
    if len(levers):
        handles.append(Line2D([], [], marker="P", linestyle="none", color=LEVER_COLOUR, markeredgecolor="white",
                              markersize=8, label="classes added at existing places, or private places "
                                                  "made inclusive (not new schools)"))
    if show_candidates:
        handles.append(Line2D([], [], marker="o", linestyle="none", markerfacecolor="none",
                              markeredgecolor="0.45", markersize=4, label="candidate site, not chosen"))
        handles.append(Line2D([], [], marker="x", linestyle="none", color="0.55", markersize=5,
                              label=f"candidate site that cannot open by {year}"))
    if own:
        fig.legend(handles=handles, loc="lower right", bbox_to_anchor=(0.995, 0.02), frameon=False,
                   fontsize=7.5)
    else:
        axes[1].legend(handles=handles, loc="best", frameon=True, framealpha=0.9, fontsize=7.5)
    name = getattr(district, "name_zh", "") if cjk else getattr(district, "name", "")
    title = f"{name} — {_level_label(district, level, cjk)}: places short in {year}"
    if own:
        fig.suptitle(title, fontsize=13, x=0.01, y=0.975, ha="left")
        notes = ["Places short: pupils of the street with no place within the catchment, plus pupils "
                 "above the standard class size in the street's schools."]
        if base.approximate:
            notes.append("Street boundaries approximate.")
        fig.text(0.01, 0.08 / fig.get_figheight(), "  ".join(notes), fontsize=7.5, color="0.3",
                 va="bottom")
    else:
        axes[0].figure.suptitle(title)
    return fig


# --------------------------------------------------------------------------------------------------
# charts


def _ytick_width_in(axes, fontsize: float) -> float:
    """Width (inches) of the widest y tick label of ``axes``, estimated from its characters
    (digits about 0.62 em, separators 0.33 em) instead of laying out every label."""
    width = 0.0
    for a in axes:
        lo, hi = a.get_ylim()
        locs = [v for v in a.yaxis.get_major_locator().tick_values(lo, hi) if lo <= v <= hi]
        for text in a.yaxis.get_major_formatter().format_ticks(locs):
            width = max(width, sum(0.33 if ch in ",. " else 0.62 for ch in text) * fontsize / 72)
    return width


def _place(ax, fig, x0: float, y0: float, x1: float, y1: float) -> None:
    """Put ``ax`` at ``x0..x1``, ``y0..y1`` inches from the figure's lower left corner."""
    fw, fh = fig.get_size_inches()
    ax.set_position([x0 / fw, y0 / fh, (x1 - x0) / fw, (y1 - y0) / fh])


class _DemandTables:
    """The series of one level's demand chart, grouped once: by year for the district, by
    street and year for the small multiples."""

    def __init__(self, balance: pd.DataFrame, counterfactual, demand: pd.DataFrame | None, level: str):
        def grouped(table, cols):
            t = table[table["level"] == level]
            cols = [c for c in cols if c in t.columns]
            return t.groupby("year")[cols].sum().sort_index(), t.groupby(["street", "year"])[cols].sum()

        measures = ("pupils", "places", "max_places", "shortfall", "overcrowded")
        self.plan = grouped(balance, measures)
        self.cf = grouped(counterfactual.balance, measures) if counterfactual is not None else None
        self.band = (grouped(demand, ("p05", "p95"))
                     if demand is not None and {"p05", "p95"} <= set(demand.columns) else None)

    @staticmethod
    def _pick(pair, street):
        district, by_street = pair
        if street is None:
            return district
        if street in by_street.index.get_level_values("street"):
            return by_street.xs(street, level="street").sort_index()
        return district.iloc[0:0]

    def series(self, street=None):
        """(plan, counterfactual or None, band or None) by year, for the district or a street."""
        s = self._pick(self.plan, street)
        c = self._pick(self.cf, street) if self.cf is not None else None
        d = None
        if self.band is not None:
            d = self._pick(self.band, street)
            d = d.loc[s.index.min():s.index.max()]  # the band covers the years the plan balances
        return s, c, d


#: Grid lines of the charts (on top of the rc ``grid.*`` properties).
_GRID = {"alpha": 0.3, "lw": 0.5}


def _draw_demand(a, s: pd.DataFrame, c: pd.DataFrame | None, d: pd.DataFrame | None, legend=False):
    """Pupils (with their band ``d``), places of the plan ``s`` and without new schools ``c``."""
    if d is not None:
        a.fill_between(d.index, d["p05"], d["p95"], color="C0", alpha=0.15, lw=0,
                       label="pupils, 90% interval")
    a.plot(s.index, s["pupils"], color="C0", lw=2, marker="o", ms=2.5, label="pupils (demand)")
    if c is not None:
        a.step(c.index, c["places"], where="post", color="0.45", lw=1.2, ls=":",
               label="places without new schools")
    a.step(s.index, s["places"], where="post", color="C2", lw=1.8, label="places (standard class size)")
    if "max_places" in s.columns:
        a.step(s.index, s["max_places"], where="post", color="C2", lw=1, ls="--",
               label="places at the maximum class size")
    a.set_ylim(bottom=0)
    a.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True, nbins=6))
    a.yaxis.set_major_formatter(mpl.ticker.StrMethodFormatter("{x:,.0f}"))
    if legend:
        a.legend(loc="upper left", fontsize=7.5)


def demand_places_chart(balance: pd.DataFrame, level: str, streets: Sequence[str] | None = None, *,
                        district=None, demand: pd.DataFrame | None = None, counterfactual=None) -> Figure:
    """Pupils and places over time for one level: the district and, as small multiples, streets.

    Parameters
    ----------
    balance
        ``street, level, year, pupils, places`` [+ ``max_places``] (a plan's balance).
    level
        The level shown.
    streets
        Street codes for the small multiples (e.g. the growth streets); None = district only.
    district
        Optional; street names and level names.
    demand
        Optional ``street, level, year, pupils, p05, p95``: shades the 90% interval of pupils.
    counterfactual
        Optional plan without new schools: its places as a dotted line.

    Returns
    -------
    matplotlib.figure.Figure
        Lines of pupils (demand, by home street) and places (standard and maximum class size, by
        school street) in persons.
    """
    cjk = cjk_font()
    with mpl.rc_context(_rc(cjk)):
        names = _street_names(district)
        streets = list(streets or [])
        n = len(streets)
        ncols = min(3, math.ceil(math.sqrt(n))) if n else 0
        nrows = math.ceil(n / ncols) if n else 0
        # a fixed layout in inches (no layout engine: that would measure every tick label twice)
        fw, fh = (5.2 + 2.9 * ncols, max(4.2, 2.3 * nrows + 0.8)) if n else (7.0, 4.5)
        main_w = 5.2 if n else fw
        fig = _figure(figsize=(fw, fh))
        main = fig.add_axes([0, 0, 1, 1])
        small = [fig.add_axes([0, 0, 1, 1]) for _ in range(n)]
        tables = _DemandTables(balance, counterfactual, demand, level)
        _draw_demand(main, *tables.series())
        main.set_title("District", y=1.0)  # y given: no search for tick labels above the axes
        main.set_ylabel("pupils / places (persons)")
        main.set_xlabel("year")
        for a, street in zip(small, streets, strict=True):
            _draw_demand(a, *tables.series(street))
            a.set_title(names.get(street, street), fontsize=9, y=1.0)
            a.tick_params(labelsize=7)

        top = 0.4  # the figure's title
        left = 0.1 + 0.2 + _ytick_width_in([main], 9) + 0.1  # margin, axis label, tick labels, ticks
        bottom = 1.2  # tick labels, axis label and the legend below
        _place(main, fig, left, bottom, main_w - 0.2, fh - top - 0.3)
        main.legend(loc="upper center", ncols=2, fontsize=7.5, frameon=False,
                    bbox_to_anchor=(0.5, (bottom - 0.48) / fh),
                    bbox_transform=blended_transform_factory(main.transAxes, fig.transFigure))
        if n:
            x0, x1, y1 = main_w + 0.05, fw - 0.05, fh - top - 0.15
            cw, ch = (x1 - x0) / ncols, (y1 - 0.05) / nrows
            pad = 0.12 + _ytick_width_in(small, 7)
            for k, a in enumerate(small):
                i, j = divmod(k, ncols)
                _place(a, fig, x0 + j * cw + pad, y1 - (i + 1) * ch + 0.25,
                       x0 + (j + 1) * cw - 0.1, y1 - i * ch - 0.25)
            fig.text((x0 + x1) / 2 / fw, (fh - top + 0.03) / fh, "Growth streets: pupils living there and "
                     "places in its schools (persons)", fontsize=9, ha="center", va="top")
        fig.suptitle(f"{_level_label(district, level, cjk is not None)}: pupils and places", fontsize=12,
                     y=1 - 0.06 / fh, va="top")
        # ticks and grid as a few artists each (capacity.ticks): matplotlib's tick objects were
        # 60% of the chart's time
        draw_ticks(main, grid=_GRID)
        for a in small:
            draw_ticks(a, grid=_GRID)
        return fig


def population_pyramid(population: pd.DataFrame, year: int, street: str | None = None, *,
                       compare_year: int | None = None, district=None, ax=None) -> Figure:
    """Population pyramid by single year of age.

    Parameters
    ----------
    population
        ``street, year, sex, age, persons``.
    year
        The year shown as bars.
    street
        A street code; None = the whole district.
    compare_year
        Optional year drawn as an outline (e.g. the base year).
    district
        Optional; the street's name and the district's name.
    ax
        Optional Axes.

    Returns
    -------
    matplotlib.figure.Figure
        Males to the left, females to the right, persons per single year of age.
    """
    cjk = cjk_font()
    with mpl.rc_context(_rc(cjk)):
        p = population if street is None else population[population["street"] == street]
        own = ax is None
        if own:
            fig = _figure(figsize=(6.5, 6.5))
            ax = fig.add_axes([0, 0, 1, 1])
        fig = ax.figure
        ages = np.arange(int(p["age"].max()) + 1)

        def get(y, sex):
            s = p[(p["year"] == y) & (p["sex"] == sex)].groupby("age")["persons"].sum()
            return s.reindex(ages, fill_value=0.0).to_numpy(float)

        m, f = get(year, "male"), get(year, "female")
        edges = np.r_[ages - 0.5, ages[-1] + 0.5]
        # one filled step shape per sex: the bars of single years of age side by side (one patch,
        # not one per age: 200 patches took 0.2 s to build)
        ax.stairs(-m, edges, orientation="horizontal", fill=True, baseline=0, color="#4a7ebb",
                  label=f"male {year}", lw=0)
        ax.stairs(f, edges, orientation="horizontal", fill=True, baseline=0, color="#d9735f",
                  label=f"female {year}", lw=0)
        if compare_year is not None:
            m0, f0 = get(compare_year, "male"), get(compare_year, "female")
            ax.stairs(-m0, edges, orientation="horizontal", color="k", lw=0.9, baseline=None,
                      label=f"{compare_year} (outline)")
            ax.stairs(f0, edges, orientation="horizontal", color="k", lw=0.9, baseline=None)
        lim = max(np.max(m), np.max(f), 1.0) * 1.08
        if compare_year is not None:
            lim = max(lim, max(np.max(m0), np.max(f0)) * 1.08)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-0.5, ages[-1] + 0.5)
        ax.yaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
        ax.axvline(0, color="k", lw=0.5)
        if district is not None and len(district.levels):
            lo, hi = int(district.levels["first_age"].min()), int(district.levels["last_age"].max())
            ax.axhspan(lo - 0.5, hi + 0.5, color="0.85", alpha=0.5, zorder=0, lw=0,
                       label=f"school ages {lo}–{hi}")
        ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{abs(v):,.0f}"))
        ax.set_xlabel("persons per single year of age (male ← → female)")
        ax.set_ylabel("age")
        ax.grid(axis="x", alpha=0.3, lw=0.5)
        ax.legend(loc="upper right", fontsize=8)
        if street is None:
            where = (getattr(district, "name_zh", None) if cjk else getattr(district, "name", None)) or "District"
        else:
            where = _street_names(district).get(street, street)
        total = p.loc[p["year"] == year, "persons"].sum()
        ax.set_title(f"{where}: population {year} ({total:,.0f} persons)", y=1.0)
        if own:  # a fixed layout (inches): axis label, tick labels and ticks; title above
            _place(ax, fig, 0.05 + 0.2 + _ytick_width_in([ax], 9) + 0.1, 0.48, 6.5 - 0.05, 6.5 - 0.3)
        return fig


def growth_streets(demand: pd.DataFrame, n: int = 4, min_growth: float = 0.1) -> list[str]:
    """Streets whose pupils (all levels) grow most from the first to the last year.

    Parameters
    ----------
    demand
        ``street, level, year, pupils``.
    n
        At most this many streets.
    min_growth
        Relative growth a street needs to count (0.1 = 10%).

    Returns
    -------
    list of str
        Street codes, largest absolute growth first.
    """
    t = demand.groupby(["street", "year"])["pupils"].sum().unstack("year")
    if t.shape[1] < 2:
        return []
    first, last = t.iloc[:, 0], t.iloc[:, -1]
    grow = (last - first)[(last - first) > min_growth * first.clip(lower=1e-9)]
    return list(grow.sort_values(ascending=False).index[:n])


# --------------------------------------------------------------------------------------------------
# writers


def figure_png(fig: Figure) -> bytes:
    """``fig`` drawn at :data:`DPI` on white, as the bytes of an RGB PNG file
    (:func:`capacity.png.png_bytes`: no time and no software name in the file, so the same
    figure gives the same bytes)."""
    from capacity.png import png_bytes

    if not hasattr(fig.canvas, "buffer_rgba"):
        FigureCanvasAgg(fig)
    fig.set_dpi(DPI)
    fig.set_facecolor("white")
    fig.canvas.draw()
    return png_bytes(np.asarray(fig.canvas.buffer_rgba()), DPI)


def _save(fig: Figure, path: Path) -> Path:
    Path(path).write_bytes(figure_png(fig))
    fig.clear()
    return path


def write_plan_figures(out_dir, *, district, plan, counterfactual, population: pd.DataFrame | None,
                       demand: pd.DataFrame | None, growth_streets: Sequence[str] | None = None,
                       year: int | None = None, pyramid_streets: Sequence[str] = (),
                       figures: str = "all", workers: int | None = 0) -> list[Path]:
    """Write a plan's figures (PNG, 150 dpi).

    Parameters
    ----------
    out_dir
        Output folder (created).
    district, plan, counterfactual
        As for :func:`siting_map`.
    population
        ``street, year, sex, age, persons`` (None: no pyramid).
    demand
        ``street, level, year, pupils`` [+ ``p05, p95``] (optional interval band).
    growth_streets
        Streets for the small multiples; default :func:`growth_streets` of the demand.
    year
        The year of the siting maps; default the latest opening year of a new school (the plan's
        final year as far as the plan shows), else the last balance year.
    pyramid_streets
        Streets that also get a pyramid (``pyramid_<street>.png``).
    figures : {"all", "maps", "none"}
        Every figure, the siting maps only, or none.
    workers
        Worker processes drawing the figures in parallel (:class:`capacity.figures.FigureDrawer`);
        0 (default): in this process; None: one per CPU. The files are the same either way.

    Returns
    -------
    list of Path
        ``siting_<level>.png`` and ``demand_<level>.png`` per level, ``pyramid.png`` (district,
        final year as bars, base year as outline) and any street pyramids.
    """
    from capacity import figures as fg

    specs = fg.plan_figure_specs(district, plan, counterfactual, demand, figures=figures, year=year,
                                 growth_streets=growth_streets)
    specs += fg.population_figure_specs(population, figures=figures, pyramid_streets=pyramid_streets)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not specs:
        return []
    with fg.FigureDrawer(district, workers) as drawer:
        drawer.submit(specs)
        rendered = drawer.results()
    paths = []
    for name, png in rendered:
        (out / name).write_bytes(png)
        paths.append(out / name)
    return paths


def _levels_of(runs) -> list[str]:
    order: list[str] = []
    for run in runs.values():
        d = getattr(run, "district", None)
        cand = list(d.levels["level"]) if d is not None else []
        cand += list(pd.unique(run.demand["level"]))
        for lv in cand:
            if lv not in order and (run.demand["level"] == lv).any():
                order.append(lv)
    return order


def _scenario_labels(runs) -> dict[str, str]:
    from capacity.report import scenario_labels

    return scenario_labels(runs)


def _district_series(run, level: str) -> pd.DataFrame:
    d = run.demand[run.demand["level"] == level]
    cols = [c for c in ("pupils", "p05", "p95") if c in d.columns]
    return d.groupby("year")[cols].sum().sort_index()


def compare_demand_figure(runs: Mapping[str, object]) -> Figure:
    """District pupils by year and level, per scenario, with the 90% band where drawn.

    Up to two scenarios with bands: one panel per level, scenarios overlaid. Three or more: small
    multiples, one row per level and one column per scenario (its band and line in colour, the
    other scenarios' lines in grey behind, the same y axis along a row), so that no band hides
    another. The legend names each scenario's differing assumptions
    (:func:`capacity.report.scenario_labels`).
    """
    n_band = sum({"p05", "p95"} <= set(r.demand.columns) for r in runs.values())
    if n_band >= 3:
        return _compare_demand_multiples(runs)
    cjk = cjk_font()
    labels = _scenario_labels(runs)
    with mpl.rc_context(_rc(cjk)):
        levels = _levels_of(runs)
        district = next((getattr(r, "district", None) for r in runs.values()), None)
        ncols = min(2, max(1, len(levels)))
        nrows = math.ceil(len(levels) / ncols)
        fig = _figure(figsize=(5.2 * ncols, 3.4 * nrows + 1.2), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
        for k, a in enumerate(axes.flat):
            if k >= len(levels):
                a.set_visible(False)
                continue
            lv = levels[k]
            alpha = max(0.06, 0.24 / max(1, n_band))
            for j, (name, run) in enumerate(runs.items()):
                s = _district_series(run, lv)
                if {"p05", "p95"} <= set(s.columns):
                    a.fill_between(s.index, s["p05"], s["p95"], color=f"C{j % 10}", alpha=alpha, lw=0)
                a.plot(s.index, s["pupils"], color=f"C{j % 10}", lw=max(1.0, 2.6 - 0.4 * j),
                       ls=LINESTYLES[j % len(LINESTYLES)], label=labels[name])
            a.set_title(_level_label(district, lv, cjk is not None))
            a.set_ylabel("pupils (persons)")
            a.set_ylim(bottom=0)
            a.grid(alpha=0.3, lw=0.5)
            a.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True, nbins=6))
            a.yaxis.set_major_formatter(mpl.ticker.StrMethodFormatter("{x:,.0f}"))
        handles, texts = axes.flat[0].get_legend_handles_labels()
        if n_band:
            handles.append(Patch(color="0.5", alpha=0.25))
            texts.append("90% interval")
        fig.legend(handles, texts, loc="outside lower center", ncols=min(3, len(texts)),
                   title="scenario and what differs (district pupils by year)")
        fig.suptitle("Pupils by level and scenario", fontsize=12)
        return fig


def _compare_demand_multiples(runs: Mapping[str, object]) -> Figure:
    cjk = cjk_font()
    labels = _scenario_labels(runs)
    with mpl.rc_context(_rc(cjk)):
        levels = _levels_of(runs)
        district = next((getattr(r, "district", None) for r in runs.values()), None)
        names = list(runs)
        nr, nc = max(1, len(levels)), len(names)
        fig = _figure(figsize=(2.5 * nc + 0.8, 2.0 * nr + 1.6), layout="constrained")
        axes = fig.subplots(nr, nc, squeeze=False, sharex=True, sharey="row")
        series = {(n, lv): _district_series(runs[n], lv) for n in names for lv in levels}
        for i, lv in enumerate(levels):
            for j, name in enumerate(names):
                a = axes[i, j]
                for other in names:
                    if other != name:
                        o = series[(other, lv)]
                        a.plot(o.index, o["pupils"], color="0.7", lw=0.8, zorder=1)
                s = series[(name, lv)]
                if {"p05", "p95"} <= set(s.columns):
                    a.fill_between(s.index, s["p05"], s["p95"], color=f"C{j % 10}", alpha=0.25,
                                   lw=0, zorder=2)
                a.plot(s.index, s["pupils"], color=f"C{j % 10}", lw=1.8, zorder=3)
                a.set_ylim(bottom=0)
                a.grid(alpha=0.3, lw=0.5)
                a.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True, nbins=4))
                a.yaxis.set_major_formatter(mpl.ticker.StrMethodFormatter("{x:,.0f}"))
                if i == 0:
                    a.set_title(name, color=f"C{j % 10}", fontsize=9)
                if j == 0:
                    a.set_ylabel(f"{_level_label(district, lv, cjk is not None)}\npupils")
        handles = [Line2D([], [], color=f"C{j % 10}", lw=1.8) for j in range(len(names))]
        texts = [labels[n] for n in names]
        handles += [Patch(color="0.5", alpha=0.25), Line2D([], [], color="0.7", lw=0.8)]
        texts += ["90% interval", "the other scenarios"]
        fig.legend(handles, texts, loc="outside lower center", ncols=min(3, len(texts)),
                   title="scenario and what differs (district pupils by year)")
        fig.suptitle("Pupils by level and scenario (one column per scenario)", fontsize=12)
        return fig


def compare_shortfall_figure(runs: Mapping[str, object]) -> Figure:
    """Total shortfall and overcrowding (pupil-years) per scenario and level, as grouped bars; the
    legend names each scenario's differing assumptions."""
    cjk = cjk_font()
    labels = _scenario_labels(runs)
    with mpl.rc_context(_rc(cjk)):
        levels = _levels_of(runs)
        district = next((getattr(r, "district", None) for r in runs.values()), None)
        panel = 1.2 + 0.28 * len(levels) * max(1, len(runs))
        fig = _figure(figsize=(min(18.0, max(9.0, 2 * panel)), 4.8), layout="constrained")
        axes = fig.subplots(1, 2, sharey=False)
        width = 0.8 / max(1, len(runs))
        x = np.arange(len(levels))
        for a, col, title in ((axes[0], "shortfall", "Pupils without a place"),
                              (axes[1], "overcrowded", "Pupils in overcrowded places")):
            for j, (name, run) in enumerate(runs.items()):
                plan = getattr(run, "plan", None)
                if plan is None:
                    vals = np.full(len(levels), np.nan)
                else:
                    vals = np.array([plan.balance.loc[plan.balance["level"] == lv, col].sum() for lv in levels])
                bars = a.bar(x + (j - (len(runs) - 1) / 2) * width, np.nan_to_num(vals), width * 0.95,
                             color=f"C{j % 10}", label=labels[name])
                a.bar_label(bars, labels=[f"{v:,.0f}" if np.isfinite(v) else "–" for v in vals],
                            fontsize=6.5, padding=1, rotation=90 if len(runs) > 2 else 0)
            a.set_xticks(x, [_level_label(district, lv, cjk is not None).replace(" ", "\n")
                             for lv in levels])
            a.set_title(title)
            a.set_ylabel("pupil-years (summed over all years)")
            a.yaxis.set_major_formatter(mpl.ticker.StrMethodFormatter("{x:,.0f}"))
            a.margins(y=0.15)
            a.grid(axis="y", alpha=0.3, lw=0.5)
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
                   ncols=min(3, len(runs)), title="scenario and what differs")
        fig.suptitle("Shortfall and overcrowding by scenario", fontsize=12)
        return fig


def _new_places_by_street(run, level: str) -> pd.Series:
    plan = getattr(run, "plan", None)
    if plan is None or plan.schedule.empty:
        return pd.Series(dtype=float)
    s = by_kind(plan.schedule, "new")
    s = s[s["level"] == level]
    return s.groupby("street")["places"].sum().astype(float)


def compare_schools_map(runs: Mapping[str, object], level: str) -> Figure:
    """Where the scenarios' new schools of ``level`` differ: one map per scenario (street × scenario).

    Each street is shaded by the new places the scenario opens there over the plan period (its
    number of new schools written on it); streets where the scenarios differ (in new places) are
    outlined in every panel. Runs without a plan are left out. Panel titles name each scenario's
    differing assumptions (:func:`capacity.report.scenario_labels`).
    """
    cjk = cjk_font()
    labels = _scenario_labels(runs)
    planned = {n: r for n, r in runs.items() if getattr(r, "plan", None) is not None}
    district = next(r.district for r in planned.values())
    crs = utm_crs(district.streets)
    streets = district.streets.to_crs(crs)
    ids = streets["street"]
    places = pd.DataFrame({n: ids.map(_new_places_by_street(r, level)).fillna(0.0).to_numpy()
                           for n, r in planned.items()}, index=ids.to_numpy())
    new = {n: by_kind(r.plan.schedule, "new") for n, r in planned.items()}
    counts = {n: ids.map(new[n][new[n]["level"] == level].groupby("street").size())
              .fillna(0).astype(int).to_numpy() for n, r in planned.items()}
    differ = (places.max(axis=1) - places.min(axis=1) > 0.5).to_numpy()
    vmax = max(1.0, float(places.to_numpy().max()))
    norm = Normalize(0, vmax)
    cmap = mpl.colormaps["Blues"]
    label_pts = _label_points(streets, district)
    outline = gpd.GeoSeries([streets.geometry.union_all()], crs=crs).boundary
    minx, miny, maxx, maxy = streets.total_bounds
    aspect = (maxy - miny) / max(maxx - minx, 1.0)
    n = len(planned)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    pw = 4.2
    ph = min(6.0, max(2.5, pw * aspect))
    with mpl.rc_context(_rc(cjk)):
        fig = _figure(figsize=(pw * ncols + 0.4, (ph + 0.9) * nrows + 1.3), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for k, a in enumerate(axes.flat):
            if k >= n:
                a.set_visible(False)
                continue
            name = list(planned)[k]
            v = places[name].to_numpy()
            colours = [cmap(norm(x)) if x > 0.5 else (0.96, 0.96, 0.96, 1.0) for x in v]
            streets.plot(ax=a, color=colours, edgecolor="0.6", linewidth=0.5)
            if differ.any():
                streets[differ].boundary.plot(ax=a, color="#d62728", linewidth=1.8)
            outline.plot(ax=a, color="0.15", linewidth=1.0)
            for i, (pt, c) in enumerate(zip(label_pts, counts[name], strict=True)):
                if c > 0 or differ[i]:
                    a.text(pt.x, pt.y, str(c), ha="center", va="center", fontsize=7,
                           color="white" if norm(v[i]) > 0.6 else "0.1")
            a.set_title(labels[name], fontsize=8)
            a.set_aspect("equal")
            a.set_xticks([])
            a.set_yticks([])
            a.set_xlabel("")
            a.set_ylabel("")
        sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(sm, ax=axes.ravel().tolist(), orientation="horizontal", shrink=0.5,
                     label=f"new {level} places opened in the street (numbers: new schools)")
        n_diff = int(differ.sum())
        fig.suptitle(f"{_level_label(district, level, cjk is not None)}: where the scenarios' new "
                     f"schools differ ({n_diff} street{'s' if n_diff != 1 else ''} outlined in red)",
                     fontsize=11)
        return fig


def write_compare_figures(out_dir, runs: Mapping[str, object]) -> list[Path]:
    """Write ``compare_demand.png`` (pupils by level, scenarios overlaid; small multiples for three
    or more scenarios with bands), ``compare_shortfall.png`` (pupil-years without a place /
    overcrowded per scenario and level) and, when two or more scenarios have a plan,
    ``compare_schools_<level>.png`` (:func:`compare_schools_map`) for each level with new schools.

    Parameters
    ----------
    out_dir
        Output folder (created).
    runs
        Scenario name → run (``demand``, ``plan``, ``district``).

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [_save(compare_demand_figure(runs), out / "compare_demand.png")]
    if any(getattr(r, "plan", None) is not None for r in runs.values()):
        paths.append(_save(compare_shortfall_figure(runs), out / "compare_shortfall.png"))
    planned = [r for r in runs.values() if getattr(r, "plan", None) is not None
               and getattr(r, "district", None) is not None]
    if len(planned) >= 2:
        for lv in _levels_of(runs):
            if any((r.plan.schedule["level"] == lv).any() for r in planned):
                paths.append(_save(compare_schools_map(runs, lv), out / f"compare_schools_{lv}.png"))
    return paths

