"""The model's index: plain tables of the sets and arcs, built from the input tables with pandas and
numpy (no solver object).

* ``pools``: one row per pool (all supply of one level in one street that the objective cannot tell
  apart; for the kindergarten level also split by the ``public`` / ``inclusive`` flags): ``pool,
  pstreet, level, pub, inc, std`` (existing standard places), ``over`` (existing overcrowded places,
  pupils), ``enrolled`` (base-year pupils of the supply's optional ``enrolled`` column; 0 where not
  given), ``avail`` (first year the pool has any place), ``psi`` (street position).
* ``options``: one row per open option ``(site, year, classes)`` inside the plan period: ``opt, site,
  street, level, year, classes, std, over`` (places it adds, pupils), ``cost`` (million CNY),
  ``early`` (years before ``plan_end``), ``pool``, ``public``, ``inclusive``, ``kind``,
  ``converts`` (a conversion) and ``from_pool`` (the pool a conversion takes its places from; -1
  for other options; :mod:`capacity.optimize.conversion`).
* ``nodes``: one row per street x level x year with pupils: ``node, street, level, year, pupils, si``.
* ``arcs``: one row per (node, pool) inside the catchment once the pool has places: ``a, node,
  street, level, year, pupils, pool, pstreet, dist`` (km between street points; 0 in the own street).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from capacity.grades import grade_places
from capacity.optimize.conversion import check_conversion_rows, conversion_sources
from capacity.optimize.parameters import (
    DEFAULT_CATCHMENT_KM,
    DEFAULT_CLASS_SIZE,
    DEFAULT_MAX_CLASS_SIZE,
    PlanParameters,
)


def _to_bool(s: pd.Series) -> pd.Series:
    if s.dtype == bool:
        return s
    m = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
    return s.map(lambda v: m[str(v).strip().lower()] if not isinstance(v, (bool, np.bool_)) else bool(v))


def parse_sizes(value) -> tuple[int, ...]:
    """Allowed sizes in classes from a tuple/list, an int or a ``"12;18;24"`` string."""
    if isinstance(value, str):
        parts = [p for p in value.replace(",", ";").split(";") if p.strip()]
        return tuple(int(p) for p in parts)
    if isinstance(value, (int, np.integer)):
        return (int(value),)
    return tuple(int(v) for v in value)


#: Kinds of candidate site: a new school, extra classes at existing places (``expansion``: 内部挖潜 /
#: 改扩建; the site joins the pool of existing places of its street, level and type), or private
#: non-inclusive kindergarten places made inclusive through a subsidy (``conversion``: 普惠 by
#: purchased places; see :func:`conversions`).
SITE_KINDS = ("new", "expansion", "conversion")
#: Optional columns of the sites table after the required ones (``annual_cost_per_place``: yuan per
#: place per year, conversions only).
SITE_EXTRA = ("cost_per_class", "public", "inclusive", "places", "kind", "annual_cost_per_place")
#: Columns of a distance (cost) table in long form.
LONG_COLUMNS = ("origin", "destination", "cost")


def distance_matrix(distance) -> pd.DataFrame:
    """The street x street matrix of ``distance``: a square matrix (index and columns: street codes)
    is returned as it is; a long table with columns ``origin, destination, cost`` (e.g. travel
    times from a routing engine; origin = the pupils' street, destination = the street of the
    places) becomes a matrix over every street named, in the order first named. In the long form a
    pair not listed is unreachable (no arc, whatever the catchment), a street's cost to itself is 0
    (own street) and the table is not made symmetric.

    Raises ``ValueError`` naming the row for a duplicate pair or a cost that is missing, not a
    number or negative.
    """
    frame = pd.DataFrame(distance)
    if not set(LONG_COLUMNS) <= set(frame.columns):
        return frame.copy()
    t = frame[list(LONG_COLUMNS)].copy()
    t["origin"] = t["origin"].astype(str)
    t["destination"] = t["destination"].astype(str)
    cost = pd.to_numeric(t["cost"], errors="coerce")
    bad = cost.isna() | (cost < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        v = frame["cost"].iloc[i]
        v = v.item() if isinstance(v, np.generic) else v
        raise ValueError(f"distance table row {i + 1}: cost {v!r} must be a number >= 0 "
                         f"({t['origin'].iloc[i]} -> {t['destination'].iloc[i]})")
    dup = t.duplicated(["origin", "destination"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise ValueError(f"distance table row {i + 1}: duplicate pair {t['origin'].iloc[i]} -> "
                         f"{t['destination'].iloc[i]}")
    t["cost"] = cost.astype(float)
    names = list(dict.fromkeys([*t["origin"], *t["destination"]]))
    m = t.pivot(index="origin", columns="destination", values="cost").reindex(index=names, columns=names)
    v = m.to_numpy(dtype=float, copy=True)
    v[np.isnan(v)] = np.inf
    np.fill_diagonal(v, 0.0)
    return pd.DataFrame(v, index=names, columns=names)


def normalise_tables(demand, supply, sites, distance_km):
    """The input tables with types fixed, sizes parsed and the distance matrix squared.

    Raises ``ValueError`` for duplicate site ids or streets missing from ``distance_km``.
    """
    dem = pd.DataFrame(demand)[["street", "level", "year", "pupils"]].copy()
    dem["street"] = dem["street"].astype(str)
    dem["year"] = dem["year"].astype(int)
    dem["pupils"] = dem["pupils"].astype(float).clip(lower=0)
    cols = ["street", "level", "public", "inclusive", "classes", "places"]
    sup = pd.DataFrame(columns=cols) if supply is None else pd.DataFrame(supply)
    # optional: pupils enrolled in the base year (the basis of sharing = "enrolment"); NaN if not given
    enrolled = (pd.to_numeric(sup["enrolled"], errors="coerce") if "enrolled" in sup
                else pd.Series(np.nan, index=sup.index))
    sup = sup[cols].copy()
    sup["enrolled"] = enrolled.astype(float).to_numpy()
    sup["street"] = sup["street"].astype(str)
    for c in ("public", "inclusive"):
        sup[c] = _to_bool(sup[c]).astype(bool)
    sup["classes"] = sup["classes"].astype(float)
    sup["places"] = sup["places"].astype(float)
    scols = ["site", "street", "level", "earliest_year", "sizes"]
    if sites is None or len(sites) == 0:
        sit = pd.DataFrame(columns=[*scols, *SITE_EXTRA])
    else:
        sit = pd.DataFrame(sites).copy()
        for c, default in (("cost_per_class", 0.0), ("public", True), ("inclusive", True),
                           ("places", np.nan), ("sizes", None), ("kind", "new"),
                           ("annual_cost_per_place", np.nan)):
            if c not in sit:
                sit[c] = default
        sit = sit[[*scols, *SITE_EXTRA]]
    sit["site"] = sit["site"].astype(str)
    sit["street"] = sit["street"].astype(str)
    sit["kind"] = sit["kind"].fillna("new").astype(str)
    odd = ~sit["kind"].isin(SITE_KINDS)
    if odd.any():
        i = int(np.flatnonzero(odd.to_numpy())[0])
        raise ValueError(f"site {sit['site'].iloc[i]}: kind {sit['kind'].iloc[i]!r} must be one of "
                         f"{', '.join(map(repr, SITE_KINDS))}")
    sit["earliest_year"] = sit["earliest_year"].astype(int)
    # a site may give its capacity in places directly (``places``): one unit of that many standard
    # places, no overcrowded places, ``cost_per_class`` its cost
    raw = sit["places"]
    sit["places"] = pd.to_numeric(raw, errors="coerce").astype(float)
    unread = raw.notna().to_numpy() & sit["places"].isna().to_numpy()
    if unread.any():
        i = int(np.flatnonzero(unread)[0])
        raise ValueError(f"site {sit['site'].iloc[i]}: places {raw.iloc[i]!r} is not a number")
    in_places = sit["places"].notna().to_numpy()
    bad = in_places & ~(sit["places"].fillna(0).to_numpy() > 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"site {sit['site'].iloc[i]}: places {sit['places'].iloc[i]:g} must be > 0")
    sit["sizes"] = [(1,) if p_ else parse_sizes(v) for v, p_ in zip(sit["sizes"], in_places, strict=True)]
    sit["cost_per_class"] = pd.to_numeric(sit["cost_per_class"], errors="coerce").fillna(0.0).astype(float)
    for c in ("public", "inclusive"):
        sit[c] = _to_bool(sit[c]).astype(bool)
    sit = check_conversion_rows(sit)
    if sit["site"].duplicated().any():
        raise ValueError(f"duplicate site ids: {sorted(sit.loc[sit['site'].duplicated(), 'site'])}")
    dist = distance_matrix(distance_km)
    dist.index = dist.index.astype(str)
    dist.columns = dist.columns.astype(str)
    dist = dist.loc[dist.index, dist.index]  # square, same order
    used = set(dem["street"]) | set(sup["street"]) | set(sit["street"])
    missing = sorted(used - set(dist.index))
    if missing:
        raise ValueError(f"streets missing from distance_km: {missing[:10]}")
    return dem, sup, sit, dist



def check_parameters(p: PlanParameters) -> None:
    """Reject parameter values the model cannot read (``ValueError`` naming the field)."""
    if p.count_rule not in ("exact", "at_most"):
        raise ValueError(f"count_rule must be 'exact' or 'at_most', got {p.count_rule!r}")
    if p.places_rule not in ("exact", "at_least", "off"):
        raise ValueError(f"places_rule must be 'exact', 'at_least' or 'off', got {p.places_rule!r}")
    if p.method not in ("lexicographic", "weighted"):
        raise ValueError(f"method must be 'lexicographic' or 'weighted', got {p.method!r}")
    if p.first_year > p.last_year or p.plan_start > p.plan_end:
        raise ValueError("first_year <= last_year and plan_start <= plan_end are required")
    if p.objective_order is not None:
        from capacity.optimize.parameters import STAGES

        bad = [s for s in p.objective_order if s not in STAGES]
        if bad or len(set(p.objective_order)) != len(p.objective_order):
            raise ValueError(f"objective_order must name distinct stages of {', '.join(STAGES)}, "
                             f"got {tuple(p.objective_order)!r}")
    if p.assignment_stages:
        from capacity.optimize.constraints import stage_order

        order, tail = stage_order(p), tuple(p.assignment_stages)
        pupils = ("travel", "overcrowding", "shortfall", "equity")
        if (any(s not in pupils for s in tail) or len(tail) >= len(order)
                or order[len(order) - len(tail):] != tail):
            raise ValueError(f"assignment_stages must be the last stages of the order {order!r}, "
                             f"only of {', '.join(pupils)}, leaving one stage before them; "
                             f"got {tail!r}")
    from capacity.optimize.sharing import SHARING

    if p.sharing not in SHARING:
        raise ValueError(f"sharing must be one of {', '.join(map(repr, SHARING))}, got {p.sharing!r}")
    if p.private_min_fill is not None and not 0 <= p.private_min_fill <= 1:
        raise ValueError(f"private_min_fill must be a share between 0 and 1, got {p.private_min_fill!r}")
    if p.places_rule != "off" and p.kindergarten_new_places is None:
        raise ValueError(f"places_rule={p.places_rule!r} needs kindergarten_new_places")
    if p.grade_class_size is not None:
        bad = {a: v for a, v in p.grade_class_size.items()
               if not (np.isfinite(float(v)) and float(v) > 0 and float(v) == round(float(v)))}
        if not p.grade_class_size or bad:
            raise ValueError("grade_class_size must map ages to whole pupils per class > 0, got "
                             f"{dict(p.grade_class_size)!r}")


def _size(mapping, defaults, level, what) -> float:
    if mapping is not None and level in mapping:
        return float(mapping[level])
    if level in defaults:
        return float(defaults[level])
    raise ValueError(f"{what} has no value for level {level!r}")


@dataclass
class PlanIndex:
    """The sets of one instance (see the module docstring for the tables' columns).

    ``demand`` is the balance years' demand summed by ``street, level, year``; ``cs`` / ``mcs``
    standard and maximum pupils per class by level; ``catchment`` km by level (None = anywhere);
    ``D`` the street x street distance matrix (km, zero diagonal) in the order of ``streets``.
    """

    params: PlanParameters
    years: np.ndarray
    levels: list
    cs: dict
    mcs: dict
    catchment: dict
    streets: list
    D: np.ndarray
    demand: pd.DataFrame
    pools: pd.DataFrame
    options: pd.DataFrame
    nodes: pd.DataFrame
    arcs: pd.DataFrame

    def required(self) -> dict[str, int]:
        """Schools per level bound by ``new_schools`` (all levels with candidate sites or demand)."""
        p = self.params
        if p.new_schools is None:
            return {}
        lv = list(dict.fromkeys([*self.levels, *p.new_schools]))
        return {level: int(p.new_schools.get(level, 0)) for level in lv}


def build_index(dem: pd.DataFrame, sup: pd.DataFrame, sit: pd.DataFrame, dist: pd.DataFrame,
                p: PlanParameters) -> PlanIndex:
    """Index tables from normalised tables (see :func:`normalise_tables`)."""
    years = np.arange(p.first_year, p.last_year + 1)
    dem = dem[(dem["year"] >= p.first_year) & (dem["year"] <= p.last_year)]
    dem = dem.groupby(["street", "level", "year"], as_index=False, sort=True)["pupils"].sum()
    levels = list(dict.fromkeys([*dem["level"], *sup["level"], *sit["level"]]))
    cs = {lv: _size(p.class_size, DEFAULT_CLASS_SIZE, lv, "class_size") for lv in levels}
    mcs = {lv: max(cs[lv], _size(p.max_class_size, DEFAULT_MAX_CLASS_SIZE, lv, "max_class_size"))
           for lv in levels}
    kg = p.kindergarten_level
    streets = list(dist.index)
    sidx = {s: i for i, s in enumerate(streets)}
    D = dist.to_numpy(dtype=float).copy()
    np.fill_diagonal(D, 0.0)
    _check_enrolled(sup, p)
    pools, options = _pools_and_options(sup, sit, p, cs, mcs, kg, sidx)
    ckm = {lv: (p.catchment_km[lv] if p.catchment_km is not None and lv in p.catchment_km
                else DEFAULT_CATCHMENT_KM.get(lv)) for lv in levels}
    nodes, arcs = _nodes_and_arcs(dem, pools, D, sidx, ckm)
    return PlanIndex(params=p, years=years, levels=levels, cs=cs, mcs=mcs, catchment=ckm,
                     streets=streets, D=D, demand=dem, pools=pools, options=options, nodes=nodes,
                     arcs=arcs)


def _pools_and_options(sup, sit, p, cs, mcs, kg, sidx):
    # existing supply -> pool members
    sup = sup.copy()
    sup["std"] = sup["places"]
    sup["over"] = (sup["classes"] * sup["level"].map(mcs) - sup["places"]).clip(lower=0)
    sup["pub"] = sup["public"] & (sup["level"] == kg)
    sup["inc"] = sup["inclusive"] & (sup["level"] == kg)
    pkey = ["pstreet", "level", "pub", "inc"]
    ex = (sup.rename(columns={"street": "pstreet"})
          .groupby(pkey, as_index=False, sort=True)[["std", "over", "enrolled"]].sum(min_count=1))
    ex[["std", "over"]] = ex[["std", "over"]].fillna(0.0)
    ex = ex[(ex["std"] + ex["over"]) > 0]
    sit = sit.copy()
    sit["pstreet"] = sit["street"]
    sit["pub"] = sit["public"] & (sit["level"] == kg)
    sit["inc"] = sit["inclusive"] & (sit["level"] == kg)

    # open options (site, year, size) inside the plan period
    lo = np.maximum(sit["earliest_year"].to_numpy(int), p.plan_start) if len(sit) else np.array([], int)
    sit["first_open"] = lo
    sit["openable"] = lo <= p.plan_end
    opt = sit[sit["openable"]].copy()
    opt["year"] = [list(range(a, p.plan_end + 1)) for a in opt["first_open"]]
    opt = opt.explode("year").explode("sizes").rename(columns={"sizes": "classes"})
    if len(opt):
        opt["year"] = opt["year"].astype(int)
        opt["classes"] = opt["classes"].astype(int)
    else:
        opt = opt.assign(year=pd.Series(dtype=int), classes=pd.Series(dtype=int))
    opt = opt.sort_values(["site", "year", "classes"], kind="stable").reset_index(drop=True)
    opt["std"] = opt["classes"] * opt["level"].map(cs).astype(float)
    if p.grade_class_size is not None:  # kindergarten places by grade mix (capacity.grades)
        kgo = (opt["level"] == kg).to_numpy()
        opt.loc[kgo, "std"] = grade_places(opt.loc[kgo, "classes"].to_numpy(int), p.grade_class_size)
    opt["over"] = (opt["classes"] * opt["level"].map(mcs).astype(float) - opt["std"]).clip(lower=0.0)
    given = opt["places"].notna()  # capacity given in places directly
    opt.loc[given, "std"] = opt.loc[given, "places"]
    opt.loc[given, "over"] = 0.0
    opt["cost"] = opt["classes"] * opt["cost_per_class"]
    opt["early"] = (p.plan_end - opt["year"]).astype(float)
    opt = conversion_sources(opt, ex, kg, p.plan_end)  # conversions: cost per year, no overcrowding

    # pools
    pools = pd.concat([ex[pkey], opt[pkey]]).drop_duplicates().sort_values(pkey).reset_index(drop=True)
    pools = pools.merge(ex, on=pkey, how="left").fillna({"std": 0.0, "over": 0.0, "enrolled": 0.0})
    _check_expansions(sit, ex, pkey)
    first_opt = opt.groupby(pkey, as_index=False)["year"].min().rename(columns={"year": "first_opt"})
    pools = pools.merge(first_opt, on=pkey, how="left")
    has_ex = (pools["std"] + pools["over"]) > 0
    pools["avail"] = np.where(has_ex, p.first_year, pools["first_opt"].fillna(p.last_year + 1)).astype(int)
    pools["pool"] = np.arange(len(pools))
    pools["psi"] = pools["pstreet"].map(sidx).astype(int)
    opt = opt.merge(pools[[*pkey, "pool"]], on=pkey, how="left")
    # a conversion takes its places from the private non-inclusive pool of its street
    src = pools.loc[(pools["level"] == kg) & ~pools["pub"] & ~pools["inc"], ["pstreet", "pool"]]
    opt["from_pool"] = opt["pstreet"].map(src.set_index("pstreet")["pool"]).where(opt["converts"], -1)
    opt["from_pool"] = opt["from_pool"].fillna(-1).astype(int)
    opt["opt"] = np.arange(len(opt))
    return pools, opt


def _check_enrolled(sup: pd.DataFrame, p: PlanParameters) -> None:
    """``sharing = "enrolment"`` needs the base year's pupils (``enrolled``) on every supply row
    with places, whole and >= 0."""
    if p.sharing != "enrolment":
        return
    e = sup["enrolled"]
    if len(sup) and e.isna().all():
        raise ValueError("sharing = 'enrolment' needs the base year's pupils per supply row (column "
                         "enrolled); the supply has none (use sharing = 'places')")
    bad = (e.isna() | (e < 0)).to_numpy() & ((sup["places"] + sup["classes"]) > 0).to_numpy()
    if bad.any():
        r = sup.iloc[int(np.flatnonzero(bad)[0])]
        raise ValueError(f"supply row {int(np.flatnonzero(bad)[0]) + 1} (street {r['street']}, level "
                         f"{r['level']}): enrolled {r['enrolled']:g} must be pupils >= 0 for sharing = "
                         "'enrolment'")


def _check_expansions(sit, ex, pkey) -> None:
    """An expansion adds classes to existing places: its street, level and type must have some."""
    exp = sit[sit["kind"] == "expansion"]
    if not len(exp):
        return
    have = exp[pkey].merge(ex[pkey].assign(_has=True), on=pkey, how="left")["_has"].fillna(False).to_numpy()
    if not have.all():
        r = exp.iloc[int(np.flatnonzero(~have)[0])]
        raise ValueError(f"site {r['site']}: an expansion needs existing places of its street, level and "
                         f"type (street {r['street']}, level {r['level']}, public={bool(r['public'])}, "
                         f"inclusive={bool(r['inclusive'])}), and there are none")


def counted(opt: pd.DataFrame, params, what: str) -> np.ndarray:
    """Mask of the options that count towards ``new_schools`` (``what="schools"``) or towards
    ``kindergarten_new_places`` (``what="places"``): new schools always, expansions when
    ``expansions_count`` / ``expansions_in_places``, conversions never (they add no place)."""
    flag = params.expansions_count if what == "schools" else params.expansions_in_places
    kind = opt["kind"]
    return (((kind != "expansion") | bool(flag)) & (kind != "conversion")).to_numpy()


def _nodes_and_arcs(dem, pools, D, sidx, ckm):
    nodes = dem[dem["pupils"] > 0].reset_index(drop=True)
    nodes["node"] = np.arange(len(nodes))
    nodes["si"] = nodes["street"].map(sidx).astype(int)
    sl = nodes[["street", "level", "si"]].drop_duplicates()
    arcs = sl.merge(pools[["level", "pool", "pstreet", "psi", "avail"]], on="level")
    arcs["dist"] = D[arcs["si"].to_numpy(), arcs["psi"].to_numpy()] if len(arcs) else 0.0
    lim = arcs["level"].map(lambda lv: np.inf if ckm[lv] is None else float(ckm[lv])).astype(float)
    own = arcs["street"] == arcs["pstreet"]
    arcs = arcs[own | (np.isfinite(arcs["dist"]) & (arcs["dist"] <= lim + 1e-9))]
    arcs.loc[arcs["street"] == arcs["pstreet"], "dist"] = 0.0
    ay = nodes[["street", "level", "year", "node", "pupils"]].merge(arcs, on=["street", "level"])
    ay = ay[ay["year"] >= ay["avail"]]
    arcs = ay.sort_values(["node", "pool"]).reset_index(drop=True)
    arcs["a"] = np.arange(len(arcs))
    return nodes, arcs
