"""The ``fabserver`` command's listings and checks."""

from __future__ import annotations

import json
import shutil

import pytest
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


def test_plan_json_with_a_real_plugin(tmp_path, samples):
    out = tmp_path / "sticker.hpgl"
    result = run(
        "--lang", "en", "plan", str(samples / "vinyl-sticker.svg"), "--machine", "vinyl",
        "--material", "vinyl-adhesive", "--set", "copies=3", "-o", str(out), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["copies"] == 3 and data["options"]["copies"] == 3
    assert data["machine_time_s"] > 0
    assert data["verdict"]["kind"] in ("prototype", "series") and data["verdict"]["reasons"]
    priced = [m for m in data["materials"] if m["cost_eur"] is not None]
    assert priced and all({"material", "quantity", "unit"} <= set(m) for m in data["materials"])
    assert data["cost_eur"] == pytest.approx(sum(m["cost_eur"] for m in priced))
    assert data["outputs"][0] == str(out)
    assert out.read_bytes().startswith(b"IN;")


def test_plan_summary_writes_decimals_in_each_language(tmp_path, samples):
    args = ["plan", str(samples / "vinyl-sticker.svg"), "--machine", "vinyl"]
    args += ["--material", "vinyl-adhesive", "-o", str(tmp_path / "sticker.hpgl")]
    fr = run(*args).output
    en = run("--lang", "en", *args).output
    cost = json.loads(run("--lang", "en", *args, "--json").output)["cost_eur"]
    assert f"Material cost: {cost:.2f} €" in en
    assert f"Coût matière: {cost:.2f} €".replace(".", ",") in fr


def test_plan_refuses_contradicting_copies(tmp_path, samples):
    result = CliRunner().invoke(
        main,
        ["plan", str(samples / "vinyl-sticker.svg"), "--machine", "vinyl", "--material",
         "vinyl-adhesive", "--copies", "2", "--set", "copies=3", "-o", str(tmp_path / "x")],
    )  # fmt: skip
    assert result.exit_code != 0 and "disagree" in result.output


def test_plan_with_a_design_the_machine_cannot_take(tmp_path, samples):
    result = run(
        "plan", str(samples / "vinyl-sticker.svg"), "--machine", "printer-1",
        "--material", "pla-1.75", "-o", str(tmp_path / "x.gcode"), "--json",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "type de fichier" in json.loads(result.output)["error"]["fr"]
