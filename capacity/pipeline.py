"""The stages chained: district data -> projection -> demand -> plan -> output folders.

:func:`run_scenario` runs one scenario in memory and returns a :class:`ScenarioRun`;
:func:`run_project`, :func:`run_plan` and :func:`run_compare` also write the output folders that
``capacity project``, ``capacity plan`` and ``capacity compare`` promise. The command line
(:mod:`capacity.cli`) is a thin layer over these functions.

The district folder is, in this order of precedence: the ``data_dir`` argument (the command line's
``--data``), the scenario's ``data`` key, ``data/streets`` (relative to the working directory).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import pickle
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from capacity.data import DataError, District, load_district
from capacity.figures import (  # no matplotlib here: figures.py imports it in its workers
    FIGURE_SETS,
    FigureDrawer,
    default_workers,
    plan_figure_specs,
    population_figure_specs,
)
from capacity.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "DEFAULT_DATA_DIR",
    "ScenarioRun",
    "check_scenario",
    "data_dir_for",
    "run_compare",
    "run_plan",
    "run_project",
    "run_scenario",
]

#: The district folder used when neither the command line nor the scenario names one.
DEFAULT_DATA_DIR = Path("data/streets")

#: Decimals kept in the CSV outputs (persons and pupils are expected values, not counts).
CSV_DECIMALS = 3

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ScenarioRun:
    """One scenario, run.

    Attributes
    ----------
    name : str
        The scenario's name.
    scenario : Scenario
    district : District
    projection : Projection
        The deterministic projection (``capacity.projection.Projection``).
    population : DataFrame
        ``street, year, sex, age, persons`` (base year to ``projection.end_year``).
    demand : DataFrame
        ``street, level, year, pupils`` and, when the scenario has draws, the percentile columns
        (``p05, p50, p95`` by default).
    plan : Plan or None
        The solved plan (None for a projection-only run).
    counterfactual : Plan or None
        The same demand with existing places only (no new school): shortfall without the plan.
    """

    name: str
    scenario: Scenario
    district: District
    projection: object
    population: pd.DataFrame
    demand: pd.DataFrame
    plan: object = None
    counterfactual: object = None


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def data_dir_for(scenario: Scenario, data_dir=None) -> Path:
    """The district folder of a run: ``data_dir`` if given, else the scenario's ``data``, else
    :data:`DEFAULT_DATA_DIR`."""
    if data_dir is not None:
        return Path(data_dir)
    if scenario.data is not None:
        return Path(scenario.data)
    return DEFAULT_DATA_DIR


def check_scenario(scenario: Scenario, district: District) -> None:
    """Check the scenario against the district: level names, street codes and years.

    Raises
    ------
    ScenarioError
        Naming the scenario key (and file) and the nearest valid level or street.
    """
    levels = list(district.level_names)
    p = scenario.plan
    level_keys = [
        ("enrolment", scenario.enrolment.paths),
        ("plan.new_schools", p.new_schools),
        ("plan.max_openings_per_year", p.max_openings_per_year),
        ("class_size.standard", p.class_size),
        ("class_size.maximum", p.max_class_size),
        ("catchment", p.catchment_km),
    ]
    for key, mapping in level_keys:
        for level in mapping or {}:
            if level not in levels:
                raise scenario.error(f"{key}.{level}",
                                     f"no such level in the district ({', '.join(levels)})", levels)
    missing = [lv for lv in levels if lv not in scenario.enrolment.paths]
    if missing:
        raise scenario.error("enrolment", f"no enrolment rate for level(s) {', '.join(missing)}; "
                                          f"give e.g. {missing[0]} = {{ \"{district.base_year}\" = 1.0 }}")
    if p.places_rule != "off" and p.kindergarten_level not in levels:
        raise scenario.error("plan.kindergarten_level",
                             f"no such level in the district ({', '.join(levels)})", levels)
    streets = list(district.street_ids)
    for i, s in enumerate(scenario.growth_streets):
        if s not in streets:
            near = difflib.get_close_matches(s, streets, n=1)
            raise scenario.error(f"growth_streets.{i}",
                                 f"no street {s!r} in the district" + (f" (did you mean {near[0]!r}?)" if near else ""))
    if p.first_year <= district.base_year:
        raise scenario.error("plan.first_year", f"must be after the district's base year "
                                                f"{district.base_year}, got {p.first_year}")
    if p.plan_start <= district.base_year:
        raise scenario.error("plan.plan_start", f"must be after the district's base year "
                                                f"{district.base_year}, got {p.plan_start}")
    if scenario.projection.end_year <= district.base_year:
        raise scenario.error("projection.end_year", f"must be after the district's base year "
                                                    f"{district.base_year}")


def _project(district, scenario: Scenario, progress):
    """The deterministic projection and the demand table (with percentile bands when drawn)."""
    from capacity.demand import pupils, pupils_draws, school_ages
    from capacity.projection import project, project_draws

    a, u = scenario.projection, scenario.uncertainty
    try:
        if u.draws <= 0:
            projection = project(district, a)
            return projection, pupils(projection, district.levels, scenario.enrolment)
        t0 = time.perf_counter()
        draws = project_draws(district, a, u, keep_ages=school_ages(district.levels))
        demand = pupils_draws(draws, district.levels, scenario.enrolment)
        _say(progress, f"{scenario.name}: {u.draws} draws of fertility and migration in "
                       f"{time.perf_counter() - t0:.1f} s")
        return draws.central, demand
    except (DataError, ScenarioError):
        raise
    except ValueError as exc:  # a value the stage rejects: the scenario's mistake
        raise ScenarioError(f"the projection rejects the scenario: {exc}", file=scenario.path) from exc


def run_scenario(scenario: Scenario | str | Path, data_dir=None, progress: Progress | None = None, *,
                 solve: bool = True, district: District | None = None) -> ScenarioRun:
    """Run one scenario: project, turn into demand and (``solve=True``) solve the plan.

    Parameters
    ----------
    scenario : Scenario or path
        A scenario or a scenario file.
    data_dir : path, optional
        The district folder; overrides the scenario's ``data``.
    progress : callable, optional
        Called with one line of text per step (the command line prints them on stderr).
    solve : bool
        Solve the plan and the no-new-schools counterfactual (False: projection and demand only).
    district : District, optional
        An already loaded district (``data_dir`` is then ignored).

    Returns
    -------
    ScenarioRun

    Raises
    ------
    DataError, ScenarioError, InfeasiblePlan
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if district is None:
        folder = data_dir_for(scenario, data_dir)
        _say(progress, f"{scenario.name}: reading the district in {folder}")
        district = load_district(folder)
    check_scenario(scenario, district)

    a = scenario.projection
    t0 = time.perf_counter()
    projection, demand = _project(district, scenario, progress)
    population = projection.to_frame()
    _say(progress, f"{scenario.name}: projected {district.base_year}-{a.end_year} in "
                   f"{time.perf_counter() - t0:.1f} s")
    plan = counterfactual = None
    if solve:
        plan, counterfactual = _solve(scenario, district, demand, progress)
    return ScenarioRun(name=scenario.name, scenario=scenario, district=district, projection=projection,
                       population=population, demand=demand, plan=plan, counterfactual=counterfactual)


def _counterfactual(model_pickle: bytes, options):
    """The plan without new schools of a pickled :class:`~capacity.optimize.SchoolPlanModel` (run
    in a worker process while this one solves the plan)."""
    return pickle.loads(model_pickle).without_new_schools().solve(options).plan


def _solve(scenario: Scenario, district: District, demand: pd.DataFrame, progress, workers=None):
    """The plan and its counterfactual; with ``workers`` (a :class:`FigureDrawer` with worker
    processes) the counterfactual is solved by a worker at the same time as the plan."""
    from capacity.optimize import InfeasiblePlan, SchoolPlanModel

    p, opts = scenario.plan, scenario.solver
    levels = [lv for lv in district.level_names if (demand["level"] == lv).any()]
    years = demand["year"].between(p.first_year, p.last_year)
    try:
        model = SchoolPlanModel(demand.loc[years, ["street", "level", "year", "pupils"]],
                                district.supply, district.sites, district.distance_km(), p)
    except (DataError, ScenarioError, InfeasiblePlan):
        raise
    except ValueError as exc:  # a parameter the model rejects: the scenario's mistake
        raise ScenarioError(f"the plan model rejects the scenario: {exc}", file=scenario.path) from exc
    cf_job = None
    if workers is not None and workers.workers > 0:
        # pickled here, before the solve changes the model (the pool sends it from a thread)
        cf_job = workers.call(_counterfactual, pickle.dumps(model), opts)
        _say(progress, f"{scenario.name}: solving the counterfactual (existing places only) in a "
                       "worker process...")
    _say(progress, f"{scenario.name}: solving {'/'.join(levels)}, {len(district.sites)} candidate "
                   f"sites, {p.first_year}-{p.last_year} ({p.method}, {opts.solver})...")
    t0 = time.perf_counter()
    model.solve(opts)
    plan = model.plan
    r = plan.report
    _say(progress, f"{scenario.name}: solved in {time.perf_counter() - t0:.1f} s: {r.status}"
                   + ("" if r.optimal else f" (not proven optimal, gap {r.gap})"))
    t0 = time.perf_counter()
    if cf_job is not None:
        counterfactual = cf_job.result()
        _say(progress, f"{scenario.name}: counterfactual solved (waited {time.perf_counter() - t0:.1f} s "
                       "for it)")
    else:
        _say(progress, f"{scenario.name}: solving the counterfactual (existing places only)...")
        counterfactual = model.without_new_schools().solve(opts).plan
        _say(progress, f"{scenario.name}: counterfactual solved in {time.perf_counter() - t0:.1f} s")
    return plan, counterfactual


def _round(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].round(CSV_DECIMALS)
    return out


def _scenario_dict(scenario: Scenario, district: District, data_dir: Path) -> dict:
    d = {"name": scenario.name, "path": str(scenario.path) if scenario.path else None,
         "description": scenario.description, "data": str(data_dir),
         "district": {"name": district.name, "code": district.code, "base_year": district.base_year}}
    for part in ("projection", "uncertainty", "enrolment", "plan", "solver"):
        d[part] = dataclasses.asdict(getattr(scenario, part))
    d["growth_streets"] = list(scenario.growth_streets)
    return json.loads(json.dumps(d, default=str))


def _write_projection(run: ScenarioRun, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "population.csv", out / "demand.csv", out / "scenario.json"]
    pop = run.population[["street", "year", "sex", "age", "persons"]]
    _round(pop).to_csv(paths[0], index=False)
    keys = ["street", "level", "year", "pupils"]
    dem = run.demand[keys + [c for c in run.demand.columns if c not in keys]]
    _round(dem).to_csv(paths[1], index=False)
    info = _scenario_dict(run.scenario, run.district, run.district.path)
    paths[2].write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return paths


def run_project(scenario: Scenario | str | Path, data_dir=None, out_dir=None,
                progress: Progress | None = None) -> tuple[ScenarioRun, list[Path]]:
    """Project a scenario and write ``population.csv``, ``demand.csv`` and ``scenario.json``.

    Parameters
    ----------
    scenario : Scenario or path
    data_dir : path, optional
        District folder (overrides the scenario's ``data``).
    out_dir : path, optional
        Output folder; default ``results/<scenario name>``.
    progress : callable, optional

    Returns
    -------
    (ScenarioRun, list of Path)
        The run (``plan`` is None) and the files written: ``population.csv`` (``street, year, sex,
        age, persons``), ``demand.csv`` (``street, level, year, pupils`` + percentile columns when
        the scenario has draws) and ``scenario.json`` (every parameter used).
    """
    run = run_scenario(scenario, data_dir, progress, solve=False)
    out = Path(out_dir) if out_dir is not None else Path("results") / run.name
    return run, _write_projection(run, out)


def run_plan(scenario: Scenario | str | Path, data_dir=None, out_dir=None,
             progress: Progress | None = None, *, figures: str = "all",
             workers: int | None = None) -> tuple[ScenarioRun, list[Path]]:
    """Run a scenario end to end and write the plan folder.

    The figures are drawn by worker processes started before the solve (they import matplotlib
    and draw the population pyramid while the solver runs); the tables, workbook and GeoPackage
    are written here while the workers draw the maps and charts.

    Parameters
    ----------
    scenario : Scenario or path
    data_dir : path, optional
        District folder (overrides the scenario's ``data``).
    out_dir : path, optional
        Output folder; default ``results/<scenario name>``.
    progress : callable, optional
    figures : {"all", "maps", "none"}
        Every figure, the siting maps only, or no figure (tables only; matplotlib is not loaded).
    workers : int, optional
        Worker processes for the figures; default one per CPU; 0 draws them in this process.
        The files are the same either way.

    Returns
    -------
    (ScenarioRun, list of Path)
        The run and the files written: those of :func:`run_project`, those of
        :func:`capacity.report.write_plan` (``schedule.csv``, ``balance.csv``, ``assignment.csv``,
        ``solver.json``, ``plan.xlsx``, ``plan.gpkg``) and the figures of
        :func:`capacity.figures.plan_figure_specs` and
        :func:`capacity.figures.population_figure_specs` (siting maps, demand charts, pyramid).
    """
    from capacity import report

    if figures not in FIGURE_SETS:
        raise ValueError(f"figures must be one of {', '.join(FIGURE_SETS)}, got {figures!r}")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    folder = data_dir_for(scenario, data_dir)
    _say(progress, f"{scenario.name}: reading the district in {folder}")
    district = load_district(folder)
    check_scenario(scenario, district)
    if workers is None:
        workers = default_workers() if figures != "none" else 1  # 1: for the counterfactual
    with FigureDrawer(district, workers, warm=figures != "none") as drawer:
        run = run_scenario(scenario, progress=progress, solve=False, district=district)
        pyramids = population_figure_specs(run.population, figures=figures)
        drawer.submit(pyramids)  # needs no plan: drawn while the solver runs
        plan, counterfactual = _solve(scenario, district, run.demand, progress, drawer)
        run = dataclasses.replace(run, plan=plan, counterfactual=counterfactual)
        specs = plan_figure_specs(district, plan, counterfactual, run.demand, figures=figures,
                                  growth_streets=list(run.scenario.growth_streets) or None)
        drawer.submit(specs)
        t0 = time.perf_counter()
        out = Path(out_dir) if out_dir is not None else Path("results") / run.name
        paths = _write_projection(run, out)
        paths += report.write_plan(out, district=district, scenario_name=run.name, plan=plan,
                                   counterfactual=counterfactual, population=run.population,
                                   demand=run.demand)
        t1 = time.perf_counter()
        rendered = drawer.results(order=[s.filename for s in specs + pyramids])
    for name, png in rendered:
        (out / name).write_bytes(png)
        paths.append(out / name)
    _say(progress, f"{run.name}: wrote tables, workbook and GeoPackage in {t1 - t0:.1f} s"
         + (f", {len(rendered)} figures ({drawer.workers} worker processes) "
            f"{time.perf_counter() - t0:.1f} s after the solve" if rendered else ""))
    return run, paths


def run_compare(scenarios: Sequence[Scenario | str | Path], data_dir=None, out_dir=None,
                progress: Progress | None = None, *,
                figures: str = "all") -> tuple[Mapping[str, ScenarioRun], list[Path]]:
    """Run several scenarios and write their comparison.

    Parameters
    ----------
    scenarios : sequence of Scenario or path
        At least one; names must differ.
    data_dir : path, optional
        District folder for every scenario (overrides each scenario's ``data``).
    out_dir : path, optional
        Output folder; default ``results/compare``.
    progress : callable, optional
    figures : {"all", "none"}
        Write the comparison figures, or not (tables only; matplotlib is not loaded).

    Returns
    -------
    (dict, list of Path)
        Scenario name -> run, and the files written by :func:`capacity.report.write_compare`
        (``compare.csv``, ``compare_schools.csv``, ``compare.xlsx``) and
        :func:`capacity.maps.write_compare_figures` (``compare_demand.png``,
        ``compare_shortfall.png``).
    """
    from capacity import report

    if figures not in ("all", "none"):
        raise ValueError(f"figures must be 'all' or 'none' for a comparison, got {figures!r}")
    loaded = [s if isinstance(s, Scenario) else load_scenario(s) for s in scenarios]
    if not loaded:
        raise ScenarioError("give at least one scenario to compare")
    seen: dict[str, Scenario] = {}
    for s in loaded:
        if s.name in seen:
            raise ScenarioError(f"two scenarios are named {s.name!r} ({seen[s.name].path} and "
                                f"{s.path}); give one of them another 'name'", file=s.path)
        seen[s.name] = s
    districts: dict[Path, District] = {}
    runs: dict[str, ScenarioRun] = {}
    for i, s in enumerate(loaded, start=1):
        folder = data_dir_for(s, data_dir).resolve()
        if folder not in districts:
            _say(progress, f"reading the district in {folder}")
            districts[folder] = load_district(folder)
        _say(progress, f"scenario {i}/{len(loaded)}: {s.name}")
        runs[s.name] = run_scenario(s, progress=progress, district=districts[folder])
    out = Path(out_dir) if out_dir is not None else Path("results") / "compare"
    paths = report.write_compare(out, runs)
    if figures == "all":
        from capacity import maps

        paths += maps.write_compare_figures(out, runs)
    return runs, paths
