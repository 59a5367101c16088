"""Load and validate a district folder (see ``docs/design.md`` section 1 and the README).

A district folder describes one district completely: its streets and their polygons, the base-year
population by street, sex and single year of age, vital rates, migration, existing school places,
planned housing and candidate school sites. :func:`load_district` reads it into a :class:`District`
of plain tables and checks every cell; anything wrong raises :class:`DataError` naming the file,
the line, the column and the value. Nothing is dropped, clipped or filled in silently.
"""

from __future__ import annotations

import io
import math
import re
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from capacity.textfile import TextEncodingError, read_text

SEXES: tuple[str, str] = ("male", "female")
"""Sex labels, in the order of the sex axis of every array."""

#: Free-text columns any CSV may carry besides its contract columns.
FREE_TEXT_COLUMNS = ("note", "source")

#: The largest whole number a count, age or year column accepts (larger numbers are not exact as
#: float64 and are no plausible count of persons, places or dwellings).
MAX_COUNT = 2**53

#: A number written in exponent form (``1e3``, ``2.5E+04``).
_EXPONENT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+$")

#: A census age-group share key of district.toml: ``age_0_14`` or ``age_65_plus``.
_CENSUS_AGE = re.compile(r"age_(\d+)_(?:(\d+)|plus)")

#: The relative difference between the base population and a census check figure allowed when
#: ``[census]`` sets no ``tolerance``.
DEFAULT_CENSUS_TOLERANCE = 0.05

_MISSING = object()


class DataWarning(UserWarning):
    """A district file is plausible but not exactly as expected (e.g. the base population differs
    from the census check figures by less than the tolerance). The message names the file."""


class DataError(ValueError):
    """A district file is wrong. The message names the file, line, column and value.

    Attributes
    ----------
    file : str
        File name inside the district folder.
    line : int or None
        Line number in the file (the header is line 1).
    column : str or None
        Column name.
    value : object
        The offending value, when there is one.
    """

    def __init__(self, file, message, *, line=None, column=None, value=_MISSING):
        self.file = str(file)
        self.line = line
        self.column = column
        self.value = None if value is _MISSING else value
        self.reason = message
        where = self.file
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column '{column}'"
        text = f"{where}: {message}"
        if value is not _MISSING:
            text += f" (got {value!r})"
        super().__init__(text)


@dataclass(frozen=True)
class District:
    """One district's validated input tables.

    Column contracts (units in brackets):

    - ``levels``: level, name_zh, first_age, last_age [years of age, inclusive], stage (levels of
      one stage share their ages, e.g. general and vocational senior high; else the level itself)
    - ``streets`` (GeoDataFrame): street, name_zh, name_pinyin, lon, lat, point_source, approximate,
      geometry
    - ``population``: street, sex, age, persons [persons in the base year]
    - ``fertility``: age, rate [births per woman per year]
    - ``mortality``: sex, age, death_probability [probability of dying within the year]
    - ``migration``: street, sex, age, net_rate [net migrants per resident per year]
    - ``movers``: sex, age, share [share of people moving into new dwellings; sums to 1]
    - ``supply``: street, level, public, inclusive, classes, places [existing, base year], optional
      enrolled [pupils in the base year; the basis of ``sharing = "enrolment"``]
    - ``housing``: street, year, dwellings [dwellings completed in the year]
    - ``sites``: site, street, level, earliest_year, sizes [tuple of allowed sizes in classes], lon,
      lat, cost_per_class [million CNY per class; NaN if not given], public, inclusive, kind
      [``new`` (default), ``expansion`` (extra classes at the existing places of its street, level
      and type) or ``conversion`` (private non-inclusive kindergarten places made inclusive)],
      annual_cost_per_place [yuan per place per year; conversions only, NaN otherwise]
    - ``births`` (optional file ``births.csv``; empty when absent): street, year, births [live births
      during the year ending at the year's reference date; they replace the fertility rates' births
      in the years given]
    """

    path: Path
    name: str
    name_zh: str
    code: str
    base_year: int
    last_year: int
    birth_sex_ratio: float
    levels: pd.DataFrame
    streets: gpd.GeoDataFrame
    population: pd.DataFrame
    fertility: pd.DataFrame
    mortality: pd.DataFrame
    migration: pd.DataFrame
    movers: pd.DataFrame
    supply: pd.DataFrame
    housing: pd.DataFrame
    sites: pd.DataFrame
    census: dict = field(default_factory=dict)
    crs_note: str = ""
    births: pd.DataFrame | None = None

    SEXES = SEXES

    @property
    def street_ids(self) -> tuple[str, ...]:
        """Street codes, in file order of ``streets.csv`` (the street axis of every array)."""
        return tuple(self.streets["street"])

    @property
    def ages(self) -> np.ndarray:
        """Single years of age ``0 .. max_age``; the last is an open group."""
        return np.arange(int(self.population["age"].max()) + 1)

    @property
    def level_names(self) -> tuple[str, ...]:
        return tuple(self.levels["level"])

    def _grid(self, table: pd.DataFrame, value: str, by_street: bool) -> np.ndarray:
        streets = list(self.street_ids)
        s_idx = {s: i for i, s in enumerate(streets)}
        x_idx = {s: i for i, s in enumerate(SEXES)}
        ages = table["age"].to_numpy()
        sex = table["sex"].map(x_idx).to_numpy()
        if by_street:
            out = np.zeros((len(streets), 2, len(self.ages)))
            out[table["street"].map(s_idx).to_numpy(), sex, ages] = table[value].to_numpy(float)
        else:
            out = np.zeros((2, len(self.ages)))
            out[sex, ages] = table[value].to_numpy(float)
        return out

    def population_array(self) -> np.ndarray:
        """Base-year persons as an array (street, sex, age)."""
        return self._grid(self.population, "persons", True)

    def migration_array(self) -> np.ndarray:
        """Baseline net-migration rates (street, sex, age), per resident per year."""
        return self._grid(self.migration, "net_rate", True)

    def death_probability_array(self) -> np.ndarray:
        """Probability of dying within the year, (sex, age)."""
        return self._grid(self.mortality, "death_probability", False)

    def movers_array(self) -> np.ndarray:
        """Age-sex shares of people moving into new dwellings, (sex, age); sums to 1."""
        return self._grid(self.movers, "share", False)

    def fertility_array(self) -> np.ndarray:
        """Age-specific fertility rates (age,), births per woman per year; 0 where no row."""
        out = np.zeros(len(self.ages))
        out[self.fertility["age"].to_numpy()] = self.fertility["rate"].to_numpy(float)
        return out

    def births_array(self) -> tuple[np.ndarray, np.ndarray]:
        """Registered births of ``births.csv``: (years, array (year, street)); empty when absent."""
        b = self.births
        if b is None or b.empty:
            return np.zeros(0, dtype=int), np.zeros((0, len(self.street_ids)))
        table = b.pivot_table(index="year", columns="street", values="births", aggfunc="sum")
        table = table.reindex(columns=list(self.street_ids))
        return table.index.to_numpy(int), table.to_numpy(float)

    def housing_array(self, years) -> np.ndarray:
        """Dwellings completed, (year, street) for the given years; 0 where no row."""
        years = np.asarray(list(years), dtype=int)
        table = self.housing.pivot_table(
            index="year", columns="street", values="dwellings", aggfunc="sum"
        )
        table = table.reindex(index=years, columns=list(self.street_ids)).fillna(0.0)
        return table.to_numpy(float)

    def distance_km(self) -> pd.DataFrame:
        """Great-circle distance between the streets' representative points, km (street × street)."""
        pts = gpd.GeoSeries(
            gpd.points_from_xy(self.streets["lon"], self.streets["lat"]), crs=self.streets.crs
        ).to_crs("EPSG:4326")
        return pd.DataFrame(
            haversine_km(pts.x.to_numpy(), pts.y.to_numpy()),
            index=pd.Index(self.street_ids, name="street"),
            columns=pd.Index(self.street_ids, name="street"),
        )

    def street_names(self) -> dict[str, str]:
        """Street code → Chinese name."""
        return dict(zip(self.streets["street"], self.streets["name_zh"], strict=True))


def haversine_km(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Pairwise great-circle distances (km) between points given in degrees."""
    lon, lat = np.radians(lon), np.radians(lat)
    dlon = lon[:, None] - lon[None, :]
    dlat = lat[:, None] - lat[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


# --------------------------------------------------------------------------------------------
# cell-level readers: every check reports file, line, column, value


class _Table:
    """A CSV read as strings, with typed column converters that raise DataError."""

    def __init__(self, folder: Path, name: str, columns: tuple[str, ...], optional=()):
        self.name = name
        path = folder / name
        if not path.is_file():
            raise DataError(name, f"file not found in {folder}")
        try:
            text = read_text(path)
        except TextEncodingError as exc:
            raise DataError(name, exc.reason, line=exc.line) from None
        try:
            raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(name, f"cannot be read as CSV: {exc}".strip()) from None
        raw.columns = [str(c).strip() for c in raw.columns]
        for col in columns:
            if col not in raw.columns:
                raise DataError(
                    name, f"missing column '{col}'; the file has {', '.join(raw.columns)}"
                )
        allowed = set(columns) | set(optional) | set(FREE_TEXT_COLUMNS)
        for col in raw.columns:
            if col not in allowed:
                raise DataError(
                    name,
                    f"unknown column '{col}'; expected {', '.join(columns + tuple(optional))}",
                    column=col,
                )
        if raw.empty:
            raise DataError(name, "has no data rows")
        self.raw = raw.apply(lambda s: s.str.strip())
        self.lines = np.arange(len(raw)) + 2  # header is line 1

    def _fail(self, mask, column, expected):
        i = int(np.flatnonzero(np.asarray(mask))[0])
        raise DataError(
            self.name, f"expected {expected}", line=int(self.lines[i]), column=column,
            value=self.raw[column].iloc[i],
        )

    def text(self, column) -> pd.Series:
        s = self.raw[column]
        if (s == "").any():
            self._fail(s == "", column, "a non-empty value")
        return s

    def number(self, column, *, lo=-math.inf, hi=math.inf, integer=False, allow_empty=False,
               what=None) -> pd.Series:
        s = self.raw[column]
        empty = s == ""
        if empty.any() and not allow_empty:
            self._fail(empty, column, what or "a number")
        num = pd.to_numeric(s.where(~empty, None), errors="coerce")
        bad = num.isna() & ~empty
        bad |= ~np.isfinite(num.fillna(0.0))
        if bad.any():
            self._fail(bad, column, what or ("an integer" if integer else "a number"))
        if integer:
            # a count or a year is written out in digits: 1e3 is a typo or a spreadsheet's export
            exponent = s.str.contains(_EXPONENT)
            if exponent.any():
                self._fail(exponent, column, (what or "an integer")
                           + " written out in digits, not in exponent form (such as 1e3)")
            frac = (num.fillna(0) % 1) != 0
            if frac.any():
                self._fail(frac, column, what or "an integer")
            huge = num.abs() > MAX_COUNT
            if huge.any():
                self._fail(huge, column, (what or "an integer") + f" up to {MAX_COUNT:,}")
        out_of_range = (num < lo) | (num > hi)
        if out_of_range.any():
            rng = f"in [{lo:g}, {hi:g}]" if math.isfinite(lo) and math.isfinite(hi) else (
                f">= {lo:g}" if math.isfinite(lo) else f"<= {hi:g}")
            self._fail(out_of_range, column, what or f"a value {rng}")
        if integer and not allow_empty:
            return num.astype(np.int64)
        return num.astype(float)

    def boolean(self, column) -> pd.Series:
        s = self.raw[column].str.lower()
        bad = ~s.isin(["true", "false"])
        if bad.any():
            self._fail(bad, column, "true or false")
        return s == "true"

    def member(self, column, allowed, what) -> pd.Series:
        s = self.text(column)
        bad = ~s.isin(list(allowed))
        if bad.any():
            shown = ", ".join(map(str, list(allowed)[:12]))
            more = " ..." if len(allowed) > 12 else ""
            self._fail(bad, column, f"a known {what} ({shown}{more})")
        return s

    def unique(self, frame: pd.DataFrame, key: list[str]):
        dup = frame.duplicated(subset=key, keep=False)
        if dup.any():
            idx = np.flatnonzero(dup.to_numpy())
            first = idx[0]
            again = [i for i in idx[1:] if (frame.iloc[i][key] == frame.iloc[first][key]).all()][0]
            values = ", ".join(f"{k}={frame.iloc[first][k]}" for k in key)
            raise DataError(
                self.name,
                f"duplicate key ({values}); first seen on line {self.lines[first]}",
                line=int(self.lines[again]),
            )


def _complete_grid(table: _Table, frame: pd.DataFrame, axes: dict[str, list]):
    """Every combination of the axes' values must be present exactly once."""
    table.unique(frame, list(axes))
    full = pd.MultiIndex.from_product(list(axes.values()), names=list(axes))
    have = pd.MultiIndex.from_frame(frame[list(axes)])
    missing = full.difference(have)
    if len(missing):
        first = ", ".join(f"{k}={v}" for k, v in zip(axes, missing[0], strict=True))
        raise DataError(
            table.name,
            f"missing row for {first} ({len(missing)} combinations missing; every "
            f"{' x '.join(axes)} must be present)",
        )


# --------------------------------------------------------------------------------------------


def _read_toml(folder: Path) -> dict:
    name = "district.toml"
    path = folder / name
    if not path.is_file():
        raise DataError(name, f"file not found in {folder}")
    try:
        meta = tomllib.loads(read_text(path))
    except TextEncodingError as exc:
        raise DataError(name, exc.reason, line=exc.line) from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(name, f"not valid TOML: {exc}") from None
    types = {"name": str, "name_zh": str, "code": str, "base_year": int, "last_year": int,
             "birth_sex_ratio": (int, float)}
    for key, typ in types.items():
        if key not in meta:
            raise DataError(name, f"missing key '{key}'", column=key)
        if not isinstance(meta[key], typ) or isinstance(meta[key], bool):
            raise DataError(name, f"key '{key}' has the wrong type", column=key, value=meta[key])
    known = set(types) | {"crs_note", "census"}
    for key in meta:
        if key not in known:
            raise DataError(name, f"unknown key '{key}'; expected {', '.join(sorted(known))}",
                            column=key)
    if meta["last_year"] <= meta["base_year"]:
        raise DataError(name, "last_year must be after base_year", column="last_year",
                        value=meta["last_year"])
    if not 0.5 <= meta["birth_sex_ratio"] <= 2.0:
        raise DataError(name, "birth_sex_ratio must be boys per girl, in [0.5, 2]",
                        column="birth_sex_ratio", value=meta["birth_sex_ratio"])
    if "census" in meta:
        _check_census_keys(meta["census"])
    return meta


def _check_census_keys(census) -> None:
    """The ``[census]`` table of district.toml: known keys, types and ranges."""
    name = "district.toml"
    if not isinstance(census, dict):
        raise DataError(name, "'census' must be a table [census]", column="census", value=census)
    for key, value in census.items():
        col = f"census.{key}"
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if key == "total":
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise DataError(name, "expected a positive whole number of residents", column=col,
                                value=value)
        elif key == "tolerance":
            if not number or not 0 < value < 1:
                raise DataError(name, "expected a relative difference in (0, 1), e.g. 0.05 for 5%",
                                column=col, value=value)
        elif key == "male_share" or _CENSUS_AGE.fullmatch(key):
            if not number or not 0 <= value <= 1:
                raise DataError(name, "expected a share in [0, 1]", column=col, value=value)
            m = _CENSUS_AGE.fullmatch(key)
            if m and m.group(2) and int(m.group(2)) < int(m.group(1)):
                raise DataError(name, "the age group ends before it starts", column=col)
        else:
            raise DataError(name, f"unknown key '{key}' in [census]; expected total, male_share, "
                                  "age_<from>_<to>, age_<from>_plus or tolerance", column=col)


def _read_streets(folder: Path) -> gpd.GeoDataFrame:
    t = _Table(folder, "streets.csv", ("street", "name_zh", "name_pinyin", "lon", "lat"),
               optional=("point_source",))
    frame = pd.DataFrame({
        "street": t.text("street"),
        "name_zh": t.text("name_zh"),
        "name_pinyin": t.text("name_pinyin"),
        "lon": t.number("lon"),
        "lat": t.number("lat"),
        "point_source": t.raw["point_source"] if "point_source" in t.raw else "",
    })
    t.unique(frame, ["street"])

    name = "streets.gpkg"
    path = folder / name
    if not path.is_file():
        raise DataError(name, f"file not found in {folder}")
    try:
        geo = gpd.read_file(path, layer="streets")
    except Exception as exc:  # pyogrio raises several types for unreadable files / layers
        raise DataError(name, f"cannot read layer 'streets': {exc}") from None
    if geo.crs is None:
        raise DataError(name, "layer 'streets' has no CRS; store the geometry with an explicit CRS")
    if "street" not in geo.columns:
        raise DataError(name, "layer 'streets' has no column 'street'", column="street")
    geo["street"] = geo["street"].astype(str).str.strip()
    for i, row in enumerate(geo.itertuples()):
        feature = f"feature {i + 1} (street {row.street})"
        g = row.geometry
        if g is None or g.is_empty:
            raise DataError(name, f"{feature} has no geometry", column="geometry")
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            raise DataError(name, f"{feature} is a {g.geom_type}; expected a Polygon or "
                            "MultiPolygon", column="geometry")
        if not g.is_valid:
            from shapely.validation import explain_validity

            raise DataError(name, f"{feature} has invalid geometry: {explain_validity(g)}",
                            column="geometry")
    dup = geo["street"].duplicated()
    if dup.any():
        raise DataError(name, f"street {geo['street'][dup].iloc[0]} has more than one feature",
                        column="street")
    only_geo = sorted(set(geo["street"]) - set(frame["street"]))
    if only_geo:
        raise DataError(name, f"unknown street {only_geo[0]} (not in streets.csv)",
                        column="street", value=only_geo[0])
    only_csv = [s for s in frame["street"] if s not in set(geo["street"])]
    if only_csv:
        raise DataError(name, f"street {only_csv[0]} of streets.csv has no polygon",
                        column="street")
    approximate = (geo["approximate"].astype(bool) if "approximate" in geo.columns
                   else pd.Series(False, index=geo.index))
    geo = geo.assign(approximate=approximate)[["street", "approximate", "geometry"]]
    out = frame.merge(geo, on="street", how="left", validate="one_to_one")
    return gpd.GeoDataFrame(out, geometry="geometry", crs=geo.crs)


def _read_levels(folder: Path) -> pd.DataFrame:
    t = _Table(folder, "levels.csv", ("level", "name_zh", "first_age", "last_age"),
               optional=("stage",))
    level = t.text("level")
    frame = pd.DataFrame({
        "level": level,
        "name_zh": t.text("name_zh"),
        "first_age": t.number("first_age", lo=0, integer=True),
        "last_age": t.number("last_age", lo=0, integer=True),
        # a stage groups levels that share ages (general and vocational senior high); empty or
        # absent = the level is a stage of its own
        "stage": (t.raw["stage"].where(t.raw["stage"] != "", level) if "stage" in t.raw
                  else level),
    })
    t.unique(frame, ["level"])
    bad = frame["last_age"] < frame["first_age"]
    if bad.any():
        t._fail(bad, "last_age", "last_age >= first_age")
    names = set(frame["level"])
    bad = frame["stage"].isin(names) & (frame["stage"] != frame["level"])
    if bad.any():
        t._fail(bad, "stage", "a stage name that is not another level's name")
    first = frame.groupby("stage", sort=False)[["first_age", "last_age"]].transform("first")
    bad = (first["first_age"] != frame["first_age"]) | (first["last_age"] != frame["last_age"])
    if bad.any():
        t._fail(bad, "stage", "the same ages as the other levels of its stage")
    ordered = frame.drop_duplicates("stage").sort_values("first_age")
    overlap = ordered["first_age"].to_numpy()[1:] <= ordered["last_age"].to_numpy()[:-1]
    if overlap.any():
        i = int(np.flatnonzero(overlap)[0])
        a, b = ordered.iloc[i], ordered.iloc[i + 1]
        raise DataError("levels.csv", f"levels {a.level} ({a.first_age}-{a.last_age}) and "
                        f"{b.level} ({b.first_age}-{b.last_age}) overlap in age (levels that "
                        "share ages need the same 'stage')")
    return frame


def _read_births(folder: Path, street_ids, base_year: int, last_year: int) -> pd.DataFrame:
    """Optional ``births.csv`` (street, year, births): registered births that replace the births
    the fertility rates give in those years. Every street must be given in each year listed."""
    columns = ["street", "year", "births"]
    if not (folder / "births.csv").is_file():
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                             zip(columns, (object, np.int64, float), strict=True)})
    t = _Table(folder, "births.csv", tuple(columns))
    frame = pd.DataFrame({
        "street": t.member("street", street_ids, "street (see streets.csv)"),
        "year": t.number("year", lo=base_year + 1, hi=last_year, integer=True,
                         what=f"a year in {base_year + 1}..{last_year} (district.toml)"),
        "births": t.number("births", lo=0, integer=True,
                           what="a non-negative whole number of births"),
    })
    t.unique(frame, ["street", "year"])
    for year, rows in frame.groupby("year", sort=True):
        missing = [s for s in street_ids if s not in set(rows["street"])]
        if missing:
            raise DataError("births.csv", f"year {year} gives births for {len(rows)} of "
                            f"{len(street_ids)} streets; missing street {missing[0]} (a year "
                            "listed replaces the rates in every street)", column="street")
    return frame.sort_values(["year", "street"], kind="stable").reset_index(drop=True)


def load_district(path) -> District:
    """Read and validate a district folder.

    Parameters
    ----------
    path : str or Path
        The folder (e.g. ``data/streets``).

    Returns
    -------
    District

    Raises
    ------
    DataError
        On the first problem found, naming the file, line, column and value.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(str(folder), "is not a folder (expected a district data folder)")
    meta = _read_toml(folder)
    base_year, last_year = meta["base_year"], meta["last_year"]
    levels = _read_levels(folder)
    level_ids = list(levels["level"])
    streets = _read_streets(folder)
    street_ids = list(streets["street"])

    # population: the age range of the whole model comes from here
    t = _Table(folder, "population.csv", ("street", "sex", "age", "persons"))
    population = pd.DataFrame({
        "street": t.member("street", street_ids, "street (see streets.csv)"),
        "sex": t.member("sex", SEXES, "sex"),
        "age": t.number("age", lo=0, hi=130, integer=True),
        "persons": t.number("persons", lo=0, integer=True,
                            what="a non-negative whole number of persons"),
    })
    max_age = int(population["age"].max())
    ages = list(range(max_age + 1))
    _complete_grid(t, population, {"street": street_ids, "sex": list(SEXES), "age": ages})
    if levels["last_age"].max() > max_age:
        raise DataError("levels.csv", f"a level reaches age {levels['last_age'].max()} but "
                        f"population.csv stops at age {max_age}")
    check_census(population, meta.get("census", {}))

    t = _Table(folder, "fertility.csv", ("age", "rate"))
    fertility = pd.DataFrame({
        "age": t.number("age", lo=0, hi=max_age, integer=True),
        "rate": t.number("rate", lo=0, hi=1, what="a birth rate in [0, 1]"),
    })
    t.unique(fertility, ["age"])

    t = _Table(folder, "mortality.csv", ("sex", "age", "death_probability"))
    mortality = pd.DataFrame({
        "sex": t.member("sex", SEXES, "sex"),
        "age": t.number("age", lo=0, hi=max_age, integer=True,
                        what=f"an age in 0..{max_age} (the ages of population.csv)"),
        "death_probability": t.number("death_probability", lo=0, hi=1,
                                      what="a probability in [0, 1]"),
    })
    _complete_grid(t, mortality, {"sex": list(SEXES), "age": ages})
    open_group = (mortality["age"] == max_age) & (mortality["death_probability"] != 1.0)
    if open_group.any():
        t._fail(open_group, "death_probability",
                f"1 at the open age group {max_age}+ (the last age of population.csv): nobody "
                "outlives it, and the projection keeps survivors of the open group in it")

    t = _Table(folder, "migration.csv", ("street", "sex", "age", "net_rate"))
    migration = pd.DataFrame({
        "street": t.member("street", street_ids, "street (see streets.csv)"),
        "sex": t.member("sex", SEXES, "sex"),
        "age": t.number("age", lo=0, hi=max_age, integer=True,
                        what=f"an age in 0..{max_age} (the ages of population.csv)"),
        "net_rate": t.number("net_rate", lo=-1, hi=1, what="a rate per resident in [-1, 1]"),
    })
    _complete_grid(t, migration, {"street": street_ids, "sex": list(SEXES), "age": ages})

    t = _Table(folder, "movers.csv", ("sex", "age", "share"))
    movers = pd.DataFrame({
        "sex": t.member("sex", SEXES, "sex"),
        "age": t.number("age", lo=0, hi=max_age, integer=True,
                        what=f"an age in 0..{max_age} (the ages of population.csv)"),
        "share": t.number("share", lo=0, hi=1, what="a share in [0, 1]"),
    })
    _complete_grid(t, movers, {"sex": list(SEXES), "age": ages})
    total = movers["share"].sum()
    if abs(total - 1.0) > 1e-6:
        raise DataError("movers.csv", f"the shares must sum to 1, they sum to {total:.6f}",
                        column="share")

    t = _Table(folder, "supply.csv", ("street", "level", "public", "inclusive", "classes",
                                      "places"), optional=("enrolled",))
    supply = pd.DataFrame({
        "street": t.member("street", street_ids, "street (see streets.csv)"),
        "level": t.member("level", level_ids, "level (see levels.csv)"),
        "public": t.boolean("public"),
        "inclusive": t.boolean("inclusive"),
        "classes": t.number("classes", lo=0, integer=True,
                            what="a non-negative whole number of classes"),
        "places": t.number("places", lo=0, integer=True,
                           what="a non-negative whole number of places"),
    })
    if "enrolled" in t.raw:  # optional: pupils in the base year (sharing = "enrolment")
        supply["enrolled"] = t.number("enrolled", lo=0, integer=True,
                                      what="a non-negative whole number of pupils")
    t.unique(supply, ["street", "level", "public", "inclusive"])

    t = _Table(folder, "housing.csv", ("street", "year", "dwellings"))
    housing = pd.DataFrame({
        "street": t.member("street", street_ids, "street (see streets.csv)"),
        "year": t.number("year", lo=base_year + 1, hi=last_year, integer=True,
                         what=f"a year in {base_year + 1}..{last_year} (district.toml)"),
        "dwellings": t.number("dwellings", lo=0, integer=True,
                              what="a non-negative whole number of dwellings"),
    })
    t.unique(housing, ["street", "year"])

    sites = _read_sites(folder, street_ids, level_ids, base_year, last_year)
    births = _read_births(folder, street_ids, base_year, last_year)

    return District(
        path=folder, name=meta["name"], name_zh=meta["name_zh"], code=meta["code"],
        base_year=base_year, last_year=last_year, birth_sex_ratio=float(meta["birth_sex_ratio"]),
        levels=levels, streets=streets, population=population, fertility=fertility,
        mortality=mortality, migration=migration, movers=movers, supply=supply,
        housing=housing, sites=sites, births=births, census=dict(meta.get("census", {})),
        crs_note=str(meta.get("crs_note", "")),
    )


def _decimals(x: float) -> int:
    text = repr(float(x))
    return 0 if "e" in text else len(text.split(".")[1].rstrip("0"))


def check_census(population: pd.DataFrame, census) -> list[str]:
    """Compare the base population with the census check figures of district.toml.

    Each figure is compared on its own: ``total`` with the residents of ``population.csv``,
    ``male_share`` and each ``age_<from>_<to>`` / ``age_<from>_plus`` share with the same share of
    the base population. The relative difference ``|base / census - 1|`` of a figure beyond
    ``[census] tolerance`` (default :data:`DEFAULT_CENSUS_TOLERANCE`) is an error; a difference
    within it but larger than the figure's own rounding (half a unit of its last decimal) is a
    :class:`DataWarning`.

    Parameters
    ----------
    population : DataFrame
        ``street, sex, age, persons`` [persons].
    census : dict
        The ``[census]`` table (already checked by the reader); empty: nothing is checked.

    Returns
    -------
    list of str
        The warnings issued (also issued with :func:`warnings.warn`).

    Raises
    ------
    DataError
        Naming population.csv, column ``persons``, the census key and both figures.
    """
    if not census:
        return []
    tol = float(census.get("tolerance", DEFAULT_CENSUS_TOLERANCE))
    persons = population["persons"].to_numpy(float)
    total = float(persons.sum())
    age = population["age"].to_numpy()
    max_age = int(age.max())
    notes = []
    for key, value in census.items():
        if key == "tolerance":
            continue
        if key == "total":
            have, want, rounding = total, float(value), 0.0
            what = f"{have:,.0f} residents; district.toml [census] total = {value:,}"
            shown = "residents"
        else:
            if total <= 0:
                raise DataError("population.csv", "has no residents to compare with the census "
                                f"figure [census] {key}", column="persons")
            if key == "male_share":
                have = float(persons[(population["sex"] == "male").to_numpy()].sum()) / total
                label = "male"
            else:
                m = _CENSUS_AGE.fullmatch(key)
                lo = int(m.group(1))
                hi = int(m.group(2)) if m.group(2) else max_age
                if lo > max_age:
                    raise DataError("district.toml", f"the census age group starts at {lo}, after "
                                    f"the last age {max_age} of population.csv",
                                    column=f"census.{key}", value=value)
                have = float(persons[(age >= lo) & (age <= hi)].sum()) / total
                label = f"aged {lo}-{hi}" if m.group(2) else f"aged {lo}+"
            want, rounding = float(value), 0.5 * 10.0 ** -_decimals(value)
            what = f"{have:.2%} {label}; district.toml [census] {key} = {value:g}"
            shown = "share"
        if abs(have - want) <= rounding + 1e-12:
            continue
        rel = abs(have / want - 1.0) if want > 0 else math.inf
        if rel > tol:
            raise DataError("population.csv", f"the base population has {what}: the {shown} "
                            f"differs by {rel:.1%}, beyond [census] tolerance = {tol:g}; check the "
                            "counts (or the census figure)", column="persons")
        notes.append(f"population.csv: the base population has {what} (a difference of "
                     f"{rel:.2%}, within [census] tolerance = {tol:g})")
    for note in notes:
        warnings.warn(note, DataWarning, stacklevel=3)
    return notes


def _site_kinds(t: _Table) -> pd.Series:
    """``kind`` of every site (empty or no column: ``new``)."""
    from capacity.optimize.index import SITE_KINDS

    if "kind" not in t.raw:
        return pd.Series("new", index=t.raw.index)
    s = t.raw["kind"].where(t.raw["kind"] != "", "new")
    bad = ~s.isin(SITE_KINDS)
    if bad.any():
        t._fail(bad, "kind", f"one of {', '.join(SITE_KINDS)} (empty: new)")
    return s


def _check_site_kinds(t: _Table, frame: pd.DataFrame) -> None:
    """A conversion's cost is ``annual_cost_per_place`` (required, and only there); its flags are
    the places' after conversion: private (public false) and inclusive."""
    conv = (frame["kind"] == "conversion").to_numpy()
    annual = frame["annual_cost_per_place"].notna().to_numpy()
    if (annual & ~conv).any():
        t._fail(annual & ~conv, "annual_cost_per_place", "empty: an annual cost per place is for "
                "kind = conversion only")
    if (conv & ~annual).any():
        col = "annual_cost_per_place" if "annual_cost_per_place" in t.raw else "kind"
        t._fail(conv & ~annual, col, "a conversion's annual cost per place (yuan per place per "
                "year) in column annual_cost_per_place")
    capital = conv & (frame["cost_per_class"].fillna(0.0).to_numpy() != 0)
    if capital.any():
        t._fail(capital, "cost_per_class", "empty or 0 for a conversion (its cost is "
                "annual_cost_per_place)")
    flags = conv & (frame["public"].to_numpy(bool) | ~frame["inclusive"].to_numpy(bool))
    if flags.any():
        col = "public" if (conv & frame["public"].to_numpy(bool)).any() else "inclusive"
        t._fail(flags, col, "public = false and inclusive = true for a conversion (the places "
                "after conversion: private, inclusive)")


def _read_sites(folder, street_ids, level_ids, base_year, last_year) -> pd.DataFrame:
    t = _Table(folder, "sites.csv", ("site", "street", "level", "earliest_year", "sizes", "lon",
                                     "lat"), optional=("cost_per_class", "public", "inclusive", "kind",
                                                       "annual_cost_per_place"))
    n = len(t.raw)
    sizes_raw = t.raw["sizes"]
    sizes = []
    for i, text in enumerate(sizes_raw):
        parts = [p.strip() for p in text.replace(",", ";").split(";") if p.strip()]
        if not parts:
            raise DataError("sites.csv", "a site needs at least one allowed size in classes, "
                            "e.g. 12;18;24", line=int(t.lines[i]), column="sizes", value=text)
        try:
            vals = tuple(sorted({int(p) for p in parts}))
        except ValueError:
            raise DataError("sites.csv", "expected whole numbers of classes separated by ';'",
                            line=int(t.lines[i]), column="sizes", value=text) from None
        if min(vals) <= 0:
            raise DataError("sites.csv", "sizes must be positive numbers of classes",
                            line=int(t.lines[i]), column="sizes", value=text)
        sizes.append(vals)
    frame = pd.DataFrame({
        "site": t.text("site"),
        "street": t.member("street", street_ids, "street (see streets.csv)"),
        "level": t.member("level", level_ids, "level (see levels.csv)"),
        "earliest_year": t.number(
            "earliest_year", lo=base_year + 1, hi=last_year, integer=True,
            what=f"a year in {base_year + 1}..{last_year} (district.toml)"),
        "sizes": pd.Series(sizes, index=t.raw.index, dtype=object),
        "lon": t.number("lon"),
        "lat": t.number("lat"),
        "cost_per_class": (t.number("cost_per_class", lo=0, allow_empty=True,
                                    what="a non-negative cost (million CNY per class) or empty")
                           if "cost_per_class" in t.raw else pd.Series(np.nan, index=t.raw.index)),
        "public": t.boolean("public") if "public" in t.raw else pd.Series(True, index=range(n)),
        "inclusive": (t.boolean("inclusive") if "inclusive" in t.raw
                      else pd.Series(True, index=range(n))),
        "kind": _site_kinds(t),
        "annual_cost_per_place": (
            t.number("annual_cost_per_place", lo=0, allow_empty=True,
                     what="a non-negative cost (yuan per place per year) or empty")
            if "annual_cost_per_place" in t.raw else pd.Series(np.nan, index=t.raw.index)),
    })
    t.unique(frame, ["site"])
    _check_site_kinds(t, frame)
    return frame


def summary(district: District) -> str:
    """A plain-text summary of a district: streets, population by level ages, existing places.

    Parameters
    ----------
    district : District

    Returns
    -------
    str
        Several short tables, for the terminal.
    """
    d = district
    pop = d.population
    names = d.street_names()
    lines = [
        f"{d.name} ({d.name_zh}, code {d.code}): {len(d.street_ids)} streets, base year "
        f"{d.base_year}, inputs to {d.last_year}",
        f"Residents {d.base_year}: {int(pop['persons'].sum()):,} "
        f"(male {pop.loc[pop.sex == 'male', 'persons'].sum() / pop['persons'].sum():.2%})",
        "",
    ]
    by_street = pop.groupby("street")["persons"].sum()
    age_group = {}
    for lv in d.levels.itertuples():
        in_level = pop[(pop.age >= lv.first_age) & (pop.age <= lv.last_age)]
        age_group[lv.level] = in_level.groupby("street")["persons"].sum()
    table = pd.DataFrame({"name": [names[s] for s in d.street_ids],
                          "pinyin": list(d.streets["name_pinyin"]),
                          "residents": by_street.reindex(list(d.street_ids)).to_numpy()},
                         index=pd.Index(d.street_ids, name="street"))
    for lv in d.levels.itertuples():
        label = f"age {lv.first_age}-{lv.last_age}"
        table[label] = age_group[lv.level].reindex(list(d.street_ids)).fillna(0).astype(int)
    numeric = table.columns.drop(["name", "pinyin"])
    table.loc["total"] = ["", ""] + [int(v) for v in table[numeric].sum()]
    table[numeric] = table[numeric].map(lambda v: f"{int(v):,}")
    lines.append("Residents by street and level ages")
    lines.append(table.to_string())
    lines.append("")
    sup = d.supply.groupby("level", sort=False).agg(classes=("classes", "sum"),
                                                    places=("places", "sum"))
    pub = d.supply[d.supply.public].groupby("level")["places"].sum()
    inc = d.supply[d.supply.inclusive].groupby("level")["places"].sum()
    sup["public_share"] = (pub.reindex(sup.index).fillna(0) / sup["places"]).map("{:.0%}".format)
    sup["inclusive_share"] = (inc.reindex(sup.index).fillna(0) / sup["places"]).map("{:.0%}".format)
    children = pd.Series({lv: age_group[lv].sum() for lv in d.level_names}, name="residents")
    sup = sup.reindex(list(d.level_names))
    sup.insert(0, "residents_of_age", children)
    sup["places_per_resident"] = (sup["places"] / sup["residents_of_age"]).map("{:.2f}".format)
    lines.append(f"Existing places by level ({d.base_year})")
    lines.append(sup.to_string())
    lines.append("")
    lines.append(f"Planned housing: {int(d.housing['dwellings'].sum()):,} dwellings in "
                 f"{d.housing['street'].nunique()} streets, {d.housing['year'].min()}-"
                 f"{d.housing['year'].max()}")
    kind = d.sites["kind"] if "kind" in d.sites else pd.Series("new", index=d.sites.index)
    new = d.sites[kind == "new"]
    counts = new.groupby("level").size().reindex(list(d.level_names)).fillna(0).astype(int)
    lines.append("Candidate sites: " + ", ".join(f"{lv} {n}" for lv, n in counts.items()))
    for k, what in (("expansion", "Expansion options (classes added at existing places)"),
                    ("conversion", "Conversion options (private places made inclusive)")):
        c = d.sites[kind == k].groupby("level").size()
        if len(c):
            lines.append(f"{what}: " + ", ".join(f"{lv} {n}" for lv, n in c.items()))
    if d.streets["approximate"].any():
        lines.append("Note: street boundaries are approximate (see SOURCES.md).")
    return "\n".join(lines)
