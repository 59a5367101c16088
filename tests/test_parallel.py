"""Independent levels solved at once in worker processes (``SolverOptions.level_workers``)."""

import signal
import subprocess
import sys
import time
from dataclasses import replace

import pandas as pd
import pytest
from test_optimize import OPTS, two_level_model

from capacity.optimize import SolverOptions
from capacity.optimize.parallel import time_share


def test_levels_solved_at_once_give_the_same_plan():
    one = two_level_model().solve(OPTS)
    two = two_level_model().solve(replace(OPTS, level_workers=2))
    r1, r2 = one.plan.report, two.plan.report
    assert r1.optimal and r2.optimal
    assert [s["term"] for s in r2.stages] == [s["term"] for s in r1.stages]
    assert [s["parts"] for s in r2.stages] == [s["parts"] for s in r1.stages]
    for a, b in zip(r1.stages, r2.stages, strict=True):
        assert b["objective"] == pytest.approx(a["objective"], rel=1e-9, abs=1e-9)
    pd.testing.assert_frame_equal(two.plan.schedule, one.plan.schedule)
    pd.testing.assert_frame_equal(two.plan.balance, one.plan.balance)


def test_time_shares_by_hand():
    # one worker: an equal share of the time left (the sequential rule)
    assert time_share(300.0, 1, 4) == 75.0
    # two workers, four levels not started: half of the time left each
    assert time_share(300.0, 2, 4) == 150.0
    # two workers, three levels: 2/3 of the time left; one level: all of it, never more
    assert time_share(300.0, 2, 3) == pytest.approx(200.0)
    assert time_share(120.0, 2, 1) == 120.0
    assert time_share(None, 2, 4) is None


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_level_workers_must_be_a_whole_number_from_one(bad):
    with pytest.raises(ValueError, match=r"level_workers must be a whole number >= 1, got"):
        SolverOptions(level_workers=bad)


def test_no_worker_left_behind():
    import multiprocessing

    two_level_model().solve(replace(OPTS, level_workers=2))
    assert multiprocessing.active_children() == []


def _solve_in_daemon(queue):
    report = two_level_model().solve(replace(OPTS, level_workers=2)).plan.report
    queue.put((report.optimal, report.objective))


def test_a_daemonic_worker_solves_its_levels_one_after_the_other():
    """A pool's worker may not start processes: level_workers then falls back to one at a time."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_solve_in_daemon, args=(queue,), daemon=True)
    proc.start()
    proc.join(timeout=300)  # a hang guard, not a timing
    assert proc.exitcode == 0, "the daemonic worker failed (it may not start processes)"
    optimal, objective = queue.get(timeout=10)
    assert optimal
    assert objective == pytest.approx(two_level_model().solve(OPTS).plan.report.objective)


def _killed(*args):
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_level_worker_is_reported_not_waited_for(monkeypatch):
    from capacity.optimize import parallel

    monkeypatch.setattr(parallel, "_solve_part", _killed)
    monkeypatch.setattr(parallel, "GRACE_SECONDS", 1.0)
    with pytest.raises(RuntimeError, match="ended without a result"):
        two_level_model().solve(replace(OPTS, level_workers=2, time_limit=1.0))


_ORPHAN_SCRIPT = '''
import os
import sys
import time

from capacity.optimize import parallel
from capacity.optimize import SolverOptions


def sleeping_part(*args):
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(300)


if __name__ == "__main__":
    parallel._solve_part = sleeping_part
    parallel.solve_parts([(None, [], True)], SolverOptions(), None, None, workers=1)
'''


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (gone, or a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_level_workers_end_when_the_solving_process_is_killed(tmp_path):
    """A level worker does not outlive a process killed outright (e.g. a restarted notebook
    kernel): it would go on using a core until its time limit."""
    script, pidfile = tmp_path / "solve.py", tmp_path / "worker.pid"
    script.write_text(_ORPHAN_SCRIPT, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), str(pidfile)])
    deadline = time.monotonic() + 120  # hang guards, not timings
    while not pidfile.exists():
        assert proc.poll() is None, "the solving process ended before its worker started"
        assert time.monotonic() < deadline, "the level worker never started"
        time.sleep(0.05)
    worker = int(pidfile.read_text())
    assert not _gone(worker)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    while not _gone(worker):
        assert time.monotonic() < deadline + 30, "the level worker outlived the killed process"
        time.sleep(0.05)
