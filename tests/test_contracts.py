"""Profiles are checked against their plugins' contracts before a server starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fabserver.errors import ProfileError
from fabserver.profiles import load_profiles
from fabserver.registry import check_profiles, load_registry, profile_problems
from fabserver.testing import ROOT


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    """A copy of the default profiles to spoil."""
    return Path(shutil.copytree(ROOT / "profiles", tmp_path / "profiles"))


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_the_lab_profiles_keep_their_plugins_contracts():
    assert profile_problems(load_registry(), load_profiles()) == []


def test_a_settings_typo_names_the_machine_file_and_key(lab: Path):
    _append(lab / "machines" / "vinyl.toml", "blade_ofset = 0.3\n")  # under [settings]
    with pytest.raises(ProfileError) as caught:
        check_profiles(load_registry(), load_profiles(lab))
    assert caught.value.file == "machines/vinyl.toml"
    assert caught.value.key == "settings.blade_ofset"
    assert "blade_ofset" in caught.value.message.fr


def test_a_machine_operation_map_asking_for_an_unknown_operation_is_refused(lab: Path):
    path = lab / "machines" / "mill.toml"
    path.write_text(path.read_text().replace('layer_map = ""', 'layer_map = "HOLES=drill"'))
    (problem,) = profile_problems(load_registry(), load_profiles(lab))
    assert (problem.file, problem.key) == ("machines/mill.toml", "settings")
    assert "layer:HOLES=drill" in problem.problem and "drill" in problem.problem


def test_a_material_of_a_kind_its_plugin_does_not_use_is_refused(lab: Path):
    path = lab / "materials" / "vinyl-adhesive.toml"
    path.write_text(path.read_text().replace('kind = "vinyl"', 'kind = "sheet"'))
    (problem,) = profile_problems(load_registry(), load_profiles(lab))
    assert (problem.file, problem.key) == ("materials/vinyl-adhesive.toml", "kind")
    assert "vinyl" in problem.problem and "sheet" in problem.problem


def test_serve_stops_on_a_bad_settings_key_naming_file_and_key(lab: Path, tmp_path: Path):
    _append(lab / "machines" / "vinyl.toml", "blade_ofset = 0.3\n")
    env = {**os.environ, "FABSERVER_DATA": str(tmp_path / "data")}
    command = [sys.executable, "-m", "fabserver.cli", "--lang", "en", "--profiles", str(lab)]
    done = subprocess.run(
        [*command, "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "machines/vinyl.toml" in done.stderr
    assert "blade_ofset" in done.stderr
    assert "Traceback" not in done.stderr
