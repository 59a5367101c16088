"""Output folders written whole or not at all; the same inputs give the same bytes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import openpyxl
import pytest
from test_cli import TINY, TINY_SCENARIO

from capacity.cli import main
from capacity.optimize import InfeasiblePlan
from capacity.outputs import OutputError, check_out_dir, staged_folder
from capacity.pipeline import InfeasibleScenario, explain_infeasible
from capacity.scenario import load_scenario

ROOT = Path(__file__).parents[1]


@pytest.fixture
def scenario(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SCENARIO, encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def plan(scenario: Path, out: Path) -> int:
    return main(["plan", str(scenario), "--data", str(TINY), "--out", str(out), "-q"])


# ------------------------------------------------------------------------------------------------
# staged folders


def test_staged_folder_replaces_the_old_folder_whole(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.csv").write_text("from an earlier run", encoding="utf-8")
    with staged_folder(out) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith("out.tmp-")
        (tmp / "new.csv").write_text("new", encoding="utf-8")
        assert (out / "stale.csv").exists()  # untouched while the run writes
    assert sorted(p.name for p in out.iterdir()) == ["new.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no .tmp- / .old- left


def test_staged_folder_failure_leaves_the_old_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.csv").write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), staged_folder(out) as tmp:
        (tmp / "half.csv").write_text("half", encoding="utf-8")
        raise RuntimeError("stage failed")
    assert snapshot(out) == {"old.csv": b"old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_check_out_dir(tmp_path):
    (tmp_path / "afile").write_text("", encoding="utf-8")
    with pytest.raises(OutputError, match="a file of that name exists"):
        check_out_dir(tmp_path / "afile")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_out_dir(tmp_path / "afile" / "deeper" / "out")
    assert check_out_dir(tmp_path / "new" / "out") == tmp_path / "new" / "out"
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_check_out_dir_unwritable(tmp_path, monkeypatch, scenario, capsys):
    import capacity.outputs

    monkeypatch.setattr(capacity.outputs.os, "access", lambda path, mode: False)
    with pytest.raises(OutputError, match=f"cannot write in {tmp_path} \\(permission denied\\)"):
        check_out_dir(tmp_path / "out")
    assert main(["plan", str(scenario), "--data", str(TINY), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()  # one line: no work was started
    assert len(err) == 1 and "permission denied" in err[0] and "nothing written" in err[0]


def test_a_new_run_leaves_no_stale_files(tmp_path, scenario):
    out = tmp_path / "out"
    out.mkdir()
    (out / "siting_junior.png").write_bytes(b"from a run with another district")
    assert plan(scenario, out) == 0
    assert not (out / "siting_junior.png").exists()
    assert (out / "plan.xlsx").is_file()


def test_a_failed_run_leaves_the_previous_results_and_says_so(tmp_path, scenario, capsys):
    out = tmp_path / "out"
    assert plan(scenario, out) == 0
    before = snapshot(out)
    capsys.readouterr()
    scenario.write_text(TINY_SCENARIO.replace("primary = 1 }", "primary = 3 }"), encoding="utf-8")
    assert plan(scenario, out) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"(nothing written; the results already in {out} are unchanged)")
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "tiny.toml"]


# ------------------------------------------------------------------------------------------------
# a run killed halfway


def _start_plan(scenario: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.Popen(
        [sys.executable, "-m", "capacity.cli", "plan", str(scenario), "--data", str(TINY),
         "--out", str(out)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _kill_while_writing(proc: subprocess.Popen, out: Path, sig: int) -> list[Path]:
    """Send ``sig`` as soon as the run has written its first file into its temporary folder."""
    deadline = time.monotonic() + 300  # a hang guard, not a timing
    while time.monotonic() < deadline:
        staged = [p for t in out.parent.glob(out.name + ".tmp-*") for p in t.iterdir()]
        if staged:
            proc.send_signal(sig)
            proc.wait(timeout=300)
            return staged
        assert proc.poll() is None, "the run ended before it could be killed: " + proc.stderr.read()
        time.sleep(0.005)
    proc.kill()
    raise AssertionError("the run never started writing")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_plan_leaves_the_previous_results_intact(sig, tmp_path, scenario):
    out = tmp_path / "out"
    assert plan(scenario, out) == 0
    before = snapshot(out)
    other = tmp_path / "other.toml"  # a different plan, so that a mix would show
    other.write_text(TINY_SCENARIO.replace("kindergarten = 1, primary = 1",
                                           "kindergarten = 0, primary = 1"), encoding="utf-8")
    proc = _start_plan(other, out)
    _kill_while_writing(proc, out, sig)
    assert snapshot(out) == before
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out."))
    if sig == signal.SIGTERM:  # cleaned up, and said so
        assert proc.returncode == 143
        assert left == []
        last = proc.stderr.read().strip().splitlines()[-1]
        assert last == (f"capacity: stopped (SIGTERM) (nothing written; the results already in "
                        f"{out} are unchanged)")
    else:  # no chance to clean up: the partial folder is marked by its name
        assert proc.returncode == -signal.SIGKILL
        assert len(left) == 1 and left[0].startswith("out.tmp-")
    proc.stderr.close()
    assert _workers_of(str(other)) == [], "a figure worker outlived the killed run"


def _workers_of(marker: str, wait: float = 10.0) -> list[int]:
    """Processes (Linux /proc) whose command line names ``marker``, after up to ``wait`` seconds
    for them to end (a hang guard, not a timing)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    deadline = time.monotonic() + wait
    while True:
        found = []
        for d in proc.iterdir():
            if d.name.isdigit():
                try:
                    cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    state = next((ln for ln in (d / "status").read_text().splitlines()
                                  if ln.startswith("State:")), "")
                except OSError:
                    continue
                if marker in cmd and "Z" not in state.split()[1:2]:  # zombies have ended
                    found.append(int(d.name))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


# ------------------------------------------------------------------------------------------------
# same inputs, same bytes


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    """The tiny scenario planned twice, into two folders."""
    tmp = tmp_path_factory.mktemp("two_runs")
    scenario = tmp / "tiny.toml"
    scenario.write_text(TINY_SCENARIO, encoding="utf-8")
    a, b = tmp / "a", tmp / "b"
    assert plan(scenario, a) == 0
    assert plan(scenario, b) == 0
    return a, b


def test_two_plan_runs_give_byte_identical_folders(two_runs):
    first, second = (snapshot(out) for out in two_runs)
    assert sorted(first) == sorted(second)
    assert {"plan.xlsx", "plan.gpkg", "solver.json", "pyramid.png"} <= set(first)
    differ = sorted(name for name in first if first[name] != second[name])
    assert differ in ([], ["timings.json"])  # the run's times are the only thing that may differ


def test_two_compare_runs_give_byte_identical_folders(tmp_path, scenario):
    none = tmp_path / "none.toml"
    none.write_text(TINY_SCENARIO.replace("kindergarten = 1, primary = 1",
                                          "kindergarten = 0, primary = 0"), encoding="utf-8")
    outs = [tmp_path / "c1", tmp_path / "c2"]
    for out in outs:
        assert main(["compare", str(scenario), str(none), "--data", str(TINY), "--out", str(out),
                     "-q"]) == 0
    assert snapshot(outs[0]) == snapshot(outs[1])


def test_solver_json_has_no_times_and_timings_json_has_them(two_runs):
    out = two_runs[0]
    solver = (out / "solver.json").read_text(encoding="utf-8")
    assert "seconds" not in solver
    assert json.loads(solver)["stages"][0]["term"] == "shortfall"
    times = json.loads((out / "timings.json").read_text(encoding="utf-8"))
    assert times["scenario"] == "tiny"
    for part in ("plan", "counterfactual"):
        assert times[part]["build_seconds"] >= 0 and times[part]["solve_seconds"] >= 0
    assert [s["term"] for s in times["plan"]["stages"]] == [
        s["term"] for s in json.loads(solver)["stages"]]


def test_fixed_document_times_and_readable_files(two_runs):
    out = two_runs[0]
    book = openpyxl.load_workbook(out / "plan.xlsx")
    assert book.properties.created.year == 2000 and book.properties.modified.year == 2000
    assert "schedule" in book.sheetnames
    import sqlite3

    con = sqlite3.connect(out / "plan.gpkg")
    stamps = {r[0] for r in con.execute("SELECT last_change FROM gpkg_contents")}
    con.close()
    assert stamps == {"2000-01-01T00:00:00.000Z"}
    assert len(gpd.read_file(out / "plan.gpkg", layer="streets")) == 3
    assert b"Software" not in (out / "pyramid.png").read_bytes()[:2000]


# ------------------------------------------------------------------------------------------------
# infeasible plans explained with the scenario keys


def test_solver_proof_naming_families_in_quotes(scenario):
    s = load_scenario(scenario)
    exc = InfeasiblePlan("infeasible plan: the solver proves the constraints infeasible; leaving out "
                         "the 'counts' constraints makes it feasible")
    err = explain_infeasible(exc, s)
    assert isinstance(err, InfeasibleScenario) and isinstance(err, InfeasiblePlan)
    assert "plan.new_schools (" in str(err) and f"{scenario.resolve()}, line 14" in str(err)
    assert [k for k, _, _ in err.keys] == ["plan.new_schools", "plan.count_rule"]


def test_a_default_value_is_named_as_such(scenario):
    s = load_scenario(scenario)
    exc = InfeasiblePlan("x", ["yearly_limits: the required schools cost at least 9.0 million CNY"])
    err = explain_infeasible(exc, s)
    assert err.keys == ()  # max_cost_per_year is not set: nothing to name
    s2 = load_scenario(scenario)
    exc = InfeasiblePlan("x", ["shares: target_year 2030 is outside the balance years 2021-2027"])
    assert "plan.target_year (its default; not set in" in str(explain_infeasible(exc, s2))
