"""Headless Chromium on the staff's lab pages: the stock of offcuts and the reports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from servers import STAFF_PASSWORD, STAFF_USER

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture
def staff_page(browser, server):
    context = browser.new_context()
    context.set_default_timeout(60_000)  # shared, slow machines
    page = context.new_page()
    page.goto(server.url + "/lang/fr?next=/staff/login")
    page.fill("#username", STAFF_USER)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    yield page
    context.close()


def _sheet_material(page) -> str:
    return page.eval_on_selector("#stock-material", "s => s.options[0].value")


def test_stock_page_records_lists_and_removes_pieces(staff_page, server):
    page = staff_page
    page.click("header nav a[href$='/staff/stock']")
    assert page.locator("h1").inner_text() == "Stock et chutes"
    material = _sheet_material(page)
    page.select_option("#stock-material", material)
    page.fill("#stock-width", "150")
    page.fill("#stock-height", "100")
    page.fill("#stock-note", "étagère B")
    page.click("button[data-action=add-piece]")
    assert "enregistrée" in page.locator(".flash.ok").inner_text()
    row = page.get_by_test_id("pieces").locator("tbody tr").last
    assert "150 × 100 mm" in row.inner_text() and "étagère B" in row.inner_text()

    # an odd offcut, by its outline
    page.fill("#stock-outline", "[[0, 0], [120, 0], [60, 80]]")
    page.fill("#stock-note", "bac à chutes")
    page.click("button[data-action=add-piece]")
    odd = page.get_by_test_id("pieces").locator("tbody tr").last
    assert "contour" in odd.inner_text() and "bac à chutes" in odd.inner_text()

    # a mistake is explained, nothing is recorded
    count = page.get_by_test_id("pieces").locator("tbody tr").count()
    page.fill("#stock-width", "grand")
    page.fill("#stock-height", "10")
    page.click("button[data-action=add-piece]")
    assert "n'est pas un nombre" in page.locator(".flash.error").inner_text()
    assert page.get_by_test_id("pieces").locator("tbody tr").count() == count

    for _ in range(count):
        page.get_by_test_id("pieces").locator("button[data-action=delete]").first.click()
    assert "Aucune pièce" in page.get_by_test_id("pieces").inner_text()

    page.click("header .lang a[hreflang=en]")
    assert page.locator("h1").inner_text() == "Stock and offcuts"


def test_report_page_shows_the_charts(staff_page, server, lab):
    # a job of this month, sent through the API as a maker would
    with lab.sample.open("rb") as f:
        made = requests.post(
            server.url + "/api/v1/jobs",
            files={"file": (lab.sample.name, f)},
            data={
                "machine": lab.machine,
                "material": lab.material,
                "name": "Dominique",
                "email": "dominique@example.org",
                "consent": "1",
            },
            timeout=60,
        )
    assert made.status_code == 201, made.text
    page = staff_page
    page.click("header nav a[href$='/staff/reports']")
    assert page.locator("h1").inner_text() == "Activité du lab"
    today = datetime.now(UTC).date()
    assert page.input_value("#report-from") == today.replace(day=1).isoformat()
    charts = page.get_by_test_id("charts").locator("svg.chart")
    assert charts.count() == 2
    for i in range(2):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 50
        assert charts.nth(i).is_visible()
    assert "Demandes par machine" in charts.nth(0).inner_html()
    # the new job is a bar of the jobs chart
    assert charts.nth(0).locator("rect.bar").count() >= 1
    assert int(page.locator("[data-total=jobs]").inner_text()) >= 1
    with page.expect_download() as download:
        page.get_by_test_id("csv-fr").click()
    assert download.value.suggested_filename.endswith(".csv")
    page.click("header .lang a[hreflang=en]")
    assert "Jobs per machine" in page.get_by_test_id("charts").inner_html()
