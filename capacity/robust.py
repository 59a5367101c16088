"""A plan that holds across the projection's uncertainty: futures, robust schedule, out-of-sample test.

:func:`run_robust` chains the steps for one scenario with a ``[robust]`` table:

1. **Futures.** ``pool`` projection draws (:func:`capacity.projection.project_draws` with the
   scenario's ``[uncertainty]`` and the in-sample ``seed``) become demand paths
   (:func:`capacity.demand.pupils_by_draw`). ``select = "random"`` keeps the first ``draws`` of them
   with equal weights; ``"kmedoids"`` reduces them to ``draws`` representatives (k-medoids on the
   demand paths, street x level x balance year, :func:`kmedoids`) weighted by cluster size.
2. **Robust schedule.** :class:`capacity.optimize.stochastic.RobustPlanModel` on those futures with
   the scenario's plan rules and ``measure`` (``expected`` or ``cvar`` at ``alpha``).
3. **Out of sample.** ``evaluation_draws`` fresh draws with ``evaluation_seed`` (never the in-sample
   seed): the robust and the deterministic (central) schedules are each evaluated exactly on every
   draw (:class:`capacity.optimize.evaluate.ScheduleEvaluator`).

Tables of :class:`RobustResult`: ``robustness`` (``plan, level, year, expected_places_short,
p90_places_short, p95_places_short, prob_short``), ``value`` (the value of the stochastic solution per
level), ``schools`` (how often each opened school is full), ``streets`` (probability that each street
is short in the level's peak year). *Places short* = pupils beyond the standard places (shortfall +
overcrowded pupils); a level-year counts as short when more than :data:`SHORT_PUPILS` pupils are.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

#: Selections of the futures the robust plan is optimised over.
SELECTIONS = ("random", "kmedoids")
#: Places short above this many pupils make a street or a level short (the pupils are expected
#: values, not counts: less than half a pupil is not a pupil).
SHORT_PUPILS = 0.5
PLANS = ("robust", "deterministic")


@dataclass(frozen=True)
class RobustSettings:
    """The ``[robust]`` table of a scenario.

    Parameters
    ----------
    draws
        Futures the schedule is optimised over.
    select
        ``"random"`` (the first ``draws`` draws, equal weights) or ``"kmedoids"`` (``draws``
        representatives of ``pool`` draws, weighted by cluster size).
    pool
        Draws from which ``kmedoids`` selects (ignored by ``random``).
    measure
        ``"expected"`` or ``"cvar"`` (the mean of the worst ``1 - alpha`` of the futures).
    alpha
        CVaR level in [0, 1).
    evaluation_draws
        Fresh draws for the out-of-sample evaluation.
    seed
        Seed of the in-sample draws (``None``: the scenario's ``uncertainty.seed``).
    evaluation_seed
        Seed of the out-of-sample draws (``None``: ``seed + 1``); must differ from ``seed``.
    """

    draws: int = 30
    select: str = "random"
    pool: int = 300
    measure: str = "expected"
    alpha: float = 0.9
    evaluation_draws: int = 500
    seed: int | None = None
    evaluation_seed: int | None = None

    def seeds(self, uncertainty_seed: int) -> tuple[int, int]:
        """(in-sample seed, out-of-sample seed)."""
        s = int(uncertainty_seed if self.seed is None else self.seed)
        e = s + 1 if self.evaluation_seed is None else int(self.evaluation_seed)
        if e == s:
            raise ValueError(f"robust.evaluation_seed ({e}) must differ from the in-sample seed ({s}): "
                             "the evaluation needs draws the optimisation did not see")
        return s, e

    def check(self) -> None:
        """Raise ``ValueError`` naming the key of a value out of range."""
        if self.draws < 1:
            raise ValueError(f"robust.draws must be at least 1, got {self.draws}")
        if self.select not in SELECTIONS:
            raise ValueError(f"robust.select must be one of {', '.join(SELECTIONS)}, got {self.select!r}")
        if self.select == "kmedoids" and self.pool < self.draws:
            raise ValueError(f"robust.pool ({self.pool}) must be at least robust.draws ({self.draws})")
        if self.measure not in ("expected", "cvar"):
            raise ValueError(f"robust.measure must be 'expected' or 'cvar', got {self.measure!r}")
        if not 0 <= self.alpha < 1:
            raise ValueError(f"robust.alpha must be in [0, 1), got {self.alpha}")
        if self.evaluation_draws < 1:
            raise ValueError(f"robust.evaluation_draws must be at least 1, got {self.evaluation_draws}")


def kmedoids(X: np.ndarray, k: int, seed: int, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """k-medoids (alternating assignment and medoid update, k-medoids++ start) on the rows of ``X``.

    Parameters
    ----------
    X : ndarray (n, features)
    k : int
        Clusters (``1 <= k <= n``).
    seed : int
        Seeds the start; the same inputs give the same medoids.

    Returns
    -------
    (medoids, sizes)
        Row indices of the medoids (sorted) and the number of rows in each one's cluster.
    """
    X = np.asarray(X, dtype=float)
    n = len(X)
    if not 1 <= k <= n:
        raise ValueError(f"kmedoids: need 1 <= k <= {n}, got {k}")
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2))
    rng = np.random.default_rng(seed)
    med = [int(rng.integers(n))]
    for _ in range(1, k):
        d2 = D[:, med].min(axis=1) ** 2
        med.append(int(rng.choice(n, p=d2 / d2.sum())) if d2.sum() > 0 else
                   int(np.setdiff1d(np.arange(n), med)[0]))
    med = np.array(med)
    for _ in range(iterations):
        lab = np.argmin(D[:, med], axis=1)
        new = med.copy()
        for j in range(k):
            members = np.flatnonzero(lab == j)
            if len(members):
                new[j] = members[np.argmin(D[np.ix_(members, members)].sum(axis=1))]
        if np.array_equal(new, med):
            break
        med = new
    lab = np.argmin(D[:, med], axis=1)
    sizes = np.bincount(lab, minlength=k)
    order = np.argsort(med)
    return med[order], sizes[order]


def select_futures(paths: np.ndarray, settings: RobustSettings, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(draw indices, weights) of the futures to optimise over, from the demand paths (draw x
    feature)."""
    if settings.select == "random":
        idx = np.arange(min(settings.draws, len(paths)))
        return idx, np.full(len(idx), 1.0 / len(idx))
    med, sizes = kmedoids(paths, settings.draws, seed)
    return med, sizes / sizes.sum()


@dataclass(frozen=True)
class RobustResult:
    """What :func:`run_robust` returns.

    Attributes
    ----------
    settings : RobustSettings
    plan : RobustPlan
        The robust schedule and its in-sample measures (``capacity.optimize.stochastic``).
    deterministic_schedule : DataFrame
        The central plan's schedule.
    futures : DataFrame
        ``future, draw, weight``: the in-sample futures (draw index in the in-sample draws).
    seeds : tuple of int
        (in-sample seed, out-of-sample seed).
    robustness : DataFrame
        ``plan, level, year, expected_places_short, p90_places_short, p95_places_short,
        prob_short`` over the out-of-sample draws.
    value : DataFrame
        ``level, deterministic, robust, value``: expected places short (pupil-years, summed over the
        balance years) of each plan out of sample, and the value of the stochastic solution
        (deterministic minus robust).
    schools : DataFrame
        ``plan, site, street, level, open_year, classes, share_full``: share of the draws in which
        the school's standard places are all used in its level's peak year (NaN when it opens
        later).
    streets : DataFrame
        ``plan, level, year, street, prob_short``: in each level's peak year (largest central
        demand), the probability that the street's pupils lack places or its schools are overcrowded.
    places_short : DataFrame
        ``plan, future, level, year, places_short`` for every out-of-sample draw (for figures).
    seconds : dict
        Time of each step.
    """

    settings: RobustSettings
    plan: object
    deterministic_schedule: pd.DataFrame
    futures: pd.DataFrame
    seeds: tuple[int, int]
    robustness: pd.DataFrame
    value: pd.DataFrame
    schools: pd.DataFrame
    streets: pd.DataFrame
    places_short: pd.DataFrame
    seconds: dict

    def to_dict(self) -> dict:
        """The ``robust`` record of ``solver.json``."""
        s = self.settings
        d = {"draws": int(len(self.futures)), "select": s.select,
             "pool": int(s.pool) if s.select == "kmedoids" else None,
             "measure": s.measure, "alpha": s.alpha if s.measure == "cvar" else None,
             "seed": self.seeds[0], "evaluation_draws": int(s.evaluation_draws),
             "evaluation_seed": self.seeds[1],
             "weights": [round(float(w), 6) for w in self.futures["weight"]],
             "value_of_stochastic_solution": {r.level: round(float(r.value), 3)
                                              for r in self.value.itertuples()},
             "seconds": {k: round(v, 2) for k, v in self.seconds.items()}}
        d["solver"] = self.plan.to_dict()
        return d


def draw_futures(district, scenario, settings: RobustSettings, seed: int):
    """The futures of a robust plan: ``settings.pool`` (k-medoids) or ``settings.draws`` (random)
    projection draws with ``seed``, selected by :func:`select_futures`.

    Returns
    -------
    (list of DataFrame, ndarray, ndarray, int)
        One ``street, level, year, pupils`` table per future, their weights (sum 1), the draw each
        future is, and the number of draws they were chosen from.
    """
    n_in = settings.pool if settings.select == "kmedoids" else settings.draws
    dem = _draw_demand(district, scenario, seed, n_in)
    keys = ["street", "level", "year"]
    wide = dem.pivot_table(index="future", columns=keys, values="pupils", aggfunc="sum", fill_value=0.0)
    idx, weights = select_futures(wide.to_numpy(), settings, seed)
    demands = [dem.loc[dem["future"] == int(wide.index[i]), [*keys, "pupils"]] for i in idx]
    return demands, weights, wide.index.to_numpy()[idx], n_in


def _draw_demand(district, scenario, seed: int, n: int) -> pd.DataFrame:
    from capacity.demand import pupils_by_draw, school_ages
    from capacity.projection import project_draws

    u = replace(scenario.uncertainty, draws=int(n), seed=int(seed))
    draws = project_draws(district, scenario.projection, u, keep_ages=school_ages(district.levels))
    p = scenario.plan
    dem = pupils_by_draw(draws, district.levels, scenario.enrolment)
    return dem[dem["year"].between(p.first_year, p.last_year)].rename(columns={"draw": "future"})


def summarise(levels: pd.DataFrame) -> pd.DataFrame:
    """``level, year, expected_places_short, p90_places_short, p95_places_short, prob_short`` from
    an evaluation's ``levels`` table (one row per future, level and year)."""
    g = levels.groupby(["level", "year"], sort=False)["places_short"]
    out = pd.DataFrame({
        "expected_places_short": g.mean(),
        "p90_places_short": g.quantile(0.90),
        "p95_places_short": g.quantile(0.95),
        "prob_short": g.apply(lambda v: float((v > SHORT_PUPILS).mean())),
    }).reset_index()
    return out


def schedule_changes(robust: pd.DataFrame, deterministic: pd.DataFrame) -> pd.DataFrame:
    """Where and when two schedules open different numbers of places.

    Returns
    -------
    DataFrame
        ``street, level, kind, year, robust_places, deterministic_places, difference`` (standard
        places opened, or for ``kind = "conversion"`` made inclusive, in that street, level and year
        by each schedule; only rows that differ), sorted by level, street, kind and year. Sites of
        one street are interchangeable for the model, so schedules are compared by street; a
        schedule without a ``kind`` column is all new schools.
    """
    def places(s):
        s = s if "kind" in s else s.assign(kind="new")
        return s.groupby(["street", "level", "kind", "open_year"])["places"].sum()

    both = pd.concat({"robust_places": places(robust), "deterministic_places": places(deterministic)},
                     axis=1).fillna(0.0)
    both["difference"] = both["robust_places"] - both["deterministic_places"]
    both = both[both["difference"].abs() > 1e-9].reset_index().rename(columns={"open_year": "year"})
    return both.sort_values(["level", "street", "kind", "year"]).reset_index(drop=True)


def peak_years(demand: pd.DataFrame) -> dict[str, int]:
    """Each level's peak year: the year of its largest district demand (``street, level, year,
    pupils``)."""
    tot = demand.groupby(["level", "year"], sort=False)["pupils"].sum().reset_index()
    return {lv: int(g.loc[g["pupils"].idxmax(), "year"]) for lv, g in tot.groupby("level", sort=False)}


def run_robust(district, scenario, settings: RobustSettings, deterministic_schedule: pd.DataFrame,
               central_demand: pd.DataFrame, progress: Callable[[str], None] | None = None) -> RobustResult:
    """Futures, robust schedule and out-of-sample comparison with ``deterministic_schedule``.

    Parameters
    ----------
    district : capacity.data.District
    scenario : capacity.scenario.Scenario
        Its ``projection``, ``uncertainty``, ``enrolment``, ``plan`` and ``solver``.
    settings : RobustSettings
    deterministic_schedule : DataFrame
        The central plan's ``schedule`` (``site, open_year, classes`` at least).
    central_demand : DataFrame
        ``street, level, year, pupils`` of the central projection (for the peak years).
    progress : callable, optional

    Raises
    ------
    ValueError
        A setting out of range; ``InfeasiblePlan`` if no schedule meets the plan in every future.
    """
    from capacity.optimize.evaluate import ScheduleEvaluator
    from capacity.optimize.stochastic import RobustPlanModel

    say = progress or (lambda _m: None)
    settings.check()
    seed, eval_seed = settings.seeds(scenario.uncertainty.seed)
    p = scenario.plan
    seconds = {}
    supply, sites, dist = district.supply, district.sites, district.distance_km()

    t0 = time.perf_counter()
    demands, weights, draws, n_in = draw_futures(district, scenario, settings, seed)
    seconds["futures"] = time.perf_counter() - t0
    say(f"robust: {len(demands)} futures ({settings.select}) of {n_in} draws in {seconds['futures']:.1f} s")

    t0 = time.perf_counter()
    model = RobustPlanModel(demands, weights, supply, sites, dist, p, measure=settings.measure,
                            alpha=settings.alpha)
    say(f"robust: solving over {len(demands)} futures ({settings.measure}"
        + (f", alpha {settings.alpha:g}" if settings.measure == "cvar" else "") + ")...")
    plan = model.solve(scenario.solver).plan
    seconds["solve"] = time.perf_counter() - t0
    r = plan.report
    say(f"robust: solved in {seconds['solve']:.1f} s: {r.outcome()}")

    cd = central_demand[central_demand["year"].between(p.first_year, p.last_year)]
    peak = peak_years(cd)
    t0 = time.perf_counter()
    fresh = _draw_demand(district, scenario, eval_seed, settings.evaluation_draws)
    evaluator = ScheduleEvaluator(fresh, supply, sites, dist, p)
    evals = {"robust": evaluator.evaluate(plan.schedule, detail_years=peak),
             "deterministic": evaluator.evaluate(deterministic_schedule, detail_years=peak)}
    seconds["evaluation"] = time.perf_counter() - t0
    say(f"robust: evaluated both schedules on {settings.evaluation_draws} fresh draws in "
        f"{seconds['evaluation']:.1f} s")

    rob = pd.concat([summarise(e.levels).assign(plan=name) for name, e in evals.items()], ignore_index=True)
    rob = rob[["plan", "level", "year", "expected_places_short", "p90_places_short", "p95_places_short",
               "prob_short"]]
    tot = {name: e.levels.groupby(["level", "future"], sort=False)["places_short"].sum()
           .groupby("level", sort=False).mean() for name, e in evals.items()}
    value = pd.DataFrame({"deterministic": tot["deterministic"], "robust": tot["robust"]})
    value["value"] = value["deterministic"] - value["robust"]
    value = value.reset_index()
    schedules = {"robust": plan.schedule, "deterministic": deterministic_schedule}
    sch_rows = []
    for name, e in evals.items():
        share = e.schools.groupby("site")["full"].mean() if len(e.schools) else pd.Series(dtype=float)
        s = schedules[name][["site", "street", "level", "open_year", "classes"]].copy()
        s["share_full"] = s["site"].astype(str).map(share).to_numpy(float)
        sch_rows.append(s.assign(plan=name))
    schools = pd.concat(sch_rows, ignore_index=True)[["plan", "site", "street", "level", "open_year",
                                                       "classes", "share_full"]]
    st_rows = []
    for name, e in evals.items():
        s = e.streets
        s = s.assign(short=(s["shortfall"] + s["overcrowded"]) > SHORT_PUPILS)
        g = s.groupby(["level", "year", "street"], sort=False)["short"].mean().rename("prob_short").reset_index()
        st_rows.append(g.assign(plan=name))
    streets = pd.concat(st_rows, ignore_index=True)[["plan", "level", "year", "street", "prob_short"]]
    ps = pd.concat([e.levels[["future", "level", "year", "places_short"]].assign(plan=name)
                    for name, e in evals.items()], ignore_index=True)
    say(f"robust: expected pupil-years short out of sample: robust {value['robust'].sum():,.0f}, "
        f"deterministic {value['deterministic'].sum():,.0f} (value of the stochastic solution "
        f"{value['value'].sum():,.0f})")
    futures = pd.DataFrame({"future": np.arange(len(draws)), "draw": draws,
                            "weight": weights})
    return RobustResult(settings=settings, plan=plan, deterministic_schedule=deterministic_schedule,
                        futures=futures, seeds=(seed, eval_seed), robustness=rob, value=value,
                        schools=schools, streets=streets, places_short=ps, seconds=seconds)


def write_robust(out_dir, result: RobustResult, district=None) -> list[Path]:
    """Write the robust plan's tables.

    Returns
    -------
    list of Path
        ``robustness.csv`` (``plan, level, year, expected_places_short, p90_places_short,
        p95_places_short, prob_short``), ``robust_schedule.csv`` (as ``schedule.csv``),
        ``robust_value.csv`` (``level, deterministic, robust, value``: expected pupil-years short
        out of sample and the value of the stochastic solution), ``robust_schools.csv``
        (``plan, site, street, level, open_year, classes, share_full``), ``robust_streets.csv``
        (``plan, level, year, street, prob_short``) and ``robust_changes.csv`` (see
        :func:`schedule_changes`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "robustness.csv": result.robustness,
        "robust_schedule.csv": result.plan.schedule,
        "robust_value.csv": result.value,
        "robust_schools.csv": result.schools,
        "robust_streets.csv": result.streets,
        "robust_changes.csv": schedule_changes(result.plan.schedule, result.deterministic_schedule),
    }
    paths = []
    for name, t in tables.items():
        t = t.copy()
        for c in t.columns:
            if pd.api.types.is_float_dtype(t[c]):
                t[c] = t[c].round(3)
        t.to_csv(out / name, index=False)
        paths.append(out / name)
    return paths
