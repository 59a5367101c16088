"""Sharing in proportion to the base year's enrolment (``sharing = "enrolment"``): hand-checked
instances and one test per bad input."""

from __future__ import annotations

import pandas as pd
import pytest

from capacity.optimize import SchoolPlanModel, SolverOptions
from tests.test_sharing import KG, by_type, kg_instance, kg_params

OPTS = SolverOptions(time_limit=30, mip_gap=0.0, threads=1)


def with_enrolment(pupils, enrolled, **kw):
    # 60 public, 30 private inclusive and 30 private non-inclusive places in street A
    demand, supply, sites, dist = kg_instance(pupils, **kw)
    supply["enrolled"] = enrolled
    return demand, supply, sites, dist


def test_ties_follow_the_base_year_enrolment():
    # 60 children; in the base year 30 were in the public places, 20 in the private inclusive and
    # 10 in the private non-inclusive ones: 30 / 20 / 10 (by places it would be 30 / 15 / 15)
    plan = SchoolPlanModel(*with_enrolment(60, [30, 20, 10]), kg_params(sharing="enrolment")).solve(OPTS).plan
    assert by_type(plan) == pytest.approx({"public:inclusive": 30.0, "private:inclusive": 20.0,
                                           "private:non-inclusive": 10.0}, abs=1e-6)
    by_places = SchoolPlanModel(*with_enrolment(60, [30, 20, 10]), kg_params()).solve(OPTS).plan
    assert by_type(by_places)["private:inclusive"] == pytest.approx(15.0, abs=1e-6)


def test_new_places_join_the_basis_at_their_places():
    # a new public kindergarten of 1 class (30 places) must open: the basis is 30 + 30 (public,
    # enrolment + new places), 20, 10; 90 children -> 90 x 60/90 = 60, 20, 10
    demand, supply, _, dist = with_enrolment(90, [30, 20, 10])
    sites = pd.DataFrame([("N1", "A", KG, 2021, "1", 1.0)],
                         columns=["site", "street", "level", "earliest_year", "sizes", "cost_per_class"])
    p = kg_params(sharing="enrolment", new_schools={KG: 1}, count_rule="exact")
    plan = SchoolPlanModel(demand, supply, sites, dist, p).solve(OPTS).plan
    got = plan.assignment.groupby("site")["pupils"].sum()
    assert got["existing:A:public:inclusive"] + got["N1"] == pytest.approx(60.0, abs=1e-6)
    assert got["existing:A:private:inclusive"] == pytest.approx(20.0, abs=1e-6)
    assert got["existing:A:private:non-inclusive"] == pytest.approx(10.0, abs=1e-6)


def test_enrolment_sharing_needs_the_column():
    with pytest.raises(ValueError, match="sharing = 'enrolment' needs the base year's pupils per supply "
                                         "row \\(column enrolled\\); the supply has none"):
        SchoolPlanModel(*kg_instance(60), kg_params(sharing="enrolment"))


def test_enrolment_sharing_needs_every_row():
    with pytest.raises(ValueError, match="supply row 2 \\(street A, level kindergarten\\): enrolled nan "
                                         "must be pupils >= 0"):
        SchoolPlanModel(*with_enrolment(60, [30, None, 10]), kg_params(sharing="enrolment"))


def test_enrolment_column_ignored_by_place_sharing():
    # the column may be there (and incomplete) when sharing is by places
    plan = SchoolPlanModel(*with_enrolment(60, [30, None, 10]), kg_params()).solve(OPTS).plan
    assert by_type(plan)["public:inclusive"] == pytest.approx(30.0, abs=1e-6)


# ------------------------------------------------------------------------------------------------
# the district files and the scenario (command line)


def _tiny_with_enrolled(tmp_path, values):
    import shutil

    from tests.test_cli import TINY

    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    lines = (folder / "supply.csv").read_text(encoding="utf-8").splitlines()
    out = [lines[0] + ",enrolled"] + [f"{row},{v}" for row, v in zip(lines[1:], values, strict=True)]
    (folder / "supply.csv").write_text("\n".join(out) + "\n", encoding="utf-8")
    return folder


def test_supply_enrolled_must_be_pupils(tmp_path, capsys):
    from capacity.cli import main
    from tests.test_cli import error_line

    folder = _tiny_with_enrolled(tmp_path, [50, 20, -3, 150, 150])
    assert main(["validate", str(folder), "-q"]) == 1
    line = error_line(capsys)
    assert "supply.csv" in line and "line 4" in line and "'enrolled'" in line and "'-3'" in line


def test_enrolment_sharing_without_data_is_one_line(tmp_path, capsys):
    from capacity.cli import main
    from tests.test_cli import TINY, TINY_SCENARIO, error_line

    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY_SCENARIO.replace('places_rule = "off"', 'places_rule = "off"\nsharing = "enrolment"'),
                        encoding="utf-8")
    assert main(["plan", str(scenario), "--data", str(TINY), "--out", str(tmp_path / "out"), "-q"]) == 1
    line = error_line(capsys)
    assert "sharing = 'enrolment' needs the base year's pupils per supply row (column enrolled)" in line
    assert not (tmp_path / "out").exists()
