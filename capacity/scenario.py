"""Scenario files: everything a planner may vary, read from TOML into the parameter dataclasses.

A scenario file is TOML (read with :mod:`tomllib`). Top-level keys:

``extends``
    Another scenario file (relative to this one) whose values this file overrides. Tables merge
    key by key (recursively); any other value replaces the inherited one. Chains are allowed,
    cycles are an error. ``name`` and ``description`` are never inherited.
``name``
    The scenario's name (default: the file name without ``.toml``); names the output folder.
``description``
    One or two sentences for the reports.
``data``
    The district folder, relative to the scenario file (the command line's ``--data`` overrides it).
``growth_streets``
    Street codes that get their own demand-and-places charts.

Tables (each key is a field of the dataclass named; omitted keys keep the dataclass default):

``[projection]``
    :class:`capacity.projection.ProjectionAssumptions` (``end_year``, ``fertility_multiplier``,
    ``tfr_path`` = ``{ "2021" = 1.1, ... }``, ``fertility_path`` = ``{ "2023" = 0.75, ... }``,
    ``migration_multiplier``, ``housing_shift_years``,
    ``housing_multiplier``, ``persons_per_dwelling``, ``occupancy_lag_years``, ``district_total``,
    ``infant_survival``).
``[uncertainty]``
    :class:`capacity.projection.Uncertainty` (``draws``, ``fertility_sd``, ``migration_sd``,
    ``seed``, ``percentiles``).
``[enrolment]``
    One rate path per level, :class:`capacity.demand.EnrolmentRates`:
    ``kindergarten = { "2020" = 0.915, "2025" = 0.95 }`` (TOML keys are strings; they are years),
    or per stage (levels sharing ages, ``stage`` in ``levels.csv``): the rate of all its levels
    together, split by ``[stage_share]``.
``[stage_share]``
    A level's share of its stage's pupils by year, e.g. ``vocational = { "2020" = 0.32 }``; every
    level of the stage but one has a share, that one gets the rest.
``[plan]``
    :class:`capacity.optimize.PlanParameters` except the fields below (``first_year``,
    ``last_year``, ``plan_start``, ``plan_end``, ``new_schools``, ``count_rule``,
    ``kindergarten_new_places``, ``places_rule``, ``target_year``, ``public_share_min``,
    ``inclusive_share_min``, ``max_openings_per_year``, ``max_cost_per_year``,
    ``kindergarten_level``).
``[class_size]``
    ``standard`` and ``maximum``: pupils per class by level (``PlanParameters.class_size`` and
    ``max_class_size``); ``grades``: the kindergarten level's pupils per class by grade, keyed by
    age, e.g. ``{ "3" = 25, "4" = 30, "5" = 35 }`` (``PlanParameters.grade_class_size``; ``"off"``
    = one class size for all grades).
``[catchment]``
    km between street points by level (``PlanParameters.catchment_km``): ``0`` = own street only,
    the string ``"district"`` = anywhere in the district.
``[objective]``
    ``method`` (``"lexicographic"`` or ``"weighted"``), ``weights`` (``shortfall``,
    ``overcrowding``, ``travel``, ``cost``, ``early``), ``lex_tolerance``.
``[solver]``
    :class:`capacity.optimize.SolverOptions` (``solver``, ``time_limit``, ``mip_gap``,
    ``threads``, ``msg``, ``level_workers``).
``[robust]`` (optional)
    :class:`capacity.robust.RobustSettings` (``draws``, ``select``, ``pool``, ``measure``,
    ``alpha``, ``evaluation_draws``, ``seed``, ``evaluation_seed``): also optimise one schedule over
    projection futures and compare it with the central plan out of sample.

An optional value (``None`` in Python) is written as the string ``"off"`` (``"district"`` in
``[catchment]``), e.g. ``public_share_min = "off"`` or ``time_limit = "off"``.

The schema is derived from the dataclasses (their fields and type hints), so a new field in a
dataclass is a new scenario key without further code.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import math
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from capacity.demand import EnrolmentRates
from capacity.optimize import (
    DEFAULT_CLASS_SIZE,
    DEFAULT_MAX_CLASS_SIZE,
    DEFAULT_WEIGHTS,
    PlanParameters,
    SolverOptions,
)
from capacity.optimize.sharing import SHARING
from capacity.projection import ProjectionAssumptions, Uncertainty
from capacity.robust import SELECTIONS, RobustSettings
from capacity.textfile import TextEncodingError, read_text

__all__ = ["Scenario", "ScenarioError", "assumptions", "load_scenario", "scenario_keys"]

#: Allowed values of the string options.
COUNT_RULES = ("exact", "at_most")
PLACES_RULES = ("exact", "at_least", "off")
METHODS = ("lexicographic", "weighted")
SOLVERS = ("highs", "cbc")

#: The word that stands for ``None`` (TOML has no null).
OFF = "off"
DISTRICT = "district"


class ScenarioError(ValueError):
    """A scenario file is wrong.

    ``str()`` is one line: ``"<file>, line <n>: <key>: <message> (did you mean '<key>'?)"``.

    Attributes
    ----------
    file : Path or None
        The scenario file that set the offending key (the child or an ``extends`` parent).
    key : str or None
        The dotted key, e.g. ``"plan.new_schools.primary"``.
    line : int or None
        Line of the key in ``file`` when it could be found.
    suggestion : str or None
        The nearest valid key for an unknown key.
    via : Path or None
        The scenario file the user gave when ``file`` is a parent it ``extends`` (the message then
        names both), else None.
    """

    def __init__(self, message: str, *, file=None, key: str | None = None, line: int | None = None,
                 suggestion: str | None = None, via=None):
        self.file = Path(file) if file is not None else None
        self.key = key
        self.line = line
        self.suggestion = suggestion
        self.via = Path(via) if via is not None and Path(via) != self.file else None
        self.reason = message
        where = str(self.file) if self.file is not None else "scenario"
        if line is not None:
            where += f", line {line}"
        text = f"{where}: "
        if key:
            text += f"{key}: "
        text += message
        if suggestion:
            text += f" (did you mean '{suggestion}'?)"
        if self.via is not None:
            text += f" [inherited by {self.via} through 'extends']"
        super().__init__(text)

    def inherited_by(self, path) -> ScenarioError:
        """The same error, also naming ``path``, the file that extends :attr:`file`."""
        if path is None or self.via is not None or self.file is None or Path(path) == self.file:
            return self
        return ScenarioError(self.reason, file=self.file, key=self.key, line=self.line,
                             suggestion=self.suggestion, via=path)


@dataclass(frozen=True)
class Scenario:
    """One scenario: the parameters of every stage.

    Attributes
    ----------
    name : str
        File stem unless the file sets ``name``.
    path : Path or None
        The scenario file (None for a scenario built in code).
    description : str
    data : Path or None
        District folder given by the file (absolute, resolved against the file that set it).
    projection : ProjectionAssumptions
    uncertainty : Uncertainty
    enrolment : EnrolmentRates
    plan : PlanParameters
    solver : SolverOptions
    growth_streets : tuple of str
        Street codes for the per-street demand charts.
    robust : RobustSettings or None
        The ``[robust]`` table (None: no robust plan).
    sources : Mapping[str, Path]
        Dotted key -> the file that set it (for error messages); not part of equality.
    """

    name: str
    path: Path | None = None
    description: str = ""
    data: Path | None = None
    projection: ProjectionAssumptions = field(default_factory=ProjectionAssumptions)
    uncertainty: Uncertainty = field(default_factory=Uncertainty)
    enrolment: EnrolmentRates = field(default_factory=lambda: EnrolmentRates(paths={}))
    plan: PlanParameters = field(default_factory=PlanParameters)
    solver: SolverOptions = field(default_factory=SolverOptions)
    growth_streets: tuple[str, ...] = ()
    robust: RobustSettings | None = None
    sources: Mapping[str, Path] = field(default_factory=dict, compare=False, repr=False)

    def source_of(self, key: str) -> Path | None:
        """The file that set ``key`` (or its nearest parent table); the scenario file otherwise."""
        parts = key.split(".")
        for i in range(len(parts), 0, -1):
            p = self.sources.get(".".join(parts[:i]))
            if p is not None:
                return p
        return self.path

    def error(self, key: str, message: str, choices=()) -> ScenarioError:
        """A :class:`ScenarioError` about ``key``, naming the file (and line) that set it.

        ``choices`` are valid alternatives for the last part of ``key``; the closest one is
        suggested.
        """
        file = self.source_of(key)
        last = key.rsplit(".", 1)[-1]
        near = difflib.get_close_matches(last, [str(c) for c in choices], n=1, cutoff=0.5)
        suggestion = key.rsplit(".", 1)[0] + "." + near[0] if near and "." in key else (
            near[0] if near else None)
        # a value given on the command line (``--vary``) is not inherited through ``extends``
        via = None if file is not None and str(file).startswith("--") else self.path
        return ScenarioError(message, file=file, key=key, line=_find_line(file, key),
                             suggestion=suggestion, via=via)


# ------------------------------------------------------------------------------------------------
# schema, derived from the dataclasses


@dataclass(frozen=True)
class _Leaf:
    """A value converted by its type hint; ``target`` = (section attribute, field name)."""

    hint: object
    target: tuple[str, str]
    none_word: str = OFF


def _fields(cls, section: str, exclude=()) -> dict[str, _Leaf]:
    hints = typing.get_type_hints(cls)
    return {f.name: _Leaf(hints[f.name], (section, f.name))
            for f in dataclasses.fields(cls) if f.name not in exclude}


def _plan_hint(name: str):
    return typing.get_type_hints(PlanParameters)[name]


_PLAN_ELSEWHERE = ("class_size", "max_class_size", "grade_class_size", "catchment_km", "weights", "method", "lex_tolerance")

_TOP: dict[str, _Leaf] = {
    "extends": _Leaf(str, ("", "extends")),
    "name": _Leaf(str, ("", "name")),
    "description": _Leaf(str, ("", "description")),
    "data": _Leaf(str, ("", "data")),
    "growth_streets": _Leaf(tuple[str, ...], ("", "growth_streets")),
}

#: Section -> key -> leaf (a leaf whose hint is a Mapping takes a whole TOML table).
SCHEMA: dict[str, dict[str, _Leaf] | _Leaf] = {
    "projection": _fields(ProjectionAssumptions, "projection"),
    "uncertainty": _fields(Uncertainty, "uncertainty"),
    "enrolment": _Leaf(typing.get_type_hints(EnrolmentRates)["paths"], ("enrolment", "paths")),
    "stage_share": _Leaf(typing.get_type_hints(EnrolmentRates)["shares"], ("enrolment", "shares")),
    "plan": _fields(PlanParameters, "plan", exclude=_PLAN_ELSEWHERE),
    "class_size": {
        "standard": _Leaf(_plan_hint("class_size"), ("plan", "class_size")),
        "maximum": _Leaf(_plan_hint("max_class_size"), ("plan", "max_class_size")),
        "grades": _Leaf(_plan_hint("grade_class_size"), ("plan", "grade_class_size")),
    },
    "catchment": _Leaf(_plan_hint("catchment_km"), ("plan", "catchment_km"), none_word=DISTRICT),
    "objective": {
        "method": _Leaf(_plan_hint("method"), ("plan", "method")),
        "weights": _Leaf(_plan_hint("weights"), ("plan", "weights")),
        "lex_tolerance": _Leaf(_plan_hint("lex_tolerance"), ("plan", "lex_tolerance")),
    },
    "solver": _fields(SolverOptions, "solver"),
    "robust": _fields(RobustSettings, "robust"),
}


def scenario_keys() -> list[str]:
    """Every valid dotted key (tables given by level or year end in ``.*``)."""
    keys = list(_TOP)
    for section, spec in SCHEMA.items():
        if isinstance(spec, _Leaf):
            keys.append(f"{section}.*")
        else:
            for k, leaf in spec.items():
                keys.append(f"{section}.{k}" + (".*" if _is_mapping(leaf.hint) else ""))
    return keys


# ------------------------------------------------------------------------------------------------
# conversion by type hint


class _Bad(Exception):
    """A conversion error at ``key`` (dotted), turned into a ScenarioError by the caller."""

    def __init__(self, key: str, message: str, choices=()):
        super().__init__(message)
        self.key = key
        self.message = message
        self.choices = choices


def _is_mapping(hint) -> bool:
    return any(typing.get_origin(h) in (Mapping, dict) for h in _union_args(hint))


def _union_args(hint) -> tuple:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _type_name(hint) -> str:
    args = [a for a in _union_args(hint) if a is not type(None)]
    names = []
    for a in args:
        origin = typing.get_origin(a)
        if origin in (Mapping, dict):
            names.append("a table")
        elif origin is tuple:
            names.append("an array")
        else:
            names.append({int: "an integer", float: "a number", str: "a string",
                          bool: "true or false"}.get(a, str(a)))
    return " or ".join(names)


def _got(value) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", dict: "table",
            list: "array"}.get(type(value), type(value).__name__)
    return f"got {value!r} ({kind})" if not isinstance(value, (dict, list)) else f"got a {kind}"


def _convert(value, hint, key: str, none_word: str = OFF):
    """Convert a TOML value to the Python type ``hint`` (int, float, str, bool, X | None,
    Mapping[K, V], tuple[X, ...]); raise :class:`_Bad` naming ``key``."""
    args = _union_args(hint)
    if len(args) > 1:
        optional = type(None) in args
        rest = [a for a in args if a is not type(None)]
        if optional and value == none_word:
            return None
        if len(rest) == 1:
            try:
                return _convert(value, rest[0], key, none_word)
            except _Bad as exc:
                if optional and exc.key == key:
                    raise _Bad(key, f"expected {_type_name(hint)} or \"{none_word}\", {_got(value)}") from None
                raise
        raise TypeError(f"unsupported type hint {hint}")  # pragma: no cover
    origin = typing.get_origin(hint)
    if origin in (Mapping, dict):
        ktype, vtype = typing.get_args(hint)
        if not isinstance(value, dict):
            raise _Bad(key, f"expected a table, {_got(value)}")
        out = {}
        for k, v in value.items():
            sub = f"{key}.{k}"
            if ktype is int:
                if not re.fullmatch(r"-?\d+", str(k).strip()):
                    what = "an age in years" if key == "class_size.grades" else "a year"
                    raise _Bad(sub, f"the key must be {what} (an integer in quotes), got {k!r}")
                kk = int(k)
            else:
                kk = str(k)
            out[kk] = _convert(v, vtype, sub, none_word)
        return out
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if not isinstance(value, list):
            raise _Bad(key, f"expected an array, {_got(value)}")
        return tuple(_convert(v, item, f"{key}.{i}", none_word) for i, v in enumerate(value))
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise _Bad(key, f"expected a finite number, {_got(value)}")
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover
        raise TypeError(f"unsupported type hint {hint}")
    raise _Bad(key, f"expected {_type_name(hint)}, {_got(value)}")


# ------------------------------------------------------------------------------------------------
# value checks (after conversion); patterns match dotted keys, ``*`` = one level or year


def _ge(lo):
    return lambda v: None if v >= lo else f"must be at least {lo}, got {v!r}"


def _gt(lo):
    return lambda v: None if v > lo else f"must be greater than {lo}, got {v!r}"


def _whole_gt(lo):
    return lambda v: None if v > lo and float(v) == round(v) else (
        f"must be a whole number of pupils greater than {lo}, got {v!r}")


def _between(lo, hi):
    return lambda v: None if lo <= v <= hi else f"must be between {lo} and {hi}, got {v!r}"


def _one_of(*allowed):
    def check(v):
        if v in allowed:
            return None
        return f"must be one of {', '.join(repr(a) for a in allowed)}, got {v!r}"
    check.allowed = allowed
    return check


_CHECKS: list[tuple[str, Callable]] = [
    ("projection.end_year", _between(1900, 2300)),
    ("projection.fertility_multiplier", _ge(0)),
    ("projection.tfr_path.*", _between(0, 10)),
    ("projection.migration_multiplier", _ge(0)),
    ("projection.housing_multiplier", _ge(0)),
    ("projection.persons_per_dwelling", _between(0, 20)),
    ("projection.occupancy_lag_years", _between(0, 50)),
    ("projection.housing_shift_years", _between(-50, 50)),
    ("projection.district_total.*", _gt(0)),
    ("projection.infant_survival", _between(0, 1)),
    ("uncertainty.draws", _between(0, 100_000)),
    ("uncertainty.fertility_sd", _between(0, 5)),
    ("uncertainty.migration_sd", _between(0, 5)),
    ("uncertainty.fertility_year_sd", _between(0, 5)),
    ("uncertainty.fertility_year_rho", _between(0, 1)),
    ("uncertainty.migration_street_sd", _between(0, 5)),
    ("uncertainty.housing_delay_mean", _between(0, 50)),
    ("uncertainty.housing_cut_probability", _between(0, 1)),
    ("uncertainty.housing_cut_share", _between(0, 1)),
    ("uncertainty.population_street_sd", _between(0, 5)),
    ("uncertainty.seed", _ge(0)),
    ("uncertainty.percentiles.*", _between(0, 100)),
    ("enrolment.*.*", _between(0, 2)),
    ("stage_share.*.*", _between(0, 1)),
    ("projection.fertility_path.*", _between(0, 10)),
    ("plan.first_year", _between(1900, 2300)),
    ("plan.new_schools.*", _ge(0)),
    ("plan.count_rule", _one_of(*COUNT_RULES)),
    ("plan.places_rule", _one_of(*PLACES_RULES)),
    ("plan.kindergarten_new_places", _ge(0)),
    ("plan.public_share_min", _between(0, 1)),
    ("plan.inclusive_share_min", _between(0, 1)),
    ("plan.max_openings_per_year.*", _ge(0)),
    ("plan.max_cost_per_year", _ge(0)),
    ("plan.sharing", _one_of(*SHARING)),
    ("plan.private_min_fill", _between(0, 1)),
    ("class_size.standard.*", _gt(0)),
    ("class_size.maximum.*", _gt(0)),
    ("class_size.grades.*", _whole_gt(0)),
    ("catchment.*", _ge(0)),
    ("objective.method", _one_of(*METHODS)),
    ("objective.weights.*", _ge(0)),
    ("objective.lex_tolerance", _between(0, 0.1)),
    ("solver.solver", _one_of(*SOLVERS)),
    ("solver.time_limit", _gt(0)),
    ("solver.mip_gap", _between(0, 1)),
    ("solver.threads", _ge(1)),
    ("solver.level_workers", _ge(1)),
    ("robust.draws", _between(1, 10_000)),
    ("robust.select", _one_of(*SELECTIONS)),
    ("robust.pool", _between(1, 100_000)),
    ("robust.measure", _one_of("expected", "cvar")),
    ("robust.alpha", lambda v: None if 0 <= v < 1 else f"must be at least 0 and below 1, got {v!r}"),
    ("robust.evaluation_draws", _between(1, 100_000)),
    ("robust.seed", _ge(0)),
    ("robust.evaluation_seed", _ge(0)),
]


def _walk(value, key: str):
    """Yield (dotted key, leaf value) of a converted nested value."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk(v, f"{key}.{k}")
    elif isinstance(value, tuple):
        for i, v in enumerate(value):
            yield from _walk(v, f"{key}.{i}")
    else:
        yield key, value


# ------------------------------------------------------------------------------------------------
# reading and merging files


def _find_line(path, key: str) -> int | None:
    """Best-effort line of ``key`` (dotted) in a TOML file: the line that defines the longest
    prefix of the key (a ``key = ...`` line or a ``[table]`` header)."""
    if path is None:
        return None
    try:
        lines = read_text(path).splitlines()
    except (OSError, TextEncodingError):
        return None
    want = key.split(".")
    table: list[str] = []
    best, best_len = None, 0

    def parts(text: str) -> list[str]:
        return [p.strip().strip('"').strip("'") for p in text.split(".")]

    for n, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", line)
        if m:
            table = parts(m.group(1))
            full = table
        else:
            m = re.match(r"""^((?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*=""", line)
            if not m:
                continue
            full = table + parts(m.group(1))
            # keys of an inline table on the same line
            rest = line[m.end():]
            for k in re.findall(r"""(?:^|[{,])\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)\s*=""", rest):
                inner = [*full, k.strip('"').strip("'")]
                if want[: len(inner)] == inner and len(inner) > best_len:
                    best, best_len = n, len(inner)
        if want[: len(full)] == full and len(full) > best_len:
            best, best_len = n, len(full)
    return best


def _read_toml(path: Path) -> dict:
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise ScenarioError("no such scenario file", file=path) from None
    except IsADirectoryError:
        raise ScenarioError("is a folder, not a scenario file", file=path) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read the file ({exc.strerror})", file=path) from None
    except TextEncodingError as exc:
        raise ScenarioError(exc.reason, file=path, line=exc.line) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        line = int(m.group(1)) if m else None
        if m:
            msg += f" (column {m.group(2)})"
        raise ScenarioError(f"not valid TOML: {msg}", file=path, line=line) from None


def _mark(table: dict, file: Path, prefix: str, sources: dict) -> None:
    for k, v in table.items():
        key = f"{prefix}{k}"
        sources[key] = file
        if isinstance(v, dict):
            _mark(v, file, key + ".", sources)


def _merge(base: dict, child: dict, file: Path, prefix: str, sources: dict) -> dict:
    out = dict(base)
    for k, v in child.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            sources[key] = file
            out[k] = _merge(out[k], v, file, key + ".", sources)
        else:
            # drop what the parent set below this key
            for s in [s for s in sources if s.startswith(key + ".")]:
                del sources[s]
            sources[key] = file
            out[k] = v
            if isinstance(v, dict):
                _mark(v, file, key + ".", sources)
    return out


def _resolve(path: Path, chain: tuple[Path, ...], sources: dict) -> dict:
    """Read ``path`` and what it extends; merged dict (with ``data`` made absolute)."""
    path = path.resolve() if path.exists() else path
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError(f"'extends' makes a cycle: {cycle}", file=chain[-1], key="extends",
                            line=_find_line(chain[-1], "extends"))
    raw = _read_toml(path)
    if "data" in raw and isinstance(raw["data"], str):
        raw["data"] = str((path.parent / raw["data"]).resolve())
    parent = raw.pop("extends", None)
    for k in ("name", "description"):
        if k in raw and chain:  # not inherited
            raw.pop(k)
    if parent is None:
        _mark(raw, path, "", sources)
        return raw
    if not isinstance(parent, str):
        raise ScenarioError(f"expected a file name (a string), {_got(parent)}", file=path,
                            key="extends", line=_find_line(path, "extends"))
    parent_path = path.parent / parent
    if not parent_path.exists():
        raise ScenarioError(f"the file it extends does not exist: {parent_path}", file=path,
                            key="extends", line=_find_line(path, "extends"))
    base = _resolve(parent_path, (*chain, path), sources)
    return _merge(base, raw, path, "", sources)


# ------------------------------------------------------------------------------------------------


def load_scenario(path, overrides: Mapping[str, object] | None = None, *,
                  origin: str = "--vary") -> Scenario:
    """Read a scenario file (and the files it ``extends``).

    Parameters
    ----------
    path : str or Path
        The ``.toml`` file.
    overrides : mapping, optional
        Dotted key -> TOML value (``{"projection.fertility_multiplier": 0.8,
        "enrolment.kindergarten.2025": 0.97}``), applied on top of the file as if a child file
        ``extends``-ed it, then checked exactly like values in a file.
    origin : str
        What error messages name as the source of an override (default ``"--vary"``, the
        sweep's command-line argument).

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        Missing file, invalid TOML, unknown key (with the nearest valid key), wrong type, value
        out of range, an ``extends`` cycle; the message names the key, the file and the line.

    Examples
    --------
    >>> s = load_scenario("scenarios/low_fertility.toml")        # doctest: +SKIP
    >>> s.projection.fertility_multiplier                          # doctest: +SKIP
    0.8
    """
    path = Path(path)
    sources: dict[str, Path] = {}
    try:
        merged = _resolve(path, (), sources)
    except ScenarioError as exc:  # in a parent file: name the file the user gave too
        raise exc.inherited_by(path.resolve() if path.exists() else path) from None
    path = path.resolve() if path.exists() else path
    if overrides:
        merged = _override(merged, overrides, Path(origin), sources)

    def err(key, message, choices=()) -> ScenarioError:
        return Scenario(name="", path=path, sources=sources).error(key, message, choices)

    # structure and types
    values: dict[str, dict[str, object]] = {"": {}, "projection": {}, "uncertainty": {},
                                            "enrolment": {}, "plan": {}, "solver": {}, "robust": {}}
    converted: dict[str, object] = {}  # dotted section.key -> value, for the value checks
    try:
        for top, value in merged.items():
            if top in _TOP:
                converted[top] = values[""][top] = _convert(value, _TOP[top].hint, top)
                continue
            spec = SCHEMA.get(top)
            if spec is None:
                raise _Bad(top, "unknown key" + (" (a table)" if isinstance(value, dict) else ""),
                           [*_TOP, *SCHEMA])
            if isinstance(spec, _Leaf):
                v = _convert(value, spec.hint, top, spec.none_word)
                values[spec.target[0]][spec.target[1]] = v
                converted[top] = v
                continue
            if not isinstance(value, dict):
                raise _Bad(top, f"expected a table [{top}], {_got(value)}")
            for k, v in value.items():
                leaf = spec.get(k)
                if leaf is None:
                    raise _Bad(f"{top}.{k}", "unknown key", list(spec))
                cv = _convert(v, leaf.hint, f"{top}.{k}", leaf.none_word)
                values[leaf.target[0]][leaf.target[1]] = cv
                converted[f"{top}.{k}"] = cv
    except _Bad as exc:
        raise err(exc.key, exc.message, exc.choices) from None

    # values
    for top_key, value in converted.items():
        for key, v in _walk(value, top_key):
            if v is None or isinstance(v, bool):
                continue
            for pattern, check in _CHECKS:
                if fnmatch.fnmatchcase(key, pattern) and key.count(".") == pattern.count("."):
                    message = check(v)
                    if message:
                        raise err(key, message)
    weights = values["plan"].get("weights") or {}
    for k in weights:
        if k not in DEFAULT_WEIGHTS:
            raise err(f"objective.weights.{k}", "unknown weight", list(DEFAULT_WEIGHTS))

    top = values[""]
    data = top.get("data")
    scenario = Scenario(
        name=top.get("name") or path.stem,
        path=path,
        description=" ".join(str(top.get("description", "")).split()),
        data=Path(data) if data else None,
        projection=ProjectionAssumptions(**values["projection"]),
        uncertainty=Uncertainty(**values["uncertainty"]),
        enrolment=EnrolmentRates(paths=values["enrolment"].get("paths", {}),
                                 shares=values["enrolment"].get("shares", {})),
        plan=PlanParameters(**values["plan"]),
        solver=SolverOptions(**values["solver"]),
        growth_streets=tuple(top.get("growth_streets", ())),
        robust=RobustSettings(**values["robust"]) if "robust" in merged else None,
        sources=sources,
    )
    _cross_checks(scenario)
    return scenario


_NOT_ASSUMPTIONS = ("extends", "name", "description")


def _override(merged: dict, overrides: Mapping[str, object], origin: Path, sources: dict) -> dict:
    """``merged`` with the dotted-key ``overrides`` set (as a child file would set them)."""
    for key, value in overrides.items():
        parts = str(key).split(".")
        if not all(p.strip() for p in parts):
            raise ScenarioError("not a scenario key (dotted, e.g. projection.fertility_multiplier)",
                                file=origin, key=str(key))
        if parts[0] in _NOT_ASSUMPTIONS:
            raise ScenarioError("cannot be overridden (it is not an assumption)", file=origin,
                                key=str(key))
        table = merged
        for i, part in enumerate(parts[:-1]):
            prefix = ".".join(parts[: i + 1])
            sources.setdefault(prefix, origin)
            if not isinstance(table.get(part), dict):
                table[part] = {}
            table = table[part]
        table[parts[-1]] = value
        for s in [s for s in sources if s.startswith(key + ".")]:
            del sources[s]
        sources[key] = origin
    return merged


def _value_key(section: str, leaf: _Leaf, value, out: dict) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _value_key(f"{section}.{k}", leaf, v, out)
    elif isinstance(value, tuple):
        out[section] = list(value)
    else:
        out[section] = leaf.none_word if value is None else value


def assumptions(scenario: Scenario) -> dict[str, object]:
    """Every assumption of a scenario by dotted scenario key, in the file's notation.

    Tables by level or year are flattened (``class_size.standard.primary``,
    ``enrolment.kindergarten.2025``); ``None`` is written as in a file (``"off"``, ``"district"``
    for ``[catchment]``); arrays are lists. ``data`` is the district folder (a string) when set;
    ``name``, ``description`` and ``growth_streets`` are left out (they change no result).

    Returns
    -------
    dict
        Dotted key -> value, in schema order.
    """
    out: dict[str, object] = {}
    if scenario.data is not None:
        out["data"] = str(scenario.data)
    for section, spec in SCHEMA.items():
        leaves = {section: spec} if isinstance(spec, _Leaf) else {
            f"{section}.{k}": leaf for k, leaf in spec.items()}
        for key, leaf in leaves.items():
            part = getattr(scenario, leaf.target[0])
            if part is None:            # an optional table the scenario does not have ([robust])
                continue
            _value_key(key, leaf, getattr(part, leaf.target[1]), out)
    return out


def _cross_checks(s: Scenario) -> None:
    """Checks between keys (each error names the key that would fix it)."""
    a = s.projection
    if a.tfr_path is not None:
        for other, value in (("fertility_multiplier", a.fertility_multiplier if
                              a.fertility_multiplier != 1.0 else None),
                             ("fertility_path", a.fertility_path)):
            if value is not None:
                where = s.source_of(f"projection.{other}")
                raise s.error("projection.tfr_path",
                              f"projection.tfr_path and projection.{other} are both set (the "
                              f"latter in {where.name if where else 'this file'}): give one of "
                              f"them" + (f' (set {other} = "off")' if other == "fertility_path"
                                         else f" (set {other} = 1.0)"))
    p = s.plan
    if p.first_year > p.last_year:
        raise s.error("plan.last_year", f"must not be before plan.first_year ({p.first_year}), "
                                        f"got {p.last_year}")
    if p.plan_start > p.plan_end:
        raise s.error("plan.plan_end", f"must not be before plan.plan_start ({p.plan_start}), "
                                       f"got {p.plan_end}")
    if s.projection.end_year < p.last_year:
        raise s.error("projection.end_year", f"must be at least plan.last_year ({p.last_year}): "
                                             f"the plan is evaluated to that year; got "
                                             f"{s.projection.end_year}")
    if not p.first_year <= p.target_year <= p.last_year:
        raise s.error("plan.target_year", f"must lie in the evaluated years {p.first_year}-"
                                          f"{p.last_year}, got {p.target_year}")
    if p.places_rule != "off" and p.kindergarten_new_places is None:
        raise s.error("plan.kindergarten_new_places",
                      f"is needed when plan.places_rule = {p.places_rule!r} (or set places_rule "
                      f"= \"off\")")
    std = {**DEFAULT_CLASS_SIZE, **(p.class_size or {})}
    mx = {**DEFAULT_MAX_CLASS_SIZE, **(p.max_class_size or {})}
    for level in sorted(set(std) & set(mx)):
        if mx[level] < std[level]:
            key = (f"class_size.maximum.{level}" if level in (p.max_class_size or {})
                   else f"class_size.standard.{level}")
            raise s.error(key, f"the maximum class size ({mx[level]:g}) is below the standard "
                               f"class size ({std[level]:g}) for {level}")
    r = s.robust
    if r is not None:
        if r.select == "kmedoids" and r.pool < r.draws:
            raise s.error("robust.pool", f"must be at least robust.draws ({r.draws}) for select = "
                                         f"\"kmedoids\", got {r.pool}")
        seed = s.uncertainty.seed if r.seed is None else r.seed
        if r.evaluation_seed is not None and r.evaluation_seed == seed:
            raise s.error("robust.evaluation_seed", f"must differ from the in-sample seed ({seed}): the "
                                                    "evaluation needs draws the optimisation did not see")
    for level, path in s.enrolment.paths.items():
        if not path:
            raise s.error(f"enrolment.{level}", "give at least one year and rate, e.g. "
                                                '{ "2020" = 1.0 }')
