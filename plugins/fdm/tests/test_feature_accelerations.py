"""Klipper per-feature accelerations: the printer's settings are checked, and the writer
sets ``ACCEL`` exactly where the estimate's per-move accelerations change."""

from __future__ import annotations

import numpy as np
import pytest
from fabserver_fdm.settings import printer_settings

from fabserver.profiles import replaced
from fabserver.writers.printer import KlipperDialect, MarlinDialect


def test_per_feature_accelerations_are_read_from_the_printer(profiles):
    settings = printer_settings(profiles.machine("printer-4"))
    assert settings.external_perimeter_acceleration > 0
    assert printer_settings(profiles.machine("printer-3")).perimeter_acceleration == 0


@pytest.mark.parametrize(
    ("machine", "extra", "message"),
    [
        ("printer-1", {"perimeter_acceleration": 800}, r"perimeter_acceleration: .*Klipper"),
        (
            "printer-4",
            {"engine": "prusaslicer"},
            r"external_perimeter_acceleration: .*builtin engine",
        ),
        ("printer-4", {"bridge_acceleration": -5}, r"bridge_acceleration: .*>= 0"),
        ("printer-4", {"travel_acceleration": 200000}, r"travel_acceleration: .*<= 100000"),
    ],
)
def test_accelerations_the_file_cannot_carry_are_refused(profiles, machine, extra, message):
    profile = profiles.machine(machine)
    bad = replaced(profile, settings={**profile.settings, **extra})
    with pytest.raises(ValueError, match=rf"^settings\.{message}"):
        printer_settings(bad)


def test_acceleration_is_set_only_where_it_changes():
    acceleration_changes = KlipperDialect().acceleration_changes
    lines = acceleration_changes(np.array([1000.0, 1000, 2500, 2500, 2500, 5000, 2500]))
    assert lines == {
        0: "SET_VELOCITY_LIMIT ACCEL=1000\n",
        2: "SET_VELOCITY_LIMIT ACCEL=2500\n",
        5: "SET_VELOCITY_LIMIT ACCEL=5000\n",
        6: "SET_VELOCITY_LIMIT ACCEL=2500\n",
    }
    assert acceleration_changes(None) == {}
    # Marlin's files carry no per-feature accelerations (the settings refuse them there).
    assert MarlinDialect().acceleration_changes(np.array([1000.0, 2500])) == {}
