"""The tiny file, huge job: a 684-byte box that asks for 200 MB of G-code, on a real server.

``fabserver serve`` runs in a subprocess with the lab's profiles and the real FDM
plugin; the job must end ``failed`` with a message saying what to change while
the web process keeps answering and its own peak memory stays where it was.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest
import requests
import trimesh

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from servers import start_server

from fabserver.profiles import DEFAULT_PROFILE_DIR
from fabserver.registry import load_registry
from fabserver.testing import require

HUGE_OPTIONS = {"layer_height": 0.05, "first_layer_height": 0.1, "fill_density": 100}
FLAT_MB = 60  # what the web process may grow by: requests, not plans


def box_stl() -> bytes:
    box = trimesh.creation.box(extents=(240, 200, 200))
    box.apply_translation(-box.bounds[0])
    return box.export(file_type="stl")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def fdm_installed():
    require(
        "fdm" in load_registry("fdm").plugins,
        "the FDM plugin is not installed (pip install -e plugins/fdm)",
    )


@pytest.mark.slow
@pytest.mark.parametrize("limit", ["output", "memory"])
def test_tiny_file_huge_job_fails_while_the_server_keeps_serving(tmp_path, fdm_installed, limit):
    env = {}
    if limit == "memory":
        # A machine whose output limit lets the plan start: memory stops it instead.
        profiles = tmp_path / "profiles"
        shutil.copytree(DEFAULT_PROFILE_DIR, profiles)
        printer = profiles / "machines" / "printer-1.toml"
        printer.write_text(printer.read_text() + "\n[limits]\nmemory_mb = 400\noutput_mb = 1000\n")
        env["FABSERVER_PROFILES"] = str(profiles)
    server = start_server(tmp_path / "data", env, tmp_path / "server.log")
    try:
        url = server.url
        for _ in range(5):  # warm the pages the test uses
            requests.get(url + "/api/v1/machines", timeout=60).raise_for_status()
        before = peak_rss_mb(server.process.pid)
        data = box_stl()
        assert len(data) == 684
        created = requests.post(
            url + "/api/v1/jobs",
            files={"file": ("box.stl", data)},
            data={
                "machine": "printer-1",
                "material": "pla-1.75",
                "options": json.dumps(HUGE_OPTIONS),
                "name": "Max",
                "email": "max@example.org",
                "consent": "1",
            },
            timeout=120,
        )
        assert created.status_code == 201, created.text
        token = created.json()["token"]
        answered = 0
        deadline = time.monotonic() + 600  # a safety net, far above the plan's own limits
        state = ""
        while time.monotonic() < deadline:
            job = requests.get(f"{url}/api/v1/jobs/{token}", timeout=60).json()
            state = job["state"]
            if state not in ("queued", "planning"):
                break
            assert requests.get(url + "/api/v1/machines", timeout=60).status_code == 200
            answered += 1
            time.sleep(0.2)
        assert state == "failed", job
        message = job["error"]
        assert "couches plus épaisses" in message["fr"] and "moins de remplissage" in message["fr"]
        assert "thicker layers" in message["en"] and "less infill" in message["en"]
        if limit == "memory":
            assert "400 MB of memory" in message["en"]
            assert answered > 0  # the plan ran for a while, and pages were served meanwhile
        else:
            assert "100 MB" in message["en"]
        assert requests.get(url + "/", timeout=60).status_code == 200
        grown = peak_rss_mb(server.process.pid) - before
        assert grown < FLAT_MB, f"the web process grew by {grown:.0f} MB"
    finally:
        server.stop()
