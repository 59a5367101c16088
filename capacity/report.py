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

__all__ = [
    "compare_schools_table",
    "compare_table",
    "plan_summary",
    "selected_years",
    "streets_layer",
    "sites_layer",
    "write_compare",
    "write_plan",
    "write_workbook",
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
    """``balance`` in order level, year, street; years as integers."""
    b = _balance(plan).copy()
    first = ["street", "level", "year", "pupils", "places", "assigned", "shortfall", "overcrowded"]
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


def solver_dict(plan, scenario_name: str | None = None, counterfactual=None) -> dict:
    """``solver.json`` content: scenario name, the solver report and totals (JSON-safe)."""
    rep = plan.report
    d = dataclasses.asdict(rep) if dataclasses.is_dataclass(rep) else dict(vars(rep))
    out = {"scenario": scenario_name, **d}
    sch, bal = plan.schedule, plan.balance
    totals = {
        "new_schools": {str(k): int(v) for k, v in sch.groupby("level").size().items()},
        "new_places": {str(k): float(v) for k, v in sch.groupby("level")["places"].sum().items()},
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


def sites_layer(district, plan) -> gpd.GeoDataFrame:
    """Candidate sites as points: the opened ones with their schedule, the rest ``opened=False``.

    Returns
    -------
    GeoDataFrame
        ``site, street, name_zh, level, opened, open_year, classes, places, earliest_year, sizes,
        cost_per_class, public, inclusive``; ``open_year``, ``classes`` and ``places`` are empty
        for sites that do not open. Opened sites first (by level, year); point geometry in the
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
    cols = ["site", "street", "name_zh", "level", "opened", "open_year", "classes", "places",
            "earliest_year", "sizes", "cost_per_class", "public", "inclusive"]
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

    Written with openpyxl's write-only workbook, row by row (about four times faster than
    ``DataFrame.to_excel``, which builds every cell in memory first).

    Returns
    -------
    Path
        ``path``.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    path = Path(path)
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for name, table in sheets.items():
        t = pd.DataFrame(table).reset_index(drop=True)
        ws = wb.create_sheet(name[:31])
        ws.freeze_panes = "A2"
        if len(t.columns):
            ws.auto_filter.ref = f"A1:{get_column_letter(len(t.columns))}{len(t) + 1}"
        columns, formats = [], []
        for j, c in enumerate(t.columns, start=1):
            values = _cell_values(t[c])
            width = max([_text_width(c)] + [_text_width(v) for v in values[:500] if v is not None])
            ws.column_dimensions[get_column_letter(j)].width = min(50, width + 3)
            columns.append(values)
            formats.append(_number_format(t[c], c))
        header = []
        for c in t.columns:
            cell = WriteOnlyCell(ws, value=str(c))
            cell.font = bold
            header.append(cell)
        ws.append(header)
        styled = [j for j, f in enumerate(formats) if f]
        for row in zip(*columns, strict=True):
            row = list(row)
            for j in styled:
                if row[j] is not None:
                    cell = WriteOnlyCell(ws, value=row[j])
                    cell.number_format = formats[j]
                    row[j] = cell
            ws.append(row)
    wb.save(path)
    return path


# --------------------------------------------------------------------------------------------------
# write_plan


def write_plan(out_dir, *, district, scenario_name: str, plan, counterfactual=None, population=None,
               demand=None, years: Sequence[int] | None = None) -> list[Path]:
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

    Returns
    -------
    list of Path
        ``schedule.csv``, ``balance.csv``, ``assignment.csv``, ``solver.json``, ``plan.xlsx``,
        ``plan.gpkg`` (layers ``streets`` and ``sites``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sched = schedule_table(plan, district)
    bal = balance_table(plan, district)
    asg = assignment_table(plan, district)
    paths = []
    for name, t in (("schedule", sched), ("balance", bal), ("assignment", asg)):
        p = out / f"{name}.csv"
        _round(t, CSV_DECIMALS).to_csv(p, index=False)
        paths.append(p)

    info = solver_dict(plan, scenario_name, counterfactual)
    p = out / "solver.json"
    p.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths.append(p)

    sheets: dict[str, pd.DataFrame] = {}
    sheets["summary"] = summary_table(plan, counterfactual, district)
    sheets["schedule"] = _with_names(sched, district)
    sheets["balance"] = _with_names(bal, district)
    sheets["assignment"] = _with_names(_with_names(asg, district), district, "site_street") \
        if "site_street" in asg.columns else _with_names(asg, district)
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
    paths.append(p)
    return paths


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 10 else f"{x:,.1f}"


def plan_summary(plan, *, district=None, counterfactual=None, scenario_name: str | None = None) -> str:
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

    Returns
    -------
    str
        Solver status and gap; new schools per level (count, places, by opening year with
        street names); pupil-years without a place and in overcrowded places by level.
    """
    lines = []
    rep = plan.report
    gap = getattr(rep, "gap", None)
    gap_s = "n/a" if gap is None or (isinstance(gap, float) and not math.isfinite(gap)) else f"{100 * gap:.2g}%"
    secs = (getattr(rep, "build_seconds", 0) or 0) + (getattr(rep, "solve_seconds", 0) or 0)
    head = f"Scenario {scenario_name}: " if scenario_name else ""
    opt = "optimal" if getattr(rep, "optimal", False) else "not proven optimal"
    lines.append(f"{head}solver {getattr(rep, 'solver', '?')} {getattr(rep, 'status', '?')} "
                 f"({opt}), gap {gap_s}, {secs:.1f} s")
    names = dict(zip(district.streets["street"], district.streets["name_zh"], strict=False)) if district is not None else {}
    b = plan.balance
    levels = _level_order(district, b, plan.schedule)
    sch = plan.schedule
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
    if len(b):
        y0, y1 = int(b["year"].min()), int(b["year"].max())
        lines.append(f"Pupil-years {y0}–{y1} (pupils without a place / in overcrowded places):")
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
            n: float((r.plan.schedule["level"] == lv).sum()) if r.plan is not None else np.nan
            for n, r in runs.items()}))
    for lv in levels:
        rows.append(("new places", lv, "places", {
            n: float(r.plan.schedule.loc[r.plan.schedule["level"] == lv, "places"].sum())
            if r.plan is not None else np.nan for n, r in runs.items()}))
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
        s = run.plan.schedule.groupby(["level", "street", "open_year"], as_index=False).agg(
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
    """Write ``compare.csv``, ``compare_schools.csv`` and ``compare.xlsx``.

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
        The files written. The workbook has sheets ``compare``, ``schools`` and ``demand``
        (district pupils by scenario, level and year).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = compare_table(runs, years)
    schools = compare_schools_table(runs)
    paths = [out / "compare.csv", out / "compare_schools.csv"]
    _round(table, CSV_DECIMALS).to_csv(paths[0], index=False)
    schools.to_csv(paths[1], index=False)
    paths.append(write_workbook(out / "compare.xlsx", {
        "compare": _round(table, SHOW_DECIMALS), "schools": schools,
        "demand": _round(compare_demand_table(runs), SHOW_DECIMALS)}))
    return paths
