"""A catalogue of bad inputs, each run through the command line on a corrupted copy of the tiny
district: exit status 1, exactly one line ``capacity: error: ...`` on stderr, naming the file and
the line / column / key that is wrong.

Groups: district files (values, rows, encodings, magnitudes), geometry, scenario files, the
command line, infeasible plans. Every case is independent (its own copy under ``tmp_path``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, Polygon
from test_cli import TINY, TINY_SCENARIO, error_line

from capacity.cli import main

# ------------------------------------------------------------------------------------------------
# helpers


@dataclass(frozen=True)
class Edit:
    """Replace the first ``old`` in ``file`` by ``new``; ``line`` = the line of the edit is named."""

    file: str
    old: str
    new: str
    line: bool = True


@dataclass(frozen=True)
class Case:
    """One bad input: edits of the district copy and/or the scenario, the command, what the error
    line must contain (``{line}`` is the line of the (first) edit, ``{tmp}`` the temporary
    folder)."""

    id: str
    edits: tuple[Edit, ...] = ()
    scenario: tuple[tuple[str, str], ...] = ()  # (old, new) replacements in TINY_SCENARIO
    command: str = "validate"
    must: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)


def copy_tiny(tmp_path: Path) -> Path:
    import shutil

    dest = tmp_path / "tiny"
    shutil.copytree(TINY, dest)
    return dest


def apply(folder: Path, edit: Edit) -> int:
    """Apply an edit; the line number (1-based) where it happened."""
    path = folder / edit.file
    text = path.read_text(encoding="utf-8")
    assert edit.old in text, f"{edit.old!r} not in {edit.file}"
    line = text[: text.index(edit.old)].count("\n") + 1
    path.write_text(text.replace(edit.old, edit.new, 1), encoding="utf-8")
    return line


def scenario_text(replacements) -> str:
    text = TINY_SCENARIO
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def run(case: Case, tmp_path: Path, capsys) -> str:
    folder = copy_tiny(tmp_path)
    lines = [apply(folder, e) for e in case.edits]
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(scenario_text(case.scenario), encoding="utf-8")
    if case.command == "validate":
        argv = ["validate", str(folder), "-q"]
    else:
        argv = [case.command, str(scenario), "--data", str(folder), "--out", str(tmp_path / "out"),
                "-q"]
    assert main(argv) == 1
    line = error_line(capsys)
    for e, n in zip(case.edits, lines, strict=True):
        assert e.file in line, line
        if e.line:
            assert f"line {n}" in line, line
    for text in case.must:
        assert text.format(tmp=tmp_path) in line, (text, line)
    return line


# ------------------------------------------------------------------------------------------------
# district files: values and rows (capacity validate)

P0 = "A,male,0,10"  # first row of population.csv


def _kind_edits(k1_tail: str) -> tuple[Edit, ...]:
    """sites.csv with the columns kind and annual_cost_per_place, k1's row ending in ``k1_tail``
    (from cost_per_class on; the edit whose line is named), the other rows new schools."""
    return (Edit("sites.csv", "inclusive\n", "inclusive,kind,annual_cost_per_place\n", line=False),
            Edit("sites.csv", "2.5,true,true\n", "2.5,true,true,,\n", line=False),
            Edit("sites.csv", "5.0,true,true", "5.0,true,true,,", line=False),
            Edit("sites.csv", "0.0045,2.0,true,true", "0.0045," + k1_tail))
EXPONENT = "exponent form"

DATA_CASES = [
    # counts written in exponent form
    Case("persons-1e3", (Edit("population.csv", P0, "A,male,0,1e3"),), must=("'persons'", "'1e3'", EXPONENT)),
    Case("persons-2.5E+01", (Edit("population.csv", P0, "A,male,0,2.5E+01"),), must=("'2.5E+01'", EXPONENT)),
    Case("age-1e1", (Edit("population.csv", "A,male,10,10", "A,male,1e1,10"),), must=("'age'", EXPONENT)),
    Case("classes-2e0", (Edit("supply.csv", "A,kindergarten,true,true,2,60", "A,kindergarten,true,true,2e0,60"),),
         must=("'classes'", EXPONENT)),
    Case("places-6e1", (Edit("supply.csv", "A,kindergarten,true,true,2,60", "A,kindergarten,true,true,2,6e1"),),
         must=("'places'", EXPONENT)),
    Case("dwellings-5e1", (Edit("housing.csv", "C,2022,50", "C,2022,5e1"),), must=("'dwellings'", EXPONENT)),
    Case("housing-year-2.022e3", (Edit("housing.csv", "C,2022,50", "C,2.022e3,50"),), must=("'year'", EXPONENT)),
    Case("site-year-2.022e3", (Edit("sites.csv", "k1,C,kindergarten,2022", "k1,C,kindergarten,2.022e3"),),
         must=("'earliest_year'", EXPONENT)),
    # implausible counts and bad numbers
    Case("persons-huge", (Edit("population.csv", P0, "A,male,0,100000000000000000000"),),
         must=("'persons'", "up to")),
    Case("persons-negative", (Edit("population.csv", P0, "A,male,0,-1"),), must=("'persons'", "'-1'")),
    Case("persons-word", (Edit("population.csv", P0, "A,male,0,ten"),), must=("'persons'", "'ten'")),
    Case("persons-fraction", (Edit("population.csv", P0, "A,male,0,10.5"),), must=("'persons'", "'10.5'")),
    Case("persons-empty", (Edit("population.csv", P0, "A,male,0,"),), must=("'persons'",)),
    Case("persons-nan", (Edit("population.csv", P0, "A,male,0,nan"),), must=("'persons'", "'nan'")),
    Case("persons-inf", (Edit("population.csv", P0, "A,male,0,inf"),), must=("'persons'", "'inf'")),
    # codes and keys
    Case("population-street", (Edit("population.csv", P0, "Z,male,0,10"),), must=("'street'", "'Z'")),
    Case("population-sex", (Edit("population.csv", P0, "A,m,0,10"),), must=("'sex'", "'m'")),
    Case("population-age-over-130", (Edit("population.csv", P0, "A,male,131,10"),), must=("'age'", "'131'")),
    Case("population-duplicate", (Edit("population.csv", "A,male,1,10", "A,male,0,10"),), must=("duplicate",)),
    Case("population-missing-row", (Edit("population.csv", "A,male,1,10\n", "", line=False),),
         must=("missing row for street=A, sex=male, age=1",)),
    # rates
    Case("fertility-above-one", (Edit("fertility.csv", "15,0.02", "15,1.5"),), must=("'rate'", "'1.5'")),
    Case("fertility-age-beyond-population", (Edit("fertility.csv", "15,0.02", "99,0.02"),), must=("'age'", "'99'")),
    Case("fertility-duplicate-age", (Edit("fertility.csv", "16,0.05", "15,0.05"),), must=("duplicate",)),
    Case("mortality-above-one", (Edit("mortality.csv", "male,0,0.005", "male,0,1.5"),),
         must=("'death_probability'", "'1.5'")),
    Case("mortality-open-group-female", (Edit("mortality.csv", "female,20,1.0", "female,20,0.5"),),
         must=("'death_probability'", "open age group 20+", "'0.5'")),
    Case("mortality-open-group-male", (Edit("mortality.csv", "male,20,1.0", "male,20,0.999"),),
         must=("'death_probability'", "open age group", "'0.999'")),
    Case("migration-rate", (Edit("migration.csv", "A,male,0,0.0", "A,male,0,2"),), must=("'net_rate'", "'2'")),
    Case("movers-sum", (Edit("movers.csv", "male,0,0.03125", "male,0,0.5", line=False),),
         must=("'share'", "sum to 1")),
    # supply, housing, sites
    Case("supply-boolean", (Edit("supply.csv", "A,kindergarten,true", "A,kindergarten,yes"),), must=("'public'", "'yes'")),
    Case("supply-level", (Edit("supply.csv", "A,kindergarten,true", "A,nursery,true"),), must=("'level'", "'nursery'")),
    Case("supply-duplicate", (Edit("supply.csv", "B,kindergarten,false,true", "A,kindergarten,true,true"),),
         must=("duplicate",)),
    Case("housing-year-before", (Edit("housing.csv", "C,2022,50", "C,2020,50"),), must=("'year'", "'2020'")),
    Case("housing-year-after", (Edit("housing.csv", "C,2022,50", "C,2031,50"),), must=("'year'", "'2031'")),
    Case("site-sizes-word", (Edit("sites.csv", "2022,2;4,", "2022,two,"),), must=("'sizes'", "'two'")),
    Case("site-sizes-zero", (Edit("sites.csv", "2022,2;4,", "2022,0,"),), must=("'sizes'", "'0'")),
    Case("site-sizes-empty", (Edit("sites.csv", "2022,2;4,", "2022,;,"),), must=("'sizes'",)),
    Case("site-year-base", (Edit("sites.csv", "k1,C,kindergarten,2022", "k1,C,kindergarten,2020"),),
         must=("'earliest_year'", "'2020'")),
    Case("site-lon", (Edit("sites.csv", "0.0225,0.0045,2.0", "east,0.0045,2.0"),), must=("'lon'", "'east'")),
    Case("site-cost", (Edit("sites.csv", "0.0225,0.0045,2.0", "0.0225,0.0045,-2"),), must=("'cost_per_class'", "'-2'")),
    Case("site-duplicate", (Edit("sites.csv", "k2,B", "k1,B"),), must=("duplicate",)),
    # site kinds: expansion / conversion options (k1 is at street C, which has private non-inclusive places)
    Case("site-kind-word", _kind_edits("2.0,true,true,rebuild,"), must=("'kind'", "'rebuild'")),
    Case("site-annual-negative", _kind_edits(",false,true,conversion,-5"),
         must=("'annual_cost_per_place'", "'-5'")),
    Case("site-annual-on-new", _kind_edits("2.0,true,true,new,100"),
         must=("'annual_cost_per_place'", "conversion only")),
    Case("site-conversion-no-cost", _kind_edits(",false,true,conversion,"),
         must=("'annual_cost_per_place'", "conversion")),
    Case("site-conversion-capital", _kind_edits("2.0,false,true,conversion,100"), must=("'cost_per_class'",)),
    Case("site-conversion-public", _kind_edits(",true,true,conversion,100"), must=("'public'", "conversion")),
    Case("streets-duplicate", (Edit("streets.csv", "B,乙,Yi", "A,乙,Yi"),), must=("duplicate",)),
    Case("streets-lat-empty", (Edit("streets.csv", "0.0135,0.0045,made up", "0.0135,,made up"),), must=("'lat'",)),
    Case("levels-order", (Edit("levels.csv", "primary,小学,6,11", "primary,小学,11,6"),), must=("'last_age'",)),
    Case("levels-overlap", (Edit("levels.csv", "primary,小学,6,11", "primary,小学,5,11", line=False),),
         must=("overlap",)),
    # columns and whole files
    Case("unknown-column", (Edit("supply.csv", "places\n", "places,extra\n", line=False),),
         must=("unknown column 'extra'",)),
    Case("missing-column", (Edit("housing.csv", "street,year,dwellings", "street,yr,dwellings", line=False),),
         must=("missing column 'year'",)),
    Case("header-only", (Edit("housing.csv", "C,2022,50\nC,2023,50", "", line=False),),
         must=("no data rows",)),
    Case("broken-csv", (Edit("fertility.csv", "15,0.02", '15,"0.02', line=False),), must=("CSV",)),
    # district.toml
    Case("toml-invalid", (Edit("district.toml", 'name = "Tiny"', 'name = Tiny', line=False),),
         must=("not valid TOML",)),
    Case("toml-missing-key", (Edit("district.toml", "base_year = 2020\n", "", line=False),),
         must=("'base_year'",)),
    Case("toml-wrong-type", (Edit("district.toml", "base_year = 2020", 'base_year = "2020"', line=False),),
         must=("'base_year'", "wrong type")),
    Case("toml-unknown-key", (Edit("district.toml", "base_year = 2020", "base_year = 2020\nbase_yr = 1", line=False),),
         must=("unknown key 'base_yr'",)),
    Case("toml-sex-ratio", (Edit("district.toml", "birth_sex_ratio = 1.0", "birth_sex_ratio = 5", line=False),),
         must=("'birth_sex_ratio'", "5")),
]

# census check figures of district.toml ([census], appended as the file's last table) against the
# base population: 2,520 residents, half male, 360 aged 0-2 (1/7)
CENSUS_CASES = [
    ("total", "total = 25200", (), ("population.csv", "'persons'", "[census] total = 25,200",
                                    "differs by 90.0%", "tolerance = 0.05")),
    ("magnitude", "total = 2520", (Edit("population.csv", P0, "A,male,0,1000000000000"),),
     ("population.csv", "[census] total = 2,520", "tolerance")),
    ("male-share", "male_share = 0.6", (), ("population.csv", "[census] male_share = 0.6",
                                            "50.00% male")),
    ("age-share", "age_0_2 = 0.2\ntolerance = 0.1", (), ("[census] age_0_2 = 0.2", "aged 0-2",
                                                          "tolerance = 0.1")),
    ("unknown-key", "totl = 2520", (), ("district.toml", "'census.totl'")),
    ("bad-tolerance", "total = 2520\ntolerance = 2", (), ("district.toml", "'census.tolerance'")),
    ("share-type", 'male_share = "half"', (), ("district.toml", "'census.male_share'", "'half'")),
    ("age-after-last", "age_90_plus = 0.01", (), ("district.toml", "'census.age_90_plus'")),
]


@pytest.mark.parametrize("name, table, edits, must", CENSUS_CASES, ids=[c[0] for c in CENSUS_CASES])
def test_census_check_figures(name, table, edits, must, tmp_path, capsys):
    folder = copy_tiny(tmp_path)
    for e in edits:
        apply(folder, e)
    with open(folder / "district.toml", "a", encoding="utf-8") as f:
        f.write(f"\n[census]\n{table}\n")
    assert main(["validate", str(folder), "-q"]) == 1
    line = error_line(capsys)
    for t in must:
        assert t in line, (t, line)


def gbk(folder: Path, name: str) -> None:
    path = folder / name
    path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))


@pytest.mark.parametrize("case", DATA_CASES, ids=lambda c: c.id)
def test_bad_district_value(case, tmp_path, capsys):
    run(case, tmp_path, capsys)


def test_census_within_tolerance_is_a_warning(tmp_path, capsys):
    folder = copy_tiny(tmp_path)
    with open(folder / "district.toml", "a", encoding="utf-8") as f:
        f.write("\n[census]\ntotal = 2550\nmale_share = 0.5\ntolerance = 0.02\n")
    assert main(["validate", str(folder), "-q"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["capacity: warning: population.csv: the base population has 2,520 residents; "
                   "district.toml [census] total = 2,550 (a difference of 1.18%, within [census] "
                   "tolerance = 0.02)"]


def test_census_matching_exactly_is_silent(tmp_path, capsys):
    folder = copy_tiny(tmp_path)
    with open(folder / "district.toml", "a", encoding="utf-8") as f:
        f.write("\n[census]\ntotal = 2520\nmale_share = 0.5\nage_0_2 = 0.1429\nage_18_plus = 0.1429\n")
    assert main(["validate", str(folder), "-q"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("name, line", [("streets.csv", 2), ("levels.csv", 2), ("district.toml", 2)])
def test_gbk_district_file(name, line, tmp_path, capsys):
    folder = copy_tiny(tmp_path)
    gbk(folder, name)
    assert main(["validate", str(folder), "-q"]) == 1
    err = error_line(capsys)
    assert name in err and f"line {line}" in err and "not UTF-8" in err and "GBK" in err


def test_utf8_with_byte_order_mark_is_read(tmp_path, capsys):
    folder = copy_tiny(tmp_path)
    for name in ("streets.csv", "district.toml"):
        path = folder / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert main(["validate", str(folder), "-q"]) == 0


# ------------------------------------------------------------------------------------------------
# geometry (streets.gpkg)


def _layer(folder: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(folder / "streets.gpkg", layer="streets")


def _write(folder: Path, geo: gpd.GeoDataFrame) -> None:
    (folder / "streets.gpkg").unlink()
    geo.to_file(folder / "streets.gpkg", layer="streets", driver="GPKG")


def _no_crs(geo):
    return geo.set_crs(None, allow_override=True)


def _line(geo):
    geo.loc[1, "geometry"] = LineString([(0, 0), (1, 1)])
    return geo


def _point(geo):
    geo.loc[0, "geometry"] = Point(0, 0)
    return geo


def _bowtie(geo):
    geo.loc[0, "geometry"] = Polygon([(0, 0), (0.01, 0.01), (0.01, 0), (0, 0.01), (0, 0)])
    return geo


def _unknown(geo):
    geo.loc[2, "street"] = "Q"
    return geo


def _missing(geo):
    return geo.iloc[:2]


def _duplicate(geo):
    geo.loc[2, "street"] = "A"
    return geo


def _empty(geo):
    geo.loc[1, "geometry"] = Polygon()
    return geo


GEOMETRY_CASES = [
    ("no-crs", _no_crs, ("no CRS",)),
    ("linestring", _line, ("feature 2 (street B)", "LineString", "'geometry'")),
    ("point", _point, ("feature 1 (street A)", "Point", "'geometry'")),
    ("invalid-polygon", _bowtie, ("feature 1 (street A)", "invalid geometry")),
    ("unknown-street", _unknown, ("unknown street Q", "'street'")),
    ("street-without-polygon", _missing, ("street C of streets.csv has no polygon",)),
    ("street-twice", _duplicate, ("street A has more than one feature",)),
    ("empty-geometry", _empty, ("feature 2 (street B)", "no geometry")),
]


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
@pytest.mark.parametrize("name, change, must", GEOMETRY_CASES, ids=[c[0] for c in GEOMETRY_CASES])
def test_bad_geometry(name, change, must, tmp_path, capsys):
    folder = copy_tiny(tmp_path)
    _write(folder, change(_layer(folder)))
    assert main(["validate", str(folder), "-q"]) == 1
    line = error_line(capsys)
    assert "streets.gpkg" in line
    for t in must:
        assert t in line, (t, line)


def test_geopackage_not_a_geopackage(tmp_path, capsys):
    folder = copy_tiny(tmp_path)
    (folder / "streets.gpkg").write_bytes(b"not a database")
    assert main(["validate", str(folder), "-q"]) == 1
    assert "streets.gpkg" in error_line(capsys)


def test_geopackage_missing(tmp_path, capsys):
    folder = copy_tiny(tmp_path)
    (folder / "streets.gpkg").unlink()
    assert main(["validate", str(folder), "-q"]) == 1
    line = error_line(capsys)
    assert "streets.gpkg" in line and "not found" in line


# ------------------------------------------------------------------------------------------------
# scenario files (errors found before any projection)

SCENARIO_CASES = [
    Case("unknown-key", scenario=(("end_year", "end_yaer"),), command="project",
         must=("tiny.toml", "line 3", "projection.end_yaer", "did you mean 'projection.end_year'")),
    Case("unknown-table", scenario=(("[solver]", "[solvr]"),), command="project",
         must=("tiny.toml", "line 20", "solvr")),
    Case("wrong-type", scenario=(("end_year = 2028", 'end_year = "2028"'),), command="project",
         must=("tiny.toml", "line 3", "projection.end_year", "expected an integer")),
    Case("out-of-range", scenario=(("draws = 10", "draws = -1"),), command="project",
         must=("tiny.toml", "line 5", "uncertainty.draws", "-1")),
    Case("invalid-toml", scenario=(("draws = 10", "draws = = 10"),), command="project",
         must=("tiny.toml", "line 5", "not valid TOML")),
    Case("year-key", scenario=(('"2025" = 0.95', 'soon = 0.95'),), command="project",
         must=("tiny.toml", "line 7", "enrolment.kindergarten.soon", "year")),
    Case("enrolment-rate", scenario=(('"2025" = 0.95', '"2025" = 9.5'),), command="project",
         must=("tiny.toml", "line 7", "enrolment.kindergarten.2025")),
    Case("max-below-standard", scenario=(("[catchment]", "[class_size]\nstandard = { primary = 45 }\n"
                                                         "maximum = { primary = 40 }\n[catchment]"),),
         command="project", must=("tiny.toml", "class_size.maximum.primary")),
    Case("last-before-first", scenario=(("last_year = 2027", "last_year = 2019"),), command="project",
         must=("tiny.toml", "line 11", "plan.last_year")),
    Case("end-before-last", scenario=(("end_year = 2028", "end_year = 2025"),), command="project",
         must=("tiny.toml", "line 3", "projection.end_year")),
    Case("places-rule-needs-places", scenario=(('places_rule = "off"', 'places_rule = "exact"'),),
         command="project", must=("tiny.toml", "plan.kindergarten_new_places")),
    Case("unknown-level", scenario=(("primary = 1 }", "primary = 1, junior = 1 }"),), command="project",
         must=("tiny.toml", "line 14", "plan.new_schools.junior", "no such level")),
    Case("unknown-growth-street", scenario=(('description', 'growth_streets = ["D"]\ndescription'),),
         command="project", must=("tiny.toml", "line 1", "growth_streets.0", "no street 'D'")),
    Case("first-year-not-after-base", scenario=(("first_year = 2021", "first_year = 2020"),),
         command="project", must=("tiny.toml", "line 10", "plan.first_year", "base year 2020")),
    Case("unknown-method", scenario=(("[solver]", '[objective]\nmethod = "best"\n[solver]'),),
         command="project", must=("tiny.toml", "line 21", "objective.method", "'best'")),
    Case("unknown-solver", scenario=(("time_limit = 60", 'solver = "gurobi"'),), command="project",
         must=("tiny.toml", "line 21", "solver.solver", "'gurobi'")),
    Case("catchment-word", scenario=(('primary = "district"', 'primary = "everywhere"'),),
         command="project", must=("tiny.toml", "line 19", "catchment.primary")),
    Case("extends-missing", scenario=(("description", 'extends = "nowhere.toml"\ndescription'),),
         command="project", must=("tiny.toml", "line 1", "extends", "does not exist")),
]


@pytest.mark.parametrize("case", SCENARIO_CASES, ids=lambda c: c.id)
def test_bad_scenario(case, tmp_path, capsys):
    run(case, tmp_path, capsys)


def _plan(tmp_path, scenario: Path, *extra) -> int:
    return main(["plan", str(scenario), "--data", str(TINY), "--out", str(tmp_path / "out"), "-q",
                 *extra])


def test_gbk_scenario_file(tmp_path, capsys):
    scenario = tmp_path / "gbk.toml"
    scenario.write_bytes(("# 东丽区 基准情景\n" + TINY_SCENARIO).encode("gbk"))
    assert _plan(tmp_path, scenario) == 1
    line = error_line(capsys)
    assert "gbk.toml" in line and "line 1" in line and "not UTF-8" in line and "GBK" in line


def test_gbk_parent_scenario_names_both_files(tmp_path, capsys):
    (tmp_path / "base.toml").write_bytes(("# 东丽区\n" + TINY_SCENARIO).encode("gbk"))
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\n', encoding="utf-8")
    assert _plan(tmp_path, child) == 1
    line = error_line(capsys)
    assert "base.toml" in line and "child.toml" in line and "GBK" in line


def test_bad_value_inherited_names_both_files(tmp_path, capsys):
    (tmp_path / "base.toml").write_text(TINY_SCENARIO.replace("draws = 10", "draws = -5"),
                                        encoding="utf-8")
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\n[plan]\nlast_year = 2026\n', encoding="utf-8")
    assert _plan(tmp_path, child) == 1
    line = error_line(capsys)
    assert "base.toml, line 5" in line and "uncertainty.draws" in line
    assert "child.toml" in line and "extends" in line


def test_inherited_level_unknown_to_the_district_names_both_files(tmp_path, capsys):
    (tmp_path / "base.toml").write_text(
        TINY_SCENARIO.replace("primary = 1 }", "primary = 1, junior = 1 }"), encoding="utf-8")
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\n', encoding="utf-8")
    assert _plan(tmp_path, child) == 1
    line = error_line(capsys)
    assert "base.toml, line 14" in line and "plan.new_schools.junior" in line and "child.toml" in line


def test_extends_cycle(tmp_path, capsys):
    a = tmp_path / "a.toml"
    a.write_text('extends = "b.toml"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n', encoding="utf-8")
    assert _plan(tmp_path, a) == 1
    line = error_line(capsys)
    assert "cycle" in line and "a.toml" in line and "b.toml" in line


def test_scenario_file_missing(tmp_path, capsys):
    assert _plan(tmp_path, tmp_path / "nothing.toml") == 1
    assert "nothing.toml" in error_line(capsys)


def test_scenario_is_a_folder(tmp_path, capsys):
    assert _plan(tmp_path, tmp_path) == 1
    assert "folder" in error_line(capsys)


# ------------------------------------------------------------------------------------------------
# command line (checked before any work)


@pytest.fixture
def scenario(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SCENARIO, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["plan", "project", "compare"])
def test_out_is_an_existing_file(command, tmp_path, scenario, capsys):
    afile = tmp_path / "afile"
    afile.write_text("keep me", encoding="utf-8")
    assert main([command, str(scenario), "--data", str(TINY), "--out", str(afile)]) == 1
    line = error_line(capsys)  # also: no progress line, so nothing ran
    assert "afile" in line and "a file of that name exists" in line and "nothing written" in line
    assert afile.read_text(encoding="utf-8") == "keep me"


def test_out_below_a_file(tmp_path, scenario, capsys):
    (tmp_path / "afile").write_text("", encoding="utf-8")
    assert main(["plan", str(scenario), "--data", str(TINY), "--out", str(tmp_path / "afile" / "x")]) == 1
    assert "afile is a file, not a folder" in error_line(capsys)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_out_in_a_read_only_folder(tmp_path, scenario, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert main(["plan", str(scenario), "--data", str(TINY), "--out", str(ro / "x")]) == 1
        assert "permission denied" in error_line(capsys)
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize("command", ["plan", "project", "compare"])
def test_data_folder_missing(command, tmp_path, scenario, capsys):
    assert main([command, str(scenario), "--data", str(tmp_path / "nodata"), "-q",
                 "--out", str(tmp_path / "out")]) == 1
    line = error_line(capsys)
    assert "nodata" in line and not (tmp_path / "out").exists()


def test_validate_missing_folder(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nodata")]) == 1
    assert "nodata" in error_line(capsys)


def test_compare_same_scenario_twice(tmp_path, scenario, capsys):
    assert main(["compare", str(scenario), str(scenario), "--data", str(TINY), "-q",
                 "--out", str(tmp_path / "out")]) == 1
    assert "named 'tiny'" in error_line(capsys)


@pytest.mark.parametrize("argv", [["plan"], ["frobnicate"], ["plan", "x.toml", "--outt", "y"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("capacity") and "error:" in last


# ------------------------------------------------------------------------------------------------
# infeasible plans: the scenario file, line and key that set the failing constraint

NO_NEW_KG = ("kindergarten = 1, primary = 1", "kindergarten = 0, primary = 1")
INFEASIBLE_CASES = [
    Case("counts", scenario=(("primary = 1 }", "primary = 3 }"),), command="plan",
         must=("counts:", "plan.new_schools.primary ({tmp}/tiny.toml, line 14)",
               "plan.count_rule ({tmp}/tiny.toml, line 15)")),
    Case("places-exact", scenario=(('places_rule = "off"', 'places_rule = "exact"\nkindergarten_new_places = 100'),),
         command="plan", must=("places:", "plan.kindergarten_new_places ({tmp}/tiny.toml, line 17)",
                               "plan.places_rule ({tmp}/tiny.toml, line 16)")),
    Case("places-at-least", scenario=(('places_rule = "off"', 'places_rule = "at_least"\nkindergarten_new_places = 900'),),
         command="plan", must=("places:", "plan.kindergarten_new_places ({tmp}/tiny.toml, line 17)")),
    Case("public-share", scenario=(NO_NEW_KG, ('places_rule = "off"', 'places_rule = "off"\npublic_share_min = 0.9')),
         command="plan", must=("shares:", "plan.public_share_min ({tmp}/tiny.toml, line 17)")),
    Case("inclusive-share", scenario=(NO_NEW_KG, ('places_rule = "off"', 'places_rule = "off"\ninclusive_share_min = 0.95')),
         command="plan", must=("shares:", "plan.inclusive_share_min ({tmp}/tiny.toml, line 17)")),
    Case("openings-per-year", scenario=(('places_rule = "off"', 'places_rule = "off"\nmax_openings_per_year = { primary = 0 }'),),
         command="plan", must=("yearly_limits:", "plan.max_openings_per_year.primary ({tmp}/tiny.toml, line 17)")),
    Case("cost-per-year", scenario=(('places_rule = "off"', 'places_rule = "off"\nmax_cost_per_year = 1'),),
         command="plan", must=("yearly_limits:", "plan.max_cost_per_year ({tmp}/tiny.toml, line 17)")),
]


@pytest.mark.parametrize("case", INFEASIBLE_CASES, ids=lambda c: c.id)
def test_infeasible_plan_names_the_scenario_key(case, tmp_path, capsys):
    line = run(case, tmp_path, capsys)
    assert line.startswith("capacity: error: infeasible plan: ")
    assert not (tmp_path / "out").exists()


def test_infeasible_plan_inherited_names_both_files(tmp_path, capsys):
    (tmp_path / "base.toml").write_text(TINY_SCENARIO.replace("primary = 1 }", "primary = 3 }"),
                                        encoding="utf-8")
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\n[solver]\ntime_limit = 30\n', encoding="utf-8")
    assert _plan(tmp_path, child) == 1
    line = error_line(capsys)
    assert f"plan.new_schools.primary ({tmp_path}/base.toml, line 14, extended by {child})" in line
