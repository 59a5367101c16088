"""The one-page summary for officials: ``summary.md`` and the first sheet of ``plan.xlsx``.

Bilingual, 中文 first and English after. Per level: the peak places and classes short and their
year, spare places and utilisation at the end, the plan against the need, the schedule by year and
the capital cost by year. Whole numbers with their units; street names, not codes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from capacity.kinds import by_kind
from capacity.measures import peaks

__all__ = ["LEVEL_ZH", "level_rows", "official_summary", "summary_sheet"]

#: Chinese level names used when the district's ``levels.csv`` has none.
LEVEL_ZH = {"kindergarten": "幼儿园", "primary": "小学", "junior": "初中", "senior": "高中"}


def _whole(x) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)) or pd.isna(x):
        return "–"
    return f"{round(float(x)):,}"


def _pct(x) -> str:
    if x is None or pd.isna(x):
        return "–"
    return f"{100 * float(x):.0f}%"


def level_rows(headline: pd.DataFrame, need: pd.DataFrame | None, schedule: pd.DataFrame,
               level_zh: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per level: the figures the summary shows (numbers, not text).

    Returns
    -------
    DataFrame
        ``level, level_zh, peak_year, places_short, classes_short, end_year, spare_places_end,
        utilisation_end, plan_schools, plan_places, needed_schools, needed_places,
        remaining_places_short``.
    """
    zh = {**LEVEL_ZH, **(level_zh or {})}
    pk = peaks(headline)
    rows = []
    schedule = by_kind(schedule, "new")  # expansions and conversions are not new schools
    for r in pk.itertuples(index=False):
        s = schedule[schedule["level"] == r.level]
        row = {"level": r.level, "level_zh": zh.get(r.level, r.level), "peak_year": r.peak_year,
               "places_short": r.places_short, "classes_short": r.classes_short,
               "end_year": r.end_year, "spare_places_end": r.spare_places_end,
               "utilisation_end": r.utilisation_end, "plan_schools": len(s),
               "plan_places": float(s["places"].sum())}
        if need is not None and (need["level"] == r.level).any():
            n = need[need["level"] == r.level].iloc[0]
            row.update(needed_schools=int(n["needed_schools"]), needed_places=float(n["needed_places"]),
                       remaining_places_short=float(n["remaining_places_short"]))
        else:
            row.update(needed_schools=None, needed_places=None, remaining_places_short=None)
        rows.append(row)
    return pd.DataFrame(rows)


def _schedule_lines(schedule: pd.DataFrame, names: Mapping[str, str], zh: Mapping[str, str],
                    chinese: bool) -> list[str]:
    schedule = by_kind(schedule, "new")
    if schedule.empty:
        return ["（无）" if chinese else "(none)"]
    out = []
    s = schedule.sort_values(["open_year", "level", "street", "site"])
    for year, g in s.groupby("open_year", sort=True):
        parts = []
        for lv, gl in g.groupby("level", sort=False):
            label = zh.get(lv, lv) if chinese else lv
            items = ", ".join(f"{names.get(r.street, r.street)} {int(r.classes)}"
                              + ("班" if chinese else " classes") for r in gl.itertuples())
            parts.append(f"{label} {len(gl)}" + ("所" if chinese else "") + f" ({items})")
        out.append(f"- {int(year)}: " + "; ".join(parts))
    return out


#: How the summary names the options that are not new schools.
LEVER_WORDS = {"expansion": ("扩建", "expansion"), "conversion": ("转为普惠", "made inclusive")}


def _lever_lines(schedule: pd.DataFrame, names: Mapping[str, str], zh: Mapping[str, str],
                 chinese: bool) -> list[str]:
    """Expansions (classes added at existing places) and conversions (private places made
    inclusive) by year; empty when the schedule has none."""
    if "kind" not in schedule:
        return []
    s = schedule[schedule["kind"] != "new"]
    out = []
    for year, g in s.sort_values(["open_year", "level", "kind", "street", "site"]).groupby("open_year"):
        parts = []
        for r in g.itertuples():
            label = zh.get(r.level, r.level) if chinese else r.level
            word = LEVER_WORDS[r.kind][0 if chinese else 1]
            street = names.get(r.street, r.street)
            if r.kind == "expansion":
                parts.append(f"{label}{word} {street} +{int(r.classes)}班（{_whole(r.places)} 个学位）" if chinese
                             else f"{label} {word} {street} +{int(r.classes)} classes ({_whole(r.places)} places)")
            else:
                parts.append(f"{label} {street} {_whole(r.places)} 个学位{word}" if chinese
                             else f"{label} {street}: {_whole(r.places)} private places {word}")
        out.append(f"- {int(year)}: " + "; ".join(parts))
    return out


TYPE_ZH = {"public": "公办", "private inclusive": "民办普惠", "private non-inclusive": "民办非普惠"}


def _type_lines(types: pd.DataFrame, level: str, chinese: bool) -> list[str]:
    """One line per year: the utilisation of each kindergarten type (pupils / standard places)."""
    out = []
    for year, g in types.groupby("year", sort=True):
        cells = [f"{TYPE_ZH.get(r.type, r.type) if chinese else r.type} {_pct(r.utilisation)}"
                 + (f"（{_whole(r.pupils)}/{_whole(r.places)}）" if chinese
                    else f" ({_whole(r.pupils)}/{_whole(r.places)})")
                 for r in g.itertuples()]
        out.append(f"{int(year)} 年{level}各类学位利用率（在园幼儿/标准学位）：" + "，".join(cells) + "。" if chinese
                   else f"{level.capitalize()} utilisation by type in {int(year)} (pupils/standard places): "
                   + ", ".join(cells) + ".")
    return out


def _cost_lines(schedule: pd.DataFrame, chinese: bool) -> list[str]:
    capital = schedule[schedule["kind"] != "conversion"] if "kind" in schedule else schedule
    if capital.empty or "cost" not in capital or not (capital["cost"] > 0).any():
        lines = ["（无造价数据）" if chinese else "(no cost data)"]
    else:
        by = capital.groupby("open_year")["cost"].sum()
        unit = "百万元" if chinese else "million CNY"
        lines = [f"- {int(y)}: {v:,.0f} {unit}" for y, v in by.items()]
        lines.append(("- 合计" if chinese else "- total") + f": {by.sum():,.0f} {unit}")
    conv = by_kind(schedule, "conversion")
    if len(conv):
        v = float(conv["cost"].sum())
        lines.append(f"- 另：普惠转换补助（至规划期末）{v:,.2f} 百万元" if chinese
                     else f"- besides: subsidies for places made inclusive (to the plan's end) {v:,.2f} "
                          "million CNY")
    return lines


def official_summary(*, district_name: str, scenario_name: str, headline: pd.DataFrame,
                     district_name_zh: str | None = None,
                     schedule: pd.DataFrame, need: pd.DataFrame | None = None,
                     street_names: Mapping[str, str] | None = None,
                     level_zh: Mapping[str, str] | None = None, optimal: bool = True,
                     class_size: Mapping[str, float] | None = None,
                     grade_class_size: Mapping[int, float] | None = None,
                     grade_level: str = "kindergarten",
                     kindergarten_types: pd.DataFrame | None = None) -> str:
    """``summary.md``: the plan's answers on one page, 中文 first and English after.

    Parameters
    ----------
    district_name, scenario_name : str
    district_name_zh : str, optional
        The district's Chinese name (the Chinese heading).
    headline : DataFrame
        :func:`capacity.measures.headline` of the plan as written.
    schedule : DataFrame
        The plan's schedule (``site, street, level, open_year, classes, places, cost[, kind]``):
        new schools are counted and listed as schools; expansions and conversions in a section
        of their own, a conversion's subsidy apart from the capital cost.
    need : DataFrame, optional
        ``need.csv`` (:func:`capacity.need.need_table`).
    street_names, level_zh : mapping, optional
        Street code -> name; level -> Chinese name.
    optimal : bool
        Whether the solver proved the plan optimal (a warning line otherwise).
    class_size : mapping, optional
        Standard pupils per class by level (stated under the tables).
    grade_class_size : mapping, optional
        Age -> pupils per class of ``grade_level``'s grades: stated for that level instead of its
        one class size.
    kindergarten_types : DataFrame, optional
        :func:`capacity.kinds.kindergarten_types` for the years to show (``year, type, places,
        pupils, utilisation``): a line per year with the utilisation of each type.

    Returns
    -------
    str
        Markdown.
    """
    names = dict(street_names or {})
    zh = {**LEVEL_ZH, **(level_zh or {})}
    rows = level_rows(headline, need, schedule, zh)
    y0, y1 = int(headline["year"].min()), int(headline["year"].max())
    zh_lines = [
        f"# {district_name_zh or district_name} 学位供需规划摘要（情景：{scenario_name}）", "",
        f"评估年份 {y0}–{y1}。“学位缺口”= 没有学位的学生 + 超过标准班额就读的学生（按标准班额计）；"
        "“缺班”= 学位缺口按标准班额折算的班数（向上取整）；“空余学位”= 未使用的标准学位；"
        "“利用率”= 在校生 ÷ 标准学位。", "",
    ]
    if not optimal:
        zh_lines += ["**注意：求解器未证明该方案最优（达到时间上限），以下为找到的最好方案。**", ""]
    zh_lines += ["## 各学段", "",
                 "| 学段 | 缺口高峰年 | 高峰学位缺口（个） | 高峰缺班（个） | 期末空余学位（个） | 期末利用率 "
                 "| 规划新建（所） | 测算需要（所） | 规划新增学位（个） | 需要新增学位（个） |",
                 "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    en_lines = [f"# {district_name}: school places plan summary (scenario: {scenario_name})", "",
                f"Years {y0}-{y1}. *Places short* = pupils without a place plus pupils above the "
                "standard class size; *classes short* = places short in classes of the standard "
                "size, rounded up; *spare places* = standard places not used; *utilisation* = pupils "
                "taught / standard places.", ""]
    if not optimal:
        en_lines += ["**Note: the solver did not prove this plan optimal (time limit); it is the "
                     "best plan found.**", ""]
    en_lines += ["## By level", "",
                 "| level | peak year | places short at peak | classes short at peak | spare places "
                 "at end | utilisation at end | plan: new schools | needed schools | plan: new places "
                 "| needed places |",
                 "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows.itertuples(index=False):
        cells = [str(r.peak_year) if round(r.places_short) > 0 else "–", _whole(r.places_short),
                 _whole(r.classes_short), f"{_whole(r.spare_places_end)} ({r.end_year})",
                 _pct(r.utilisation_end), _whole(r.plan_schools), _whole(r.needed_schools),
                 _whole(r.plan_places), _whole(r.needed_places)]
        zh_lines.append(f"| {r.level_zh} | " + " | ".join(cells) + " |")
        en_lines.append(f"| {r.level} | " + " | ".join(cells) + " |")
    remaining = rows.dropna(subset=["remaining_places_short"])
    remaining = remaining[np.round(remaining["remaining_places_short"].astype(float)) > 0]
    if len(remaining):
        zh_lines += ["", "测算需要的学校仍无法消除的学位缺口（候选地块不足或开办年份太晚）："
                     + "；".join(f"{r.level_zh} {_whole(r.remaining_places_short)} 个"
                                for r in remaining.itertuples())]
        en_lines += ["", "Places short that even the needed schools cannot remove (too few candidate "
                     "sites, or sites that open too late): "
                     + "; ".join(f"{r.level} {_whole(r.remaining_places_short)}"
                                 for r in remaining.itertuples())]
    if class_size:
        shown = [lv for lv in rows["level"] if lv in class_size]
        by_grade = "/".join(f"{grade_class_size[a]:g}" for a in sorted(grade_class_size or {}))
        ages = "/".join(str(a) for a in sorted(grade_class_size or {}))

        def size(k, en):
            if by_grade and k == grade_level:
                return f"{by_grade} (ages {ages})" if en else f"{by_grade} 人（按年龄 {ages} 岁分班）"
            return f"{class_size[k]:g}" if en else f"{class_size[k]:g} 人"
        cs = "，".join(f"{zh.get(k, k)} {size(k, False)}" for k in shown)
        zh_lines += ["", f"标准班额：{cs}。"]
        cs_en = ", ".join(f"{k} {size(k, True)}" for k in shown)
        en_lines += ["", f"Standard class sizes (pupils per class): {cs_en}."]
    if kindergarten_types is not None and len(kindergarten_types):
        zh_lines += ["", *_type_lines(kindergarten_types, zh.get(grade_level, grade_level), True)]
        en_lines += ["", *_type_lines(kindergarten_types, grade_level, False)]
    zh_lines += ["", "## 分年度新建学校（街道、班数）", "", *_schedule_lines(schedule, names, zh, True)]
    en_lines += ["", "## New schools by opening year (street, classes)", "",
                 *_schedule_lines(schedule, names, zh, False)]
    levers = _lever_lines(schedule, names, zh, True)
    if levers:  # not new schools: classes added at existing places, private places made inclusive
        zh_lines += ["", "## 分年度扩建与普惠转换（不计入新建学校）", "", *levers]
        en_lines += ["", "## Expansions and places made inclusive by year (not new schools)", "",
                     *_lever_lines(schedule, names, zh, False)]
    zh_lines += ["", "## 分年度建设投资", "", *_cost_lines(schedule, True)]
    en_lines += ["", "## Capital cost by opening year", "", *_cost_lines(schedule, False)]
    return "\n".join(zh_lines + ["", "---", ""] + en_lines) + "\n"


def summary_sheet(rows: pd.DataFrame) -> pd.DataFrame:
    """The workbook's first sheet: :func:`level_rows` with bilingual headers and whole numbers."""
    out = pd.DataFrame({
        "学段 level": rows["level_zh"] + " " + rows["level"],
        "缺口高峰年 peak year": rows["peak_year"].astype("Int64"),
        "高峰学位缺口 places short at peak": np.round(rows["places_short"]).astype("Int64"),
        "高峰缺班 classes short at peak": rows["classes_short"].astype("Int64"),
        "期末年份 end year": rows["end_year"].astype("Int64"),
        "期末空余学位 spare places at end": np.round(rows["spare_places_end"]).astype("Int64"),
        "期末利用率 utilisation at end (%)": np.round(100 * rows["utilisation_end"]).astype("Int64"),
        "规划新建 plan: new schools": rows["plan_schools"].astype("Int64"),
        "测算需要 needed schools": pd.array(rows["needed_schools"], dtype="Int64"),
        "规划新增学位 plan: new places": np.round(rows["plan_places"]).astype("Int64"),
        "需要新增学位 needed places": pd.array(
            [None if pd.isna(v) else round(v) for v in rows["needed_places"]], dtype="Int64"),
    })
    return out
