"""Warnings for what the blade cannot cut, and profile settings checks."""

from __future__ import annotations

import numpy as np
import pytest
from fabserver_vinyl import VinylPlugin
from fabserver_vinyl.checks import narrow_places

from fabserver.designs import DrawingPath


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
    typo = machine.model_copy(update={"settings": {**machine.settings, "blade_ofset": 0.25}})
    with pytest.raises(ValueError, match=r"settings\.blade_ofset"):
        plugin.check_machine(typo)
    material = profiles.material("vinyl-adhesive")
    missing = material.model_copy(update={"settings": {"roll_width": 600, "force": 90}})
    with pytest.raises(ValueError, match=r"settings\.speed_cm_s"):
        plugin.check_material(missing)
    wrong_axis = machine.model_copy(update={"settings": {**machine.settings, "feed_axis": "z"}})
    with pytest.raises(ValueError, match=r"settings\.feed_axis"):
        plugin.check_machine(wrong_axis)
