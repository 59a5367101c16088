"""What the planning model is asked: the plan's rules (:class:`PlanParameters`), how to solve
(:class:`SolverOptions`), the defaults by level, and the error raised when a plan cannot be met."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Default objective weights of ``method="weighted"`` (and the cost / early mix of the last
#: lexicographic stage): per pupil-year without a place, per pupil-year in an overcrowded place,
#: per pupil-km, per million CNY and per school-year of opening before needed.
DEFAULT_WEIGHTS: dict[str, float] = {
    "shortfall": 1000.0,
    "overcrowding": 100.0,
    "travel": 1.0,
    "cost": 0.1,
    "early": 0.01,
}
#: Standard pupils per class (kindergarten: the mean of 25/30/35 for the three grades).
DEFAULT_CLASS_SIZE: dict[str, float] = {"kindergarten": 30, "primary": 45, "junior": 50, "senior": 50}
#: Legal maximum pupils per class.
DEFAULT_MAX_CLASS_SIZE: dict[str, float] = {"kindergarten": 35, "primary": 55, "junior": 55, "senior": 55}
#: Catchments in km between street points (0 = own street, None = anywhere in the district).
DEFAULT_CATCHMENT_KM: dict[str, float | None] = {
    "kindergarten": 0.0,
    "primary": 0.0,
    "junior": 5.0,
    "senior": None,
}
TERMS = ("shortfall", "overcrowding", "travel", "cost")
#: The lexicographic stages of a plan, most important first: pupils without a place (pupil-years),
#: the largest share of any street's pupils without a place (``equity``; only with
#: ``PlanParameters.equity``), pupils in overcrowded places (pupil-years), travel (pupil-km), then
#: capital cost plus the "not earlier than needed" tie-breaker.
PLAN_ORDER = ("shortfall", "equity", "overcrowding", "travel", "cost")
#: The stages of the needs assessment (:mod:`capacity.need`): no child without a standard place
#: first, then the fewest schools, then the fewest new places, then cost, and travel last.
NEED_ORDER = ("shortfall", "equity", "overcrowding", "schools", "places", "cost", "travel")
#: Every stage name ``objective_order`` may use.
STAGES = ("shortfall", "equity", "overcrowding", "travel", "schools", "places", "cost")
FAMILIES = ("counts", "places", "shares", "yearly_limits", "fill")


@dataclass(frozen=True)
class PlanParameters:
    """Everything the planning model needs besides the tables.

    Parameters
    ----------
    first_year, last_year
        The years the balance of pupils and places is evaluated (inclusive).
    plan_start, plan_end
        The plan period: new schools counted against ``new_schools`` open in these years (inclusive).
        Sites open only in the plan period (never after ``plan_end``).
    new_schools
        Schools to open per level over the plan period, e.g. ``{"primary": 9}``. A level missing from
        the mapping gets no new school; ``None`` = no limit on any level.
    count_rule
        ``"exact"`` or ``"at_most"``: how ``new_schools`` binds.
    kindergarten_new_places, places_rule
        Total places of the new kindergartens and how it binds: ``"exact"``, ``"at_least"`` or ``"off"``.
        The places of a new kindergarten are classes x ``class_size[kindergarten]``, or with
        ``grade_class_size`` the places its grade mix gives.
    class_size, max_class_size
        Standard and legal maximum pupils per class, by level. Places between the two are overcrowded
        places; beyond the maximum is shortfall. Missing levels take ``DEFAULT_CLASS_SIZE`` /
        ``DEFAULT_MAX_CLASS_SIZE``.
    grade_class_size
        Optional standard pupils per class by grade of the kindergarten level: age (years) -> pupils
        per class, e.g. ``{3: 25, 4: 30, 5: 35}`` (小班/中班/大班). With it, a new kindergarten of N
        classes has its classes spread over the grades as evenly as possible (the remainder to the
        youngest grades first) and ``sum_g classes_g x size_g`` standard places
        (:func:`capacity.grades.grade_places`); existing supply keeps its places. ``None`` = one
        class size (``class_size[kindergarten]``) for all grades.
    catchment_km
        By level: how far (km between street points) pupils may be assigned. ``0`` = own street only;
        ``None`` = anywhere in the district. Missing levels take ``DEFAULT_CATCHMENT_KM`` (unknown
        levels: anywhere).
    target_year
        Year in which the kindergarten targets below must hold.
    public_share_min, inclusive_share_min
        Minimum share of kindergarten children in public / inclusive places in ``target_year``
        (``None`` = no constraint). The share is of all kindergarten pupils (demand) that year.
    max_openings_per_year
        Optional limit of new schools per level and year.
    max_cost_per_year
        Optional limit of capital cost per year (million CNY), when sites carry a cost.
    weights
        Objective weights: ``shortfall`` (per pupil-year without a place), ``overcrowding`` (per pupil-year
        in an overcrowded place), ``travel`` (per pupil-km outside the own street), ``cost`` (per million
        CNY) and ``early`` (per school-year of opening before it is needed; tie-breaker). Missing keys
        take ``DEFAULT_WEIGHTS`` (1000, 100, 1, 0.1, 0.01).
    method
        ``"lexicographic"`` (shortfall first, then overcrowding, then travel, then cost) or ``"weighted"``.
    kindergarten_level
        The level the places total and the public / inclusive shares refer to.
    equity
        Add the equity stage right after total shortfall (lexicographic method only): among the
        schedules and assignments with the least shortfall, minimise, per level and year, the largest
        share of any street's pupils without a place, so that no street's children carry the
        shortfall because their street is far away. Total shortfall is never raised by it.
    objective_order
        The lexicographic stages in order (names from ``STAGES``); None = ``PLAN_ORDER``.
    assignment_stages
        Stages at the end of the order solved only with the schedule fixed: linear programmes on
        the assignment after the MILP stages (:mod:`capacity.optimize.polish`), which never change
        which schools open or when. Only stages of pupils (``travel``, ``overcrowding``,
        ``shortfall``, ``equity``); default none. The needs assessment takes ``("travel",)``.
    lex_tolerance
        Relative tolerance with which each lexicographic optimum is fixed: ``lex_tolerance *
        max(|optimum|, 100)`` (the floor keeps HiGHS's MILP answers right when an optimum is near
        zero). The slack it leaves never reaches the results: the tie-sharing step keeps every
        stage's value and values below a thousandth of a pupil are cleaned
        (:mod:`capacity.optimize.clean`).
    sharing
        ``"places"`` (default): where the objective is indifferent (one street's pupils and pools
        at the same distance), pupils are spread over the places open to them in proportion to
        those places, after the last stage and keeping every stage's value
        (:mod:`capacity.optimize.sharing`); ``"enrolment"``: in proportion to the base year's
        pupils of the existing places (the supply's ``enrolled`` column, required then) plus the
        places the plan adds; ``"off"``: the solver's vertex stands.
    expansions_count, expansions_in_places
        Whether expansion options (sites with ``kind = "expansion"``: extra classes at existing
        places) count towards ``new_schools`` and towards ``kindergarten_new_places``
        (default: neither; an expansion is then chosen only where it serves the objective).
        Conversion options (``kind = "conversion"``: private non-inclusive kindergarten places made
        inclusive at ``annual_cost_per_place`` yuan per place per year,
        :mod:`capacity.optimize.conversion`) never count towards either.
    private_min_fill
        Optional share (0-1): existing private kindergarten places keep at least this share of
        their standard places filled every balance year, as far as the pupils who may reach them
        allow (constraint family ``fill``; None = off).
    """

    first_year: int = 2021
    last_year: int = 2030
    plan_start: int = 2021
    plan_end: int = 2025
    new_schools: Mapping[str, int] | None = None
    count_rule: str = "exact"
    kindergarten_new_places: int | None = None
    places_rule: str = "off"
    class_size: Mapping[str, float] | None = None
    max_class_size: Mapping[str, float] | None = None
    grade_class_size: Mapping[int, float] | None = None
    catchment_km: Mapping[str, float | None] | None = None
    target_year: int = 2025
    public_share_min: float | None = None
    inclusive_share_min: float | None = None
    max_openings_per_year: Mapping[str, int] | None = None
    max_cost_per_year: float | None = None
    weights: Mapping[str, float] | None = None
    method: str = "lexicographic"
    kindergarten_level: str = "kindergarten"
    lex_tolerance: float = 1e-7
    equity: bool = True
    objective_order: tuple[str, ...] | None = None
    assignment_stages: tuple[str, ...] = ()
    sharing: str = "places"
    private_min_fill: float | None = None
    expansions_count: bool = False
    expansions_in_places: bool = False


@dataclass(frozen=True)
class SolverOptions:
    """How to solve: ``solver`` is ``"highs"`` (default) or ``"cbc"``; ``time_limit`` in seconds
    (the total budget of all lexicographic stages); ``mip_gap`` relative; ``threads``; ``msg`` prints
    the solver log; ``level_workers``: worker processes that solve independent levels at the same
    time (HiGHS; 1, the default, solves them one after the other in this process;
    :mod:`capacity.optimize.parallel`); ``sub_mip_heuristics``: HiGHS's heuristics that solve a
    smaller MIP (RINS, RENS and the root reduced-cost heuristic) also in the stages whose objective
    counts only the schedule (``schools``, ``places``, ``cost``) and that start from the previous
    stage's schedule. Off by default there: they cost more time than they saved (the same stage
    optima; the needs assessment 25-38% less CPU, the 11-street city's ``cost`` stage 3.1-3.7 s
    instead of 8.0-9.5 s; ``benchmarks/README.md``). The first stage and the stages of pupils
    (shortfall, equity, overcrowding, travel) always have them: there they find the better
    schedules (the 250-street city's ``overcrowding`` stage stopped at a 5% gap after 343 s without
    them, against 0.11% in 54 s with them). ``schedule_restarts``: HiGHS's restarts of the search
    from the root (after it has fixed columns by reduced cost) also in those schedule stages from a
    start; off by default there: HiGHS restarted the root ten times and more to prove a start
    optimal (the needs assessment 10-37% less CPU without them over the shipped scenarios, the same
    schedules; ``benchmarks/README.md``). The other stages always have them."""

    solver: str = "highs"
    time_limit: float | None = 300.0
    mip_gap: float = 1e-4
    threads: int | None = None
    msg: bool = False
    level_workers: int = 1
    sub_mip_heuristics: bool = False
    schedule_restarts: bool = False

    def __post_init__(self):
        for name in ("sub_mip_heuristics", "schedule_restarts"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if isinstance(self.level_workers, bool) or not isinstance(self.level_workers, int) \
                or self.level_workers < 1:
            raise ValueError(f"level_workers must be a whole number >= 1, got {self.level_workers!r}")


class InfeasiblePlan(ValueError):
    """The plan cannot be met; ``problems`` lists one explanation per failed check."""

    def __init__(self, message: str, problems: Sequence[str] = ()):
        super().__init__(message)
        self.problems = tuple(problems) or (message,)


