"""Tests of capacity.maps: figures written, fonts, pinyin fallback, label placement, no leaks."""

from __future__ import annotations

import gc
import weakref

import matplotlib.pyplot as plt
import numpy as np
import pytest
from fixtures import synthetic_plan as sp
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text

from capacity import maps


@pytest.fixture(scope="module")
def tiny():
    return sp.district()


@pytest.fixture
def no_cjk():
    maps.use_cjk(False)
    yield
    maps.use_cjk(True)


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]


def test_cjk_font_ships_with_mplfonts():
    # the font comes from the mplfonts wheel, not from the machine
    name = maps.cjk_font()
    assert name is not None
    from matplotlib import font_manager

    path = font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False)
    assert "mplfonts" in path


def test_street_label_fallback():
    row = {"street": "A", "name_zh": "甲", "name_pinyin": "Jia"}
    assert maps.street_label(row, cjk=True) == "甲"
    assert maps.street_label(row, cjk=False) == "Jia"
    assert maps.street_label({"street": "A", "name_zh": "", "name_pinyin": None}, cjk=True) == "A"


def test_labels_fall_back_to_pinyin(tiny, no_cjk):
    assert maps.cjk_font() is None
    r = sp.run("base", dist=tiny)
    fig = maps.siting_map(tiny, r.plan, r.counterfactual, "primary", 2025)
    texts = "\n".join(_texts(fig))
    assert "Jia" in texts and "Bing" in texts and "甲" not in texts
    assert "2023 · 4 classes" in texts and "班" not in texts
    assert all(ord(ch) < 0x2E80 for ch in texts)  # nothing would render as tofu


def test_siting_map_content(tiny):
    r = sp.run("base", dist=tiny)
    fig = maps.siting_map(tiny, r.plan, r.counterfactual, "primary", 2025)
    texts = _texts(fig)
    joined = "\n".join(texts)
    assert "甲" in joined and "丙" in joined
    assert "2023 · 4班" in joined
    assert "N" in texts  # north arrow
    assert any(t.endswith(" m") or t.endswith(" km") for t in texts)  # scale bar
    assert "approximate" in joined
    # one colour bar whose label gives the unit; both panels share its scale
    cbar_axes = [a for a in fig.axes if a.get_label() == "" and a.get_xlabel()]
    assert any("pupils without a place" in a.get_xlabel() for a in cbar_axes)
    # C has 220 primary pupils in 2025: without the new school 220 - 0 short; with it 220 - 216 = 4
    assert "丙\n220" in joined and "丙\n4" in joined


def test_labels_do_not_overlap(tiny):
    r = sp.run("base", dist=tiny)
    fig = maps.siting_map(tiny, r.plan, r.counterfactual, "kindergarten", 2025)
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes[:2]:
        boxes = [t.get_window_extent(renderer) for t in ax.texts + [c for c in ax.get_children()
                 if isinstance(c, Annotation)] if t.get_text().strip() and t.get_text() not in ("N",)]
        boxes = list({(b.x0, b.y0, b.x1, b.y1): b for b in boxes}.values())
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                assert not boxes[i].overlaps(boxes[j]) or maps._overlap(boxes[i], boxes[j]) < 1.0


def test_utm_zone(tiny):
    assert maps.utm_crs(tiny.streets) == "EPSG:32631"
    import geopandas as gpd
    from shapely.geometry import Point

    dongli = gpd.GeoDataFrame(geometry=[Point(117.4, 39.1)], crs="EPSG:4326")
    assert maps.utm_crs(dongli) == "EPSG:32650"
    south = gpd.GeoDataFrame(geometry=[Point(-58.4, -34.6)], crs="EPSG:4326")
    assert maps.utm_crs(south) == "EPSG:32721"
    assert maps._nice_length(2700) == 500 and maps._nice_length(27000) == 5000


def test_charts(tiny):
    r = sp.run("base", dist=tiny)
    fig = maps.demand_places_chart(r.plan.balance, "primary", ["C"], district=tiny, demand=r.demand,
                                   counterfactual=r.counterfactual)
    assert len([a for a in fig.get_axes() if a.get_visible()]) == 2
    joined = "\n".join(_texts(fig))
    assert "persons" in joined and "丙" in joined
    fig = maps.population_pyramid(r.population, 2025, compare_year=2020, district=tiny)
    ax = fig.axes[0]
    from matplotlib.patches import StepPatch

    # the filled shapes (the 2020 outlines are not filled): males to the left, females to the right
    bars = [p.get_data().values for p in ax.patches if isinstance(p, StepPatch) and p.get_fill()]
    assert len(bars) == 2
    for values, sex, sign in zip(bars, ("male", "female"), (-1, 1), strict=True):
        assert (sign * values >= 0).all()
        pop = r.population
        assert sign * values.sum() == pytest.approx(
            pop.loc[(pop["year"] == 2025) & (pop["sex"] == sex), "persons"].sum())
    fig = maps.population_pyramid(r.population, 2025, "C", district=tiny)
    assert "丙" in fig.axes[0].get_title()
    assert maps.growth_streets(r.demand) == ["C"]


def test_write_figures_and_no_leak(tiny, tmp_path):
    r = sp.run("base", dist=tiny)
    before = set(plt.get_fignums())
    paths = maps.write_plan_figures(tmp_path / "plan", district=tiny, plan=r.plan,
                                    counterfactual=r.counterfactual, population=r.population,
                                    demand=r.demand, growth_streets=["C"], pyramid_streets=["C"])
    names = sorted(p.name for p in paths)
    assert names == ["demand_kindergarten.png", "demand_primary.png", "pyramid.png", "pyramid_C.png",
                     "siting_kindergarten.png", "siting_kindergarten_2025.png", "siting_primary.png",
                     "siting_primary_2022.png", "spare_kindergarten_2025.png", "spare_primary_2025.png"]
    for p in paths:
        assert p.stat().st_size > 10_000
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    runs = {"base": r, "low": sp.run("low", 0.5, dist=tiny), "none": sp.run("none", new={}, dist=tiny)}
    cpaths = maps.write_compare_figures(tmp_path / "cmp", runs)
    assert [p.name for p in cpaths] == ["compare_demand.png", "compare_shortfall.png",
                                        "compare_schools_kindergarten.png",
                                        "compare_schools_primary.png"]
    assert set(plt.get_fignums()) == before  # nothing registered with pyplot

    # figures are freed once dropped
    fig = maps.siting_map(tiny, r.plan, r.counterfactual, "primary", 2025)
    ref = weakref.ref(fig)
    del fig
    gc.collect()
    assert ref() is None


def test_compare_figures_content(tiny):
    runs = {"base": sp.run("base", dist=tiny), "low": sp.run("low", 0.5, dist=tiny)}
    fig = maps.compare_shortfall_figure(runs)
    joined = "\n".join(_texts(fig))
    assert "pupil-years" in joined and "scenario" in joined
    heights = [p.get_height() for p in fig.axes[0].patches]
    # base: kindergarten 24, primary 164 pupil-years without a place (see synthetic_plan)
    assert heights[:2] == pytest.approx([24, 164])
    fig = maps.compare_demand_figure(runs)
    assert len([a for a in fig.axes if a.get_visible()]) == 2
    line = fig.axes[0].get_lines()[0]
    assert np.asarray(line.get_ydata())[-1] == pytest.approx(280)


def test_compare_demand_small_multiples_for_three_banded_scenarios(tiny):
    runs = {n: sp.run(n, k, dist=tiny) for n, k in (("base", 1.0), ("low", 0.5), ("high", 1.5))}
    fig = maps.compare_demand_figure(runs)
    panels = [a for a in fig.axes if a.get_visible()]
    assert len(panels) == 2 * 3  # levels x scenarios
    titles = [a.get_title() for a in panels[:3]]
    assert titles == ["base", "low", "high"]
    # the "low" panel of kindergarten: its own line last (drawn over the grey others), 2025 = 140
    low = panels[1].get_lines()[-1]
    assert np.asarray(low.get_ydata())[-1] == pytest.approx(140)
    assert len(panels[1].collections) == 1  # one band: its own


def test_compare_schools_map_outlines_streets_that_differ(tiny, tmp_path):
    runs = {"base": sp.run("base", dist=tiny), "none": sp.run("none", new={}, dist=tiny)}
    fig = maps.compare_schools_map(runs, "primary")
    # base opens one primary school in street C, none opens nothing: one street differs
    assert "1 street outlined" in fig._suptitle.get_text()
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["1"]
    paths = maps.write_compare_figures(tmp_path, runs)
    assert {p.name for p in paths} >= {"compare_schools_kindergarten.png", "compare_schools_primary.png"}


def test_siting_map_into_given_axes(tiny):
    r = sp.run("base", dist=tiny)
    fig = Figure(figsize=(10, 5))
    axes = fig.subplots(1, 2)
    out = maps.siting_map(tiny, r.plan, r.counterfactual, "primary", 2025, ax=axes)
    assert out is fig
    with pytest.raises(ValueError, match="pair of Axes"):
        maps.siting_map(tiny, r.plan, r.counterfactual, "primary", 2025, ax=axes[0])


DONGLI = sp.TINY.parents[2] / "data" / "streets"


@pytest.mark.skipif(not (DONGLI / "streets.gpkg").exists(), reason="no Dongli street polygons")
def test_dongli_siting_map_labels_do_not_overlap(monkeypatch, tmp_path):
    """Eleven real streets (three small ones close together): street and school labels stay apart."""
    from types import SimpleNamespace

    import geopandas as gpd
    import pandas as pd

    g = gpd.read_file(DONGLI / "streets.gpkg")
    c = pd.read_csv(DONGLI / "streets.csv", dtype={"street": str})
    streets = gpd.GeoDataFrame(c.merge(g, on="street"), geometry="geometry", crs=g.crs)
    pts = streets.geometry.representative_point()
    # four new primary schools near the street points of the first four streets
    sites = pd.DataFrame({"site": [f"P{i}" for i in range(4)], "street": streets["street"][:4],
                          "level": "primary", "lon": pts.x[:4] + 0.01, "lat": pts.y[:4]})
    district = SimpleNamespace(streets=streets, sites=sites, name="Dongli District", name_zh="东丽区",
                               levels=pd.DataFrame({"level": ["primary"], "name_zh": ["小学"],
                                                    "first_age": [6], "last_age": [11]}))
    rows = [(s, "primary", 2025, 1000.0 + 100 * i) for i, s in enumerate(streets["street"])]
    demand = pd.DataFrame(rows, columns=["street", "level", "year", "pupils"])
    new = {f"P{i}": (s, "primary", 2022 + i, 24, 1080) for i, s in enumerate(streets["street"][:4])}
    monkeypatch.setattr(sp, "EXISTING", {(s, "primary"): 600 for s in streets["street"]})
    plan, cf = sp.make_plan(demand, new), sp.make_plan(demand, {})
    fig = maps.siting_map(district, plan, cf, "primary", 2025)
    fig.canvas.draw()  # the labels' positions as drawn
    renderer = fig.canvas.get_renderer()
    names = set(streets["name_zh"])
    for ax in fig.axes[:2]:
        labels = [t for t in ax.texts if t.get_text().split("\n")[0] in names or "班" in t.get_text()]
        assert len(labels) >= 11
        boxes = [Text.get_window_extent(t, renderer) for t in labels]  # text only, not the leader
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                assert maps._overlap(boxes[i], boxes[j]) < 4.0, (labels[i].get_text(), labels[j].get_text())
    fig.savefig(tmp_path / "dongli.png")
    assert "2022 · 24班" in "\n".join(t.get_text() for t in fig.axes[1].texts)
