"""The ``fabserver`` command's listings and checks."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from fabserver.cli import main
from fabserver.profiles import DEFAULT_PROFILE_DIR


def run(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def test_machines_json_lists_every_machine_with_its_plugin(profiles):
    result = run("machines", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert {r["id"] for r in rows} == set(profiles.machines)
    for row in rows:
        assert row["plugin"] == profiles.machine(row["id"]).plugin
        assert row["name"] == profiles.machine(row["id"]).name.fr


def test_materials_json_in_english_with_machines(profiles):
    rows = json.loads(run("--lang", "en", "materials", "--json").output)
    pla = next(r for r in rows if r["id"] == "pla-1.75")
    assert pla["kind"] == "filament"
    assert pla["name"] == "PLA 1.75 mm"
    assert set(pla["machines"]) == {m.id for m in profiles.machines.values() if m.plugin == "fdm"}


def test_plugins_json_is_a_list_of_objects():
    rows = json.loads(run("plugins", "--json").output)
    assert isinstance(rows, list)
    for row in rows:
        assert {"id", "name", "accepts", "status"} <= set(row)


def test_profiles_check_reports_a_bad_file_by_name_and_key(tmp_path):
    root = tmp_path / "profiles"
    shutil.copytree(DEFAULT_PROFILE_DIR, root)
    path = root / "materials" / "pla-1.75.toml"
    path.write_text(path.read_text().replace('kind = "filament"', "kind = 3"))
    result = CliRunner().invoke(
        main, ["--profiles", str(root), "--lang", "en", "profiles", "check"]
    )
    assert result.exit_code == 2
    assert "materials/pla-1.75.toml" in result.output and "'kind'" in result.output
    assert "Traceback" not in result.output


def test_machines_with_a_broken_profile_folder_says_so(tmp_path):
    result = CliRunner().invoke(main, ["--profiles", str(tmp_path / "none"), "machines"])
    assert result.exit_code == 2
    assert "Profil invalide" in result.output
