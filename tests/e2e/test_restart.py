"""Durability: a server killed while planning plans the job again when it comes back."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
import requests
from servers import ROOT, fab_testplugins, start_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("restart")]


def _status(base: str, job_path: str) -> dict:
    return requests.get(base + job_path + "/status.json", timeout=10).json()


def test_job_interrupted_by_a_crash_is_planned_again_at_restart(tmp_path):
    entry_points = fab_testplugins.write_entry_points(tmp_path / "entry-points")
    env = {
        "PYTHONPATH": os.pathsep.join([str(entry_points), str(fab_testplugins.PROFILES.parent)]),
        "FABSERVER_PROFILES": str(fab_testplugins.PROFILES),
    }
    data = tmp_path / "data"
    server = start_server(data, env, tmp_path / "server-1.log")
    try:
        s = requests.Session()
        form = s.get(server.url + "/", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        stl = ROOT / "samples" / "web-block.stl"
        with stl.open("rb") as f:
            response = s.post(
                server.url + "/",
                data={
                    "csrf_token": token,
                    "machine": "box-1",
                    "material": "test-pla",
                    "copies": "1",
                    "name": "Camille",
                    "phone": "0600000000",
                    "consent": "1",
                    "opt-testbox-delay_s": "8",
                },
                files={"file": ("block.stl", f)},
                allow_redirects=False,
            )
        assert response.status_code == 303
        job_path = response.headers["Location"]
        deadline = time.monotonic() + 60
        while _status(server.url, job_path)["state"] != "planning":
            assert time.monotonic() < deadline, "never started planning"
            time.sleep(0.2)
        server.process.send_signal(signal.SIGKILL)  # a crash: no clean shutdown
        server.process.wait(timeout=10)
    finally:
        server.stop()

    server = start_server(data, env, tmp_path / "server-2.log")
    try:
        deadline = time.monotonic() + 120
        while (state := _status(server.url, job_path)["state"]) != "review":
            assert state in ("queued", "planning"), state
            assert time.monotonic() < deadline, "not planned again after the restart"
            time.sleep(0.5)
        history = requests.get(server.url + "/api/v1/jobs/" + job_path.rsplit("/", 1)[-1]).json()
        steps = [h["to"] for h in history["history"]]
        assert steps == ["queued", "planning", "queued", "planning", "review"]
    finally:
        server.stop()
