"""The ``capacity`` command: check district data, project pupils, plan schools, compare scenarios.

A thin layer over :mod:`capacity.pipeline`: it parses the arguments, prints progress on stderr and
turns the user's mistakes (a missing file, a wrong value in the data or in a scenario, a plan that
cannot be met, an output folder that cannot be written) into one line ``capacity: error: ...`` and
exit status 1. The output folder is checked before any work; a command that fails or is stopped
(Ctrl-C, ``kill``) writes nothing and says that the previous results are unchanged. Warnings about
the data (e.g. a base population slightly off the census figures) are lines
``capacity: warning: ...``.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

from capacity import __version__

__all__ = ["main"]

PROG = "capacity"

DESCRIPTION = """\
School-place planning for a district: projects children by street and year, turns them into
pupils by school level, and decides where and when the planned new schools open so that every
child has a place in a class of standard size.

A district is a folder of CSV files (default data/streets; its format is in README.md). A scenario is a
TOML file of assumptions (see scenarios/baseline.toml, the plan as written)."""

EPILOG = """\
examples:
  capacity validate data/streets
  capacity project scenarios/low_fertility.toml --out results/low_fertility
  capacity plan scenarios/baseline.toml
  capacity compare scenarios/baseline.toml scenarios/low_fertility.toml \\
                   scenarios/no_new_schools.toml --out results/compare
  capacity sweep scenarios/baseline.toml \\
                 --vary projection.fertility_multiplier=0.8,1,1.2 \\
                 --vary projection.housing_shift_years=-1,0,2 --out results/sweep

Run "capacity COMMAND --help" for what each command writes."""

_FORMATTER = argparse.RawDescriptionHelpFormatter


def _desc(*paragraphs: str, listing: str = "") -> str:
    """Prose paragraphs wrapped to 79 columns, then a preformatted listing."""
    text = "\n\n".join(textwrap.fill(" ".join(p.split()), 79) for p in paragraphs)
    return text + ("\n\n" + listing.rstrip() if listing else "")


def _data_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="DIR", type=Path, default=None,
                   help="the district folder (default: the scenario's 'data' key, else data/streets)")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages on stderr")
    p.add_argument("--debug", action="store_true",
                   help="show the full Python traceback instead of a one-line error")


def _scenario_args(p: argparse.ArgumentParser) -> None:
    """SCENARIO, --data, --out and the common flags of 'project' and 'plan'."""
    p.add_argument("scenario", metavar="SCENARIO", type=Path, help="a scenario file (.toml)")
    _data_arg(p)
    p.add_argument("--out", metavar="DIR", type=Path, default=None,
                   help="output folder (default: results/<scenario name>)")
    _common(p)


def _positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


#: Values of 'plan --figures' (those of capacity.figures.FIGURE_SETS, kept here so that parsing the
#: command line imports nothing heavy).
FIGURE_CHOICES = ("all", "maps", "none")


def _figures_arg(p: argparse.ArgumentParser, choices) -> None:
    what = {"all": "every figure (default)", "maps": "the siting maps only",
            "none": "no figure: tables, workbook and GeoPackage only (fastest)"}
    p.add_argument("--figures", choices=choices, default="all",
                   help="; ".join(f"{c}: {what[c]}" for c in choices))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the documentation and the tests)."""
    parser = argparse.ArgumentParser(prog=PROG, description=_desc(*DESCRIPTION.split("\n\n")),
                                     epilog=EPILOG,
                                     formatter_class=_FORMATTER)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "validate", formatter_class=_FORMATTER,
        help="check a district folder and print a summary of it",
        description=_desc(
            "Read every file of a district folder, check it (columns, values, codes, years) and "
            "print a summary: residents by street and school-level ages, existing places by "
            "level, planned housing and candidate sites.",
            "The first error found is printed as one line naming the file, line, column and "
            "value; the exit status is then 1. Nothing is written."))
    p.add_argument("data_dir", nargs="?", metavar="DATA_DIR", type=Path, default=None,
                   help="the district folder (default: data/streets)")
    _common(p)

    p = sub.add_parser(
        "project", formatter_class=_FORMATTER,
        help="project residents and pupils by street, level and year",
        description=_desc(
            "Project the district's residents by street, sex and age under a scenario's "
            "assumptions and turn them into pupils by school level.",
            "Writes to the output folder:",
            listing="""\
  population.csv  residents: street, year, sex, age, persons
  demand.csv      pupils to place: street, level, year, pupils, and p05, p50,
                  p95 (5%, 50% and 95% bands of the uncertainty draws)
  scenario.json   every assumption used"""))
    _scenario_args(p)

    p = sub.add_parser(
        "plan", formatter_class=_FORMATTER,
        help="decide where and when the new schools open; write tables, workbook and maps",
        description=_desc(
            "Project pupils (as 'project' does), then decide for each planned new school its "
            "site (hence street), opening year and size: first as few pupils as possible without "
            "a place, then as few as possible in classes above the standard size, then as "
            "little travel as possible, then the cheapest. The same plan is also evaluated "
            "without any new school, to show what the plan buys.",
            "Writes to the output folder, besides population.csv, demand.csv and scenario.json:",
            listing="""\
  summary.md      one page for officials (中文 and English): per level the
                  peak places and classes short, spare places, plan vs need,
                  schedule and capital cost by year
  headline.csv    per level and year: pupils, places, places_short,
                  classes_short, spare_places, utilisation
  need.csv        schools needed per level against the plan's counts (see
                  'capacity need'); need_schedule.csv: the needed schools
  schedule.csv    the new schools and other options chosen: site, street, level,
                  open_year, classes, places, cost, kind (new, expansion:
                  classes added at existing places, conversion: private
                  kindergarten places made inclusive)
  balance.csv     by street, level and year: pupils, places, places short,
                  spare places, utilisation, shortfall (pupils without a
                  place) and overcrowded pupils
  assignment.csv  which schools the pupils of each street attend
  solver.json     solver status, objective, bound and gap (no times: the same
                  inputs give the same file)
  timings.json    build and solve seconds, per solver stage
  plan.xlsx       all tables, one sheet each, with street names (for Excel)
  plan.gpkg       layers 'streets' and 'sites' (for QGIS)
  siting_*.png    per level: shortfall without and with the new schools, new
                  schools marked with opening year and size
  demand_*.png    per level: pupils and places over time, for the district and
                  the growth streets
  pyramid.png     population pyramid of the district
(--figures maps: only the siting maps; --figures none: no PNG)"""))
    _scenario_args(p)
    _figures_arg(p, FIGURE_CHOICES)

    p = sub.add_parser(
        "need", formatter_class=_FORMATTER,
        help="how many new schools the projected pupils need, against the plan's counts",
        description=_desc(
            "Project pupils (as 'project' does), then find the fewest new schools per level, "
            "with openings allowed in any year up to the last balance year, that leave no child "
            "without a place at the standard class size (or, where the candidate sites cannot, "
            "the least places short and the streets still short). Order: places short first, "
            "then the number of schools, then their places and cost, travel last. 'plan' "
            "writes the same assessment beside the plan as written.",
            "Writes to the output folder, besides population.csv, demand.csv and scenario.json:",
            listing="""\
  need.csv            per level: plan_schools, needed_schools, plan_places,
                      needed_places, first_needed_year, classes, places short
                      the candidate sites cannot remove and the streets short
  need_schedule.csv   the needed schools: site, street, level, open_year,
                      classes, places
  need_balance.csv    by street, level and year with the needed schools
  need_headline.csv   district places short, classes short, spare places and
                      utilisation per level and year"""))
    _scenario_args(p)

    p = sub.add_parser(
        "compare", formatter_class=_FORMATTER,
        help="run several scenarios and compare them side by side",
        description=_desc(
            "Run each scenario as 'plan' does (without writing a folder per scenario) and put "
            "the results side by side, so that the effect of an assumption is seen at a glance.",
            "Writes to the output folder:",
            listing="""\
  compare.csv            what differs between the scenarios (key by key, unit
                         'assumption'), then pupils by level in 2025 and 2030,
                         total shortfall and overcrowding (pupil-years), per
                         scenario
  compare_schools.csv    new schools per street and year, per scenario
  compare.xlsx           the tables above and district pupils by year
  compare_demand.png     pupils by level over time, scenarios overlaid
  compare_shortfall.png  pupils without a place / overcrowded, per scenario"""))
    p.add_argument("scenarios", metavar="SCENARIO", type=Path, nargs="+",
                   help="scenario files (.toml)")
    _data_arg(p)
    p.add_argument("--out", metavar="DIR", type=Path, default=Path("results/compare"),
                   help="output folder (default: results/compare)")
    _figures_arg(p, ("all", "none"))
    _common(p)

    p = sub.add_parser(
        "sweep", formatter_class=_FORMATTER,
        help="vary assumptions of a scenario and plan every variant on Dask",
        description=_desc(
            "Vary one or more assumptions of a scenario and plan (or project) every variant, as "
            "tasks on a Dask cluster: by default a local cluster of worker processes (one per "
            "core, at most one per run), or an existing one with --scheduler. One key at a time "
            "by default (the scenario as it is, then each value of each key with the others at "
            "the scenario's value); every combination with --grid. A run that fails is reported "
            "with its assumptions and error; the others go on (exit status 1 if any failed).",
            "KEY is any scenario key (projection.fertility_multiplier, "
            "enrolment.kindergarten.2025, class_size.standard.primary, ...); VALUES a comma list "
            "(0.8,1,1.2) or a range lo:hi:n (0.7:1.3:5). Values are checked like values in a "
            "scenario file.",
            "Writes to the output folder:",
            listing="""\
  sweep.csv           one row per run and level: the varied assumptions, then
                      peak_pupils (and year), peak_places_short (shortfall +
                      overcrowded, and year), spare_places_end, schools_opened,
                      cost (million CNY), status, error
  tornado_<level>.png which assumption moves peak places short most (peak
                      pupils with --project-only)
  sweep_<key>.png     the measures against the key's values"""))
    p.add_argument("scenario", metavar="SCENARIO", type=Path, help="a scenario file (.toml)")
    p.add_argument("--vary", metavar="KEY=VALUES", action="append", required=True,
                   help="an assumption and its values (repeat for more keys)")
    p.add_argument("--grid", action="store_true", help="every combination of the values")
    p.add_argument("--project-only", action="store_true",
                   help="project pupils only (no plan is solved)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                   help="address of a running Dask scheduler (default: a local cluster)")
    p.add_argument("--workers", metavar="N", type=_positive_int, default=None,
                   help="workers of the local cluster (default: min(runs, cores))")
    _data_arg(p)
    p.add_argument("--out", metavar="DIR", type=Path, default=None,
                   help="output folder (default: results/sweep_<scenario name>)")
    _common(p)
    return parser


class _Progress:
    """Progress lines on stderr, with the time since the command started."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.t0 = time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.t0:6.1f} s] {message}", file=sys.stderr, flush=True)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _user_errors() -> tuple[type[BaseException], ...]:
    from capacity.data import DataError
    from capacity.optimize import InfeasiblePlan
    from capacity.outputs import OutputError
    from capacity.scenario import ScenarioError

    return (DataError, ScenarioError, InfeasiblePlan, OutputError, OSError)


class _Stopped(KeyboardInterrupt):
    """SIGTERM (``kill``) turned into an exception, so that a run cleans up as on Ctrl-C."""


def _on_sigterm(signum, frame):
    raise _Stopped()


def _show_warning(message, category, filename, lineno, file=None, line=None):
    from capacity.data import DataWarning

    if issubclass(category, (DataWarning, UserWarning)):  # the tool's own warnings: one line
        print(f"{PROG}: warning: {_one_line(message)}", file=sys.stderr, flush=True)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _out_of(args) -> Path | None:
    """The output folder of a writing command (set by the command before any work)."""
    return getattr(args, "out_checked", None)


def _nothing_written(args, existed: bool) -> str:
    out = _out_of(args)
    if args.command not in ("project", "plan", "compare"):
        return ""
    if out is not None and existed:
        return f" (nothing written; the results already in {out} are unchanged)"
    return " (nothing written)"


def _validate(args, progress) -> int:
    from capacity.data import load_district, summary
    from capacity.pipeline import DEFAULT_DATA_DIR

    folder = args.data_dir if args.data_dir is not None else DEFAULT_DATA_DIR
    if not folder.is_dir():
        raise FileNotFoundError(f"no district folder {folder}")
    district = load_district(folder)
    print(summary(district))
    progress(f"{folder}: no errors found")
    return 0


def _check_scenario_path(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"no scenario file {path}" + (
            " (a folder was given)" if path.is_dir() else ""))


def _scenario_and_out(args, suffix: str = ""):
    """Check the command line before any work: the output folder, the scenario file; the loaded
    scenario and the output folder (``--out``, default ``results/<scenario name>``)."""
    from capacity.outputs import check_out_dir
    from capacity.scenario import load_scenario

    if args.out is not None:
        args.out_checked = check_out_dir(args.out)
    _check_scenario_path(args.scenario)
    scenario = load_scenario(args.scenario)
    args.out_checked = check_out_dir(args.out if args.out is not None
                                     else Path("results") / f"{scenario.name}{suffix}")
    if args.data is not None and not args.data.is_dir():
        raise FileNotFoundError(f"no district folder {args.data} (--data)")
    return scenario, args.out_checked


def _project(args, progress) -> int:
    from capacity.pipeline import run_project

    scenario, out = _scenario_and_out(args)
    run, paths = run_project(scenario, args.data, out, progress)
    out = paths[0].parent
    d = run.demand
    progress(f"wrote {', '.join(p.name for p in paths)} in {out}")
    for year in sorted({run.scenario.plan.target_year, run.scenario.plan.last_year}):
        if (d["year"] == year).any():
            by_level = d[d["year"] == year].groupby("level", sort=False)["pupils"].sum()
            print(f"{run.name}: pupils in {year}: "
                  + ", ".join(f"{lv} {v:,.0f}" for lv, v in by_level.items()))
    print(f"Results in {out}")
    return 0


def _plan(args, progress) -> int:
    from capacity.pipeline import run_plan
    from capacity.report import plan_summary

    scenario, out = _scenario_and_out(args)
    run, paths = run_plan(scenario, args.data, out, progress, figures=args.figures)
    out = paths[0].parent
    print(plan_summary(run.plan, district=run.district, counterfactual=run.counterfactual,
                       scenario_name=run.name, need=run.need.table if run.need is not None else None))
    print(f"Results ({len(paths)} files) in {out}")
    return 0


def _need(args, progress) -> int:
    from capacity.pipeline import run_need

    scenario, out = _scenario_and_out(args, "_need")
    run, paths = run_need(scenario, args.data, out, progress)
    out = paths[0].parent
    t = run.need.table
    print(f"{run.name}: new schools needed (fewest that leave no child without a standard place):")
    for r in t.itertuples(index=False):
        line = (f"  {r.level}: {r.needed_schools} needed ({r.needed_places:,.0f} places)"
                + (f", plan {r.plan_schools}" if not _missing(r.plan_schools) else ""))
        if round(r.remaining_places_short) > 0:
            line += (f"; still {r.remaining_places_short:,.0f} places short in {r.remaining_peak_year}"
                     f" ({r.streets_short})")
        print(line)
    print(f"Results ({len(paths)} files) in {out}")
    return 0


def _missing(v) -> bool:
    import pandas as pd

    return v is None or bool(pd.isna(v))


def _compare(args, progress) -> int:
    from capacity.outputs import check_out_dir
    from capacity.pipeline import run_compare

    args.out_checked = check_out_dir(args.out)
    for s in args.scenarios:
        _check_scenario_path(s)
    if args.data is not None and not args.data.is_dir():
        raise FileNotFoundError(f"no district folder {args.data} (--data)")
    runs, paths = run_compare(args.scenarios, args.data, args.out, progress, figures=args.figures)
    import pandas as pd

    from capacity.report import assumptions_table, compare_table

    assumed = assumptions_table(runs)
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.max_rows", 200):
        if not assumed.empty:
            print("What differs between the scenarios:")
            print(assumed.to_string(index=False))
            print()
        print(compare_table(runs).to_string(index=False, float_format=lambda v: f"{v:,.0f}"))
    print(f"Compared {len(runs)} scenarios; results ({len(paths)} files) in {args.out}")
    return 0


def _sweep(args, progress) -> int:
    import contextlib

    from capacity.outputs import check_out_dir, staged_folder
    from capacity.sweep import run_sweep, write_sweep

    scenario, _ = _scenario_and_out(args)
    out = args.out_checked = check_out_dir(args.out if args.out is not None
                                           else Path("results") / f"sweep_{scenario.name}")
    with contextlib.redirect_stdout(sys.stderr):  # Dask's progress bar: stderr, like progress
        result = run_sweep(args.scenario, args.vary, grid=args.grid, solve=not args.project_only,
                           data_dir=args.data, scheduler=args.scheduler, n_workers=args.workers,
                           progress=progress, progress_bar=not args.quiet)
    with staged_folder(out) as tmp:  # written as a whole, like every other command
        paths = [out / p.relative_to(tmp) for p in write_sweep(tmp, result)]
    n, failed = len(result.runs), result.failed
    print(f"Swept {n} runs on {result.workers} Dask workers in {result.seconds:.1f} s; results "
          f"({len(paths)} files) in {out}")
    if failed:
        for r, o in failed:
            print(f"{PROG}: run {r.run} failed ({', '.join(f'{k}={v}' for k, v in r.values.items())}): "
                  f"{o.error}", file=sys.stderr)
        print(f"{PROG}: error: {len(failed)} of {n} runs failed (see the error column of "
              f"{out / 'sweep.csv'})", file=sys.stderr)
        return 1
    return 0


_COMMANDS = {"validate": _validate, "project": _project, "plan": _plan, "need": _need,
             "compare": _compare, "sweep": _sweep}


def main(argv=None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 1 on a user mistake (one line ``capacity: error: ...`` on
        stderr), 2 on wrong arguments (argparse's usage message), 130 on Ctrl-C, 143 on SIGTERM
        (both leave the output folder as it was and say so).
    """
    args = build_parser().parse_args(argv)
    progress = _Progress(args.quiet)
    out = getattr(args, "out", None)
    existed = out is not None and Path(out).is_dir()
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        with warnings.catch_warnings():   # a warning of the model is one line, even with --quiet
            warnings.showwarning = _show_warning
            return _COMMANDS[args.command](args, progress)
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt as exc:
        what = "stopped (SIGTERM)" if isinstance(exc, _Stopped) else "interrupted"
        if out is None and _out_of(args) is not None:
            existed = _out_of(args).is_dir()
        print(f"{PROG}: {what}{_nothing_written(args, existed)}", file=sys.stderr)
        return 143 if isinstance(exc, _Stopped) else 130
    except Exception as exc:
        if args.debug or not isinstance(exc, _user_errors()):
            raise
        if isinstance(exc, OSError) and exc.filename:
            message = f"{exc.strerror or 'cannot read'}: {exc.filename}"
        else:
            message = _one_line(exc)
        if out is None and _out_of(args) is not None:
            existed = _out_of(args).is_dir()
        print(f"{PROG}: error: {message}{_nothing_written(args, existed)}", file=sys.stderr)
        return 1
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def run() -> None:
    """The ``capacity`` command: :func:`main`, then :func:`exit_now` with its status.

    Python's full garbage collections are a hundred times rarer in the command, as in the figure
    workers (:data:`capacity.figures.FULL_COLLECTION_THRESHOLD`): each traversed every object of
    pandas, geopandas, PuLP and the district, and ``capacity plan`` ran two, 0.08-0.10 s of the
    parent's CPU; its peak memory stayed at 183 MB. A command ends after its files are written,
    so cyclic garbage left for later is freed with the process.
    """
    from capacity.figures import FULL_COLLECTION_THRESHOLD

    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, FULL_COLLECTION_THRESHOLD)
    exit_now(main())


def exit_now(status: int) -> None:
    """End the process with ``status`` once its output is flushed, without tearing the interpreter
    down when nothing else runs.

    Freeing every module and object at exit took 0.25-0.35 s after a ``capacity plan`` (the
    solver's model, the tables, pandas and GDAL state), on one core, after every file was written.
    With a child process or another Python thread still alive (e.g. a Dask cluster not yet closed)
    the process exits the usual way, so that they are joined and cleaned up.
    """
    import multiprocessing

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe or stream: the usual exit reports it
        sys.exit(status)
    if multiprocessing.active_children() or threading.active_count() > 1:
        sys.exit(status)
    os._exit(status)


if __name__ == "__main__":  # pragma: no cover
    run()
