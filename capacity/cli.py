"""The ``capacity`` command: check district data, project pupils, plan schools, compare scenarios.

A thin layer over :mod:`capacity.pipeline`: it parses the arguments, prints progress on stderr and
turns the user's mistakes (a missing file, a wrong value in the data or in a scenario, a plan that
cannot be met) into one line ``capacity: error: ...`` and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
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
  schedule.csv    the new schools: site, street, level, open_year, classes,
                  places
  balance.csv     pupils, places, shortfall (pupils without a place) and
                  overcrowded pupils, by street, level and year
  assignment.csv  which schools the pupils of each street attend
  solver.json     solver status, objective, bound, gap and times
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
        "compare", formatter_class=_FORMATTER,
        help="run several scenarios and compare them side by side",
        description=_desc(
            "Run each scenario as 'plan' does (without writing a folder per scenario) and put "
            "the results side by side, so that the effect of an assumption is seen at a glance.",
            "Writes to the output folder:",
            listing="""\
  compare.csv            pupils by level in 2025 and 2030, total shortfall and
                         overcrowding (pupil-years), per scenario
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
    from capacity.scenario import ScenarioError

    return (DataError, ScenarioError, InfeasiblePlan, OSError)


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


def _project(args, progress) -> int:
    from capacity.pipeline import run_project

    _check_scenario_path(args.scenario)
    run, paths = run_project(args.scenario, args.data, args.out, progress)
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

    _check_scenario_path(args.scenario)
    run, paths = run_plan(args.scenario, args.data, args.out, progress, figures=args.figures)
    out = paths[0].parent
    print(plan_summary(run.plan, district=run.district, counterfactual=run.counterfactual,
                       scenario_name=run.name))
    print(f"Results ({len(paths)} files) in {out}")
    return 0


def _compare(args, progress) -> int:
    from capacity.pipeline import run_compare

    for s in args.scenarios:
        _check_scenario_path(s)
    runs, paths = run_compare(args.scenarios, args.data, args.out, progress, figures=args.figures)
    csv = next((p for p in paths if p.name == "compare.csv"), None)
    if csv is not None:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 20,
                               "display.max_rows", 200):
            print(pd.read_csv(csv).to_string(index=False, float_format=lambda v: f"{v:,.0f}"))
    print(f"Compared {len(runs)} scenarios; results ({len(paths)} files) in {args.out}")
    return 0


_COMMANDS = {"validate": _validate, "project": _project, "plan": _plan, "compare": _compare}


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
        stderr), 2 on wrong arguments (argparse's usage message).
    """
    args = build_parser().parse_args(argv)
    progress = _Progress(args.quiet)
    try:
        return _COMMANDS[args.command](args, progress)
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug or not isinstance(exc, _user_errors()):
            raise
        if isinstance(exc, OSError) and exc.filename:
            message = f"{exc.strerror or 'cannot read'}: {exc.filename}"
        else:
            message = _one_line(exc)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
