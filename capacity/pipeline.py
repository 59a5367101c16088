"""The stages chained: district data -> projection -> demand -> plan -> output folders.

:func:`run_scenario` runs one scenario in memory and returns a :class:`ScenarioRun`;
:func:`run_project`, :func:`run_plan` and :func:`run_compare` also write the output folders that
``capacity project``, ``capacity plan`` and ``capacity compare`` promise. The command line
(:mod:`capacity.cli`) is a thin layer over these functions.

The district folder is, in this order of precedence: the ``data_dir`` argument (the command line's
``--data``), the scenario's ``data`` key, ``data/streets`` (relative to the working directory).

Output folders are checked before any work and written whole or not at all
(:func:`capacity.outputs.staged_folder`): a run that fails leaves the previous results as they were.
A plan that cannot be met is reported as :class:`InfeasibleScenario`, naming the scenario file,
line and key that set each failing constraint.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import pickle
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from capacity.data import DataError, District, load_district
from capacity.demand import enrolment_problem
from capacity.figures import (  # no matplotlib here: figures.py imports it in its workers
    FIGURE_SETS,
    FigureDrawer,
    default_workers,
    longest_first,
    plan_figure_specs,
    population_figure_specs,
)
from capacity.optimize import InfeasiblePlan
from capacity.outputs import check_out_dir, staged_folder
from capacity.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "DEFAULT_DATA_DIR",
    "InfeasibleScenario",
    "ScenarioRun",
    "check_scenario",
    "data_dir_for",
    "explain_infeasible",
    "run_compare",
    "run_need",
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
    need : NeedAssessment or None
        The fewest new schools the demand needs (:mod:`capacity.need`), when assessed.
    robust : RobustResult or None
        With a ``[robust]`` scenario, after :func:`run_plan`: the robust schedule and its
        out-of-sample comparison (``capacity.robust.RobustResult``).
    """

    name: str
    scenario: Scenario
    district: District
    projection: object
    population: pd.DataFrame
    demand: pd.DataFrame
    plan: object = None
    counterfactual: object = None
    need: object = None
    robust: object = None


def grade_ages(district: District, level: str) -> list[int]:
    """The ages of ``level`` (``first_age`` to ``last_age`` in ``levels.csv``)."""
    row = district.levels.set_index("level").loc[level]
    return list(range(int(row["first_age"]), int(row["last_age"]) + 1))


def with_grade_shares(plan, population: pd.DataFrame):
    """``plan`` with ``grade_shares`` (``year, age, share``; :func:`capacity.grades.grade_shares`)
    from the projected population, when the plan has class sizes by grade; else ``plan``."""
    if plan is None or not getattr(plan, "grade_class_size", None):
        return plan
    from capacity.grades import grade_shares

    return dataclasses.replace(plan, grade_shares=grade_shares(population, plan.grade_class_size))


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
    problem = enrolment_problem(scenario.enrolment, district.levels)
    if problem:
        key, message = problem
        if key == "enrolment":   # levels without a rate: the first one quoted in the message
            first = message.split("'")[1]
            message += f"; give e.g. {first} = {{ \"{district.base_year}\" = 1.0 }}"
        raise scenario.error(key, message, list(district.level_names))
    if p.places_rule != "off" and p.kindergarten_level not in levels:
        raise scenario.error("plan.kindergarten_level",
                             f"no such level in the district ({', '.join(levels)})", levels)
    if p.grade_class_size is not None:
        if p.kindergarten_level not in levels:
            raise scenario.error("plan.kindergarten_level", f"no such level in the district "
                                 f"({', '.join(levels)}); class_size.grades needs it", levels)
        want = grade_ages(district, p.kindergarten_level)
        if sorted(p.grade_class_size) != want:
            raise scenario.error("class_size.grades",
                                 f"the grades must be the ages of {p.kindergarten_level} in "
                                 f"levels.csv ({', '.join(map(str, want))}), got "
                                 f"{', '.join(map(str, sorted(p.grade_class_size)))}")
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
                 solve: bool = True, district: District | None = None, need: bool = False,
                 plan: bool = True) -> ScenarioRun:
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
    need : bool
        Also assess the need (the fewest new schools; :func:`capacity.need.assess_need`).
    plan : bool
        Solve the plan as written (False with ``need=True``: the need assessment alone).

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
    _projection_notes(scenario, projection, progress)
    solved = counterfactual = assessed = None
    if solve and plan:
        solved, counterfactual, _ = _solve(scenario, district, demand, progress)
    solved = with_grade_shares(solved, population)
    counterfactual = with_grade_shares(counterfactual, population)
    if solve and need:
        assessed = _assess_need(scenario, district, demand, solved, progress)
        assessed = dataclasses.replace(assessed, plan=with_grade_shares(assessed.plan, population))
    return ScenarioRun(name=scenario.name, scenario=scenario, district=district, projection=projection,
                       population=population, demand=demand, plan=solved, counterfactual=counterfactual,
                       need=assessed)


def _model_tables(scenario: Scenario, district: District, demand: pd.DataFrame):
    p = scenario.plan
    years = demand["year"].between(p.first_year, p.last_year)
    return (demand.loc[years, ["street", "level", "year", "pupils"]], district.supply, district.sites,
            district.distance_km())


def _assess_need(scenario: Scenario, district: District, demand: pd.DataFrame, plan, progress,
                 job=None):
    """The needs assessment (:func:`capacity.need.assess_need`); with ``job`` (the future of
    :func:`_needed_plan`, solved by a worker process while this one solved the plan) only its
    comparison with ``plan`` is made here."""
    from capacity.need import NeedAssessment, assess_need, need_table

    t0 = time.perf_counter()
    if job is None:
        _say(progress, f"{scenario.name}: assessing the need (fewest new schools, openings to "
                       f"{scenario.plan.last_year})...")
    try:
        if job is None:
            need = assess_need(*_model_tables(scenario, district, demand), scenario.plan, scenario.solver,
                               plan=plan, street_names=district.street_names())
        else:
            needed = job.result()
            need = NeedAssessment(plan=needed, table=need_table(needed, plan, scenario.plan,
                                                                district.street_names()))
    except InfeasiblePlan as exc:
        raise explain_infeasible(exc, scenario) from exc
    except (DataError, ScenarioError):
        raise
    except ValueError as exc:
        raise ScenarioError(f"the need assessment rejects the scenario: {exc}", file=scenario.path) from exc
    r = need.plan.report
    done = (f"need assessed in {time.perf_counter() - t0:.1f} s" if job is None else
            f"need assessed (waited {time.perf_counter() - t0:.1f} s for it)")
    _say(progress, f"{scenario.name}: {done}" + ("" if r.optimal else f" ({r.outcome()})"))
    return need


def _needed_plan(tables_pickle: bytes, params, options):
    """The needs assessment's schedule (:func:`capacity.need.needed_plan`) of pickled model tables
    (run in a worker process while this one solves the plan)."""
    from capacity.need import needed_plan

    return needed_plan(*pickle.loads(tables_pickle), params, options)


#: Constraint family of the plan model -> the scenario keys that set it.
FAMILY_KEYS: dict[str, tuple[str, ...]] = {
    "counts": ("plan.new_schools", "plan.count_rule"),
    "places": ("plan.kindergarten_new_places", "plan.places_rule"),
    "shares": ("plan.public_share_min", "plan.inclusive_share_min"),
    "yearly_limits": ("plan.max_openings_per_year", "plan.max_cost_per_year"),
}


class InfeasibleScenario(InfeasiblePlan):
    """A plan that cannot be met, explained with the scenario keys that set the failing constraints.

    Attributes
    ----------
    problems : tuple of str
        The optimizer's explanations (each starts with its constraint family, e.g. ``"counts: "``).
    keys : tuple of (str, Path or None, int or None)
        Dotted scenario key, the file that set it (None: the default value) and its line there.
    """

    def __init__(self, message: str, problems=(), keys=()):
        super().__init__(message, problems)
        self.keys = tuple(keys)


def _family_keys(problem: str, scenario: Scenario) -> list[str]:
    """The scenario keys behind one problem text of :class:`InfeasiblePlan`."""
    family, _, rest = problem.partition(":")
    family = family.strip()
    if family not in FAMILY_KEYS:  # the solver's own proof names the families in quotes
        keys = []
        for fam in FAMILY_KEYS:
            if f"'{fam}'" in problem:
                keys += _family_keys(f"{fam}: ", scenario)
        return keys
    p = scenario.plan
    words = rest.split()
    level = words[0] if words else ""
    if family == "counts":
        return [f"plan.new_schools.{level}" if level in (p.new_schools or {}) else "plan.new_schools",
                "plan.count_rule"]
    if family == "places":
        return ["plan.kindergarten_new_places", "plan.places_rule"]
    if family == "shares":
        if "target_year" in rest:
            return ["plan.target_year"]
        keys = [k for flag, k in (("public", "plan.public_share_min"),
                                  ("inclusive", "plan.inclusive_share_min")) if f" {flag} share" in rest]
        return keys or list(FAMILY_KEYS["shares"])
    if "cost" in rest and p.max_cost_per_year is not None:  # yearly_limits
        return ["plan.max_cost_per_year"]
    if level in (p.max_openings_per_year or {}):
        return [f"plan.max_openings_per_year.{level}"]
    return [k for k, v in (("plan.max_openings_per_year", p.max_openings_per_year),
                           ("plan.max_cost_per_year", p.max_cost_per_year)) if v is not None]


def _where(scenario: Scenario, key: str) -> tuple[Path | None, int | None]:
    """The file that set ``key`` (or its table of levels) and its line; (None, None) if no file did."""
    parts = key.split(".")
    for n in range(len(parts), 1, -1):
        if ".".join(parts[:n]) in scenario.sources:
            err = scenario.error(key, "")
            return err.file, err.line
    return None, None


def explain_infeasible(exc: InfeasiblePlan, scenario: Scenario) -> InfeasibleScenario:
    """An :class:`InfeasiblePlan` with each problem followed by the scenario keys that set it.

    Parameters
    ----------
    exc : InfeasiblePlan
        From the plan model; its ``problems`` start with the constraint family (``counts:``,
        ``places:``, ``shares:``, ``yearly_limits:``) or name the families in quotes.
    scenario : Scenario

    Returns
    -------
    InfeasibleScenario
        One line: ``infeasible plan: <problem> [set by <key> (<file>, line <n>), ...]; ...``. A key
        left at its default is named as such; a key inherited through ``extends`` names the parent
        file and the scenario file given.
    """
    parts, found = [], []
    for problem in exc.problems:
        text = problem.removeprefix("infeasible plan: ")
        where = []
        for key in dict.fromkeys(_family_keys(problem, scenario)):
            file, line = _where(scenario, key)
            found.append((key, file, line))
            if file is None:
                where.append(f"{key} (its default; not set in {scenario.path})")
                continue
            at = f"{file}" + (f", line {line}" if line else "")
            if scenario.path is not None and file != scenario.path:
                at += f", extended by {scenario.path}"
            where.append(f"{key} ({at})")
        parts.append(text + (f" [set by {', '.join(where)}]" if where else ""))
    return InfeasibleScenario("infeasible plan: " + "; ".join(parts), exc.problems, found)


def _projection_notes(scenario: Scenario, projection, progress) -> None:
    """Say what the projection moved (housing) and warn (``UserWarning``; the command line prints
    ``capacity: warning: ...``) when the base year and the first projected year's births do not join
    (:func:`capacity.projection.first_year_births`)."""
    from capacity.projection import first_year_births

    for note in projection.notes:
        _say(progress, f"{scenario.name}: {note}")
    if len(projection.years) > 1:
        message = first_year_births(projection).warning()
        if message:
            warnings.warn(f"{scenario.name}: {message}", UserWarning, stacklevel=3)


def _counterfactual(model_pickle: bytes, options):
    """The plan without new schools of a pickled :class:`~capacity.optimize.SchoolPlanModel` (run
    in a worker process while this one solves the plan)."""
    return pickle.loads(model_pickle).without_new_schools().solve(options).plan


def _solve(scenario: Scenario, district: District, demand: pd.DataFrame, progress, workers=None,
           need: bool = False, then=()):
    """The plan, its counterfactual and (``need``) the future of the needs assessment's schedule.

    With ``workers`` (a :class:`FigureDrawer` with worker processes) the counterfactual and the
    needs assessment are solved by workers at the same time as the plan (the need's future is
    None without workers or without ``need``)."""
    from capacity.optimize import SchoolPlanModel

    p, opts = scenario.plan, scenario.solver
    levels = [lv for lv in district.level_names if (demand["level"] == lv).any()]
    try:
        model = SchoolPlanModel(*_model_tables(scenario, district, demand), p)
    except InfeasiblePlan as exc:
        raise explain_infeasible(exc, scenario) from exc
    except (DataError, ScenarioError):
        raise
    except ValueError as exc:  # a parameter the model rejects: the scenario's mistake
        raise ScenarioError(f"the plan model rejects the scenario: {exc}", file=scenario.path) from exc
    model.check()
    names = district.street_names() if hasattr(district, "street_names") else {}
    for note in model.unreachable:  # before solving: pupils no place can reach
        street = note.split(" of street ", 1)[1].split(" ", 1)[0] if " of street " in note else None
        if street in names:
            note = note.replace(f"street {street}", f"street {street} {names[street]}", 1)
        _say(progress, f"{scenario.name}: {note}")
    cf_job = need_job = None
    if workers is not None and workers.workers > 0 and opts.threads is None:
        # the plan, the counterfactual and the need are solved at once, in three processes: one
        # HiGHS thread each (HiGHS's idle threads spin: with its default on two cores the three
        # solves used 10 s of CPU instead of 7 s and took 7 s instead of 6)
        opts = dataclasses.replace(opts, threads=1)
    if need and workers is not None and workers.workers > 0:
        # submitted first: the longest job (fewest schools, then places, cost and travel)
        _say(progress, f"{scenario.name}: assessing the need (fewest new schools, openings to "
                       f"{p.last_year}) in a worker process...")
        need_job = workers.call(_needed_plan, pickle.dumps(_model_tables(scenario, district, demand)),
                                p, opts)
    if workers is not None and workers.workers > 0:
        # pickled here, before the solve changes the model (the pool sends it from a thread)
        cf_job = workers.call(_counterfactual, pickle.dumps(model), opts)
        _say(progress, f"{scenario.name}: solving the counterfactual (existing places only) in a "
                       "worker process...")
    if workers is not None and then:
        workers.submit(list(then))  # figures that need no plan, queued behind the solves
    n_new = int((district.sites["kind"] == "new").sum()) if "kind" in district.sites else len(district.sites)
    n_opt = len(district.sites) - n_new
    _say(progress, f"{scenario.name}: solving {'/'.join(levels)}, {n_new} candidate sites"
                   + (f" and {n_opt} expansion/conversion options" if n_opt else "")
                   + f", {p.first_year}-{p.last_year} ({p.method}, {opts.solver})...")
    t0 = time.perf_counter()
    try:
        model.solve(opts)
    except InfeasiblePlan as exc:
        raise explain_infeasible(exc, scenario) from exc
    plan = model.plan
    r = plan.report
    _say(progress, f"{scenario.name}: solved in {time.perf_counter() - t0:.1f} s: {r.outcome()}")
    t0 = time.perf_counter()
    if cf_job is not None:
        counterfactual = cf_job.result()
        _say(progress, f"{scenario.name}: counterfactual solved (waited {time.perf_counter() - t0:.1f} s "
                       "for it)")
    else:
        _say(progress, f"{scenario.name}: solving the counterfactual (existing places only)...")
        counterfactual = model.without_new_schools().solve(opts).plan
        _say(progress, f"{scenario.name}: counterfactual solved in {time.perf_counter() - t0:.1f} s")
    return plan, counterfactual, need_job


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
    if scenario.robust is not None:
        d["robust"] = dataclasses.asdict(scenario.robust)
    d["growth_streets"] = list(scenario.growth_streets)
    return json.loads(json.dumps(d, default=str))


def _write_projection(run: ScenarioRun, out: Path) -> list[Path]:
    paths = [out / "population.csv", out / "demand.csv", out / "scenario.json"]
    pop = run.population[["street", "year", "sex", "age", "persons"]]
    _round(pop).to_csv(paths[0], index=False)
    keys = ["street", "level", "year", "pupils"]
    dem = run.demand[keys + [c for c in run.demand.columns if c not in keys]]
    _round(dem).to_csv(paths[1], index=False)
    info = _scenario_dict(run.scenario, run.district, run.district.path)
    paths[2].write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return paths


def _scenario_and_out(scenario, out_dir) -> tuple[Scenario, Path]:
    """The loaded scenario and its checked output folder (default ``results/<scenario name>``)."""
    if out_dir is not None:
        check_out_dir(out_dir)
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    return scenario, check_out_dir(out_dir if out_dir is not None else Path("results") / scenario.name)


def _moved(paths: list[Path], tmp: Path, out: Path) -> list[Path]:
    return [out / p.relative_to(tmp) for p in paths]


def run_project(scenario: Scenario | str | Path, data_dir=None, out_dir=None,
                progress: Progress | None = None) -> tuple[ScenarioRun, list[Path]]:
    """Project a scenario and write ``population.csv``, ``demand.csv`` and ``scenario.json``.

    Parameters
    ----------
    scenario : Scenario or path
    data_dir : path, optional
        District folder (overrides the scenario's ``data``).
    out_dir : path, optional
        Output folder; default ``results/<scenario name>``. Checked before any work; written as a
        whole at the end (:func:`capacity.outputs.staged_folder`), replacing a previous folder.
    progress : callable, optional

    Returns
    -------
    (ScenarioRun, list of Path)
        The run (``plan`` is None) and the files written: ``population.csv`` (``street, year, sex,
        age, persons``), ``demand.csv`` (``street, level, year, pupils`` + percentile columns when
        the scenario has draws) and ``scenario.json`` (every parameter used).
    """
    scenario, out = _scenario_and_out(scenario, out_dir)
    run = run_scenario(scenario, data_dir, progress, solve=False)
    with staged_folder(out) as tmp:
        paths = _write_projection(run, tmp)
    return run, _moved(paths, tmp, out)


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
        Output folder; default ``results/<scenario name>``. Checked before any work; written as a
        whole at the end (:func:`capacity.outputs.staged_folder`), replacing a previous folder.
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
        ``headline.csv``, ``need.csv``, ``need_schedule.csv``, ``summary.md``, ``solver.json``,
        ``timings.json``, ``plan.xlsx``, ``plan.gpkg``) and of
        the figures of :func:`capacity.figures.plan_figure_specs` and
        :func:`capacity.figures.population_figure_specs` (siting maps, demand charts, pyramid). With a
        ``[robust]`` table also those of :func:`capacity.robust.write_robust` (``robustness.csv``,
        ``robust_schedule.csv``, ...) and :func:`capacity.robust_figures.write_robust_figures`;
        ``solver.json`` gets a ``robust`` record (futures, weights, measure, seeds, solver report)
        and ``timings.json`` its times.
    """
    from capacity import report

    if figures not in FIGURE_SETS:
        raise ValueError(f"figures must be one of {', '.join(FIGURE_SETS)}, got {figures!r}")
    scenario, out = _scenario_and_out(scenario, out_dir)
    folder = data_dir_for(scenario, data_dir)
    _say(progress, f"{scenario.name}: reading the district in {folder}")
    district = load_district(folder)
    check_scenario(scenario, district)
    if workers is None:
        # without figures: 2, one for the counterfactual and one for the needs assessment
        workers = default_workers() if figures != "none" else 2
    with FigureDrawer(district, workers, warm=figures != "none") as drawer:
        run = run_scenario(scenario, progress=progress, solve=False, district=district)
        population = run.population
        pyramids = population_figure_specs(population, figures=figures)
        # the pyramids need no plan: drawn by a worker once it has solved the counterfactual
        plan, counterfactual, need_job = _solve(scenario, district, run.demand, progress, drawer,
                                                need=True, then=pyramids)
        plan = with_grade_shares(plan, population)
        counterfactual = with_grade_shares(counterfactual, population)
        specs = plan_figure_specs(district, plan, counterfactual, run.demand, figures=figures,
                                  growth_streets=list(scenario.growth_streets) or None)
        # drawn while the need is assessed and the tables are written, the slowest first
        drawer.submit(longest_first(specs))
        need = _assess_need(scenario, district, run.demand, plan, progress, need_job)
        need = dataclasses.replace(need, plan=with_grade_shares(need.plan, population))
        run = dataclasses.replace(run, plan=plan, counterfactual=counterfactual, need=need)
        if run.scenario.robust is not None:
            run = dataclasses.replace(run, robust=_robust(run, progress))
        t0 = time.perf_counter()
        with staged_folder(out) as tmp:
            paths = _write_projection(run, tmp)
            paths += report.write_plan(tmp, district=district, scenario_name=run.name, plan=plan,
                                       counterfactual=counterfactual, population=population,
                                       demand=run.demand, need=need)
            t1 = time.perf_counter()
            rendered = drawer.results(order=[s.filename for s in specs + pyramids])
            for name, png in rendered:
                (tmp / name).write_bytes(png)
                paths.append(tmp / name)
            if run.robust is not None:
                paths += _write_robust(tmp, run)
    _say(progress, f"{run.name}: wrote tables, workbook and GeoPackage in {t1 - t0:.1f} s"
         + (f", {len(rendered)} figures ({drawer.workers} worker processes) by "
            f"{time.perf_counter() - t0:.1f} s" if rendered else ""))
    return run, _moved(paths, tmp, out)


def run_need(scenario: Scenario | str | Path, data_dir=None, out_dir=None,
             progress: Progress | None = None) -> tuple[ScenarioRun, list[Path]]:
    """Assess the need alone (no plan as written) and write it.

    Returns
    -------
    (ScenarioRun, list of Path)
        The run (``need`` set, ``plan`` None) and the files written: those of :func:`run_project`,
        ``need.csv`` (plan columns from the scenario's ``new_schools``), ``need_schedule.csv`` (the
        needed schools), ``need_balance.csv`` (by street, level and year, with places short, spare
        places and utilisation) and ``need_headline.csv`` (district totals per level and year).
    """
    from capacity import report
    from capacity.measures import headline

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    scenario, out = _scenario_and_out(scenario, out_dir if out_dir is not None
                                      else Path("results") / f"{scenario.name}_need")
    run = run_scenario(scenario, data_dir, progress, solve=True, need=True, plan=False)
    d = run.district
    tables = {
        "need": report._sorted(run.need.table, d, ["level"]),
        "need_schedule": report._with_names(report.schedule_table(run.need.plan, d), d),
        "need_balance": report._with_names(report.balance_table(run.need.plan, d), d),
        "need_headline": report._sorted(headline(run.need.plan), d, ["level", "year"]),
    }
    with staged_folder(out) as tmp:
        paths = _write_projection(run, tmp)
        for name, t in tables.items():
            p = tmp / f"{name}.csv"
            _round(t).to_csv(p, index=False)
            paths.append(p)
    return run, _moved(paths, tmp, out)


def _write_robust(out: Path, run: ScenarioRun) -> list[Path]:
    """The robust plan's tables and figures into ``out``; its record into ``solver.json`` (no
    times) and its times into ``timings.json`` (both already written by ``report.write_plan``)."""
    from capacity import report, robust, robust_figures

    paths = robust.write_robust(out, run.robust, run.district)
    paths += robust_figures.write_robust_figures(out, district=run.district, result=run.robust)
    record, times = report._split_timings(run.robust.to_dict())
    for name, part in (("solver.json", record), ("timings.json", times or {})):
        f = out / name
        info = json.loads(f.read_text(encoding="utf-8"))
        info["robust"] = part
        f.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return paths


def _robust(run: ScenarioRun, progress):
    """The robust schedule of a ``[robust]`` scenario and its out-of-sample comparison."""
    from capacity.optimize import InfeasiblePlan
    from capacity.robust import run_robust

    s = run.scenario
    try:
        return run_robust(run.district, s, s.robust, run.plan.schedule,
                          run.demand[["street", "level", "year", "pupils"]], progress=progress)
    except (DataError, ScenarioError, InfeasiblePlan):
        raise
    except ValueError as exc:
        raise ScenarioError(f"the robust plan rejects the scenario: {exc}", file=s.path) from exc


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
        Output folder; default ``results/compare``. Checked before any work; written as a whole
        at the end, replacing a previous folder.
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
    out = check_out_dir(out_dir if out_dir is not None else Path("results") / "compare")
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
    with staged_folder(out) as tmp:
        paths = report.write_compare(tmp, runs)
        if figures == "all":
            from capacity import maps

            paths += maps.write_compare_figures(tmp, runs)
    return runs, _moved(paths, tmp, out)
