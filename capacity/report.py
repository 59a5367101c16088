"""Tables of a plan and of a scenario comparison: CSV, JSON, Excel workbook and GeoPackage.

Every function takes plain tables (duck-typed): a *district* has ``streets`` (GeoDataFrame
``street, name_zh, name_pinyin, ..., geometry``), ``levels`` (``level, name_zh, first_age,
last_age``) and ``sites`` (``site, street, level, earliest_year, sizes, lon, lat, ...``); a *plan*
has ``schedule`` (``site, street, level, open_year, classes, places``), ``balance`` (``street,
level, year, pupils, places, assigned, shortfall, overcrowded``), ``assignment`` (``street, level,
year, site, pupils``) and ``report`` (a dataclass); a *run* (``ScenarioRun``) has ``name``,
``district``, ``population``, ``demand``, ``plan`` and ``counterfactual``.

Units: pupils and places are persons; ``shortfall`` is pupils without a place, ``overcrowded`` pupils
in places above the standard class size; summed over years both are *pupil-years*.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from capacity.kinds import by_kind
from capacity.outputs import fix_geopackage

__all__ = [
    "assumptions_table",
    "compare_schools_table",
    "compare_table",
    "plan_summary",
    "selected_years",
    "streets_layer",
    "sites_layer",
    "timings_dict",
    "write_compare",
    "write_plan",
    "write_workbook",
    "scenario_labels",
]

#: Columns that hold counts (written as integers).
INT_COLUMNS = ("year", "open_year", "classes", "earliest_year", "schools")
#: Decimals kept for pupil counts in the CSV files (projections give fractional pupils).
CSV_DECIMALS = 3
#: Decimals kept for pupil counts in the workbook and the GeoPackage.
SHOW_DECIMALS = 1
BALANCE_MEASURES = ("pupils", "places", "shortfall", "overcrowded")


# --------------------------------------------------------------------------------------------------
# helpers


def _jsonable(obj):
    """Make ``obj`` JSON-safe: NaN/inf → None, numpy scalars → Python, tuples → lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _level_order(district, *tables: pd.DataFrame) -> list[str]:
    """Levels in the district's order, then any other level found in ``tables``."""
    order = list(district.levels["level"]) if district is not None else []
    for t in tables:
        if t is not None and "level" in t.columns:
            order += [lv for lv in pd.unique(t["level"]) if lv not in order]
    return order


def _sorted(table: pd.DataFrame, district, keys: Sequence[str]) -> pd.DataFrame:
    """Sort by ``keys`` with levels and streets in the district's order."""
    t = table.copy()
    sort = []
    for k in keys:
        if k not in t.columns:
            continue
        if k == "level":
            t["_level"] = t["level"].map({lv: i for i, lv in enumerate(_level_order(district, t))})
            sort.append("_level")
        elif k in ("street", "site_street") and district is not None:
            rank = {s: i for i, s in enumerate(district.streets["street"])}
            t["_" + k] = t[k].map(rank).fillna(len(rank))
            sort.append("_" + k)
        else:
            sort.append(k)
    if sort:
        t = t.sort_values(sort, kind="stable")
    return t.drop(columns=[c for c in sort if c.startswith("_")]).reset_index(drop=True)


def _ints(table: pd.DataFrame, extra: Iterable[str] = ()) -> pd.DataFrame:
    """Write count columns as integers (``places`` too when all values are whole)."""
    t = table.copy()
    for c in (*INT_COLUMNS, *extra):
        if c in t.columns and len(t) and pd.api.types.is_numeric_dtype(t[c]):
            v = t[c]
            if v.isna().any():
                t[c] = v.round().astype("Int64")
            else:
                t[c] = v.round().astype(np.int64)
    return t


def _whole(table: pd.DataFrame, columns: Iterable[str]) -> list[str]:
    """The ``columns`` of ``table`` whose values are all whole numbers."""
    out = []
    for c in columns:
        if c in table.columns and pd.api.types.is_numeric_dtype(table[c]):
            v = table[c].dropna().to_numpy(float)
            if np.allclose(v, np.round(v), atol=1e-6):
                out.append(c)
    return out


def _round(table: pd.DataFrame, decimals: int) -> pd.DataFrame:
    t = table.copy()
    for c in t.columns:
        if pd.api.types.is_float_dtype(t[c]):
            t[c] = t[c].round(decimals)
    return t


def _names(district) -> pd.DataFrame:
    """``street, name_zh, name_pinyin`` of the district (empty if no district)."""
    if district is None:
        return pd.DataFrame(columns=["street", "name_zh", "name_pinyin"])
    cols = [c for c in ("street", "name_zh", "name_pinyin") if c in district.streets.columns]
    return pd.DataFrame(district.streets[cols]).copy()


def _with_names(table: pd.DataFrame, district, street_col: str = "street") -> pd.DataFrame:
    """Insert ``name_zh`` (and ``name_pinyin``) right after ``street_col``."""
    names = _names(district)
    if street_col not in table.columns or names.empty:
        return table.copy()
    prefix = "" if street_col == "street" else street_col.removesuffix("street")
    add = names.rename(columns={
        "street": street_col, "name_zh": prefix + "name_zh", "name_pinyin": prefix + "name_pinyin"})
    new_cols = [c for c in add.columns if c != street_col]
    out = table.drop(columns=[c for c in new_cols if c in table.columns]).merge(
        add, on=street_col, how="left")
    cols = list(table.columns)
    i = cols.index(street_col) + 1
    cols = [c for c in cols if c not in new_cols]
    return out[cols[:i] + new_cols + cols[i:]]


def _balance(plan) -> pd.DataFrame:
    return plan.balance if plan is not None else pd.DataFrame(
        columns=["street", "level", "year", *BALANCE_MEASURES])


def selected_years(plan, *, plan_end: int | None = None) -> list[int]:
    """The horizon years a plan's maps and GeoPackage show.

    Parameters
    ----------
    plan
        A plan (``schedule``, ``balance``).
    plan_end
        The plan period's final year; if not given, the latest opening year of a new school.

    Returns
    -------
    list of int
        ``plan_end`` (when it is a balance year) and the last balance year, sorted, no duplicates.
    """
    years = sorted(int(y) for y in pd.unique(plan.balance["year"]))
    if not years:
        return []
    if plan_end is None and len(plan.schedule):
        plan_end = int(plan.schedule["open_year"].max())
    out = {years[-1]}
    if plan_end is not None and years[0] <= plan_end <= years[-1]:
        out.add(int(plan_end))
    return sorted(out)


# --------------------------------------------------------------------------------------------------
# plan tables


def schedule_table(plan, district=None) -> pd.DataFrame:
    """New schools in readable order (level, open year, street, site) with counts as integers."""
    s = plan.schedule.copy()
    first = [c for c in ("site", "street", "level", "open_year", "classes", "places") if c in s.columns]
    s = s[first + [c for c in s.columns if c not in first]]
    s = _sorted(s, district, ["level", "open_year", "street", "site"])
    return _ints(s, _whole(s, ["places"]))


def balance_table(plan, district=None) -> pd.DataFrame:
    """``balance`` in order level, year, street, with the planner's measures by street
    (``places_short, classes_short, spare_places, utilisation``; :mod:`capacity.measures`);
    years as integers."""
    from capacity.measures import _class_sizes, plan_grades, street_measures

    b = _balance(plan).copy()
    if plan is not None and len(b):
        b = street_measures(b, _class_sizes(plan, None), **plan_grades(plan))
    first = ["street", "level", "year", "pupils", "places", "places_short", "classes_short",
             "spare_places", "utilisation", "assigned", "shortfall", "overcrowded"]
    b = b[[c for c in first if c in b.columns] + [c for c in b.columns if c not in first]]
    b = _sorted(b, district, ["level", "year", "street"])
    return _ints(b, _whole(b, ["places", "max_places"]))


def assignment_table(plan, district=None) -> pd.DataFrame:
    """``assignment`` in order level, year, street, site."""
    a = plan.assignment.copy()
    first = ["street", "level", "year", "site", "pupils"]
    a = a[[c for c in first if c in a.columns] + [c for c in a.columns if c not in first]]
    return _ints(_sorted(a, district, ["level", "year", "street", "site"]))


def demand_table(demand: pd.DataFrame, district=None) -> pd.DataFrame:
    """``demand`` (``street, level, year, pupils`` [+ ``p05, p50, p95``]) in order level, year, street."""
    d = demand.copy()
    first = ["street", "level", "year", "pupils", "p05", "p50", "p95"]
    d = d[[c for c in first if c in d.columns] + [c for c in d.columns if c not in first]]
    return _ints(_sorted(d, district, ["level", "year", "street"]))


def summary_table(plan, counterfactual=None, district=None) -> pd.DataFrame:
    """District totals by level and year.

    Returns
    -------
    DataFrame
        ``level, year, pupils, places, shortfall, overcrowded`` (from the plan) and, with a
        counterfactual, ``places_without_new, shortfall_without_new, overcrowded_without_new``.
    """
    b = _balance(plan)
    out = b.groupby(["level", "year"], as_index=False)[list(BALANCE_MEASURES)].sum()
    if counterfactual is not None:
        c = counterfactual.balance.groupby(["level", "year"], as_index=False)[
            ["places", "shortfall", "overcrowded"]].sum()
        c = c.rename(columns={k: f"{k}_without_new" for k in ("places", "shortfall", "overcrowded")})
        out = out.merge(c, on=["level", "year"], how="outer")
    out = _sorted(out, district, ["level", "year"])
    return _ints(out, _whole(out, ["places", "places_without_new"]))


def population_table(population: pd.DataFrame, district=None) -> pd.DataFrame:
    """Persons by street and year: total and in the ages of each school level.

    Returns
    -------
    DataFrame
        ``street, year, persons, age_<level>`` (persons aged ``first_age..last_age`` of the level).
    """
    p = population
    out = p.groupby(["street", "year"], as_index=False)["persons"].sum()
    if district is not None:
        for lv in district.levels.itertuples(index=False):
            sel = p[(p["age"] >= lv.first_age) & (p["age"] <= lv.last_age)]
            s = sel.groupby(["street", "year"])["persons"].sum().rename(f"age_{lv.level}")
            out = out.merge(s.reset_index(), on=["street", "year"], how="left")
    return _ints(_sorted(out, district, ["year", "street"]))


def _split_timings(d):
    """(``d`` without its times, the times alone): keys ``seconds`` / ``*_seconds`` at any depth;
    list items keep their ``term`` (the solver stage) beside their times."""
    if isinstance(d, dict):
        rest, times = {}, {}
        for k, v in d.items():
            if k == "seconds" or str(k).endswith("_seconds"):
                times[k] = v
                continue
            r, t = _split_timings(v)
            rest[k] = r
            if t:
                times[k] = t
        if times and "term" in d:
            times = {"term": d["term"], **times}
        return rest, times
    if isinstance(d, (list, tuple)):
        pairs = [_split_timings(v) for v in d]
        times = [t for _, t in pairs]
        return [r for r, _ in pairs], times if any(times) else None
    return d, None


def _report_dict(plan) -> dict:
    rep = plan.report
    return dataclasses.asdict(rep) if dataclasses.is_dataclass(rep) else dict(vars(rep))


def timings_dict(plan, scenario_name: str | None = None, counterfactual=None) -> dict:
    """``timings.json`` content: the run's times in seconds (``build_seconds``, ``solve_seconds``,
    each solver stage's ``seconds``), for the plan and the counterfactual. These differ from run
    to run, so they are kept out of ``solver.json``."""
    out = {"scenario": scenario_name, "plan": _split_timings(_report_dict(plan))[1]}
    if counterfactual is not None:
        out["counterfactual"] = _split_timings(_report_dict(counterfactual))[1]
    return _jsonable(out)


def solver_dict(plan, scenario_name: str | None = None, counterfactual=None) -> dict:
    """``solver.json`` content: scenario name, the solver report and totals (JSON-safe); no times
    (see :func:`timings_dict`), so that the same inputs give the same file."""
    d = _split_timings(_report_dict(plan))[0]
    out = {"scenario": scenario_name, **d}
    sch, bal = by_kind(plan.schedule, "new"), plan.balance
    totals = {
        "new_schools": {str(k): int(v) for k, v in sch.groupby("level").size().items()},
        "new_places": {str(k): float(v) for k, v in sch.groupby("level")["places"].sum().items()},
        **{f"{kind}_places": {str(k): float(v) for k, v in
                              by_kind(plan.schedule, kind).groupby("level")["places"].sum().items()}
           for kind in ("expansion", "conversion") if len(by_kind(plan.schedule, kind))},
        "pupils": float(bal["pupils"].sum()),
        "shortfall": float(bal["shortfall"].sum()),
        "overcrowded": float(bal["overcrowded"].sum()),
        "shortfall_by_level": {str(k): float(v) for k, v in bal.groupby("level")["shortfall"].sum().items()},
        "overcrowded_by_level": {
            str(k): float(v) for k, v in bal.groupby("level")["overcrowded"].sum().items()},
    }
    if counterfactual is not None:
        cb = counterfactual.balance
        totals["shortfall_without_new"] = float(cb["shortfall"].sum())
        totals["overcrowded_without_new"] = float(cb["overcrowded"].sum())
    out["totals"] = totals
    return _jsonable(out)


def _solver_sheet(info: dict) -> pd.DataFrame:
    rows = []
    for k, v in info.items():
        if isinstance(v, dict):
            rows += [(f"{k}.{k2}", v2 if not isinstance(v2, (dict, list)) else json.dumps(v2, ensure_ascii=False))
                     for k2, v2 in v.items()]
        elif isinstance(v, list):
            rows.append((k, json.dumps(v, ensure_ascii=False)))
        else:
            rows.append((k, v))
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": object})


# --------------------------------------------------------------------------------------------------
# GeoPackage layers


def streets_layer(district, plan, counterfactual=None, years: Sequence[int] | None = None) -> gpd.GeoDataFrame:
    """Street polygons with the plan's balance for selected years, one column per measure.

    Parameters
    ----------
    district
        Has ``streets`` (GeoDataFrame) and ``levels``.
    plan, counterfactual
        Plans; the counterfactual adds ``<level>_<year>_shortfall_without_new``.
    years
        Years to show; default :func:`selected_years`.

    Returns
    -------
    GeoDataFrame
        ``street, name_zh, name_pinyin, approximate`` and ``<level>_<year>_<measure>`` for measures
        pupils, places, shortfall, overcrowded (pupils rounded to 0.1, places whole), geometry.
    """
    years = list(years) if years is not None else selected_years(plan)
    base_cols = [c for c in ("street", "name_zh", "name_pinyin", "approximate") if c in district.streets]
    gdf = district.streets[[*base_cols, "geometry"]].copy()
    b = plan.balance
    cb = counterfactual.balance if counterfactual is not None else None
    for level in _level_order(district, b):
        for year in years:
            sel = b[(b["level"] == level) & (b["year"] == year)].set_index("street")
            for m in BALANCE_MEASURES:
                v = gdf["street"].map(sel[m]).fillna(0.0)
                gdf[f"{level}_{year}_{m}"] = v.round().astype(np.int64) if m == "places" else v.round(SHOW_DECIMALS)
            if cb is not None:
                csel = cb[(cb["level"] == level) & (cb["year"] == year)].set_index("street")
                gdf[f"{level}_{year}_shortfall_without_new"] = (
                    gdf["street"].map(csel["shortfall"]).fillna(0.0).round(SHOW_DECIMALS))
    cols = [c for c in gdf.columns if c != "geometry"] + ["geometry"]
    return gpd.GeoDataFrame(gdf[cols], geometry="geometry", crs=district.streets.crs)


def _new_places(schedule: pd.DataFrame, level: str) -> float:
    """Standard places of the new schools of ``level`` (expansions and conversions left out)."""
    s = by_kind(schedule, "new")
    return float(s.loc[s["level"] == level, "places"].sum())


def _kindergarten_types(plan, district, years=None) -> pd.DataFrame | None:
    """:func:`capacity.kinds.kindergarten_types` in the summary's years (:func:`selected_years`),
    or None without kindergartens, supply or assignment."""
    from capacity.kinds import kindergarten_types

    level = getattr(plan, "grade_level", None) or "kindergarten"
    supply = getattr(district, "supply", None)
    asg = getattr(plan, "assignment", None)
    if supply is None or asg is None or not (asg["level"] == level).any():
        return None
    t = kindergarten_types(plan, supply, level)
    return t[t["year"].isin(years if years is not None else selected_years(plan))]


def sites_layer(district, plan) -> gpd.GeoDataFrame:
    """Candidate sites as points: the opened ones with their schedule, the rest ``opened=False``.

    Returns
    -------
    GeoDataFrame
        ``site, street, name_zh, level, kind, opened, open_year, classes, places, earliest_year,
        sizes, cost_per_class, annual_cost_per_place, public, inclusive`` (``kind``: ``new``,
        ``expansion`` or ``conversion``, as in sites.csv; a conversion's places are those made
        inclusive); ``open_year``, ``classes`` and ``places`` are empty for sites that do not open. Opened sites first (by level, year); point geometry in the
        CRS of the street layer.
    """
    sites = district.sites.copy()
    sch = plan.schedule[["site", "open_year", "classes", "places"]].copy()
    s = sites.merge(sch, on="site", how="outer", indicator=True)
    s["opened"] = s["_merge"] != "left_only"
    if "sizes" in s.columns:
        s["sizes"] = s["sizes"].map(
            lambda v: ";".join(str(int(x)) for x in v) if isinstance(v, (tuple, list)) else (
                "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)))
    # a scheduled site missing from the candidate list (should not happen) keeps its schedule street
    if s["street"].isna().any():
        s["street"] = s["street"].fillna(s["site"].map(plan.schedule.set_index("site")["street"]))
    s = _with_names(s, district)
    cols = ["site", "street", "name_zh", "level", "kind", "opened", "open_year", "classes", "places",
            "earliest_year", "sizes", "cost_per_class", "annual_cost_per_place", "public", "inclusive"]
    s = s[[c for c in cols if c in s.columns]
          + [c for c in ("lon", "lat") if c in s.columns]]
    s = s.sort_values(["opened", "level", "open_year", "site"], ascending=[False, True, True, True])
    s = s.reset_index(drop=True)
    s = _ints(s, ["places"])
    geom = gpd.points_from_xy(s.pop("lon"), s.pop("lat")) if "lon" in s.columns else None
    return gpd.GeoDataFrame(s, geometry=geom, crs=district.streets.crs)


# --------------------------------------------------------------------------------------------------
# Excel


def _text_width(v) -> int:
    s = str(v)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


def _number_format(col: pd.Series, name) -> str | None:
    """Excel number format of a column: thousands separators, one decimal for fractions."""
    if pd.api.types.is_bool_dtype(col):
        return None
    if pd.api.types.is_float_dtype(col):
        return "#,##0.0"
    if pd.api.types.is_integer_dtype(col) or (col.dtype == object and name in INT_COLUMNS):
        return "0" if name in ("year", "open_year", "earliest_year") else "#,##0"
    return None


def _cell_values(col: pd.Series) -> list:
    """A column as Python values for the sheet; missing values (NaN, NA, None) as empty cells."""
    values = col.astype(object).tolist()
    missing = col.isna().to_numpy()
    if missing.any():
        values = [None if m else v for v, m in zip(values, missing, strict=True)]
    return values


def write_workbook(path, sheets: Mapping[str, pd.DataFrame]) -> Path:
    """Write ``sheets`` (name → table) to an Excel workbook, one sheet each.

    The header row is bold and frozen, an autofilter is set, columns are sized to their content
    (at most 50 characters) and numbers formatted (thousands separators; one decimal for
    fractional columns). Missing values are empty cells.

    Written as spreadsheet XML text (:func:`capacity.xlsx.write_xlsx`; about twenty times faster
    than openpyxl's write-only workbook), with fixed document times.

    Returns
    -------
    Path
        ``path``.
    """
    from capacity.xlsx import Sheet, write_xlsx

    out = []
    for name, table in sheets.items():
        t = pd.DataFrame(table).reset_index(drop=True)
        columns, formats, widths = [], [], []
        for c in t.columns:
            values = _cell_values(t[c])
            width = max([_text_width(c)] + [_text_width(v) for v in values[:500] if v is not None])
            widths.append(min(50, width + 3))
            columns.append(values)
            formats.append(_number_format(t[c], c))
        out.append(Sheet(name=name[:31], header=[str(c) for c in t.columns], columns=columns,
                         formats=formats, widths=widths))
    return write_xlsx(path, out)


# --------------------------------------------------------------------------------------------------
# write_plan


def write_plan(out_dir, *, district, scenario_name: str, plan, counterfactual=None, population=None,
               demand=None, years: Sequence[int] | None = None, need=None) -> list[Path]:
    """Write a plan's tables, workbook and GeoPackage.

    Parameters
    ----------
    out_dir
        Output folder (created).
    district
        The district (``streets``, ``levels``, ``sites``).
    scenario_name
        Recorded in ``solver.json`` and the workbook.
    plan
        The plan (``schedule``, ``balance``, ``assignment``, ``report``).
    counterfactual
        The plan without new schools (optional): adds ``*_without_new`` columns.
    population
        ``street, year, sex, age, persons`` (optional): a ``population`` sheet of totals.
    demand
        ``street, level, year, pupils`` [+ ``p05, p50, p95``] (optional): a ``demand`` sheet.
    years
        The horizon years of the GeoPackage street layer; default :func:`selected_years`
        (the latest opening year and the last year).
    need
        The needs assessment (:class:`capacity.need.NeedAssessment`, optional): ``need.csv`` and
        ``need_schedule.csv``, and the plan-versus-need columns of the summary.

    Returns
    -------
    list of Path
        ``schedule.csv``, ``balance.csv``, ``assignment.csv``, ``headline.csv``, [``need.csv``,
        ``need_schedule.csv``], ``summary.md``, ``solver.json``, ``timings.json``, ``plan.xlsx``,
        ``plan.gpkg`` (layers ``streets`` and ``sites``; ``balance_by_year``, one row per street,
        level and year with a ``date`` for QGIS's temporal controller; ``existing_supply``; ``flows``,
        pupils taught in another street, as lines; see :mod:`capacity.layers`).
    """
    from capacity.measures import headline
    from capacity.summary import level_rows, official_summary, summary_sheet

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sched = schedule_table(plan, district)
    bal = balance_table(plan, district)
    asg = assignment_table(plan, district)
    head = _sorted(headline(plan), district, ["level", "year"])
    tables = [("schedule", _with_names(sched, district)), ("balance", _with_names(bal, district)),
              ("assignment", _with_names(_with_names(asg, district), district, "site_street")
               if "site_street" in asg.columns else _with_names(asg, district)),
              ("headline", head)]
    need_table = need_sched = None
    if need is not None:
        need_table = _sorted(need.table, district, ["level"])
        need_sched = _with_names(schedule_table(need.plan, district), district)
        tables += [("need", need_table), ("need_schedule", need_sched)]
    paths = []
    for name, t in tables:
        p = out / f"{name}.csv"
        _round(t, CSV_DECIMALS).to_csv(p, index=False)
        paths.append(p)
    names = _names(district)
    street_names = dict(zip(names["street"], names["name_zh"], strict=True)) if len(names) else {}
    level_zh = dict(zip(district.levels["level"], district.levels["name_zh"], strict=True)) \
        if district is not None and "name_zh" in district.levels else {}
    text = official_summary(
        district_name=getattr(district, "name", "") or "", scenario_name=scenario_name, headline=head,
        district_name_zh=getattr(district, "name_zh", None),
        schedule=plan.schedule, need=need_table, street_names=street_names, level_zh=level_zh,
        optimal=bool(getattr(plan.report, "optimal", True)), class_size=getattr(plan, "class_size", None),
        grade_class_size=getattr(plan, "grade_class_size", None),
        grade_level=getattr(plan, "grade_level", None) or "kindergarten",
        kindergarten_types=_kindergarten_types(plan, district, years))
    p = out / "summary.md"
    p.write_text(text, encoding="utf-8")
    paths.append(p)

    info = solver_dict(plan, scenario_name, counterfactual)
    p = out / "solver.json"
    p.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths.append(p)
    p = out / "timings.json"
    times = timings_dict(plan, scenario_name, counterfactual)
    p.write_text(json.dumps(times, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths.append(p)

    sheets: dict[str, pd.DataFrame] = {}
    sheets["摘要 summary"] = summary_sheet(level_rows(head, need_table, plan.schedule, level_zh))
    sheets["headline"] = head
    sheets["totals"] = summary_table(plan, counterfactual, district)
    for name, t in tables[:3]:
        sheets[name] = t
    if need is not None:
        sheets["need"] = need_table
        sheets["need_schedule"] = need_sched
    if counterfactual is not None:
        sheets["balance_without_new"] = _with_names(balance_table(counterfactual, district), district)
    if demand is not None:
        sheets["demand"] = _with_names(demand_table(demand, district), district)
    if population is not None:
        sheets["population"] = _with_names(population_table(population, district), district)
    sheets["solver"] = _solver_sheet(info)
    sheets["streets"] = _names(district).rename(columns={"street": "code"})
    sheets = {k: _round(v, SHOW_DECIMALS) if k not in ("solver", "streets") else v for k, v in sheets.items()}
    paths.append(write_workbook(out / "plan.xlsx", sheets))

    p = out / "plan.gpkg"
    if p.exists():
        p.unlink()
    streets_layer(district, plan, counterfactual, years).to_file(p, layer="streets", driver="GPKG")
    sites_layer(district, plan).to_file(p, layer="sites", driver="GPKG")
    from capacity.layers import balance_layer, flows_layer, supply_layer

    balance_layer(district, plan).to_file(p, layer="balance_by_year", driver="GPKG")
    supply_layer(district).to_file(p, layer="existing_supply", driver="GPKG")
    flows = flows_layer(district, plan)
    if len(flows):
        flows.to_file(p, layer="flows", driver="GPKG")
    paths.append(fix_geopackage(p))
    return paths


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 10 else f"{x:,.1f}"


def _planner_lines(plan, levels, need=None) -> list[str]:
    """Per level: peak places and classes short (standard class size) and spare places at the end;
    with a need table, the schools needed against the plan's."""
    from capacity.measures import headline, peaks

    pk = peaks(headline(plan)).set_index("level")
    nd = need.set_index("level") if need is not None else None
    out = ["Places short at the standard class size (peak year) and spare places in the last year:"]
    w = max(len(lv) for lv in levels) if levels else 5
    for lv in levels:
        if lv not in pk.index:
            continue
        r = pk.loc[lv]
        short = round(float(r["places_short"]))
        peak = (f"{short:,} places ({int(r['classes_short'])} classes) short in {int(r['peak_year'])}"
                if short > 0 else "no place short")
        util = r["utilisation_end"]
        line = (f"  {lv:<{w}}  {peak}; {round(float(r['spare_places_end'])):,} spare places in "
                f"{int(r['end_year'])}" + (f" ({100 * util:.0f}% full)" if pd.notna(util) else ""))
        if nd is not None and lv in nd.index:
            planned = by_kind(plan.schedule, "new")
            line += f"; needs {int(nd.loc[lv, 'needed_schools'])} new schools (plan: {len(planned[planned['level'] == lv])})"
        out.append(line)
    return out


def plan_summary(plan, *, district=None, counterfactual=None, scenario_name: str | None = None,
                 need: pd.DataFrame | None = None) -> str:
    """A short text summary of a plan (printed by ``capacity plan``).

    Parameters
    ----------
    plan
        The plan.
    district
        Optional; street names and level order.
    counterfactual
        Optional; adds the shortfall without new schools.
    scenario_name
        Optional heading.
    need
        ``need.csv`` (optional): the schools needed against the plan's, per level.

    Returns
    -------
    str
        Solver status and gap; new schools per level (count, places, by opening year with
        street names); per level the peak places and classes short and spare places at the end;
        pupil-years without a place and in overcrowded places by level (secondary).
    """
    from capacity.optimize.results import gap_text, outcome_text

    lines = []
    rep = plan.report
    gap = getattr(rep, "gap", None)
    secs = (getattr(rep, "build_seconds", 0) or 0) + (getattr(rep, "solve_seconds", 0) or 0)
    head = f"Scenario {scenario_name}: " if scenario_name else ""
    if getattr(rep, "optimal", False):
        lines.append(f"{head}solver {getattr(rep, 'solver', '?')} {getattr(rep, 'status', '?')} "
                     f"(optimal), gap {gap_text(gap)}, {secs:.1f} s")
    else:  # the solver's own word is "Optimal" after a time-limit stop too: given last, in brackets
        text = outcome_text(False, gap).replace("not proven optimal", "NOT PROVEN OPTIMAL", 1)
        lines.append(f"{head}solver {getattr(rep, 'solver', '?')}: {text}, {secs:.1f} s (solver "
                     f"status {getattr(rep, 'status', '?')} / {getattr(rep, 'sol_status', '?')})")
    names = dict(zip(district.streets["street"], district.streets["name_zh"], strict=False)) if district is not None else {}
    unreachable = tuple(getattr(rep, "unreachable", ()) or ())
    if unreachable:
        lines.append("Pupils no place can reach (found before solving):")
        for note in unreachable:
            street = note.split(" of street ", 1)[1].split(" ", 1)[0] if " of street " in note else None
            named = note if street not in names else note.replace(f"street {street}",
                                                                  f"street {street} {names[street]}", 1)
            lines.append("  " + named.removeprefix("unreachable: "))
    b = plan.balance
    levels = _level_order(district, b, plan.schedule)
    sch = by_kind(plan.schedule, "new")
    lines.append("New schools:")
    if sch.empty:
        lines.append("  none")
    for level in levels:
        s = sch[sch["level"] == level]
        if s.empty:
            continue
        by_year = ", ".join(
            f"{int(y)}: " + " ".join(f"{names.get(r.street, r.street)}({int(r.classes)})" for r in g.itertuples())
            for y, g in s.sort_values(["open_year", "street"]).groupby("open_year"))
        n = len(s)
        lines.append(f"  {level}: {n} school{'s' if n != 1 else ''}, {_fmt(float(s['places'].sum()))} places"
                     f" — {by_year}")
    other = plan.schedule[plan.schedule["kind"] != "new"] if "kind" in plan.schedule else sch.iloc[0:0]
    if len(other):  # not new schools: classes added at existing places, private places made inclusive
        lines.append("Expansions (classes added) and conversions (private places made inclusive):")
        for r in other.sort_values(["level", "open_year", "street", "site"]).itertuples():
            lines.append(f"  {r.level}: {r.kind} {r.site} {names.get(r.street, r.street)} {int(r.open_year)}, "
                         f"{'+' if r.kind == 'expansion' else ''}{int(r.classes)} classes, {_fmt(float(r.places))} places")
    mean_t, max_t = getattr(rep, "mean_travel", None) or {}, getattr(rep, "max_travel", None) or {}
    if mean_t:
        lines.append("Trips (km between street points, mean / longest): " + "; ".join(
            f"{lv} {mean_t[lv]:.1f} / {max_t.get(lv, 0.0):.1f}" for lv in levels if lv in mean_t))
    if len(b):
        lines += _planner_lines(plan, levels, need)
        y0, y1 = int(b["year"].min()), int(b["year"].max())
        lines.append(f"Pupil-years {y0}–{y1} (pupils without a place / in overcrowded places; "
                     "a solver's total):")
        cb = counterfactual.balance if counterfactual is not None else None
        w = max(len(lv) for lv in levels) if levels else 5
        hdr = f"  {'level':<{w}}  {'shortfall':>10}  {'overcrowded':>11}"
        if cb is not None:
            hdr += f"  {'shortfall without new schools':>29}"
        lines.append(hdr)
        for level in levels:
            bl = b[b["level"] == level]
            row = f"  {level:<{w}}  {_fmt(float(bl['shortfall'].sum())):>10}  {_fmt(float(bl['overcrowded'].sum())):>11}"
            if cb is not None:
                row += f"  {_fmt(float(cb.loc[cb['level'] == level, 'shortfall'].sum())):>29}"
            lines.append(row)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# comparison


def _run_levels(runs: Mapping[str, object]) -> list[str]:
    order: list[str] = []
    for run in runs.values():
        order += [lv for lv in _level_order(getattr(run, "district", None), run.demand) if lv not in order]
    return order


#: Shown in the assumptions table for a key a scenario leaves to the model's default.
DEFAULT_CELL = "(default)"


def _assumptions(runs: Mapping[str, object]) -> dict[str, dict[str, object]]:
    from capacity.scenario import assumptions

    return {n: assumptions(r.scenario) for n, r in runs.items()
            if getattr(r, "scenario", None) is not None}


def _differing(values: Mapping[str, Mapping[str, object]]) -> list[str]:
    keys: list[str] = []
    for v in values.values():
        keys += [k for k in v if k not in keys]
    return [k for k in keys
            if len({repr(v.get(k, DEFAULT_CELL)) for v in values.values()}) > 1]


def _cell(value) -> object:
    if isinstance(value, list):
        return ", ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in value)
    return value


def assumptions_table(runs: Mapping[str, object]) -> pd.DataFrame:
    """What differs between the scenarios, key by key.

    Parameters
    ----------
    runs
        Scenario name → run (with ``scenario``, a :class:`capacity.scenario.Scenario`; runs
        without one are left out).

    Returns
    -------
    DataFrame
        ``key`` (dotted scenario key, e.g. ``projection.fertility_multiplier``) and one column per
        scenario with its value as a scenario file writes it (``"off"`` for none, ``"(default)"``
        where the scenario leaves the key to the model). Only keys whose values differ; no rows
        when the scenarios differ in name only.
    """
    values = _assumptions(runs)
    rows = [{"key": k, **{n: _cell(v.get(k, DEFAULT_CELL)) for n, v in values.items()}}
            for k in _differing(values)]
    return pd.DataFrame(rows, columns=["key", *values])


def _short_key(key: str) -> str:
    for prefix in ("projection.", "plan."):
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def scenario_labels(runs: Mapping[str, object], max_items: int = 3, width: int = 44) -> dict[str, str]:
    """Legend labels naming each scenario's differing assumptions.

    The first scenario is the reference: its label gives its own values of the keys in which any
    scenario differs; every other label gives the keys in which that scenario differs from the
    reference, e.g. ``"low_fertility: fertility_multiplier=0.8"``. At most ``max_items`` keys are
    named (then ``+n more``); lines are wrapped at ``width`` characters. A run without a scenario
    is labelled by its name.

    Returns
    -------
    dict
        Scenario name → label.
    """
    import textwrap

    values = _assumptions(runs)
    keys = _differing(values)
    labels = {n: n for n in runs}
    if not values:
        return labels
    ref_name = next(iter(values))
    ref = values[ref_name]
    for n, v in values.items():
        own = keys if n == ref_name else [k for k in keys
                                          if repr(v.get(k, DEFAULT_CELL)) != repr(ref.get(k, DEFAULT_CELL))]
        items = [f"{_short_key(k)}={_cell(v.get(k, DEFAULT_CELL))}" for k in own]
        if len(items) > max_items:
            items = items[:max_items] + [f"+{len(own) - max_items} more"]
        head = f"{n} (reference)" if n == ref_name and len(values) > 1 else n
        text = head + (": " + ", ".join(items) if items else (": same assumptions" if n != ref_name else ""))
        labels[n] = "\n".join(textwrap.wrap(text, width, break_on_hyphens=False)) or n
    return labels


def compare_table(runs: Mapping[str, object], years: Sequence[int] = (2025, 2030)) -> pd.DataFrame:
    """Side-by-side table of scenarios.

    Parameters
    ----------
    runs
        Scenario name → run (``demand``, ``plan``, ``counterfactual``, ``district``); a run without
        a plan (``plan=None``) gets empty plan rows.
    years
        Years of the pupil rows (those in no run's demand are left out).

    Returns
    -------
    DataFrame
        Columns ``measure, level, unit`` and one column per scenario. Measures: ``pupils <year>``
        (pupils), ``shortfall`` and ``overcrowded`` (pupil-years, summed over the balance years),
        ``shortfall without new schools`` (pupil-years; from the counterfactual), ``new schools``
        (schools) and ``new places`` (places).
    """
    levels = _run_levels(runs)
    all_years = set()
    for run in runs.values():
        all_years |= {int(y) for y in pd.unique(run.demand["year"])}
    rows = []
    for y in years:
        if int(y) not in all_years:
            continue
        for lv in levels:
            rows.append((f"pupils {y}", lv, "pupils", {
                n: float(r.demand.loc[(r.demand["level"] == lv) & (r.demand["year"] == y), "pupils"].sum())
                if ((r.demand["level"] == lv) & (r.demand["year"] == y)).any() else np.nan
                for n, r in runs.items()}))

    def plan_sum(plan, lv, col):
        if plan is None:
            return np.nan
        b = plan.balance
        return float(b.loc[b["level"] == lv, col].sum())

    for measure, attr, col in (("shortfall", "plan", "shortfall"), ("overcrowded", "plan", "overcrowded"),
                               ("shortfall without new schools", "counterfactual", "shortfall")):
        for lv in levels:
            rows.append((measure, lv, "pupil-years",
                         {n: plan_sum(getattr(r, attr, None), lv, col) for n, r in runs.items()}))
    for lv in levels:
        rows.append(("new schools", lv, "schools", {
            n: float((by_kind(r.plan.schedule, "new")["level"] == lv).sum()) if r.plan is not None else np.nan
            for n, r in runs.items()}))
    for lv in levels:
        rows.append(("new places", lv, "places", {
            n: float(_new_places(r.plan.schedule, lv)) if r.plan is not None else np.nan
            for n, r in runs.items()}))
    table = pd.DataFrame([{"measure": m, "level": lv, "unit": u, **v} for m, lv, u, v in rows])
    if table.empty:
        table = pd.DataFrame(columns=["measure", "level", "unit", *runs])
    return table


def compare_schools_table(runs: Mapping[str, object]) -> pd.DataFrame:
    """New schools per street and opening year, side by side.

    Returns
    -------
    DataFrame
        ``level, street, name_zh, name_pinyin, open_year`` and for each scenario ``<name> schools`` and
        ``<name> places`` (0 where the scenario opens none).
    """
    parts = []
    district = None
    for name, run in runs.items():
        district = district or getattr(run, "district", None)
        if run.plan is None or run.plan.schedule.empty:
            continue
        s = by_kind(run.plan.schedule, "new")
        if s.empty:
            continue
        s = s.groupby(["level", "street", "open_year"], as_index=False).agg(
            schools=("site", "size"), places=("places", "sum"))
        parts.append(s.assign(scenario=name))
    cols = ["level", "street", "name_zh", "name_pinyin", "open_year"]
    if not parts:
        return pd.DataFrame(columns=cols + [f"{n} {m}" for n in runs for m in ("schools", "places")])
    long = pd.concat(parts, ignore_index=True)
    wide = long.pivot_table(index=["level", "street", "open_year"], columns="scenario",
                            values=["schools", "places"], aggfunc="sum", fill_value=0)
    out = wide.reset_index()[["level", "street", "open_year"]].copy()
    out.columns = ["level", "street", "open_year"]
    for n in runs:
        for m in ("schools", "places"):
            out[f"{n} {m}"] = wide[(m, n)].to_numpy() if (m, n) in wide.columns else 0
    out = _with_names(out, district)
    out = _sorted(out, district, ["level", "open_year", "street"])
    return _ints(out, [f"{n} {m}" for n in runs for m in ("schools", "places")])


def compare_demand_table(runs: Mapping[str, object]) -> pd.DataFrame:
    """District pupils by scenario, level and year (``scenario, level, year, pupils`` [+ p05, p95])."""
    parts = []
    for name, run in runs.items():
        cols = [c for c in ("pupils", "p05", "p50", "p95") if c in run.demand.columns]
        d = run.demand.groupby(["level", "year"], as_index=False)[cols].sum()
        parts.append(d.assign(scenario=name))
    if not parts:
        return pd.DataFrame(columns=["scenario", "level", "year", "pupils"])
    out = pd.concat(parts, ignore_index=True)
    out = out[["scenario"] + [c for c in out.columns if c != "scenario"]]
    return _ints(out)


def write_compare(out_dir, runs: Mapping[str, object], years: Sequence[int] = (2025, 2030)) -> list[Path]:
    """Write ``compare.csv``, ``compare_schools.csv`` and ``compare.xlsx``, each starting with what
    differs between the scenarios (:func:`assumptions_table`).

    Parameters
    ----------
    out_dir
        Output folder (created).
    runs
        Scenario name → run.
    years
        Years of the pupil rows of :func:`compare_table`.

    Returns
    -------
    list of Path
        The files written. ``compare.csv`` starts with one row per differing assumption
        (``measure`` = the scenario key, ``level`` empty, ``unit`` = ``assumption``, the
        scenarios' values), then the rows of :func:`compare_table`. The workbook has sheets
        ``assumptions`` (:func:`assumptions_table`), ``compare``, ``schools`` and ``demand``
        (district pupils by scenario, level and year).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = compare_table(runs, years)
    schools = compare_schools_table(runs)
    assumed = assumptions_table(runs)
    head = assumed.rename(columns={"key": "measure"}).assign(level="", unit="assumption")
    paths = [out / "compare.csv", out / "compare_schools.csv"]
    rounded = _round(table, CSV_DECIMALS)
    parts = [p for p in (head.reindex(columns=rounded.columns), rounded) if not p.empty]
    (pd.concat(parts, ignore_index=True) if parts else rounded).to_csv(paths[0], index=False)
    schools.to_csv(paths[1], index=False)
    paths.append(write_workbook(out / "compare.xlsx", {
        "assumptions": assumed, "compare": _round(table, SHOW_DECIMALS), "schools": schools,
        "demand": _round(compare_demand_table(runs), SHOW_DECIMALS)}))
    return paths
