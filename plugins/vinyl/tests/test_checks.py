"""Warnings for what the blade cannot cut, and profile settings checks."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import shapely
from fabserver_vinyl import VinylPlugin
from fabserver_vinyl.checks import even_odd_fill, narrow_places

from fabserver.designs import DrawingPath, load_design
from fabserver.profiles import replaced


def _tee(stem_width: float) -> np.ndarray:
    """A "T": a 20 × 4 mm bar on a 10 mm stem of the given width, stem centred on x = 10."""
    h = stem_width / 2
    return np.array(
        [[10 - h, 0], [10 + h, 0], [10 + h, 10], [20, 10], [20, 14], [0, 14], [0, 10], [10 - h, 10]]
    )


def _star(inner: float) -> np.ndarray:
    angles = np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, 20.0, inner)
    return np.column_stack([radii * np.cos(angles), radii * np.sin(angles)])


def test_a_stem_thinner_than_the_blade_cuts_is_found_where_it_is():
    (place,) = narrow_places([DrawingPath(_tee(0.5), True)], 1.0)
    assert place[0] == pytest.approx(10.0, abs=0.3)
    assert 0.0 <= place[1] <= 10.0


@pytest.mark.parametrize(
    "shape",
    [_tee(2.0), _star(7.6), np.array([[0, 0], [30, 0], [30, 30], [0, 30]], float)],
    ids=["thick-stem", "star-36-degree-points", "square"],
)
def test_shapes_thick_enough_raise_nothing(shape):
    assert len(narrow_places([DrawingPath(shape, True)], 1.0)) == 0


def test_a_counter_is_a_hole_not_a_shape():
    """A ring 0.6 mm wide (outer and inner outline) is thin; its disc alone is not."""
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    circle = np.column_stack([np.cos(t), np.sin(t)])
    outer, inner = DrawingPath(10 * circle, True), DrawingPath(9.4 * circle, True)
    assert len(narrow_places([outer], 1.0)) == 0
    assert len(narrow_places([outer, inner], 1.0)) >= 1


def test_the_plan_warns_about_thin_parts_in_both_languages(profiles, tools):
    result, _, _ = tools.plan_job(tools.drawing((_tee(0.5), True)), profiles)
    (warning,) = [w for w in result.plan.warnings if "thinner" in w.en]
    assert "(10.0, " in warning.en and "(10,0 ; " in warning.fr


def test_profile_settings_are_checked_with_the_key_named(profiles):
    plugin = VinylPlugin()
    machine = profiles.machine("vinyl")
    plugin.check_machine(machine)
    for material in ("vinyl-adhesive", "vinyl-flex"):
        plugin.check_material(profiles.material(material))
    typo = replaced(machine, settings={**machine.settings, "blade_ofset": 0.25})
    with pytest.raises(ValueError, match=r"^settings\.blade_ofset: unknown key$"):
        plugin.check_machine(typo)
    material = profiles.material("vinyl-adhesive")
    missing = replaced(material, settings={"roll_width": 600, "force": 90})
    with pytest.raises(ValueError, match=r"^settings\.speed_cm_s: missing$"):
        plugin.check_material(missing)
    wrong_axis = replaced(machine, settings={**machine.settings, "feed_axis": "z"})
    with pytest.raises(ValueError, match=r"^settings\.feed_axis: .*'z' \(one of 'x', 'y'\)$"):
        plugin.check_machine(wrong_axis)
    too_far = replaced(machine, settings={**machine.settings, "blade_offset": 2.5})
    with pytest.raises(ValueError, match=r"^settings\.blade_offset: .*<= 2"):
        plugin.check_machine(too_far)
    no_force = replaced(material, settings={**material.settings, "force": 0})
    with pytest.raises(ValueError, match=r"^settings\.force: .*> 0"):
        plugin.check_material(no_force)


def _pairwise_xor(shapes: list[shapely.Geometry]) -> shapely.Geometry:
    """The definition of even-odd fill, one overlay at a time (the slow reference)."""
    return functools.reduce(shapely.symmetric_difference, shapely.make_valid(np.array(shapes)))


def test_even_odd_fill_is_the_exclusive_or_of_overlapping_nested_and_crossed_rings():
    rng = np.random.default_rng(7)
    shapes = [shapely.Polygon(_star(8.0)), shapely.Polygon(_star(4.0))]  # nested stars
    shapes += [shapely.box(x, y, x + w, y + h) for x, y, w, h in rng.uniform(-15, 15, (12, 4))]
    shapes.append(shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)]))  # a bow tie
    shapes.append(shapely.Polygon([(-5, -5), (5, -5), (5, -5)]))  # collapsed: no area
    filled = even_odd_fill(shapely.make_valid(np.array(shapes)))
    reference = _pairwise_xor(shapes)
    assert filled.area == pytest.approx(reference.area, rel=1e-9)
    assert shapely.symmetric_difference(filled, reference).area < 1e-6


def test_even_odd_fill_of_a_letter_o_leaves_its_counter_empty():
    outer = shapely.Point(0, 0).buffer(10)
    inner = shapely.Point(0, 0).buffer(6)
    filled = even_odd_fill(np.array([outer, inner]))
    assert filled.area == pytest.approx(outer.area - inner.area)
    assert not filled.contains(shapely.Point(0, 0))
    assert even_odd_fill(np.array([], dtype=object)).is_empty


def test_narrow_places_in_corpus_lettering(corpus):
    """Tux: 55 overlapping outlines. The pairwise fill (60 s here) found these two places too."""
    path = corpus / "dxf" / "Tux-R2000.dxf"
    paths = [p for p in load_design(path.read_bytes(), path.name).paths if len(p.points) >= 3]
    places = narrow_places(paths, 1.0)
    assert len(places) == 2
    rings = shapely.make_valid(np.array([shapely.Polygon(p.points) for p in paths if p.closed]))
    filled = even_odd_fill(rings)
    assert all(filled.distance(shapely.Point(xy)) < 1e-6 for xy in places)
