"""GeoPackage layers for QGIS beyond the plan's horizon-year street layer.

* :func:`balance_layer` — one row per street, level and year (street polygons), with the planner's
  measures and a ``date`` column (1 January of the year) that QGIS's temporal controller can play;
* :func:`supply_layer` — existing places by street and level (and kindergarten type), at the street
  points;
* :func:`flows_layer` — assignment flows between streets (home street to the street of the school),
  one line per level and year.

All geometries are in the CRS of the district's street layer.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely import LineString

__all__ = ["balance_layer", "flows_layer", "supply_layer"]

#: Flows below this many pupils are left out of :func:`flows_layer` (artefacts, not pupils).
MIN_FLOW = 0.5


def _names(district) -> pd.DataFrame:
    cols = [c for c in ("street", "name_zh", "name_pinyin") if c in district.streets.columns]
    return pd.DataFrame(district.streets[cols])


def balance_layer(district, plan) -> gpd.GeoDataFrame:
    """Street polygons, one row per street, level and year.

    Returns
    -------
    GeoDataFrame
        ``street, name_zh, name_pinyin, level, year, date`` (``YYYY-01-01``), ``pupils, places,
        places_short, classes_short, spare_places, utilisation, shortfall, overcrowded`` (pupils
        rounded to 0.1; places and classes whole; utilisation a share) and the street polygon.
    """
    from capacity.measures import _class_sizes, plan_grades, street_measures

    b = street_measures(plan.balance, _class_sizes(plan, None), **plan_grades(plan))
    cols = ["street", "level", "year", "pupils", "places", "places_short", "classes_short",
            "spare_places", "utilisation", "shortfall", "overcrowded"]
    b = b[cols].copy()
    b["year"] = b["year"].astype(np.int64)
    b["date"] = b["year"].astype(str) + "-01-01"
    for c in ("pupils", "places_short", "spare_places", "shortfall", "overcrowded"):
        b[c] = b[c].round(1)
    b["places"] = b["places"].round().astype(np.int64)
    b["utilisation"] = b["utilisation"].round(3)
    b = b.merge(_names(district), on="street", how="left")
    geo = district.streets[["street", "geometry"]]
    g = geo.merge(b, on="street", how="inner")
    order = ["street", "name_zh", "name_pinyin", "level", "year", "date", *cols[3:], "geometry"]
    g = g[[c for c in order if c in g.columns]].sort_values(["level", "year", "street"], kind="stable")
    return gpd.GeoDataFrame(g.reset_index(drop=True), geometry="geometry", crs=district.streets.crs)


def _points(district) -> gpd.GeoSeries:
    s = district.streets
    return gpd.GeoSeries(gpd.points_from_xy(s["lon"], s["lat"]), index=s["street"], crs=s.crs)


def supply_layer(district) -> gpd.GeoDataFrame:
    """Existing places by street and level (kindergartens also by public / inclusive), at the
    street points.

    Returns
    -------
    GeoDataFrame
        ``street, name_zh, name_pinyin, level, public, inclusive, classes, places`` and a point.
    """
    sup = district.supply.groupby(["street", "level", "public", "inclusive"], as_index=False)[
        ["classes", "places"]].sum()
    sup[["classes", "places"]] = sup[["classes", "places"]].round().astype(np.int64)
    sup = sup.merge(_names(district), on="street", how="left")
    pts = _points(district)
    sup = sup[["street", "name_zh", "name_pinyin", "level", "public", "inclusive", "classes", "places"]]
    return gpd.GeoDataFrame(sup, geometry=list(pts.loc[sup["street"]]), crs=district.streets.crs)


def flows_layer(district, plan) -> gpd.GeoDataFrame:
    """Pupils assigned to schools in another street, as lines between the street points.

    Returns
    -------
    GeoDataFrame
        ``street, name_zh`` (home), ``site_street, site_name_zh`` (school), ``level, year, pupils``
        (rounded to 0.1; flows under :data:`MIN_FLOW` pupils left out) and a line.
    """
    a = plan.assignment
    cols = ["street", "name_zh", "site_street", "site_name_zh", "level", "year", "pupils", "geometry"]
    if a.empty or "site_street" not in a.columns:
        return gpd.GeoDataFrame(columns=cols, geometry="geometry", crs=district.streets.crs)
    f = a[a["street"] != a["site_street"]].groupby(["street", "site_street", "level", "year"],
                                                    as_index=False)["pupils"].sum()
    f = f[f["pupils"] >= MIN_FLOW].copy()
    f["pupils"] = f["pupils"].round(1)
    f["year"] = f["year"].astype(np.int64)
    names = district.street_names() if hasattr(district, "street_names") else {}
    f["name_zh"] = f["street"].map(names)
    f["site_name_zh"] = f["site_street"].map(names)
    f = f.sort_values(["level", "year", "street", "site_street"], kind="stable")
    pts = _points(district)
    lines = [LineString([pts[s], pts[t]]) for s, t in zip(f["street"], f["site_street"], strict=True)]
    return gpd.GeoDataFrame(f[cols[:-1]].reset_index(drop=True), geometry=lines,
                            crs=district.streets.crs)
