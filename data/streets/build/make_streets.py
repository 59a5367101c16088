"""Streets: representative points, approximate polygons and the converted district outline.

Writes ``streets.csv``, ``streets.gpkg`` (layer ``streets``, EPSG:4326) and
``district_outline.geojson`` (EPSG:4326). Method (see SOURCES.md):

1. Seed points (GCJ-02 from Vonng/adcode ``divisions_120110.csv``, CC BY 4.0): every street and
   community/village point, labelled with its street by the first 9 digits of its code; the
   representative point of each street (adcode street point, or the mean of the street's community
   points, or the facts file); plus a few documented anchor points (ANCHORS below) where the source has
   no point at all.
2. All points and the real district outline are converted GCJ-02 -> WGS-84 (iterative inverse of the
   published forward transform, ~1 m).
3. Voronoi partition of the seeds (computed in a local equal-scale frame: longitude scaled by
   cos(39.1 deg)), cells dissolved by street, clipped to the outline.
4. Clean-up so that every street is one polygon: a detached piece of a street (an island inside
   another street's area) is given to the neighbouring street with which it shares the longest border.
"""

from __future__ import annotations

import json
import os

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from common import DIVISIONS, OUT, OUTLINE_GCJ, STREETS, gcj02_to_wgs84, wgs84_to_gcj02
from shapely.geometry import MultiPoint, Point, mapping, shape
from shapely.ops import unary_union, voronoi_diagram

COS_LAT = float(np.cos(np.radians(39.1)))

# Anchor points (GCJ-02) for streets with no or too few points in the source. They are NOT surveyed
# points: they place a street's area where the facts file and the outline say it lies.
ANCHORS = [
    # 东丽湖: no point in the source; the lake lies in the district's north-east (facts file)
    ("东丽湖", 117.440, 39.225, "north-east lobe of the outline (Dongli Lake area)"),
    ("东丽湖", 117.475, 39.205, "north-east lobe of the outline (Dongli Lake area)"),
    ("东丽湖", 117.405, 39.235, "north-east lobe of the outline (Dongli Lake area)"),
    # 华明: official area 99.71 km2 (facts file) but its own points are few and hemmed in by the
    # 金桥/华新 points; anchors spread it over the north-centre around its street point
    ("华明", 117.395, 39.195, "north of the Huaming street point"),
    ("华明", 117.360, 39.190, "north-west of the Huaming street point"),
    ("华明", 117.345, 39.160, "between the Huaming street point and its villages 于明庄/昆俞欣园"),
    # 无瑕: one point only; the eastern lobe of the outline is given to it rather than to 军粮城
    # (军粮城 is 33.12 km2 by the facts file)
    ("无瑕", 117.535, 39.085, "eastern lobe of the outline"),
    ("无瑕", 117.550, 39.060, "eastern lobe of the outline"),
    ("无瑕", 117.525, 39.045, "between the Wuxia street point and the eastern lobe"),
]

# representative point per street. kind: "adcode" = the street's own point in divisions_120110.csv;
# "mean" = mean of the street's community/village points in that file; "facts" = facts/dongli.md;
# "anchor" = mean of the anchors above.
POINT_KIND = {
    "张贵庄": "adcode", "丰年村": "adcode", "万新": "adcode", "无瑕": "adcode", "新立": "adcode",
    "华明": "adcode", "金钟": "adcode", "军粮城": "facts", "金桥": "mean", "华新": "mean",
    "东丽湖": "anchor",
}
# 军粮城 in facts/dongli.md: 117.45083, 39.05833 (en.wikipedia, already WGS-84)
JUNLIANGCHENG_WGS = (117.45083, 39.05833)


def read_divisions() -> pd.DataFrame:
    cols = ["code", "parent", "name", "level", "rank", "adcode", "post_code", "area_code",
            "ur_code", "municipality", "virtual", "dummy", "lon", "lat", "center", "province",
            "city", "county", "town", "village"]
    d = pd.read_csv(DIVISIONS, header=None, names=cols, dtype=str)
    d["lon"] = pd.to_numeric(d["lon"])
    d["lat"] = pd.to_numeric(d["lat"])
    d["street"] = d["code"].str[:9]
    return d


def street_points(div: pd.DataFrame) -> pd.DataFrame:
    """Representative points in WGS-84, with point_source text."""
    rows = []
    for r in STREETS.itertuples():
        kind = POINT_KIND[r.name_zh]
        if kind == "adcode":
            p = div[(div["code"] == r.street + "000")].iloc[0]
            lon, lat = gcj02_to_wgs84(p["lon"], p["lat"])
            src = ("street point of divisions_120110.csv (adcode by Vonng, CC BY 4.0), "
                   "GCJ-02 converted to WGS-84")
        elif kind == "mean":
            c = div[(div["street"] == r.street) & (div["level"] == "village") & div["lon"].notna()]
            lon, lat = gcj02_to_wgs84(c["lon"].mean(), c["lat"].mean())
            names = "、".join(c["name"].str.replace("社区居委会", "").str.replace("村委会", ""))
            src = (f"mean of its {len(c)} community/village point(s) in divisions_120110.csv "
                   f"({names}; adcode by Vonng, CC BY 4.0), GCJ-02 converted to WGS-84")
        elif kind == "facts":
            lon, lat = JUNLIANGCHENG_WGS
            src = "facts/dongli.md (en.wikipedia coordinates, WGS-84); not in the adcode file"
        else:
            a = [(x, y) for n, x, y, _ in ANCHORS if n == r.name_zh]
            lon, lat = gcj02_to_wgs84(np.mean([x for x, _ in a]), np.mean([y for _, y in a]))
            src = ("estimate: mean of anchor points placed in the north-east lobe of the district "
                   "outline, where the lake lies (facts/dongli.md); no point in any source")
        rows.append((r.street, r.name_zh, r.name_pinyin, round(float(lon), 6),
                     round(float(lat), 6), src))
    return pd.DataFrame(rows, columns=["street", "name_zh", "name_pinyin", "lon", "lat",
                                       "point_source"])


def seeds(div: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
    c = div[div["street"].isin(STREETS["street"]) & div["lon"].notna()
            & div["level"].isin(["town", "village"])]
    lon, lat = gcj02_to_wgs84(c["lon"].to_numpy(), c["lat"].to_numpy())
    s = pd.DataFrame({"street": c["street"].to_numpy(), "lon": lon, "lat": lat})
    code = dict(zip(STREETS["name_zh"], STREETS["street"], strict=True))
    alon, alat = gcj02_to_wgs84([a[1] for a in ANCHORS], [a[2] for a in ANCHORS])
    s = pd.concat([s, pd.DataFrame({"street": [code[a[0]] for a in ANCHORS], "lon": alon,
                                    "lat": alat}),
                   reps[["street", "lon", "lat"]]], ignore_index=True)
    s = s.round({"lon": 7, "lat": 7}).drop_duplicates(["lon", "lat"]).reset_index(drop=True)
    return s


def to_local(geom):
    return shapely.transform(geom, lambda xy: np.column_stack([xy[:, 0] * COS_LAT, xy[:, 1]]))


def from_local(geom):
    return shapely.transform(geom, lambda xy: np.column_stack([xy[:, 0] / COS_LAT, xy[:, 1]]))


def voronoi_streets(seed: pd.DataFrame, outline) -> dict[str, object]:
    pts = [Point(x * COS_LAT, y) for x, y in zip(seed["lon"], seed["lat"], strict=True)]
    local_outline = to_local(outline)
    env = local_outline.buffer(0.05).envelope
    cells = voronoi_diagram(MultiPoint(pts), envelope=env)
    by_street: dict[str, list] = {s: [] for s in STREETS["street"]}
    for cell in cells.geoms:
        hit = [i for i, p in enumerate(pts) if cell.contains(p)]
        assert len(hit) == 1
        by_street[seed["street"].iloc[hit[0]]].append(cell)
    polys = {s: unary_union(c).intersection(local_outline) for s, c in by_street.items()}
    return {s: from_local(g) for s, g in polys.items()}


def parts(g):
    return list(g.geoms) if g.geom_type in ("MultiPolygon", "GeometryCollection") else [g]


def single_polygons(polys: dict[str, object], rep: dict[str, Point]) -> dict[str, object]:
    """Give every detached piece (all but the one holding the representative point) to the neighbour with the longest border."""
    polys = {s: unary_union([p for p in parts(g) if p.geom_type == "Polygon"])
             for s, g in polys.items()}
    for _ in range(10):
        changed = False
        for s in sorted(polys):
            ps = parts(polys[s])
            if len(ps) <= 1:
                continue
            # keep the piece holding the street's representative point (else the largest)
            inside = [p for p in ps if p.buffer(1e-9).contains(rep[s])]
            keep = inside[0] if inside else max(ps, key=lambda p: p.area)
            extra = [p for p in ps if p is not keep]
            polys[s] = keep
            for piece in extra:
                best = max((t for t in polys if t != s),
                           key=lambda t: piece.boundary.intersection(
                               polys[t].buffer(1e-7)).length)
                polys[best] = unary_union([polys[best], piece])
            changed = True
        if not changed:
            break
    return {s: shapely.make_valid(shapely.set_precision(g, 1e-7)) for s, g in polys.items()}


def main() -> None:
    div = read_divisions()
    gj = json.loads(OUTLINE_GCJ.read_text(encoding="utf-8"))
    outline_gcj = shape(gj)
    outline = shapely.transform(outline_gcj, lambda xy: np.column_stack(gcj02_to_wgs84(xy[:, 0],
                                                                                       xy[:, 1])))
    outline = shapely.set_precision(outline, 1e-7)
    reps = street_points(div)
    seed = seeds(div, reps)
    rep = {r.street: Point(r.lon, r.lat) for r in reps.itertuples()}
    polys = single_polygons(voronoi_streets(seed, outline), rep)
    for s, g in polys.items():
        assert g.geom_type == "Polygon" and not g.is_empty, (s, g.geom_type)
    reps.to_csv(OUT / "streets.csv", index=False, lineterminator="\n")
    gdf = gpd.GeoDataFrame({"street": list(STREETS["street"]),
                            "approximate": [True] * len(STREETS)},
                           geometry=[polys[s] for s in STREETS["street"]], crs="EPSG:4326")
    path = OUT / "streets.gpkg"
    if path.exists():
        path.unlink()
    # fixed timestamp so the GeoPackage is byte-identical on every run (GDAL config option)
    os.environ["OGR_CURRENT_DATE"] = "2020-11-01T00:00:00Z"
    gdf.to_file(path, layer="streets", driver="GPKG")
    (OUT / "district_outline.geojson").write_text(json.dumps({
        "type": "FeatureCollection",
        "name": "dongli_outline_wgs84",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": [{"type": "Feature", "properties": {
            "code": "120110", "name_zh": "东丽区",
            "source": "district_outline_120110.json, adcode by Vonng, CC BY 4.0; "
                      "converted GCJ-02 -> WGS-84 (iterative inverse of the published transform)"},
            "geometry": mapping(outline)}]}, ensure_ascii=False) + "\n", encoding="utf-8")
    # check: round trip of the conversion
    lon, lat = gcj02_to_wgs84(117.3, 39.1)
    blon, blat = wgs84_to_gcj02(lon, lat)
    assert abs(blon - 117.3) < 1e-8 and abs(blat - 39.1) < 1e-8


if __name__ == "__main__":
    main()
