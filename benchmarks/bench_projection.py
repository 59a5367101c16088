"""Benchmark of the cohort-component projection and demand (wall clock, median of repeats).

(a) Dongli: one deterministic run, 11 streets × 2 sexes × 101 ages, 2020-2035, from ``data/streets``
    if ``capacity.data.load_district`` can read it, else synthetic arrays of the same shape.
(b) Dongli: 1,000 Monte-Carlo draws (all ages stored, and school ages only), plus the percentile
    table of pupils.
(c) A synthetic 300-street district, 20 years, deterministic.

Usage::

    .venv/bin/python benchmarks/bench_projection.py [--repeats 5] [--draws 1000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from capacity.demand import DONGLI_ENROLMENT, pupils, pupils_draws, school_ages
from capacity.projection import (
    ProjectionAssumptions,
    ProjectionInputs,
    Uncertainty,
    project,
    project_draws,
)

ROOT = Path(__file__).resolve().parents[1]
# the levels of data/streets/levels.csv (the synthetic instances use them too)
DONGLI_LEVELS = pd.DataFrame({
    "level": ["kindergarten", "primary", "junior", "senior", "vocational"],
    "name_zh": ["幼儿园", "小学", "初中", "普通高中", "中职"],
    "first_age": [3, 6, 12, 15, 15],
    "last_age": [5, 11, 14, 17, 17],
    "stage": ["kindergarten", "primary", "junior", "senior_stage", "senior_stage"],
})


def synthetic_inputs(n_streets: int, n_ages: int = 101, base_year: int = 2020,
                     housing_years: int = 20, seed: int = 0) -> ProjectionInputs:
    """Deterministic synthetic district of the given size (plausible magnitudes)."""
    rng = np.random.default_rng(seed)
    ages = np.arange(n_ages)
    profile = np.exp(-((ages - 35) / 25.0) ** 2) + 0.2
    pop = rng.uniform(200, 1200, size=(n_streets, 2, 1)) * profile[None, None, :]
    fert = np.where((ages >= 15) & (ages <= 49), 0.04 * np.exp(-((ages - 29) / 6.0) ** 2), 0.0)
    q = np.minimum(1.0, 0.0005 * np.exp(0.085 * ages))[None, :].repeat(2, axis=0)
    q[:, -1] = 1.0
    rate = rng.uniform(-0.01, 0.02, size=(n_streets, 2, n_ages))
    movers = np.exp(-((ages - 30) / 15.0) ** 2)[None, :].repeat(2, axis=0)
    movers /= movers.sum()
    dwellings = rng.choice([0, 0, 0, 300, 600], size=(housing_years, n_streets)).astype(float)
    return ProjectionInputs(
        population=pop, fertility=fert, death_probability=q, net_rate=rate, movers=movers,
        dwellings=dwellings, dwelling_years=np.arange(base_year + 1, base_year + 1 + housing_years),
        base_year=base_year, birth_sex_ratio=1.113,
        streets=tuple(f"S{i:03d}" for i in range(n_streets)),
    )


def timed(fn, repeats: int):
    """(median seconds, first-call seconds, last result)."""
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times[0], result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()

    levels = DONGLI_LEVELS
    try:
        from capacity.data import load_district

        district = load_district(ROOT / "data" / "streets")
        dongli = ProjectionInputs.from_district(district)
        levels = district.levels
        source = "data/streets (real)"
    except Exception as exc:  # noqa: BLE001 - any failure means: fall back to synthetic data
        print(f"note: data/streets not loadable ({type(exc).__name__}: {exc}); "
              "using synthetic arrays of Dongli's shape")
        dongli = synthetic_inputs(11)
        source = "synthetic, Dongli-sized"

    a = ProjectionAssumptions(end_year=2035)
    u = Uncertainty(draws=args.draws)
    keep = school_ages(levels)
    rows = []

    med, first, proj = timed(lambda: project(dongli, a), args.repeats)
    rows.append(("Dongli deterministic, 2020-2035", proj.persons.shape, med, first))
    med, first, _ = timed(lambda: pupils(proj, levels, DONGLI_ENROLMENT), args.repeats)
    rows.append(("  + pupils table", "", med, first))

    med, first, dr = timed(lambda: project_draws(dongli, a, u), args.repeats)
    rows.append((f"Dongli {args.draws} draws, all ages", dr.persons.shape, med, first))
    med, first, dr = timed(lambda: project_draws(dongli, a, u, keep_ages=keep), args.repeats)
    rows.append((f"Dongli {args.draws} draws, school ages", dr.persons.shape, med, first))
    med, first, _ = timed(lambda: pupils_draws(dr, levels, DONGLI_ENROLMENT), args.repeats)
    rows.append(("  + pupils with p05/p50/p95", "", med, first))

    big = synthetic_inputs(300)
    a20 = ProjectionAssumptions(end_year=2040)
    med, first, p300 = timed(lambda: project(big, a20), args.repeats)
    rows.append(("synthetic 300 streets, 2020-2040", p300.persons.shape, med, first))
    med, first, _ = timed(lambda: pupils(p300, DONGLI_LEVELS, DONGLI_ENROLMENT), args.repeats)
    rows.append(("  + pupils table", "", med, first))

    print(f"Dongli inputs: {source}; repeats: {args.repeats}; "
          f"numpy {np.__version__}; times in seconds (median; first call)")
    print(f"{'case':<40} {'array shape':<26} {'median s':>9} {'first s':>9}")
    for name, shape, med, first in rows:
        print(f"{name:<40} {str(shape):<26} {med:>9.4f} {first:>9.4f}")


if __name__ == "__main__":
    main()
