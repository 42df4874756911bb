"""Remote names: short, ASCII, led by the job number, 8.3 when asked."""

from __future__ import annotations

import re

import pytest

from fabserver.dispatch import remote_name_for

EIGHT_THREE = re.compile(r"^[A-Z0-9]{1,8}(\.[A-Z0-9]{1,3})?$")


@pytest.mark.parametrize(
    "part",
    [
        "Pièce n°2 — support d'écran.gcode",
        "Œuvre/../../etc/passwd.gcode",
        "benchy.gcode",
        "ß.gcode",
    ],
)
def test_short_names_are_ascii_bounded_and_keep_the_job_and_suffix(part):
    name = remote_name_for(42, part, {"name_length": 20})
    assert name.isascii()
    assert len(name) <= 20
    assert name.startswith("J0042")
    assert name.endswith(".gcode")
    assert "/" not in name and ".." not in name.removesuffix(".gcode")


def test_accents_are_folded_not_dropped():
    assert remote_name_for(7, "Écran façade.nc", length=40) == "J0007-Ecran-facade.nc"


def test_suffix_given_apart_replaces_the_part_names_own():
    assert remote_name_for(3, "logo.svg", suffix="hpgl", length=40) == "J0003-logo.hpgl"
    assert remote_name_for(3, "logo", suffix=".gcode", length=40) == "J0003-logo.gcode"


@pytest.mark.parametrize("job", [1, 42, 12345, 987654321])
def test_eight_three_names_fit_and_stay_distinct(job):
    name = remote_name_for(job, "support écran.gcode", style="8.3")
    assert EIGHT_THREE.match(name), name
    other = remote_name_for(job + 1, "support écran.gcode", style="8.3")
    assert other != name


def test_machine_profile_settings_choose_the_style(machine_with):
    machine = machine_with({"type": "download", "name_style": "8.3"})
    assert EIGHT_THREE.match(remote_name_for(5, "benchy.gcode", machine))


def test_unknown_style_is_refused():
    with pytest.raises(ValueError, match="style"):
        remote_name_for(1, "a.gcode", style="long")


def test_bad_style_in_a_profile_is_a_settings_error_naming_the_machine(machine_with):
    from fabserver.dispatch import ConnectorSettingsError, connector_for

    machine = machine_with({"type": "download", "name_style": "long"})
    with pytest.raises(ConnectorSettingsError) as error:
        remote_name_for(5, "a.gcode", machine)
    assert error.value.machine_id == machine.id and error.value.key == "name_style"
    with pytest.raises(ConnectorSettingsError, match="name_style"):
        connector_for(machine)
