"""The capacitated p-median recipe of docs/p_median.md, run as written and checked by hand and by
brute force over the candidates."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog

RECIPE = Path(__file__).parents[1] / "docs" / "p_median.md"


def run_recipe() -> dict:
    code = re.search(r"```python\n(.*?)```", RECIPE.read_text(encoding="utf-8"), re.S).group(1)
    env: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, str(RECIPE), "exec"), env)  # noqa: S102 (our own documentation)
    return env


def transport_cost(weight, position, capacity) -> float:
    """Least weighted cost of assigning every weight to the facilities (capacity by location)."""
    pts, fac = list(weight), list(capacity)
    n = len(pts) * len(fac)
    c = [abs(position[i] - position[j]) * 1.0 for i in pts for j in fac]
    A_eq = np.zeros((len(pts), n))
    A_ub = np.zeros((len(fac), n))
    for a, _i in enumerate(pts):
        for b, _j in enumerate(fac):
            A_eq[a, a * len(fac) + b] = 1
            A_ub[b, a * len(fac) + b] = 1
    r = linprog(c, A_ub=A_ub, b_ub=[capacity[j] for j in fac], A_eq=A_eq, b_eq=[weight[i] for i in pts],
                method="highs")
    return r.fun if r.status == 0 else np.inf


def test_recipe_matches_hand_and_brute_force():
    env = run_recipe()
    plan, position, weight = env["plan"], env["position"], env["weight"]
    r = plan.report
    assert r.optimal and r.shortfall == pytest.approx(0.0, abs=1e-9)
    assert plan.schedule["site"].tolist() == ["d"]
    assert r.travel == pytest.approx(20.0)
    assert r.mean_travel == pytest.approx({"any": 20 / 45}) and r.max_travel == pytest.approx({"any": 1.0})
    used = plan.used_facilities()
    assert sorted(used["site_street"]) == ["a", "d"]
    assert used["pupils"].sum() == pytest.approx(45.0)
    # brute force: every candidate as the one new facility
    costs = {c: transport_cost(weight, position, {"a": 20.0, c: 25.0}) for c in "bcd"}
    assert costs == pytest.approx({"b": 75.0, "c": 25.0, "d": 20.0})
    assert r.travel == pytest.approx(min(costs.values()))


def test_site_places_must_be_positive_numbers():
    from capacity.optimize import SchoolPlanModel

    env = run_recipe()
    for bad, message in ((0.0, "site b: places 0 must be > 0"), ("many", "site b: places 'many' is not a number")):
        cand = env["candidates"].astype({"places": object})
        cand.loc[0, "places"] = bad
        with pytest.raises(ValueError, match=message):
            SchoolPlanModel(env["demand"], env["fixed"], cand, env["cost"], env["params"])
