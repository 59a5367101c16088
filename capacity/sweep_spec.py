"""The runs of a sensitivity sweep: the ``--vary KEY=VALUES`` argument and the variants it makes.

``KEY`` is any scenario key; ``VALUES`` a comma list (``0.7,0.85,1``) or a range ``lo:hi:n``.
Each value is read as a TOML value and every variant is built by
:func:`capacity.scenario.load_scenario` with overrides, so a wrong key or value is the same
one-line :class:`~capacity.scenario.ScenarioError` as in a scenario file, naming ``--vary``.
One at a time (default): the scenario itself, then each key's values that change it; ``grid``:
every combination. Variants with the same parameters are listed once. Running them is
:mod:`capacity.sweep`.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from capacity.scenario import Scenario, ScenarioError, assumptions, load_scenario

__all__ = ["ORIGIN", "SweepRun", "Vary", "parse_vary", "sweep_runs"]

#: What error messages name as the source of a varied value.
ORIGIN = "--vary"


@dataclass(frozen=True)
class Vary:
    """One varied assumption: a scenario key and its values (TOML-typed, in the order given)."""

    key: str
    values: tuple


_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


def _error(message: str, key: str | None = None) -> ScenarioError:
    return ScenarioError(message, file=ORIGIN, key=key)


def _toml_value(text: str):
    """A value as TOML reads it (``1`` int, ``0.8`` float, ``true``, ``"x"``); a bare word that is
    not TOML (``off``, ``weighted``) is a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _range(key: str, text: str) -> tuple:
    lo_t, hi_t, n_t = text.split(":")
    if not re.fullmatch(r"\d+", n_t.strip()) or int(n_t) < 1:
        raise _error(f"a range is lo:hi:n with n a whole number of values >= 1, got {text!r}", key)
    n = int(n_t)
    lo, hi = float(lo_t), float(hi_t)
    values = np.linspace(lo, hi, n)
    ints = all(re.fullmatch(r"[+-]?\d+", t.strip()) for t in (lo_t, hi_t))
    if ints and np.allclose(values, np.round(values)):
        return tuple(int(round(v)) for v in values)
    return tuple(float(round(v, 10)) for v in values)


def parse_vary(text: str) -> Vary:
    """Read one ``KEY=VALUES`` argument.

    Parameters
    ----------
    text : str
        ``KEY=v1,v2,...`` or ``KEY=lo:hi:n`` (``n`` values from ``lo`` to ``hi`` inclusive; whole
        numbers stay integers when ``lo`` and ``hi`` are written without a decimal point and every
        value is whole).

    Returns
    -------
    Vary

    Raises
    ------
    ScenarioError
        ``--vary: ...`` for a missing ``=``, no values, a bad range or a value given twice. Whether
        the key exists and the values fit it is checked by :func:`sweep_runs` (with the scenario).

    Examples
    --------
    >>> parse_vary("projection.fertility_multiplier=0.8,1,1.2").values
    (0.8, 1, 1.2)
    >>> parse_vary("projection.housing_shift_years=-2:2:5").values
    (-2, -1, 0, 1, 2)
    """
    if "=" not in text:
        raise _error(f"expected KEY=VALUES (e.g. projection.fertility_multiplier=0.8,1,1.2), "
                     f"got {text!r}")
    key, _, rest = text.partition("=")
    key = key.strip()
    if not key:
        raise _error(f"no key before '=' in {text!r}")
    rest = rest.strip()
    if re.fullmatch(rf"\s*{_NUMBER}\s*:\s*{_NUMBER}\s*:\s*[^:]+", rest):
        values = _range(key, rest)
    else:
        items = [v.strip() for v in rest.split(",")]
        if not rest or any(not v for v in items):
            raise _error(f"give values separated by commas or a range lo:hi:n, got {rest!r}", key)
        values = tuple(_toml_value(v) for v in items)
    seen = []
    for v in values:
        if any(v == s and type(v) is type(s) for s in seen):
            raise _error(f"the value {v!r} is given twice", key)
        seen.append(v)
    return Vary(key=key, values=values)


# ------------------------------------------------------------------------------------------------
# runs


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep.

    Attributes
    ----------
    run : int
        Number of the run (0 = the first listed; the baseline in a one-at-a-time sweep).
    values : Mapping[str, object]
        Every varied key -> its value in this run (the scenario's own value where not varied;
        ``None`` if the scenario leaves the key to the model's default).
    changed : tuple of str
        The varied keys whose value differs from the scenario's (empty for the baseline run).
    scenario : Scenario
    """

    run: int
    values: Mapping[str, object]
    changed: tuple[str, ...]
    scenario: Scenario = field(repr=False)


def _same(a: Scenario, b: Scenario) -> bool:
    return all(getattr(a, f) == getattr(b, f)
               for f in ("data", "projection", "uncertainty", "enrolment", "plan", "solver"))


def sweep_runs(scenario_path, varies: Sequence[Vary], *, grid: bool = False) -> list[SweepRun]:
    """The runs of a sweep, each a scenario checked like a scenario file.

    Parameters
    ----------
    scenario_path : str or Path
        The scenario file the sweep starts from.
    varies : sequence of Vary
        The varied keys (each key once).
    grid : bool
        Every combination of the values (True) or one key at a time (False).

    Returns
    -------
    list of SweepRun
        One at a time: the baseline run first, then each key's values in the order given (values
        equal to the scenario's own are the baseline run). Grid: the combinations in the order of
        :func:`itertools.product`. Variants with the same parameters as an earlier one are left
        out.

    Raises
    ------
    ScenarioError
        A key given twice, an unknown key, a wrong value: ``--vary: <key>: <message>``.
    """
    keys = [v.key for v in varies]
    for k in keys:
        if keys.count(k) > 1:
            raise _error("varied twice; give all its values in one --vary", k)
    if not varies:
        raise _error("give at least one --vary KEY=VALUES")
    base = load_scenario(scenario_path)
    base_values = assumptions(base)
    own = {k: base_values.get(k) for k in keys}
    # which single values leave the scenario as it is (e.g. 1 for fertility_multiplier = 1.0)
    is_base = {v.key: [_same(load_scenario(scenario_path, {v.key: x}, origin=ORIGIN), base)
                       for x in v.values] for v in varies}
    if grid:
        combos = [dict(zip(keys, c, strict=True)) for c in itertools.product(*(v.values for v in varies))]
    else:
        combos = [{}] + [{v.key: x} for v in varies for x, b in zip(v.values, is_base[v.key], strict=True)
                         if not b]
    runs: list[SweepRun] = []
    for combo in combos:
        s = load_scenario(scenario_path, combo, origin=ORIGIN) if combo else base
        if any(_same(s, r.scenario) for r in runs):
            continue
        changed = tuple(v.key for v in varies if v.key in combo
                        and not is_base[v.key][v.values.index(combo[v.key])])
        values = {k: combo.get(k, own[k]) for k in keys}
        for k in changed:  # written as the scenario file would be (e.g. None as "off")
            values[k] = assumptions(s).get(k, values[k])
        runs.append(SweepRun(run=len(runs), values=values, changed=changed, scenario=s))
    return runs


