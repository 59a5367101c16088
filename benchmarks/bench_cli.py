"""Whole-process timing of ``capacity plan`` and ``capacity project`` (median of N runs).

Each run is a fresh ``python -m capacity.cli ...`` subprocess, so the times include the interpreter
start, the imports, reading the district, the solve and writing every output, as a planner sees
them. For each command it prints the median wall time and the median CPU time (user + system of
the process and of every worker process it waited for, from ``resource.getrusage`` of the
children). CPU time is less sensitive than wall time to other programs running on the machine;
the load average before and after is printed so that a wall time measured under load is seen as
such. Each checkout runs once untimed first (Python writes its compiled modules, the files are read
once), and Python may cache compiled modules as on a planner's machine (``PYTHONDONTWRITEBYTECODE``
is removed from the runs' environment).

A change is best measured **against the code before it, in alternation** (``--against DIR``): the
development machine's speed drifts by a quarter within an hour, more than most changes. ``DIR`` is
another checkout (e.g. ``git worktree add /tmp/old <commit>``) with its own virtual environment
(``DIR/.venv``, or ``--against-python``); each run of this checkout is followed by one of the other,
and both medians and their ratio are printed.

Usage::

    .venv/bin/python benchmarks/bench_cli.py [--runs 3] [--scenario scenarios/baseline.toml]
                                             [--only plan|project] [--figures all|maps|none]
                                             [--against DIR [--against-python PYTHON]]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_once(args: list[str], python: str = sys.executable, root: Path = ROOT) -> tuple[float, float]:
    """Run ``python -m capacity.cli *args`` once in the checkout ``root`` (its package first on
    the path); returns wall and CPU seconds (user + system, the process and its waited-for
    children)."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    # as on a planner's machine, Python caches the compiled modules (__pycache__); a sandbox that
    # forbids it would recompile the package in every run (0.1-0.2 s)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if Path(root).resolve() != ROOT:
        env["PYTHONPATH"] = str(root)
    c0, t0 = _children_cpu(), time.perf_counter()
    done = subprocess.run([python, "-m", "capacity.cli", *args], cwd=root, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, env=env)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if done.returncode != 0:
        sys.exit(f"bench_cli: 'capacity {' '.join(args)}' failed in {root}:\n{done.stderr}")
    return wall, cpu


def time_command(args: list[str], runs: int, against: tuple[str, Path] | None = None):
    """Run ``python -m capacity.cli *args`` ``runs`` times (with ``against``, a ``(python,
    checkout)`` pair: each run followed by one of that checkout).

    Returns
    -------
    list of (list of float, list of float)
        Per checkout (this one, then ``against``): wall times and CPU times, seconds.
    """
    out = [([], []) for _ in range(2 if against else 1)]
    checkouts = [(sys.executable, ROOT), *([against] if against else [])]
    for python, root in checkouts:  # not timed: writes the compiled modules, reads the files once
        run_once(args, python, root)
    for _ in range(runs):
        for k, (python, root) in enumerate(checkouts):
            wall, cpu = run_once(args, python, root)
            out[k][0].append(wall)
            out[k][1].append(cpu)
    return out


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per command (default 3)")
    ap.add_argument("--scenario", default="scenarios/baseline.toml")
    ap.add_argument("--only", choices=("plan", "project"), default=None)
    ap.add_argument("--figures", choices=("all", "maps", "none"), default="all",
                    help="the figures 'capacity plan' draws (default all)")
    ap.add_argument("--against", metavar="DIR", default=None,
                    help="another checkout to time in alternation with this one")
    ap.add_argument("--against-python", metavar="PYTHON", default=None,
                    help="its Python (default DIR/.venv/bin/python)")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    against = None
    if args.against is not None:
        other = Path(args.against).resolve()
        python = Path(args.against_python) if args.against_python else other / ".venv" / "bin" / "python"
        if not (other / "capacity" / "cli.py").is_file():
            ap.error(f"--against {args.against}: not a checkout of capacity (no capacity/cli.py)")
        if not python.is_file():
            ap.error(f"--against: no Python at {python} (give --against-python)")
        against = (str(python), other)

    plan = ["plan"] + (["--figures", args.figures] if args.figures != "all" else [])
    commands = {"project": ["project"], "plan": plan}
    if args.only:
        commands = {args.only: commands[args.only]}
    print(f"capacity CLI, whole process, median of {args.runs} runs; {os.cpu_count()} CPUs; "
          f"scenario {args.scenario}")
    print(f"{'command':<32} {'wall s':>7} {'CPU s':>7}   (runs: wall / CPU)   load before -> after")
    if against:
        print(f"in alternation with {against[1]} ({against[0]})")
    with tempfile.TemporaryDirectory(prefix="bench_cli_") as tmp:
        for name, cmd in commands.items():
            load0 = _load()
            # the scenario path is relative: each checkout runs its own copy of the scenario
            timed = time_command([*cmd, args.scenario, "--out", str(Path(tmp) / name), "-q"],
                                 args.runs, against)
            load1 = _load()
            medians = []
            for k, (walls, cpus) in enumerate(timed):
                label = "capacity " + " ".join(cmd) + (" (against)" if k else "")
                each = " ".join(f"{w:.1f}/{c:.1f}" for w, c in zip(walls, cpus, strict=True))
                medians.append(statistics.median(walls))
                print(f"{label:<32} {medians[-1]:7.2f} {statistics.median(cpus):7.2f}   "
                      f"({each})   {load0} -> {load1}")
            if against:
                print(f"{'':<32} this / against: {medians[0] / medians[1]:.2f} (wall, medians)")


if __name__ == "__main__":
    main()
