"""The machine and material ``[settings]`` are checked, each problem naming its key."""

from __future__ import annotations

import pytest
from fabserver_embroidery import EmbroideryPlugin
from fabserver_embroidery.settings import MachineSettings, MaterialSettings

from fabserver.profiles import parse_settings, replaced


def test_the_shipped_profiles_are_read(machine, material):
    settings = parse_settings(MachineSettings, machine.settings)
    assert [(h.width, h.height) for h in settings.hoops] == [(100, 100), (130, 180)]
    assert settings.trim_threshold_mm >= settings.jump_threshold_mm
    thread = parse_settings(MaterialSettings, material.settings)
    assert 1.0 <= thread.take_up_factor <= 3.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"stitch_rate_spm": 0}, r"^settings\.stitch_rate_spm: .*> 0"),
        ({"min_stitch_mm": 0.05}, r"^settings\.min_stitch_mm: .*>= 0\.1"),
        ({"jump_treshold_mm": 2.0}, r"^settings\.jump_treshold_mm: unknown key$"),
        ({"default_format": "svg"}, r"^settings\.default_format: .*'svg'"),
        ({"hoops": []}, r"^settings\.hoops: .*length >= 1"),
        (
            {"hoops": [{"name": "flat", "width": 100, "height": 0}]},
            r"^settings\.hoops\.0\.height: ",
        ),
        ({"hoops": [{"name": "typo", "width": 1, "heigth": 1}]}, r"^settings\.hoops\.0\.heigth: "),
        (
            {"jump_threshold_mm": 8.0},
            r"^settings\.trim_threshold_mm: must not be below jump_threshold_mm$",
        ),
        ({"lock_stitch_mm": 0.25}, r"^settings\.lock_stitch_mm: must not be below min_stitch_mm$"),
    ],
)
def test_a_bad_machine_setting_names_its_key(machine, changes, message):
    bad = replaced(machine, settings={**machine.settings, **changes})
    with pytest.raises(ValueError, match=message):
        EmbroideryPlugin().check_machine(bad)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"take_up_factor": 0.9}, r"^settings\.take_up_factor: .*>= 1\.0"),
        ({"bobbin_ratio": 1.5}, r"^settings\.bobbin_ratio: .*<= 1\.0"),
        ({"stabiliser": "glue"}, r"^settings\.stabiliser: .*'glue'"),
        ({"stabiliser_margin": 20}, r"^settings\.stabiliser_margin: unknown key$"),
    ],
)
def test_a_bad_material_setting_names_its_key(material, changes, message):
    bad = replaced(material, settings={**material.settings, **changes})
    with pytest.raises(ValueError, match=message):
        EmbroideryPlugin().check_material(bad)
