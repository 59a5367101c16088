"""The ``capacity`` command line on the tiny district: outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from capacity import __version__
from capacity.cli import build_parser, main

ROOT = Path(__file__).parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"

#: A scenario for the tiny district (levels kindergarten and primary, sites k1, k2, p1).
TINY_SCENARIO = """\
description = "test scenario for the tiny district"
[projection]
end_year = 2028
[uncertainty]
draws = 10
[enrolment]
kindergarten = { "2020" = 0.9, "2025" = 0.95 }
primary = { "2020" = 1.0 }
[plan]
first_year = 2021
last_year = 2027
plan_start = 2021
plan_end = 2025
new_schools = { kindergarten = 1, primary = 1 }
count_rule = "exact"
places_rule = "off"
[catchment]
kindergarten = 1.5
primary = "district"
[solver]
time_limit = 60
"""


@pytest.fixture
def scenario(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SCENARIO, encoding="utf-8")
    return path


def error_line(capsys) -> str:
    """The stderr of a failed command: exactly one line, ``capacity: error: ...`` (besides any
    one-line ``capacity: warning: ...``; the tiny district warns that its age 0 and fertility rates
    disagree)."""
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if not line.startswith("capacity: warning: ")]
    assert len(lines) == 1, err
    assert lines[0].startswith("capacity: error: ")
    return lines[0]


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert __version__ in capsys.readouterr().out


@pytest.mark.parametrize("command, words", [
    ("validate", ["summary", "line"]),
    ("project", ["population.csv", "demand.csv"]),
    ("plan", ["schedule.csv", "balance.csv", "plan.xlsx", "plan.gpkg", "siting"]),
    ("compare", ["compare.csv", "compare_demand.png", "what differs"]),
    ("sweep", ["sweep.csv", "tornado_<level>.png", "sweep_<key>.png", "--scheduler"]),
])
def test_help_says_what_is_written(capsys, command, words):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for w in words:
        assert w in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


# ------------------------------------------------------------------------------------------------
# validate


def test_validate_tiny(capsys):
    assert main(["validate", str(TINY)]) == 0
    out = capsys.readouterr().out
    assert "Tiny" in out and "kindergarten" in out


def test_validate_names_file_line_and_value(tmp_path, capsys):
    bad = tmp_path / "tiny"
    shutil.copytree(TINY, bad)
    pop = (bad / "population.csv").read_text(encoding="utf-8").splitlines()
    street, sex, age, _ = pop[4].split(",")
    pop[4] = f"{street},{sex},{age},-3"  # line 5 of the file
    (bad / "population.csv").write_text("\n".join(pop) + "\n", encoding="utf-8")
    assert main(["validate", str(bad)]) == 1
    line = error_line(capsys)
    assert "population.csv" in line and "line 5" in line and "-3" in line


def test_validate_missing_folder(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nowhere")]) == 1
    assert "nowhere" in error_line(capsys)


# ------------------------------------------------------------------------------------------------
# project and plan


def test_project_writes_population_and_demand(tmp_path, scenario, capsys):
    out = tmp_path / "out"
    assert main(["project", str(scenario), "--data", str(TINY), "--out", str(out)]) == 0
    pop = pd.read_csv(out / "population.csv", dtype={"street": str})
    assert list(pop.columns) == ["street", "year", "sex", "age", "persons"]
    assert set(pop["street"]) == {"A", "B", "C"}
    assert (pop["year"].min(), pop["year"].max()) == (2020, 2028)
    base = pd.read_csv(TINY / "population.csv")
    assert pop.loc[pop.year == 2020, "persons"].sum() == pytest.approx(base["persons"].sum())
    dem = pd.read_csv(out / "demand.csv", dtype={"street": str})
    assert list(dem.columns) == ["street", "level", "year", "pupils", "p05", "p50", "p95"]
    assert set(dem["level"]) == {"kindergarten", "primary"}
    assert (dem["p05"] <= dem["p95"] + 1e-9).all()
    info = json.loads((out / "scenario.json").read_text(encoding="utf-8"))
    assert info["name"] == "tiny" and info["uncertainty"]["draws"] == 10
    captured = capsys.readouterr()
    assert "pupils in" in captured.out
    assert "draws" in captured.err  # progress on stderr


def test_project_without_draws_has_no_percentiles(tmp_path, scenario):
    scenario.write_text(TINY_SCENARIO.replace("draws = 10", "draws = 0"), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["project", str(scenario), "--data", str(TINY), "--out", str(out), "-q"]) == 0
    assert list(pd.read_csv(out / "demand.csv").columns) == ["street", "level", "year", "pupils"]


def test_scenario_data_key_and_default_out(tmp_path, scenario, monkeypatch):
    scenario.write_text(f'data = "{TINY.as_posix()}"\n' + TINY_SCENARIO, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["project", str(scenario), "-q"]) == 0
    assert (tmp_path / "results" / "tiny" / "demand.csv").is_file()


def test_plan_writes_every_output(tmp_path, scenario, capsys):
    out = tmp_path / "plan"
    assert main(["plan", str(scenario), "--data", str(TINY), "--out", str(out)]) == 0
    for name in ("population.csv", "demand.csv", "scenario.json", "schedule.csv", "balance.csv",
                 "assignment.csv", "solver.json", "plan.xlsx", "plan.gpkg",
                 "siting_kindergarten.png", "siting_primary.png", "demand_kindergarten.png",
                 "demand_primary.png", "pyramid.png"):
        assert (out / name).is_file(), name
    schedule = pd.read_csv(out / "schedule.csv", dtype={"street": str})
    assert sorted(schedule["level"]) == ["kindergarten", "primary"]  # exactly one each
    assert set(schedule["site"]) <= {"k1", "k2", "p1"}
    balance = pd.read_csv(out / "balance.csv", dtype={"street": str})
    assert (balance["year"].min(), balance["year"].max()) == (2021, 2027)
    assert (balance["assigned"] + balance["shortfall"]).to_numpy() == pytest.approx(
        balance["pupils"].to_numpy(), abs=0.01)
    solver = json.loads((out / "solver.json").read_text(encoding="utf-8"))
    assert solver["optimal"] is True
    captured = capsys.readouterr()
    assert "solving" in captured.err and "solved in" in captured.err
    assert "New schools" in captured.out or "new schools" in captured.out.lower()


def test_plan_figures_none_and_maps(tmp_path, scenario):
    none, only_maps = tmp_path / "none", tmp_path / "maps"
    assert main(["plan", str(scenario), "--data", str(TINY), "--out", str(none), "-q",
                 "--figures", "none"]) == 0
    assert (none / "plan.xlsx").is_file() and (none / "schedule.csv").is_file()
    assert not list(none.glob("*.png"))
    assert main(["plan", str(scenario), "--data", str(TINY), "--out", str(only_maps), "-q",
                 "--figures", "maps"]) == 0
    names = sorted(p.name for p in only_maps.glob("*.png"))
    assert {"siting_kindergarten.png", "siting_primary.png"} <= set(names)
    assert all(n.startswith(("siting_", "spare_")) for n in names)  # no chart, no pyramid
    # the tables do not depend on the figures
    for name in ("schedule.csv", "balance.csv", "assignment.csv", "population.csv"):
        assert (none / name).read_bytes() == (only_maps / name).read_bytes(), name


def test_plan_unknown_figure_set_is_a_usage_error(tmp_path, scenario, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["plan", str(scenario), "--figures", "some"])
    assert exit_.value.code == 2
    assert "invalid choice: 'some'" in capsys.readouterr().err


def test_run_plan_unknown_figure_set(scenario):
    from capacity.pipeline import run_plan

    with pytest.raises(ValueError, match="figures must be one of all, maps, none, got 'pdf'"):
        run_plan(scenario, TINY, figures="pdf")


def test_plan_infeasible_is_one_line(tmp_path, scenario, capsys):
    scenario.write_text(TINY_SCENARIO.replace("primary = 1 }", "primary = 3 }"), encoding="utf-8")
    assert main(["plan", str(scenario), "--data", str(TINY), "--out", str(tmp_path / "o"), "-q"]) == 1
    line = error_line(capsys)
    assert "primary" in line


def test_bad_scenario_path_is_one_line(tmp_path, capsys):
    missing = tmp_path / "nothing.toml"
    assert main(["plan", str(missing), "--data", str(TINY), "-q"]) == 1
    assert "nothing.toml" in error_line(capsys)
    assert main(["project", str(tmp_path), "--data", str(TINY), "-q"]) == 1
    assert "folder" in error_line(capsys)


def test_bad_scenario_key_is_one_line(tmp_path, scenario, capsys):
    scenario.write_text(TINY_SCENARIO.replace("end_year", "end_yaer"), encoding="utf-8")
    assert main(["project", str(scenario), "--data", str(TINY), "-q"]) == 1
    line = error_line(capsys)
    assert "tiny.toml" in line and "projection.end_yaer" in line and "projection.end_year" in line


def test_scenario_level_unknown_to_the_district(tmp_path, scenario, capsys):
    scenario.write_text(TINY_SCENARIO.replace("primary = 1 }", "primary = 1, junior = 1 }"),
                        encoding="utf-8")
    assert main(["plan", str(scenario), "--data", str(TINY), "-q"]) == 1
    line = error_line(capsys)
    assert "plan.new_schools.junior" in line and "no such level" in line


def test_data_error_in_plan_is_one_line(tmp_path, scenario, capsys):
    bad = tmp_path / "tiny"
    shutil.copytree(TINY, bad)
    (bad / "levels.csv").unlink()
    assert main(["plan", str(scenario), "--data", str(bad), "-q"]) == 1
    assert "levels.csv" in error_line(capsys)


# ------------------------------------------------------------------------------------------------
# compare


def test_compare_two_scenarios(tmp_path, scenario, capsys):
    none = tmp_path / "none.toml"
    none.write_text(TINY_SCENARIO.replace("kindergarten = 1, primary = 1", "kindergarten = 0, primary = 0"),
                    encoding="utf-8")
    out = tmp_path / "cmp"
    assert main(["compare", str(scenario), str(none), "--data", str(TINY), "--out", str(out), "-q"]) == 0
    for name in ("compare.csv", "compare_schools.csv", "compare.xlsx", "compare_demand.png",
                 "compare_shortfall.png"):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "compare.csv")
    assert {"tiny", "none"} <= set(table.columns)
    assert "Compared 2 scenarios" in capsys.readouterr().out


def test_compare_without_figures(tmp_path, scenario):
    out = tmp_path / "cmp"
    assert main(["compare", str(scenario), "--data", str(TINY), "--out", str(out), "-q",
                 "--figures", "none"]) == 0
    assert (out / "compare.csv").is_file() and not list(out.glob("*.png"))
    with pytest.raises(SystemExit):  # no 'maps' in a comparison
        main(["compare", str(scenario), "--figures", "maps"])
    from capacity.pipeline import run_compare

    with pytest.raises(ValueError, match="'all' or 'none' for a comparison, got 'maps'"):
        run_compare([scenario], TINY, figures="maps")


def test_compare_same_name_twice(tmp_path, scenario, capsys):
    assert main(["compare", str(scenario), str(scenario), "--data", str(TINY), "-q"]) == 1
    assert "named 'tiny'" in error_line(capsys)


def test_parser_lists_the_commands():
    text = build_parser().format_help()
    for command in ("validate", "project", "plan", "compare", "sweep"):
        assert command in text


def test_first_year_births_warning_is_one_line(tmp_path, scenario, capsys):
    # the tiny district's flat population has 120 residents aged 0 but its rates give 13 births:
    # a base population and fertility rates that disagree, said in one line (also with --quiet)
    out = tmp_path / "out"
    assert main(["project", "-q", str(scenario), "--data", str(TINY), "--out", str(out)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    warned = [line for line in err if line.startswith("capacity: warning: ")]
    assert len(warned) == 1 and len(err) == 1
    assert "120 residents aged 0" in warned[0] and "population.csv and fertility.csv" in warned[0]


def test_housing_moved_before_the_first_year_is_said(tmp_path, scenario, capsys):
    # tiny: 50 dwellings completed in 2022 in street C; moved 3 years earlier they are occupied in 2021
    scenario.write_text(TINY_SCENARIO.replace("[projection]", "[projection]\nhousing_shift_years = -3"),
                        encoding="utf-8")
    assert main(["project", str(scenario), "--data", str(TINY), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "dwellings completed in 2022, 2023 would be occupied in 2019-2020" in err
    assert "they are occupied in 2021" in err


# ------------------------------------------------------------------------------------------------
# the end of the process


class _Exited(Exception):
    pass


def test_exit_now_skips_the_teardown_when_nothing_else_runs(monkeypatch):
    import capacity.cli as cli

    def fake_exit(status):
        raise _Exited(status)

    monkeypatch.setattr(cli.os, "_exit", fake_exit)
    monkeypatch.setattr("multiprocessing.active_children", lambda: [])
    monkeypatch.setattr(cli.threading, "active_count", lambda: 1)
    with pytest.raises(_Exited) as got:
        cli.exit_now(3)
    assert got.value.args == (3,)


@pytest.mark.parametrize("alive", ["child process", "thread"])
def test_exit_now_exits_the_usual_way_while_something_else_runs(alive, monkeypatch):
    import capacity.cli as cli

    monkeypatch.setattr(cli.os, "_exit", lambda status: pytest.fail("os._exit with something alive"))
    monkeypatch.setattr("multiprocessing.active_children",
                        lambda: [object()] if alive == "child process" else [])
    monkeypatch.setattr(cli.threading, "active_count", lambda: 2 if alive == "thread" else 1)
    with pytest.raises(SystemExit) as got:
        cli.exit_now(1)
    assert got.value.code == 1


def test_command_collects_full_generations_rarely(monkeypatch):
    """``capacity`` (the console entry point) raises the third garbage-collector threshold."""
    import gc

    import capacity.cli as cli
    from capacity.figures import FULL_COLLECTION_THRESHOLD

    seen = {}
    monkeypatch.setattr(cli, "main", lambda: seen.setdefault("threshold", gc.get_threshold()) and 0)
    monkeypatch.setattr(cli, "exit_now", lambda status: seen.setdefault("status", status))
    before = gc.get_threshold()
    try:
        cli.run()
    finally:
        gc.set_threshold(*before)
    assert seen["threshold"] == (before[0], before[1], FULL_COLLECTION_THRESHOLD)
    assert seen["status"] == 0


def test_command_output_is_complete_through_a_pipe():
    """The ``capacity`` command ends with os._exit: what it printed must still all arrive."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "capacity.cli", "validate", str(TINY)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    alone = subprocess.run([sys.executable, "-c", "import sys; from capacity.cli import main; "
                            f"sys.exit(main(['validate', {str(TINY)!r}]))"], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert done.stdout == alone.stdout and done.stdout.strip()
    bad = subprocess.run([sys.executable, "-m", "capacity.cli", "validate", str(ROOT / "no-such")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stderr.startswith("capacity: error:")
