"""Stock and offcuts: the staff page and API, and a laser job planned on an offcut."""

from __future__ import annotations

import html
import io

import pytest
from web_helpers import STAFF_PASSWORD, STAFF_USER, csrf_token, job_id_of, staff_post

from fabserver.store.models import Job, StockPiece
from fabserver.testing import require

# A 40 × 40 mm square to cut (red stroke = cut, the lab's convention).
SQUARE_40 = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="60mm" height="60mm" viewBox="0 0 60 60">
  <rect x="10" y="10" width="40" height="40" fill="none" stroke="#ff0000" stroke-width="0.1"/>
</svg>
"""


@pytest.fixture
def bearer(runtime, staff) -> dict[str, str]:
    from fabserver.web.auth import issue_token

    return {"Authorization": f"Bearer {issue_token(runtime, staff.id, 'tests')}"}


def test_api_records_lists_and_deletes_pieces(client, bearer):
    made = client.post(
        "/api/v1/staff/stock",
        json={
            "material": "test-board",
            "width_mm": 150,
            "height_mm": 100,
            "count": 2,
            "note": "étagère B",
        },
        headers=bearer,
    )
    assert made.status_code == 201, made.get_json()
    piece = made.get_json()
    assert piece["id"] > 0 and piece["width_mm"] == 150 and piece["count"] == 2
    odd = client.post(
        "/api/v1/staff/stock",
        json={"material": "test-board", "outline_mm": [[0, 0], [120, 0], [60, 80]]},
        headers=bearer,
    ).get_json()
    assert odd["outline_mm"] == [[0, 0], [120, 0], [60, 80]] and odd["width_mm"] is None
    listed = client.get("/api/v1/staff/stock", headers=bearer).get_json()["pieces"]
    assert [p["id"] for p in listed] == [piece["id"], odd["id"]]
    assert client.delete(f"/api/v1/staff/stock/{odd['id']}", headers=bearer).status_code == 204
    assert client.delete(f"/api/v1/staff/stock/{odd['id']}", headers=bearer).status_code == 404
    listed = client.get("/api/v1/staff/stock", headers=bearer).get_json()["pieces"]
    assert [p["id"] for p in listed] == [piece["id"]]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"material": "test-pla", "width_mm": 10, "height_mm": 10}, "Choisissez un matériau"),
        ({"material": "test-board", "width_mm": "large", "height_mm": 10}, "n'est pas un nombre"),
        ({"material": "test-board", "width_mm": -5, "height_mm": 10}, "entre 0 et"),
        ({"material": "test-board", "outline_mm": [[0, 0], [1, 1]]}, "au moins 3 points"),
        (
            {"material": "test-board", "outline_mm": [[0, 0], [10, 10], [10, 0], [0, 10]]},
            "ne se croise pas",
        ),
        ({"material": "test-board", "width_mm": 5, "height_mm": 5, "count": 0}, "un entier"),
    ],
)
def test_api_refuses_bad_pieces_with_a_message(client, bearer, body, words):
    response = client.post("/api/v1/staff/stock", json=body, headers=bearer)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert words in error["fr"] and error["en"]


def test_stock_api_needs_a_token(client):
    assert client.get("/api/v1/staff/stock").status_code == 401


def test_stock_page_records_and_removes_a_piece(staff_client, runtime):
    page = staff_client.get("/staff/stock").get_data(as_text=True)
    assert "Stock et chutes" in page and "Carton d" in page
    response = staff_client.post(
        "/staff/stock",
        data={
            "csrf_token": csrf_token(staff_client, "/staff/stock"),
            "material": "test-board",
            "width_mm": "150,5",
            "height_mm": "100",
            "count": "1",
            "note": "étagère B",
        },
    )
    assert response.status_code == 303
    page = html.unescape(staff_client.get("/staff/stock").get_data(as_text=True))
    assert "150.5 × 100 mm" in page and "étagère B" in page
    with runtime.db.session() as s:
        (piece_id,) = s.scalars(s.query(StockPiece.id).statement).all()
    bad = staff_client.post(
        "/staff/stock",
        data={"csrf_token": csrf_token(staff_client, "/staff/stock"), "material": "test-board"},
    )
    assert "Largeur" in html.unescape(
        staff_client.get(bad.headers["Location"]).get_data(as_text=True)
    )
    staff_client.post(
        f"/staff/stock/{piece_id}/delete",
        data={"csrf_token": csrf_token(staff_client, "/staff/stock")},
    )
    assert "Aucune pièce enregistrée" in html.unescape(
        staff_client.get("/staff/stock").get_data(as_text=True)
    )


# --- a real laser job on a real offcut ----------------------------------------------------


@pytest.fixture
def laser_app(tmp_path):
    """The lab's own profiles and installed plugins, the queue run at once."""
    from fabserver.registry import load_registry
    from fabserver.web import create_app

    registry = load_registry()
    require(
        "laser" in registry.plugins,
        "the laser plugin is not installed (pip install -e plugins/laser)",
    )
    app = create_app(
        {"DATA_DIR": tmp_path / "data", "QUEUE_IMMEDIATE": True, "TESTING": True},
        registry=registry,
    )
    yield app
    app.extensions["fabserver"].close()


def _login(app):
    from fabserver.web.auth import create_staff

    create_staff(app.extensions["fabserver"], STAFF_USER, STAFF_PASSWORD, "Ana")
    c = app.test_client()
    c.post(
        "/staff/login",
        data={
            "csrf_token": csrf_token(c, "/staff/login"),
            "username": STAFF_USER,
            "password": STAFF_PASSWORD,
        },
    )
    return c


def _laser_job(client, svg: bytes, name: str = "Camille") -> str:
    response = client.post(
        "/",
        data={
            "csrf_token": csrf_token(client),
            "machine": "laser",
            "material": "plywood-3",
            "copies": "1",
            "name": name,
            "email": f"{name.lower()}@example.org",
            "consent": "1",
            "file": (io.BytesIO(svg), "square.svg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[-1]


def test_laser_part_plans_on_an_offcut_costs_by_area_and_leaves_one(laser_app):
    runtime = laser_app.extensions["fabserver"]
    staff = _login(laser_app)
    maker = laser_app.test_client()
    # Without offcuts, the part is charged a whole sheet.
    sheet_token = _laser_job(maker, SQUARE_40, "Alix")
    sheet_job = maker.get(f"/api/v1/jobs/{sheet_token}").get_json()
    assert sheet_job["state"] == "review", sheet_job["error"]
    assert sheet_job["stock"] is None
    sheet_cost = sheet_job["estimate"]["cost_eur"]
    assert sheet_cost == pytest.approx(6.0)

    staff.post(
        "/staff/stock",
        data={
            "csrf_token": csrf_token(staff, "/staff/stock"),
            "material": "plywood-3",
            "width_mm": "150",
            "height_mm": "100",
            "note": "étagère B",
        },
    )
    big = staff.post(
        "/staff/stock",
        data={
            "csrf_token": csrf_token(staff, "/staff/stock"),
            "material": "plywood-3",
            "width_mm": "300",
            "height_mm": "300",
            "note": "étagère A",
        },
    )
    assert big.status_code == 303
    with runtime.db.session() as s:
        small_id = s.query(StockPiece).filter_by(width_mm=150.0).one().id

    token = _laser_job(maker, SQUARE_40)
    job = maker.get(f"/api/v1/jobs/{token}").get_json()
    assert job["state"] == "review", job["error"]
    # the smallest piece that takes it, named for the operator
    assert job["stock"]["piece_id"] == small_id
    assert job["stock"]["label"]["fr"] == f"chute n° {small_id}, étagère B"
    assert any(f"chute n° {small_id}, étagère B" in w["fr"] for w in job["warnings"])
    # 40 mm part plus 3 mm clearance around: 46 × 46 mm at 6 € per 600 × 400 mm
    assert job["stock"]["area_mm2"] == pytest.approx(46 * 46, rel=0.02)
    assert job["estimate"]["cost_eur"] == pytest.approx(46 * 46 * 6.0 / (600 * 400), rel=0.02)
    assert job["estimate"]["cost_eur"] < sheet_cost / 50
    line = job["estimate"]["materials"][0]
    assert line["unit"] == "cm2" and "étagère B" in line["label"]["fr"]

    # A second job does not plan on the piece the first one holds.
    other = maker.get(f"/api/v1/jobs/{_laser_job(maker, SQUARE_40, 'Sam')}").get_json()
    assert other["stock"]["piece_id"] != small_id

    job_id = job_id_of(runtime, token)
    staff_post(staff, job_id, "approve")
    staff_post(staff, job_id, "dispatch")
    page = html.unescape(staff.get(f"/staff/jobs/{job_id}").get_data(as_text=True))
    assert 'data-testid="offcut-proposal"' in page
    # 150 × 100 minus the ~46 × 46 corner used: the ~104 × 100 mm strip is the largest
    with runtime.db.session() as s:
        rest = s.get(Job, job_id).stock["leftover"]
    assert rest["width_mm"] == pytest.approx(104, abs=0.5) and rest["height_mm"] == 100
    assert f"{rest['width_mm']:g} × 100 mm" in page
    assert (
        staff_post(staff, job_id, "done", actual_time_min="2", keep_offcut="1").status_code == 303
    )
    with runtime.db.session() as s:
        assert s.get(Job, job_id).state == "done"
        assert s.get(StockPiece, small_id) is None  # the only one, used up
        (kept,) = s.query(StockPiece).filter_by(source_job_id=job_id).all()
        assert (kept.width_mm, kept.height_mm, kept.note) == (rest["width_mm"], 100.0, "étagère B")
