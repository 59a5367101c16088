"""capacity.data: loading the tiny district, and one test per bad-input error."""

import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Polygon

from capacity.data import DataError, DataWarning, check_census, load_district, summary

TINY = Path(__file__).parent / "fixtures" / "tiny"


@pytest.fixture
def tiny(tmp_path):
    """A writable copy of the tiny district."""
    dest = tmp_path / "tiny"
    shutil.copytree(TINY, dest)
    return dest


def edit(folder: Path, name: str, old: str, new: str, count: int = 1):
    """Replace the first ``count`` occurrences of ``old`` in a file (the edit must apply)."""
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def line_of(folder: Path, name: str, start: str) -> int:
    lines = (folder / name).read_text(encoding="utf-8").splitlines()
    return next(i + 1 for i, text in enumerate(lines) if text.startswith(start))


def raises(folder, *, file, line=None, column=None, match=None) -> DataError:
    with pytest.raises(DataError, match=match) as info:
        load_district(folder)
    err = info.value
    assert err.file == file
    if line is not None:
        assert err.line == line
    if column is not None:
        assert err.column == column
    assert file in str(err)
    return err


# --- the good case -----------------------------------------------------------------------------


def test_tiny_district_loads_with_hand_checked_numbers():
    d = load_district(TINY)
    assert d.street_ids == ("A", "B", "C")
    assert d.population["persons"].sum() == 2 * 21 * (10 + 20 + 30)
    pop = d.population_array()
    assert pop.shape == (3, 2, 21)
    assert pop[2, 1, 7] == 30
    assert d.fertility_array()[17] == pytest.approx(0.08)
    assert d.fertility_array()[20] == 0.0
    assert d.movers_array().sum() == pytest.approx(1.0)
    assert d.death_probability_array()[0, 20] == 1.0
    np.testing.assert_allclose(d.housing_array([2021, 2022, 2023])[:, 2], [0, 50, 50])
    dist = d.distance_km()
    assert dist.loc["A", "C"] == pytest.approx(2.0, rel=0.01)
    assert d.sites.set_index("site").loc["k1", "sizes"] == (2, 4)
    assert d.streets.crs.to_epsg() == 4326


def test_summary_names_streets_levels_and_places():
    text = summary(load_district(TINY))
    assert "甲" in text and "2,520" in text
    assert "age 3-5" in text and "kindergarten" in text and "120" in text


# --- one test per bad input ----------------------------------------------------------------------


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        load_district(tmp_path / "nope")


def test_missing_file(tiny):
    (tiny / "supply.csv").unlink()
    raises(tiny, file="supply.csv", match="file not found")


def test_missing_column(tiny):
    edit(tiny, "housing.csv", "dwellings", "homes")
    raises(tiny, file="housing.csv", match="missing column 'dwellings'")


def test_unknown_column(tiny):
    edit(tiny, "fertility.csv", "age,rate", "age,rate,colour")
    text = (tiny / "fertility.csv").read_text().splitlines()
    (tiny / "fertility.csv").write_text("\n".join([text[0]] + [t + ",red" for t in text[1:]]))
    raises(tiny, file="fertility.csv", column="colour", match="unknown column")


def test_unknown_street(tiny):
    edit(tiny, "housing.csv", "C,2023", "Z,2023")
    err = raises(tiny, file="housing.csv", line=3, column="street", match="known street")
    assert err.value == "Z"


def test_unknown_level(tiny):
    edit(tiny, "supply.csv", "B,primary", "B,college")
    raises(tiny, file="supply.csv", line=line_of(tiny, "supply.csv", "B,college"),
           column="level", match="known level")


def test_duplicate_key(tiny):
    path = tiny / "supply.csv"
    lines = path.read_text().splitlines()
    lines.append(lines[1].replace(",2,60", ",1,30"))
    path.write_text("\n".join(lines) + "\n")
    err = raises(tiny, file="supply.csv", line=len(lines), match="duplicate key")
    assert "first seen on line 2" in str(err)


def test_duplicate_street(tiny):
    path = tiny / "streets.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines + [lines[1]]) + "\n", encoding="utf-8")
    raises(tiny, file="streets.csv", line=len(lines) + 1, match="duplicate key")


def test_missing_age(tiny):
    path = tiny / "population.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(x for x in lines if x != "B,female,7,20") + "\n")
    err = raises(tiny, file="population.csv", match="missing row")
    assert "street=B, sex=female, age=7" in str(err)


def test_missing_sex(tiny):
    path = tiny / "mortality.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(x for x in lines if not x.startswith("female")) + "\n")
    raises(tiny, file="mortality.csv", match="sex=female")


def test_unknown_sex(tiny):
    edit(tiny, "population.csv", "A,male,0", "A,m,0")
    raises(tiny, file="population.csv", line=2, column="sex", match="known sex")


def test_negative_count(tiny):
    edit(tiny, "population.csv", "A,male,3,10", "A,male,3,-3")
    err = raises(tiny, file="population.csv", line=5, column="persons", match="non-negative")
    assert err.value == "-3"


def test_non_numeric_count(tiny):
    edit(tiny, "supply.csv", "A,primary,true,true,4,180", "A,primary,true,true,4,lots")
    raises(tiny, file="supply.csv", line=line_of(tiny, "supply.csv", "A,primary"),
           column="places", match="whole number")


def test_fractional_count(tiny):
    edit(tiny, "housing.csv", "C,2022,50", "C,2022,50.5")
    raises(tiny, file="housing.csv", line=2, column="dwellings")


def test_empty_cell(tiny):
    edit(tiny, "streets.csv", "甲", "")
    raises(tiny, file="streets.csv", line=2, column="name_zh", match="non-empty")


def test_rate_above_one(tiny):
    edit(tiny, "mortality.csv", "male,1,0.001", "male,1,1.5")
    raises(tiny, file="mortality.csv", line=3, column="death_probability",
           match=r"probability in \[0, 1\]")


def test_negative_rate(tiny):
    edit(tiny, "fertility.csv", "15,0.02", "15,-0.02")
    raises(tiny, file="fertility.csv", line=2, column="rate", match=r"\[0, 1\]")


def test_movers_must_sum_to_one(tiny):
    edit(tiny, "movers.csv", "male,0,", "male,0,0.5", 1)
    text = (tiny / "movers.csv").read_text().splitlines()
    fixed = [t if not t.startswith("male,0,") else "male,0,0.5" for t in text]
    (tiny / "movers.csv").write_text("\n".join(fixed) + "\n")
    raises(tiny, file="movers.csv", column="share", match="sum to 1")


def test_bad_boolean(tiny):
    edit(tiny, "supply.csv", "A,kindergarten,true", "A,kindergarten,yes")
    raises(tiny, file="supply.csv", line=2, column="public", match="true or false")


def test_housing_year_outside_horizon(tiny):
    edit(tiny, "housing.csv", "C,2023", "C,2041")
    err = raises(tiny, file="housing.csv", line=3, column="year", match="2021..2030")
    assert err.value == "2041"


def test_housing_in_base_year_is_outside_horizon(tiny):
    edit(tiny, "housing.csv", "C,2022", "C,2020")
    raises(tiny, file="housing.csv", line=2, column="year")


def test_site_year_outside_horizon(tiny):
    edit(tiny, "sites.csv", "k2,B,kindergarten,2021", "k2,B,kindergarten,2035")
    raises(tiny, file="sites.csv", line=3, column="earliest_year")


def test_site_with_no_allowed_size(tiny):
    edit(tiny, "sites.csv", "2021,2,", "2021,,")
    raises(tiny, file="sites.csv", line=3, column="sizes", match="at least one allowed size")


def test_site_with_bad_size(tiny):
    edit(tiny, "sites.csv", "2021,2,", "2021,two,")
    raises(tiny, file="sites.csv", line=3, column="sizes", match="whole numbers")


def test_site_unknown_level(tiny):
    edit(tiny, "sites.csv", "p1,C,primary", "p1,C,university")
    raises(tiny, file="sites.csv", line=4, column="level", match="known level")


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_geometry_without_crs(tiny):
    geo = gpd.read_file(tiny / "streets.gpkg", layer="streets")
    geo = geo.set_crs(None, allow_override=True)
    (tiny / "streets.gpkg").unlink()
    geo.to_file(tiny / "streets.gpkg", layer="streets", driver="GPKG")
    raises(tiny, file="streets.gpkg", match="no CRS")


def test_non_polygon_geometry(tiny):
    geo = gpd.read_file(tiny / "streets.gpkg", layer="streets")
    geo.loc[1, "geometry"] = LineString([(0, 0), (1, 1)])
    geo.to_file(tiny / "streets.gpkg", layer="streets", driver="GPKG")
    raises(tiny, file="streets.gpkg", column="geometry", match="LineString; expected a Polygon")


def test_invalid_geometry(tiny):
    geo = gpd.read_file(tiny / "streets.gpkg", layer="streets")
    bowtie = Polygon([(0, 0), (0.01, 0.01), (0.01, 0), (0, 0.01), (0, 0)])
    geo.loc[0, "geometry"] = bowtie
    geo.to_file(tiny / "streets.gpkg", layer="streets", driver="GPKG")
    err = raises(tiny, file="streets.gpkg", column="geometry", match="invalid geometry")
    assert "street A" in str(err)


def test_polygon_of_unknown_street(tiny):
    geo = gpd.read_file(tiny / "streets.gpkg", layer="streets")
    geo.loc[2, "street"] = "Q"
    geo.to_file(tiny / "streets.gpkg", layer="streets", driver="GPKG")
    raises(tiny, file="streets.gpkg", column="street", match="unknown street Q")


def test_street_without_polygon(tiny):
    geo = gpd.read_file(tiny / "streets.gpkg", layer="streets")
    geo.iloc[:2].to_file(tiny / "streets.gpkg", layer="streets", driver="GPKG")
    raises(tiny, file="streets.gpkg", match="street C of streets.csv has no polygon")


def test_overlapping_levels(tiny):
    edit(tiny, "levels.csv", "primary,小学,6", "primary,小学,5")
    raises(tiny, file="levels.csv", match="overlap")


def test_district_toml_missing_key(tiny):
    edit(tiny, "district.toml", "base_year = 2020\n", "")
    raises(tiny, file="district.toml", column="base_year", match="missing key")


def test_district_toml_wrong_type(tiny):
    edit(tiny, "district.toml", "base_year = 2020", 'base_year = "2020"')
    raises(tiny, file="district.toml", column="base_year", match="wrong type")


def test_shipped_dongli_data_loads():
    folder = Path(__file__).parents[1] / "data" / "streets"
    if not (folder / "sites.csv").exists():
        pytest.skip("data/streets not complete yet")
    d = load_district(folder)
    assert len(d.street_ids) == 11
    assert d.population["persons"].sum() == 857_027


def test_shipped_dongli_data_matches_its_census_figures_without_a_warning():
    folder = Path(__file__).parents[1] / "data" / "streets"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        d = load_district(folder)
    assert d.census["tolerance"] == 0.05
    assert check_census(d.population, d.census) == []


def test_census_check_by_hand(tiny):
    d = load_district(tiny)  # 2,520 residents, 1,260 male, 360 aged 0-2
    assert check_census(d.population, {"total": 2520, "male_share": 0.5, "age_0_2": 0.1429}) == []
    with pytest.warns(DataWarning, match="2,520 residents; district.toml \\[census\\] total = 2,600"):
        notes = check_census(d.population, {"total": 2600})  # 3.1% below, tolerance 5%
    assert len(notes) == 1 and "3.08%" in notes[0]
    with pytest.raises(DataError, match="differs by 3.1%, beyond \\[census\\] tolerance = 0.03"):
        check_census(d.population, {"total": 2600, "tolerance": 0.03})
    # 1/7 = 0.142857 is 0.14 to the census figure's two decimals: silent
    assert check_census(d.population, {"age_0_2": 0.14}) == []
    with pytest.warns(DataWarning, match="14.29% aged 0-2; .* age_0_2 = 0.1415 .*0.96%"):
        check_census(d.population, {"age_0_2": 0.1415})  # beyond the rounding of 0.1415


# --- level stages (levels sharing ages) --------------------------------------------------------


def add_vocational(folder: Path, stage: str = "senior", ages: str = "6,11") -> None:
    """Give the tiny district a second level for the primary ages, in a stage."""
    path = folder / "levels.csv"
    rows = path.read_text(encoding="utf-8").splitlines()
    rows[0] += ",stage"
    rows[1] += ",kindergarten"
    rows[2] += f",{stage}"
    rows.append(f"vocational,中职,{ages},{stage}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_levels_of_one_stage_share_ages(tiny):
    add_vocational(tiny)
    d = load_district(tiny)
    assert list(d.levels["stage"]) == ["kindergarten", "senior", "senior"]
    assert list(d.levels["level"]) == ["kindergarten", "primary", "vocational"]


def test_levels_without_stage_column_are_their_own_stage():
    d = load_district(TINY)
    assert list(d.levels["stage"]) == list(d.levels["level"])


def test_level_of_a_stage_with_other_ages(tiny):
    add_vocational(tiny, ages="6,10")
    raises(tiny, file="levels.csv", line=4, column="stage", match="same ages")


def test_stage_named_after_another_level(tiny):
    add_vocational(tiny, stage="kindergarten")
    raises(tiny, file="levels.csv", column="stage", match="not another level's name")


def test_levels_sharing_ages_without_a_stage(tiny):
    edit(tiny, "levels.csv", "primary,小学,6,11\n", "primary,小学,6,11\nvocational,中职,6,11\n")
    raises(tiny, file="levels.csv", match="overlap in age.*same 'stage'")


# --- optional births.csv -----------------------------------------------------------------------


def write_births(folder: Path, text: str) -> None:
    (folder / "births.csv").write_text(text, encoding="utf-8")


def test_births_csv_read(tiny):
    write_births(tiny, "street,year,births\nA,2021,4\nB,2021,5\nC,2021,6\n")
    d = load_district(tiny)
    years, births = d.births_array()
    np.testing.assert_array_equal(years, [2021])
    np.testing.assert_array_equal(births, [[4, 5, 6]])


def test_no_births_csv_is_empty():
    years, births = load_district(TINY).births_array()
    assert years.size == 0 and births.shape == (0, 3)


def test_births_csv_unknown_street(tiny):
    write_births(tiny, "street,year,births\nA,2021,4\nZ,2021,5\nC,2021,6\n")
    raises(tiny, file="births.csv", line=3, column="street", match="known street")


def test_births_csv_year_in_base_year(tiny):
    write_births(tiny, "street,year,births\nA,2020,4\nB,2020,5\nC,2020,6\n")
    raises(tiny, file="births.csv", line=2, column="year", match="2021..2030")


def test_births_csv_negative(tiny):
    write_births(tiny, "street,year,births\nA,2021,-4\nB,2021,5\nC,2021,6\n")
    raises(tiny, file="births.csv", line=2, column="births", match="non-negative whole number")


def test_births_csv_duplicate(tiny):
    write_births(tiny, "street,year,births\nA,2021,4\nB,2021,5\nC,2021,6\nA,2021,7\n")
    raises(tiny, file="births.csv", line=5, match="duplicate key")


def test_births_csv_year_missing_a_street(tiny):
    write_births(tiny, "street,year,births\nA,2021,4\nC,2021,6\n")
    err = raises(tiny, file="births.csv", column="street", match="year 2021 .* 2 of 3 streets")
    assert "missing street B" in str(err) and "\n" not in str(err)
