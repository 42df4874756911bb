"""A small real job through the server to the real Klipper + Moonraker, and back.

The server runs with its real queue (Huey on SQLite, a consumer on threads): a
maker's upload is planned, staff approve and dispatch it through the API, the
connector starts it on the stack, the staff machine page follows it printing,
and the follow-up task records the job's actual time from Moonraker's history.
The machine's plugin is a tiny one written here, so the print lasts seconds.
"""

from __future__ import annotations

import io
import math
import re
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import trimesh

from fabserver.i18n import Text
from fabserver.plugin import MachinePlugin, MaterialUse, OutputFile, OutputFormat, Plan
from fabserver.registry import Registry
from fabserver.toolpath import MoveKind, ToolpathBuilder

from .moonraker_stack import tiny_gcode

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("moonraker")]

MOVES = 8  # lines of 40 mm at 50 mm/s, 1 mm of filament each
FILAMENT_MM = float(MOVES)
DIAMETER, DENSITY = 1.75, 1.24
STAFF_PASSWORD = "correct horse battery"


class TinyKlipperPrinter(MachinePlugin):
    """A few extruding lines whatever the mesh: real Klipper G-code of seconds."""

    id = "testklipper"
    name = Text("Imprimante Klipper d'essai", "Test Klipper printer")
    accepts = frozenset({"mesh"})
    material_kinds = frozenset({"filament"})
    formats = (OutputFormat(".gcode", "text/x-gcode", Text("G-code", "G-code")),)
    options = ()

    def plan(self, request):
        b = ToolpathBuilder(start=(120.0, 120.0, 120.0))
        b.new_layer(0.3)
        b.move_to(20.0, 20.0, 0.3, feed=100.0)
        xs = [20.0 + 40.0 * ((i + 1) % 2) for i in range(MOVES)]
        points = np.column_stack([xs, [20.0 + i for i in range(MOVES)]])
        b.add_path(points, MoveKind.EXTRUDE, 50.0, role="perimeter", e=1.0, z=0.3)
        tp = b.build()
        lines = ["; fabserver test print", "G28", "G90", "M83", "G1 Z0.3 F900", "G1 X20 Y20 F6000"]
        lines += [f"G1 X{x:.0f} Y{y:.0f} E1 F3000" for x, y in points]
        lines += ["G1 Z10 F900", "M400"]
        gcode = ("\n".join(lines) + "\n").encode()
        grams = FILAMENT_MM * math.pi * (DIAMETER / 2) ** 2 / 1000.0 * DENSITY
        request.progress(1.0, "plan")
        return Plan(
            toolpath=tp,
            outputs=(OutputFile(".gcode", "text/x-gcode", lambda f: f.write(gcode)),),
            material_uses=(MaterialUse(request.material.id, grams, "g"),),
        )


def write_profiles(folder: Path, url: str) -> Path:
    (folder / "machines").mkdir(parents=True)
    (folder / "materials").mkdir()
    (folder / "policy.toml").write_text(
        "[prototype]\nmax_copies = 2\nmax_material_cost_eur = 10.0\nmax_machine_time_min = 240\n"
    )
    (folder / "machines" / "voron-test.toml").write_text(
        f"""name = {{ fr = "Voron d'essai", en = "Test Voron" }}
plugin = "testklipper"
connector = {{ type = "moonraker", url = "{url}", start = true, follow_interval = 1 }}

[work_area]
x = 120
y = 120
z = 120

[kinematics]
max_feed = {{ x = 300, y = 300, z = 15, e = 120 }}
max_accel = {{ x = 5000, y = 5000, z = 45, e = 5000 }}
accel = 5000
travel_feed = 100
junction_deviation = 0.02
"""
    )
    (folder / "materials" / "pla.toml").write_text(
        f"""name = {{ fr = "PLA d'essai", en = "Test PLA" }}
kind = "filament"
plugins = ["testklipper"]
prices = {{ g = 0.025 }}

[settings]
diameter = {DIAMETER}
density = {DENSITY}
"""
    )
    return folder


def tiny_stl() -> bytes:
    out = io.BytesIO()
    trimesh.creation.box(extents=(5.0, 5.0, 1.0)).export(out, file_type="stl")
    return out.getvalue()


def poll(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached in {timeout} s")
        time.sleep(0.25)


@contextmanager
def serving(stack, tmp_path: Path):
    """The app, with a real queue consumer, on the profiles of a printer at ``stack``."""
    from fabserver.jobs.runtime import start_consumer
    from fabserver.web import create_app
    from fabserver.web.auth import create_staff, issue_token

    registry = Registry()
    registry.register(TinyKlipperPrinter, f"testklipper = {__name__}:TinyKlipperPrinter")
    app = create_app(
        {
            "DATA_DIR": tmp_path / "data",
            "PROFILE_DIR": write_profiles(tmp_path / "profiles", stack.url),
            "QUEUE_IMMEDIATE": False,
            "TESTING": True,
        },
        registry=registry,
    )
    runtime = app.extensions["fabserver"]
    staff = create_staff(runtime, "ana", STAFF_PASSWORD, "Ana")
    consumer = start_consumer(runtime, workers=2)
    try:
        yield app, {"Authorization": f"Bearer {issue_token(runtime, staff.id)}"}
    finally:
        consumer.stop(graceful=True)
        runtime.close()


@pytest.fixture
def server(moonraker, tmp_path):
    with serving(moonraker, tmp_path) as served:
        yield served


def logged_in(app):
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post(
        "/staff/login",
        data={"csrf_token": token, "username": "ana", "password": STAFF_PASSWORD},
    )
    assert answer.status_code == 302
    return client


def test_a_job_dispatched_through_the_server_prints_and_records_its_actual_time(server, moonraker):
    app, auth = server
    api = app.test_client()
    created = api.post(
        "/api/v1/jobs",
        data={
            "file": (io.BytesIO(tiny_stl()), "cale.stl"),
            "machine": "voron-test",
            "material": "pla",
            "name": "Camille",
            "email": "camille@example.org",
            "consent": "1",
        },
        content_type="multipart/form-data",
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    token = created.get_json()["token"]
    poll(
        lambda: api.get(f"/api/v1/jobs/{token}").get_json()["state"] == "review",
        60,
        "the plan",
    )
    (job,) = api.get("/api/v1/staff/jobs", headers=auth).get_json()["jobs"]
    job_id = job["id"]
    assert api.post(f"/api/v1/staff/jobs/{job_id}/approve", headers=auth).status_code == 200
    assert api.post(f"/api/v1/staff/jobs/{job_id}/dispatch", headers=auth).status_code == 200

    def staff_job():
        return api.get(f"/api/v1/staff/jobs/{job_id}", headers=auth).get_json()

    sent = poll(lambda: (j := staff_job())["state"] == "dispatched" and j, 60, "the dispatch")
    remote = sent["receipt"]["remote_ref"]
    assert sent["receipt"]["started"], sent["receipt"]
    assert sent["actual"] == {
        "time_s": None,
        "material_quantity": None,
        "unit": None,
        "source": None,
    }

    # The staff machine page follows it: printing, progress, time left beside the host's.
    staff = logged_in(app)
    page = staff.get("/staff/machines").get_data(as_text=True)
    assert 'data-testid="live-voron-test"' in page
    live = poll(
        lambda: (
            (s := staff.get("/staff/machines/voron-test/status.json").get_json())["state"]
            in ("printing", "heating")
            and s.get("progress")
            and s
        ),
        60,
        "printing seen by the staff page",
    )
    assert live["job"] == job_id and live["file"] == remote
    assert live["label"]["en"] in ("Printing", "Heating")
    assert live["remaining"]["ours_s"] is not None
    assert "our estimate" in live["remaining_text"]["en"]
    assert "notre estimation" in live["remaining_text"]["fr"]

    # The follow-up task records the actual time from Moonraker's history.
    done = poll(lambda: (j := staff_job())["actual"]["source"] and j, 120, "the actual time")
    (entry,) = [j for j in moonraker.history() if j["filename"] == remote]
    assert entry["status"] == "completed"
    assert done["actual"]["source"] == "moonraker"
    assert done["actual"]["time_s"] == pytest.approx(entry["total_duration"])
    grams = entry["filament_used"] * math.pi * (DIAMETER / 2) ** 2 / 1000.0 * DENSITY
    assert entry["filament_used"] == pytest.approx(FILAMENT_MM)
    assert done["actual"]["material_quantity"] == pytest.approx(grams)
    assert done["actual"]["unit"] == "g"
    assert done["state"] == "dispatched", "staff still check the part and mark it done"
    report = [e for e in done["audit"] if e["action"] == "machine-report"]
    assert report and report[-1]["data"]["details"]["job_id"] == entry["job_id"]

    # Staff mark it done without typing the time: the host's figures stay.
    finished = api.post(f"/api/v1/staff/jobs/{job_id}/done", headers=auth, json={})
    assert finished.status_code == 200, finished.get_data(as_text=True)
    assert finished.get_json()["state"] == "done"
    assert finished.get_json()["actual"]["source"] == "moonraker"
    assert finished.get_json()["actual"]["time_s"] == pytest.approx(entry["total_duration"])
    page = staff.get("/staff/machines").get_data(as_text=True)
    assert "moonraker" in page


def test_the_staff_machine_page_shows_a_heat_up_in_the_browser(own_moonraker, tmp_path):
    """The page's script fills in the live state: here a print held by its bed heat-up,
    on a stack of its own that no earlier test has touched."""
    import shutil
    import sys
    import threading

    from waitress import create_server

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
    from servers import CHROMIUM, CHROMIUM_ARGS

    from .moonraker_stack import unavailable

    if not shutil.which(CHROMIUM):
        unavailable(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    moonraker = own_moonraker()
    with serving(moonraker, tmp_path) as (app, _):

        def hold_a_print_on_its_bed() -> None:
            """Start a print whose M190 waits (bed at 40 for 60 °C); Klipper's verify_heater
            shuts down after about 60 s of no rise, so this comes last, once logged in."""
            moonraker.settle_temperature("bed", 40.0)
            with open(tiny_gcode(tmp_path / "held.gcode", heat=True), "rb") as gcode:
                moonraker.api(
                    "POST",
                    "/server/files/upload",
                    files={"file": ("held.gcode", gcode)},
                    data={"print": "true"},
                ).raise_for_status()

            def held() -> bool:
                """Printing, the bed's target set, and no filament yet: inside the M190."""
                status = moonraker.query("print_stats", "heater_bed")
                return (
                    status["print_stats"]["state"] == "printing"
                    and status["heater_bed"]["target"] == 60.0
                    and status["print_stats"]["filament_used"] == 0.0
                )

            moonraker.wait(held, what="the print waiting for its bed")  # the page asks at load

        web = create_server(app, host="127.0.0.1", port=0, threads=4)
        threading.Thread(target=web.run, daemon=True).start()
        base = f"http://127.0.0.1:{web.effective_port}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(base + "/staff/login")
                page.fill("input[name=username]", "ana")
                page.fill("input[name=password]", STAFF_PASSWORD)
                with page.expect_navigation():
                    page.click("button.primary")
                hold_a_print_on_its_bed()
                page.goto(base + "/staff/machines")
                badge = page.locator('[data-testid="live-voron-test"]')
                row = page.locator('tr[data-machine="voron-test"]')
                badge.and_(page.locator("[data-state]")).wait_for(timeout=30_000)
                # The page polls the host: until Klipper's regulation reaches full power the
                # wait may first read as printing; the heat-up must show within 30 s.
                try:
                    badge.and_(page.locator('[data-state="heating"]')).wait_for(timeout=30_000)
                except PlaywrightTimeout:
                    raise AssertionError(
                        f"{row.inner_text()}: {moonraker.query('print_stats', 'heater_bed')}\n"
                        f"klippy.log:\n{moonraker.klippy_log_tail()}"
                    ) from None
                assert badge.inner_text().startswith("Chauffe")
                assert "plateau 40/60 °C" in row.inner_text()
                browser.close()
        finally:
            web.close()
