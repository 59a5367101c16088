"""Tests of capacity.figures: which figures a plan gets, drawing in worker processes gives the same
bytes as drawing here, the street base layer, and one test per bad input."""

from __future__ import annotations

import pickle

import pytest
from fixtures import synthetic_plan as sp

from capacity import figures as fg
from capacity import maps


@pytest.fixture(scope="module")
def tiny():
    return sp.district()


@pytest.fixture(scope="module")
def run(tiny):
    return sp.run("base", dist=tiny)


def _names(specs):
    return [s.filename for s in specs]


def test_specs_per_figure_set(tiny, run):
    all_ = fg.plan_figure_specs(tiny, run.plan, run.counterfactual, run.demand, growth_streets=["C"])
    # per level: the end-year siting map, the peak-year one (kindergarten 2025, primary 2022 in the
    # synthetic plan), spare places in the last year, the demand chart
    assert _names(all_) == ["siting_kindergarten.png", "siting_kindergarten_2025.png",
                            "spare_kindergarten_2025.png", "demand_kindergarten.png",
                            "siting_primary.png", "siting_primary_2022.png", "spare_primary_2025.png",
                            "demand_primary.png"]
    maps_only = fg.plan_figure_specs(tiny, run.plan, run.counterfactual, run.demand, figures="maps")
    assert _names(maps_only) == [n for n in _names(all_) if not n.startswith("demand_")]
    assert fg.plan_figure_specs(tiny, run.plan, run.counterfactual, figures="none") == []
    # the siting year: the latest opening year of a new school (k1 2022, p1 2023)
    assert {s.kwargs["year"] for s in maps_only if "_20" not in s.filename} == {2023}
    assert {s.filename: s.kwargs["year"] for s in maps_only if "_20" in s.filename} == {
        "siting_kindergarten_2025.png": 2025, "spare_kindergarten_2025.png": 2025,
        "siting_primary_2022.png": 2022, "spare_primary_2025.png": 2025}
    assert _names(fg.population_figure_specs(run.population, pyramid_streets=["C"])) == [
        "pyramid.png", "pyramid_C.png"]
    assert fg.population_figure_specs(run.population, figures="maps") == []
    assert fg.population_figure_specs(None) == []


def test_no_peak_year_map_when_the_peak_is_the_map_year(tiny, run):
    # primary's peak of places short is 2022: with the maps drawn for 2022 its siting map is that
    # year's, and a second, identical one is not drawn
    specs = fg.plan_figure_specs(tiny, run.plan, run.counterfactual, figures="maps", year=2022)
    assert _names(specs) == ["siting_kindergarten.png", "siting_kindergarten_2025.png",
                             "spare_kindergarten_2025.png", "siting_primary.png",
                             "spare_primary_2025.png"]
    assert {s.filename: s.kwargs["year"] for s in specs if s.kind == "siting"} == {
        "siting_kindergarten.png": 2022, "siting_kindergarten_2025.png": 2025,
        "siting_primary.png": 2022}


def test_longest_first_keeps_order_within_a_kind(tiny, run):
    specs = fg.plan_figure_specs(tiny, run.plan, run.counterfactual, run.demand, growth_streets=["C"])
    specs += fg.population_figure_specs(run.population)
    ordered = fg.longest_first(specs)
    assert sorted(_names(ordered)) == sorted(_names(specs))  # the same figures
    assert _names(ordered) == ["demand_kindergarten.png", "demand_primary.png",
                               "siting_kindergarten.png", "siting_kindergarten_2025.png",
                               "siting_primary.png", "siting_primary_2022.png",
                               "spare_kindergarten_2025.png", "spare_primary_2025.png", "pyramid.png"]

def test_workers_draw_the_same_bytes(tiny, run, tmp_path):
    specs = fg.plan_figure_specs(tiny, run.plan, run.counterfactual, run.demand, growth_streets=["C"])
    specs += fg.population_figure_specs(run.population)
    with fg.FigureDrawer(tiny, workers=0) as here:
        here.submit(specs)
        expected = here.results()
    with fg.FigureDrawer(tiny, workers=2) as pool:
        assert pool.start_method in ("fork", "forkserver", "spawn")
        pool.submit(specs[::-1])  # submitted in another order, returned in the order asked for
        got = pool.results(order=[s.filename for s in specs])
    assert [n for n, _ in got] == [s.filename for s in specs]
    assert got == expected
    for _, png in got:
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_a_fresh_process_draws_the_same_bytes(tiny, run):
    """A spawned worker (no state inherited) registers the same fonts: byte-identical maps."""
    spec = fg.plan_figure_specs(tiny, run.plan, run.counterfactual, figures="maps")[:1]
    with fg.FigureDrawer(tiny, workers=0) as here:
        here.submit(spec)
        expected = here.results()
    with fg.FigureDrawer(tiny, workers=1, start_method="spawn") as pool:
        pool.submit(spec)
        assert pool.results() == expected


def test_write_plan_figures_maps_only(tiny, run, tmp_path):
    paths = maps.write_plan_figures(tmp_path, district=tiny, plan=run.plan,
                                    counterfactual=run.counterfactual, population=run.population,
                                    demand=run.demand, figures="maps")
    expected = ["siting_kindergarten.png", "siting_kindergarten_2025.png", "siting_primary.png",
                "siting_primary_2022.png", "spare_kindergarten_2025.png", "spare_primary_2025.png"]
    assert sorted(p.name for p in paths) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == expected
    assert maps.write_plan_figures(tmp_path / "none", district=tiny, plan=run.plan,
                                   counterfactual=run.counterfactual, population=run.population,
                                   demand=run.demand, figures="none") == []


def test_street_base(tiny, run):
    base = maps.street_base(tiny)
    assert base.streets == tuple(tiny.streets["street"])
    assert len(base.paths) == len(base.names) == len(base.label_xy) == 3
    assert base.crs == maps.utm_crs(tiny.streets)
    # the largest street is labelled first
    areas = tiny.streets.to_crs(base.crs).geometry.area.to_numpy()
    assert areas[base.area_order[0]] == areas.max()
    assert set(base.site_xy.index) == set(tiny.sites["site"])
    # picklable (sent to worker processes) and reusable: the same map with or without it
    base = pickle.loads(pickle.dumps(base))
    a = maps.siting_map(tiny, run.plan, run.counterfactual, "primary", 2025, base=base)
    b = maps.siting_map(tiny, run.plan, run.counterfactual, "primary", 2025)
    texts = [sorted(t.get_text() for t in ax.texts) for ax in a.axes[:2]]
    assert texts == [sorted(t.get_text() for t in ax.texts) for ax in b.axes[:2]]


def test_bad_figure_set(tiny, run):
    with pytest.raises(ValueError, match="figures must be one of all, maps, none, got 'some'"):
        fg.plan_figure_specs(tiny, run.plan, run.counterfactual, figures="some")
    with pytest.raises(ValueError, match="'some'"):
        fg.population_figure_specs(run.population, figures="some")


def test_bad_worker_count(tiny):
    with pytest.raises(ValueError, match="workers must be 0 or more, got -1"):
        fg.FigureDrawer(tiny, workers=-1)


def test_unknown_figure_kind(tiny):
    with fg.FigureDrawer(tiny, workers=0) as d, pytest.raises(ValueError, match="'contour'"):
        d.submit([fg.FigureSpec("x.png", "contour")])


def test_workers_collect_full_generations_rarely(tiny):
    """A drawing worker's third garbage-collector threshold is raised (this process keeps its own)."""
    import gc

    before = gc.get_threshold()
    with fg.FigureDrawer(tiny, workers=1, warm=False) as pool:
        there = pool.call(gc.get_threshold).result()
    assert there[2] == fg.FULL_COLLECTION_THRESHOLD != before[2]
    assert there[:2] == before[:2]
    assert gc.get_threshold() == before
