"""Profiles: the lab's files load, inheritance resolves, bad files name file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fabserver.errors import ProfileError
from fabserver.profiles import (
    DEFAULT_PROFILE_DIR,
    KeyProblem,
    NonNegative,
    PluginSettings,
    load_profiles,
    machine_from_snapshot,
    material_from_snapshot,
    parse_settings,
)


def test_lab_profiles_describe_the_lab(profiles):
    plugins = sorted(m.plugin for m in profiles.machines.values())
    assert plugins.count("fdm") == 4
    assert {"laser", "vinyl", "mill", "embroidery"} <= set(plugins)
    fdm_models = {m.model for m in profiles.machines.values() if m.plugin == "fdm"}
    assert len(fdm_models) == 2
    flavours = {m.settings.get("flavour") for m in profiles.machines.values() if m.plugin == "fdm"}
    assert flavours == {"marlin2", "klipper"}
    for machine in profiles.machines.values():
        assert profiles.materials_for(machine), f"no material for {machine.id}"
        assert not machine.abstract
    for material in profiles.materials.values():
        assert material.prices, f"{material.id} has no price"


def test_inheritance_merges_tables_and_child_wins(profiles):
    p1 = profiles.machine("printer-1")
    assert p1.name.fr == "Imprimante 1 (Prusa MK3S+)"
    assert p1.work_area.x == 250  # from the model file
    assert p1.settings["flavour"] == "marlin2"
    assert "prusa-mk3s" not in profiles.machines  # abstract models are not machines


def test_snapshot_round_trip(profiles):
    machine = profiles.machine("printer-3")
    assert machine_from_snapshot(machine.snapshot()) == machine
    material = profiles.material("pla-1.75")
    assert material_from_snapshot(material.snapshot()) == material


def copy_profiles(tmp_path: Path) -> Path:
    root = tmp_path / "profiles"
    shutil.copytree(DEFAULT_PROFILE_DIR, root)
    return root


def test_bad_value_names_file_and_key(tmp_path):
    root = copy_profiles(tmp_path)
    path = root / "machines" / "laser.toml"
    path.write_text(path.read_text().replace("x = 600", "x = -600", 1))
    with pytest.raises(ProfileError) as err:
        load_profiles(root)
    assert err.value.file == "machines/laser.toml"
    assert err.value.key == "work_area.x"
    assert "laser.toml" in err.value.message.fr and "work_area.x" in err.value.message.en


def test_unknown_key_is_refused(tmp_path):
    root = copy_profiles(tmp_path)
    (root / "materials" / "typo.toml").write_text(
        'name = "x"\nkind = "sheet"\nplugins = ["laser"]\nprise = { sheet = 1 }\n'
    )
    with pytest.raises(ProfileError) as err:
        load_profiles(root)
    assert (err.value.file, err.value.key) == ("materials/typo.toml", "prise")


def test_syntax_error_names_the_file(tmp_path):
    root = copy_profiles(tmp_path)
    (root / "policy.toml").write_text("[prototype\nmax_copies = 2\n")
    with pytest.raises(ProfileError) as err:
        load_profiles(root)
    assert err.value.file == "policy.toml"


def test_missing_parent_and_loops(tmp_path):
    root = copy_profiles(tmp_path)
    (root / "machines" / "orphan.toml").write_text('inherits = "nowhere"\n')
    with pytest.raises(ProfileError) as err:
        load_profiles(root)
    assert (err.value.file, err.value.key) == ("machines/orphan.toml", "inherits")
    (root / "machines" / "orphan.toml").write_text('inherits = "loop-b"\n')
    (root / "machines" / "loop-b.toml").write_text('inherits = "orphan"\n')
    with pytest.raises(ProfileError, match="loop"):
        load_profiles(root)


def test_two_cornering_models_are_refused(tmp_path):
    root = copy_profiles(tmp_path)
    path = root / "machines" / "mill.toml"
    path.write_text(
        path.read_text().replace(
            "junction_deviation = 0.01", "junction_deviation = 0.01\nsquare_corner_velocity = 5"
        )
    )
    with pytest.raises(ProfileError) as err:
        load_profiles(root)
    assert err.value.key == "kinematics"


def test_unknown_timing_event(tmp_path):
    root = copy_profiles(tmp_path)
    path = root / "machines" / "mill.toml"
    path.write_text(path.read_text().replace("tool_change = 60.0", "tool_chnage = 60.0"))
    with pytest.raises(ProfileError) as err:
        load_profiles(root)
    assert err.value.key == "timing"


class Cutter(PluginSettings):
    blade_offset: NonNegative = 0.25
    overcut: NonNegative = 1.0

    def __post_init__(self) -> None:
        if self.overcut < self.blade_offset:
            raise KeyProblem("overcut", "must not be below blade_offset")


def test_parse_settings_names_the_key():
    assert parse_settings(Cutter, {"blade_offset": 0.3}).blade_offset == 0.3
    assert parse_settings(Cutter, {}).blade_offset == 0.25
    with pytest.raises(ValueError, match=r"^settings\.blade_offset: .*>= 0"):
        parse_settings(Cutter, {"blade_offset": -1})
    with pytest.raises(ValueError, match=r"^settings\.blade_offset: .*got str"):
        parse_settings(Cutter, {"blade_offset": "0.3"})  # a TOML string is not a number
    with pytest.raises(ValueError, match=r"^settings\.blade_ofset: unknown key$"):
        parse_settings(Cutter, {"blade_ofset": 1})
    with pytest.raises(ValueError, match=r"^settings\.overcut: must not be below blade_offset$"):
        parse_settings(Cutter, {"blade_offset": 2, "overcut": 1})
