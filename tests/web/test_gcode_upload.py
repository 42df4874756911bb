"""A maker's G-code through the API: planned, previewed and estimated on a real printer profile."""

from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fabserver.profiles import load_profiles
from fabserver.testing import ROOT, SAMPLES, require


@pytest.fixture
def real_client(tmp_path):
    """The app with the lab's own profiles and installed plugins (the FDM printers)."""
    from fabserver.web import create_app

    app = create_app(
        {
            "DATA_DIR": tmp_path / "data",
            "PROFILE_DIR": ROOT / "profiles",
            "QUEUE_IMMEDIATE": True,
            "TESTING": True,
        }
    )
    yield app.test_client()
    app.extensions["fabserver"].close()


def _prusaslicer_gcode(tmp_path: Path, bed: tuple[int, int], name: str) -> bytes:
    """PrusaSlicer's G-code of the bracket sample, for a Prusa MK3S-like printer of ``bed``."""
    binary = shutil.which("prusa-slicer")
    if binary is None:
        require(False, "prusa-slicer is not installed (apt-get install prusa-slicer)")
    x, y = bed
    ini = tmp_path / f"{name}.ini"
    ini.write_text(
        f"bed_shape = 0x0,{x}x0,{x}x{y},0x{y}\nuse_relative_e_distances = 1\n"
        "gcode_flavor = marlin2\nlayer_gcode = G92 E0\nlayer_height = 0.2\n"
        "first_layer_height = 0.2\nfilament_diameter = 1.75\nnozzle_diameter = 0.4\n"
        "temperature = 215\nfirst_layer_temperature = 215\nbed_temperature = 60\n"
        "first_layer_bed_temperature = 60\n"
    )
    out = tmp_path / f"{name}.gcode"
    subprocess.run(
        [
            binary,
            "--export-gcode",
            "--load",
            str(ini),
            "-o",
            str(out),
            str(SAMPLES / "fdm-bracket.stl"),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out.read_bytes()


def _post(client, data: bytes, filename: str, machine: str = "printer-1"):
    form = {
        "file": (io.BytesIO(data), filename),
        "machine": machine,
        "material": "pla-1.75",
        "copies": "2",
        "name": "Sam",
        "email": "sam@example.org",
        "consent": "1",
    }
    return client.post("/api/v1/jobs", data=form, content_type="multipart/form-data")


def test_prusaslicer_gcode_upload_is_planned_previewed_and_estimated(real_client, tmp_path):
    data = _prusaslicer_gcode(tmp_path, (250, 210), "mk3s")
    response = _post(real_client, data, "bracket.gcode")
    assert response.status_code == 201, response.get_data(as_text=True)
    job = real_client.get(f"/api/v1/jobs/{response.get_json()['token']}").get_json()
    assert job["state"] == "review", job["error"]
    assert job["design"]["kind"] == "gcode"
    assert job["design"]["facts"]["layers"] == 75
    # Estimated by fabserver's planner for printer-1, for two prints of the file.
    estimate = job["estimate"]
    assert estimate["copies"] == 2 and estimate["runs"] == 2
    assert estimate["machine_time_s"] > 2 * 5 * 60
    # The filament is what PrusaSlicer says its file uses, twice, weighed with the
    # material profile's diameter and density (the E axis read back, not a guess).
    grams = {m["unit"]: m["quantity"] for m in estimate["materials"]}["g"]
    used_mm = float(re.search(rb"; filament used \[mm\] = ([0-9.]+)", data).group(1))
    pla = load_profiles(ROOT / "profiles").material("pla-1.75").settings
    per_print_g = used_mm * math.pi * (pla["diameter"] / 2) ** 2 / 1000 * pla["density"]
    assert grams == pytest.approx(2 * per_print_g, rel=0.01)
    # Previewed, with the layer slider's data.
    preview = real_client.get(job["preview_url"])
    assert preview.status_code == 200 and b"<svg" in preview.data[:500]
    layers = real_client.get(job["layers_url"]).get_json()
    assert len(layers["layers"]) == 75


def test_gcode_for_a_bigger_bed_is_refused_with_the_reason(real_client, tmp_path):
    # Sliced for a 400 × 400 bed: the part is centred at (200, 200), beyond printer-1's 250 × 210.
    data = _prusaslicer_gcode(tmp_path, (400, 400), "big")
    response = _post(real_client, data, "bracket-big.gcode")
    assert response.status_code == 201
    job = real_client.get(f"/api/v1/jobs/{response.get_json()['token']}").get_json()
    assert job["state"] == "failed"
    assert "sort du volume d'impression" in job["error"]["fr"]
    assert "250 × 210 × 210 mm" in job["error"]["fr"]
    assert "beyond the build volume" in job["error"]["en"]
    assert "slice it again" in job["error"]["en"]


def test_binary_gcode_is_refused_at_upload(real_client):
    response = _post(real_client, b"GCDE\x01\x00\x00\x00" + bytes(200), "part.bgcode")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert ".bgcode" in error["fr"] and "Binary G-code" in error["en"]
