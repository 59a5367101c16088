"""Whole-process timing of ``capacity plan`` and ``capacity project`` (median of N runs).

Each run is a fresh ``python -m capacity.cli ...`` subprocess, so the times include the interpreter
start, the imports, reading the district, the solve and writing every output, as a planner sees
them. For each command it prints the median wall time and the median CPU time (user + system of
the process and of every worker process it waited for, from ``resource.getrusage`` of the
children). CPU time is less sensitive than wall time to other programs running on the machine;
the load average before and after is printed so that a wall time measured under load is seen as
such.

Usage::

    .venv/bin/python benchmarks/bench_cli.py [--runs 3] [--scenario scenarios/baseline.toml]
                                             [--only plan|project] [--figures all|maps|none]
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


def time_command(args: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Run ``python -m capacity.cli *args`` ``runs`` times.

    Returns
    -------
    (list of float, list of float)
        Wall times and CPU times (user + system, the process and its waited-for children), seconds.
    """
    walls, cpus = [], []
    for _ in range(runs):
        c0, t0 = _children_cpu(), time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "capacity.cli", *args], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "MPLBACKEND": "Agg"})
        walls.append(time.perf_counter() - t0)
        cpus.append(_children_cpu() - c0)
        if done.returncode != 0:
            sys.exit(f"bench_cli: 'capacity {' '.join(args)}' failed:\n{done.stderr}")
    return walls, cpus


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per command (default 3)")
    ap.add_argument("--scenario", default="scenarios/baseline.toml")
    ap.add_argument("--only", choices=("plan", "project"), default=None)
    ap.add_argument("--figures", choices=("all", "maps", "none"), default="all",
                    help="the figures 'capacity plan' draws (default all)")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")

    plan = ["plan"] + (["--figures", args.figures] if args.figures != "all" else [])
    commands = {"project": ["project"], "plan": plan}
    if args.only:
        commands = {args.only: commands[args.only]}
    print(f"capacity CLI, whole process, median of {args.runs} runs; {os.cpu_count()} CPUs; "
          f"scenario {args.scenario}")
    print(f"{'command':<32} {'wall s':>7} {'CPU s':>7}   (runs: wall / CPU)   load before -> after")
    with tempfile.TemporaryDirectory(prefix="bench_cli_") as tmp:
        for name, cmd in commands.items():
            load0 = _load()
            walls, cpus = time_command([*cmd, args.scenario, "--out", str(Path(tmp) / name), "-q"],
                                       args.runs)
            label = "capacity " + " ".join(cmd)
            each = " ".join(f"{w:.1f}/{c:.1f}" for w, c in zip(walls, cpus, strict=True))
            print(f"{label:<32} {statistics.median(walls):7.2f} {statistics.median(cpus):7.2f}   "
                  f"({each})   {load0} -> {_load()}")


if __name__ == "__main__":
    main()
