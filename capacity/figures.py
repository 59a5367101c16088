"""The figures of a plan as a list of jobs, drawn in parallel worker processes.

A figure is a :class:`FigureSpec`: the file it becomes, the kind of drawing (a key of
:data:`DRAWERS`) and the keyword arguments of that drawing (the tables it shows travel with it).
:func:`plan_figure_specs` and :func:`population_figure_specs` list the figures of a plan;
:class:`FigureDrawer` draws them, in worker processes or in this one, and returns the PNG files'
bytes in the order the specs were given.

Why processes: matplotlib draws in one thread, and the 21 figures of the baseline plan take
several CPU-seconds; two workers halve the wait on two cores, and workers started before the
solve import matplotlib, load the Chinese font and build the map base layer while the solver
runs. Each worker builds the district's :class:`~capacity.maps.StreetBase` once and reuses it for
every map it draws.

Adding a figure: write a drawer ``(district, base, **kwargs) -> Figure`` (``base`` is the
district's street base layer, for maps), register it in :data:`DRAWERS` and add its spec to
:func:`plan_figure_specs`.

Same inputs, same bytes: a figure drawn by a worker is byte-identical to one drawn in this process
(workers get the parent's font setting, see :func:`capacity.maps.use_cjk`).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

# first, so that the BLAS library's threads (numpy's, fork-safe) count among the threads at import
# (see _start_method). A plan run never loads scipy.linalg (scipy's own BLAS and its threads); a
# process that loads it after this import draws with 'forkserver' workers instead, which is safe.
import numpy  # noqa: F401

from capacity.processes import exit_with_parent

__all__ = [
    "DRAWERS",
    "FIGURE_SETS",
    "FigureDrawer",
    "FigureSpec",
    "default_workers",
    "longest_first",
    "plan_figure_specs",
    "population_figure_specs",
    "render",
]

#: The values of ``--figures``: every figure, the siting maps only, none.
FIGURE_SETS = ("all", "maps", "none")


@dataclass(frozen=True, eq=False)
class FigureSpec:
    """One figure to draw.

    Attributes
    ----------
    filename : str
        The PNG file it becomes, e.g. ``"siting_primary.png"``.
    kind : str
        The drawing, a key of :data:`DRAWERS` (``"siting"``, ``"demand"``, ``"pyramid"``).
    kwargs : mapping
        The drawer's keyword arguments (levels, years and the tables drawn).
    """

    filename: str
    kind: str
    kwargs: Mapping = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# drawers: (district, base, **kwargs) -> Figure


def _siting(district, base, *, plan, counterfactual, level, year):
    from capacity import maps

    return maps.siting_map(district, plan, counterfactual, level, year, base=base)


def _spare(district, base, *, plan, level, year):
    from capacity.spare_map import spare_places_map

    return spare_places_map(district, plan, level, year, base=base)


def _demand(district, base, *, balance, level, streets, demand, counterfactual):
    from capacity import maps

    return maps.demand_places_chart(balance, level, streets, district=district, demand=demand,
                                    counterfactual=counterfactual)


def _pyramid(district, base, *, population, year, street, compare_year):
    from capacity import maps

    return maps.population_pyramid(population, year, street, compare_year=compare_year,
                                   district=district)


#: Figure kinds and the functions that draw them.
DRAWERS: dict[str, Callable] = {"siting": _siting, "spare": _spare, "demand": _demand,
                                "pyramid": _pyramid}

#: Kinds that draw on the district's street base layer.
MAP_KINDS = frozenset({"siting", "spare"})

#: CPU seconds to draw one figure of each kind, roughly (the Dongli baseline on the 2-core
#: development machine: demand charts with seven small multiples 0.45 s, siting maps 0.3 s, spare
#: maps 0.2 s, the pyramid 0.1 s); only their order matters, see :func:`longest_first`.
DRAW_SECONDS = {"demand": 0.45, "siting": 0.3, "spare": 0.2, "pyramid": 0.1}


# --------------------------------------------------------------------------------------------------
# which figures


def longest_first(specs: Sequence[FigureSpec]) -> list[FigureSpec]:
    """``specs`` with the slowest kinds first (:data:`DRAW_SECONDS`; stable within a kind).

    Workers take queued figures in order, so the longest ones are drawn first and the last
    figures, which decide when the run ends, are short (the files are the same in any order).
    """
    return sorted(specs, key=lambda s: -DRAW_SECONDS.get(s.kind, 0.0))


def _check_figures(figures: str) -> None:
    if figures not in FIGURE_SETS:
        raise ValueError(f"figures must be one of {', '.join(FIGURE_SETS)}, got {figures!r}")


def plan_figure_specs(district, plan, counterfactual, demand=None, *, figures: str = "all",
                      year: int | None = None, growth_streets: Sequence[str] | None = None
                      ) -> list[FigureSpec]:
    """The figures of a solved plan: per level, its siting map and its demand chart.

    Parameters
    ----------
    district, plan, counterfactual
        As for :func:`capacity.maps.siting_map`.
    demand : DataFrame, optional
        ``street, level, year, pupils`` [+ ``p05, p95``]: the band on the demand charts and the
        default growth streets.
    figures : {"all", "maps", "none"}
        All figures, the siting maps only, or none.
    year : int, optional
        The year of the siting maps; default the latest opening year of a new school, else the
        last balance year (:func:`capacity.report.selected_years`).
    growth_streets : sequence of str, optional
        Streets of the demand charts' small multiples; default
        :func:`capacity.maps.growth_streets` of the demand.

    Returns
    -------
    list of FigureSpec
        ``siting_<level>.png`` (the plan's end year, unless no year can be chosen),
        ``siting_<level>_<year>.png`` (the peak year of places short, when any place is short
        and the peak is not the year of ``siting_<level>.png``),
        ``spare_<level>_<year>.png`` (spare places and utilisation in the last balance year) and,
        with ``figures="all"``, ``demand_<level>.png``, level by level in the district's order.
    """
    _check_figures(figures)
    if figures == "none":
        return []
    from capacity.report import selected_years

    if year is None:
        years = selected_years(plan)
        year = years[0] if years else None
    levels = [lv for lv in district.levels["level"] if (plan.balance["level"] == lv).any()]
    if growth_streets is None and figures == "all":
        growth_streets = _growth_streets(demand if demand is not None else plan.balance)
    from capacity.measures import headline, peaks

    peak = peaks(headline(plan)).set_index("level")
    last = int(plan.balance["year"].max()) if len(plan.balance) else None
    specs = []
    for level in levels:
        if year is not None:
            specs.append(FigureSpec(f"siting_{level}.png", "siting", {
                "plan": plan, "counterfactual": counterfactual, "level": level, "year": int(year)}))
        # the hard year: the peak of places short (when any place is short and the peak is not
        # the year of the map above, which would be drawn twice)
        short = level in peak.index and round(float(peak.loc[level, "places_short"])) > 0
        py = int(peak.loc[level, "peak_year"]) if short else None
        if short and py != year:
            specs.append(FigureSpec(f"siting_{level}_{py}.png", "siting", {
                "plan": plan, "counterfactual": counterfactual, "level": level, "year": py}))
        if last is not None:
            specs.append(FigureSpec(f"spare_{level}_{last}.png", "spare", {
                "plan": plan, "level": level, "year": last}))
        if figures == "all":
            specs.append(FigureSpec(f"demand_{level}.png", "demand", {
                "balance": plan.balance, "level": level, "streets": list(growth_streets),
                "demand": demand, "counterfactual": counterfactual}))
    return specs


def _growth_streets(table) -> list[str]:
    from capacity import maps

    return maps.growth_streets(table)


def population_figure_specs(population, *, figures: str = "all",
                            pyramid_streets: Sequence[str] = ()) -> list[FigureSpec]:
    """The population pyramids (final year as bars, base year as outline); no plan needed.

    Parameters
    ----------
    population : DataFrame or None
        ``street, year, sex, age, persons``; None or empty: no pyramid.
    figures : {"all", "maps", "none"}
        Pyramids only with ``"all"``.
    pyramid_streets : sequence of str
        Streets that also get a pyramid (``pyramid_<street>.png``).

    Returns
    -------
    list of FigureSpec
        ``pyramid.png`` (the district) and ``pyramid_<street>.png``.
    """
    _check_figures(figures)
    if figures != "all" or population is None or not len(population):
        return []
    y0, y1 = int(population["year"].min()), int(population["year"].max())
    args = {"population": population, "year": y1, "compare_year": y0 if y0 != y1 else None}
    specs = [FigureSpec("pyramid.png", "pyramid", {**args, "street": None})]
    for s in pyramid_streets:
        rows = population[population["street"] == s]
        specs.append(FigureSpec(f"pyramid_{s}.png", "pyramid", {**args, "population": rows, "street": s}))
    return specs


# --------------------------------------------------------------------------------------------------
# drawing


def render(spec: FigureSpec, district, base=None) -> bytes:
    """Draw one figure and return its PNG bytes (:func:`capacity.maps.figure_png`: RGB, 150 dpi,
    white background).

    Parameters
    ----------
    spec : FigureSpec
    district
        The district (streets, sites, levels, names).
    base : StreetBase, optional
        The district's street base layer, for maps (default: built by the map).
    """
    from capacity import maps

    return maps.figure_png(DRAWERS[spec.kind](district, base, **spec.kwargs))


def default_workers() -> int:
    """One worker process per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _os_threads() -> int | None:
    """Threads of this process as the OS counts them (Linux), else None."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


#: Threads when this module was imported (the main thread and the BLAS library's, which are
#: fork-safe): a process with more has started threads since (e.g. the solver's), see
#: :func:`_start_method`.
_IMPORT_THREADS = _os_threads()


def _start_method() -> str:
    """'fork' on Linux while this process runs no thread it did not have when this module was
    imported (the command line starts its workers before the solver's threads exist): the
    workers then start at once with every module already imported. Else 'forkserver' (a clean
    server process forks the workers), else 'spawn'."""
    methods = multiprocessing.get_all_start_methods()
    threads = _os_threads()
    if (sys.platform == "linux" and "fork" in methods and threads is not None
            and _IMPORT_THREADS is not None and threads <= _IMPORT_THREADS):
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


#: Third threshold of the cyclic garbage collector in a worker and in the ``capacity`` command
#: (Python's default 10).
FULL_COLLECTION_THRESHOLD = 1000

# state of a worker process (set once by _init_worker; the parent's drawer keeps its own)
_worker: dict = {}


def _init_worker(district, cjk: bool | None, warm: bool) -> None:
    """Worker start: ignore Ctrl-C (the parent stops the pool), use the parent's font setting
    (None: the parent never set one) and, with ``warm``, import matplotlib and load the fonts
    now, while the parent is still solving."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()
    # full collections of the cyclic garbage collector a hundred times rarer: each one traverses
    # every object the worker inherited or loaded (pandas, matplotlib, the district; about 0.1 s),
    # and a worker drawing ten figures ran two or three of them. The figures' own cyclic garbage
    # then waits for the worker's end (peak memory of a worker about 50 MB more)
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, FULL_COLLECTION_THRESHOLD)
    _worker["district"] = district
    _worker["base"] = None
    if warm:
        from capacity import maps

        if cjk is not None:
            maps.use_cjk(cjk)
        maps.warm_up()
    elif cjk is not None:
        _worker["cjk"] = cjk


def _draw_in_worker(spec: FigureSpec) -> bytes:
    district = _worker["district"]
    if "cjk" in _worker:  # not warmed up: the parent's font setting still to apply
        from capacity import maps

        maps.use_cjk(_worker.pop("cjk"))
    base = None
    if spec.kind in MAP_KINDS:
        if _worker["base"] is None:
            from capacity import maps

            _worker["base"] = maps.street_base(district)
        base = _worker["base"]
    return render(spec, district, base)


def _ready() -> None:
    """A no-op job: submitting one per worker starts every worker at once."""


class FigureDrawer:
    """Draws figures in worker processes started at once (or in this process).

    Use as a context manager: on leaving, workers are stopped and jobs not started are dropped.

    Parameters
    ----------
    district
        The district of every figure (sent to each worker once).
    workers : int, optional
        Worker processes; default :func:`default_workers`. 0: draw in this process, when
        :meth:`results` is called.
    start_method : str, optional
        ``"fork"``, ``"forkserver"`` or ``"spawn"``; default: fork where safe (see
        ``_start_method``).
    warm : bool
        Workers import matplotlib and load the fonts as they start (False: when they draw
        their first figure; for pools that may draw none).
    """

    def __init__(self, district, workers: int | None = None, start_method: str | None = None, *,
                 warm: bool = True):
        self.district = district
        self.workers = default_workers() if workers is None else int(workers)
        if self.workers < 0:
            raise ValueError(f"workers must be 0 or more, got {workers}")
        self._jobs: list[tuple[FigureSpec, Future | None]] = []
        self._base = None
        self._pool = None
        if self.workers > 0:
            context = multiprocessing.get_context(start_method or _start_method())
            self.start_method = context.get_start_method()
            # the parent's font switch, without importing matplotlib here just to read it
            maps = sys.modules.get("capacity.maps")
            cjk = maps.cjk_enabled() if maps is not None else None
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context,
                                             initializer=_init_worker, initargs=(district, cjk, warm))
            with warnings.catch_warnings():
                # Python >= 3.12 warns on fork whenever a second thread exists; ours is the BLAS
                # library's (fork-safe); _start_method forks only when no other thread was added
                warnings.filterwarnings("ignore", message=".*use of fork\\(\\) may lead to deadlocks",
                                        category=DeprecationWarning)
                for _ in range(self.workers):
                    self._pool.submit(_ready)
        else:
            self.start_method = None

    def submit(self, specs: Sequence[FigureSpec]) -> None:
        """Queue figures (drawn by the workers as soon as one is free)."""
        for spec in specs:
            if spec.kind not in DRAWERS:
                raise ValueError(f"no drawer for figure kind {spec.kind!r} ({', '.join(DRAWERS)})")
            future = self._pool.submit(_draw_in_worker, spec) if self._pool is not None else None
            self._jobs.append((spec, future))

    def call(self, fn: Callable, *args) -> Future:
        """Run ``fn(*args)`` in a worker process (any job, e.g. a solve) and return its future.
        ``fn`` must be importable (a module-level function); the arguments are pickled, possibly
        after this call returns: pass objects that do not change meanwhile (or their pickle).

        Raises
        ------
        ValueError
            Without worker processes (``workers=0``).
        """
        if self._pool is None:
            raise ValueError("FigureDrawer.call needs worker processes (workers=0 was given)")
        return self._pool.submit(fn, *args)

    def results(self, order: Sequence[str] | None = None) -> list[tuple[str, bytes]]:
        """Wait for every queued figure.

        Parameters
        ----------
        order : sequence of str, optional
            File names in the order wanted (default: as submitted); every queued figure is in
            the result, those not named come last.

        Returns
        -------
        list of (str, bytes)
            File name and PNG bytes.
        """
        out = {}
        for spec, future in self._jobs:
            if future is not None:
                out[spec.filename] = future.result()
            else:
                base = None
                if spec.kind in MAP_KINDS:
                    if self._base is None:
                        from capacity import maps

                        self._base = maps.street_base(self.district)
                    base = self._base
                out[spec.filename] = render(spec, self.district, base)
        self._jobs = []
        names = [n for n in (order or []) if n in out]
        names += [n for n in out if n not in names]
        return [(n, out[n]) for n in names]

    def close(self) -> None:
        """Stop the workers (jobs not started are dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> FigureDrawer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
