"""Headless Chromium: the instant quote as a maker meets it, against a real ``fabserver serve``
on the lab's profiles and plugins.

A maker drops a mesh, turns it in the 3D view, watches every printer's row fill in and
sees the verdict turn to a series at 3 copies without a reload; drops a drawing,
changes a colour's operation and sees the legend follow, sends it, then revises the
job from its page.
"""

from __future__ import annotations

import pytest
from servers import ROOT, start_server

from fabserver.testing import require

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

PLAN_TIMEOUT_MS = 240_000  # shared, slow machines: a generous bound, not a measurement
VENDOR = ROOT / "fabserver" / "web" / "static" / "vendor" / "three.module.min.js"


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    from fabserver.registry import load_registry

    plugins = load_registry().plugins
    require({"fdm", "laser"} <= set(plugins), "the fdm and laser plugins are not installed")
    tmp = tmp_path_factory.mktemp("quote-server")
    srv = start_server(tmp / "data", {"FABSERVER_PROFILES": str(ROOT / "profiles")}, tmp / "log")
    yield srv
    srv.stop()


def _no_overflow(page) -> None:
    width = page.evaluate("document.documentElement.clientWidth")
    wider = page.evaluate(
        "w => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.table-wrap') && !e.closest('#colours-block')).map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 5)",
        width,
    )
    assert wider == []


def _drop(page, server, sample: str) -> None:
    page.goto(server.url + "/")
    page.set_input_files("#quote-file", str(ROOT / "samples" / sample))  # sent at once
    page.wait_for_url("**/q/*", timeout=PLAN_TIMEOUT_MS)


def test_mesh_quote_3d_view_table_and_series_without_reload(lab_server, browser):
    require(VENDOR.exists(), "three.js not installed in the static files (make vendor, needs npm)")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _drop(page, lab_server, "web-block.stl")
    assert "20,0 × 20,0 × 10,0 mm" in page.inner_text("[data-testid=size]")
    page.wait_for_selector("#viewer[data-ready='1']", timeout=60_000)
    assert page.get_attribute("#viewer", "data-triangles") == "12"
    assert page.locator("#viewer canvas").count() == 1
    box = page.locator("#viewer canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 60, box["y"] + box["height"] / 2 + 20)
    page.mouse.up()

    rows = page.locator("#quote-table tbody tr")
    assert rows.count() >= 2
    printer = page.get_attribute("#quote-table tbody tr[data-machine^='printer']", "data-machine")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#quote-table tbody tr')].every(r => r.dataset.state === 'done' || r.dataset.state === 'failed')",
        timeout=PLAN_TIMEOUT_MS,
    )
    assert page.locator(f"tr[data-machine='{printer}'] [data-testid=verdict]").inner_text()
    assert "min" in page.locator(f"tr[data-machine='{printer}'] .time").inner_text()

    page.evaluate("window.__noReload = true")
    page.check(f"input[name=choice][value='{printer}']")
    assert page.get_attribute("#viewer", "data-bed") is not None
    page.fill("#steer-copies", "2")
    page.wait_for_selector(
        "[data-testid=steer-verdict-kind][data-kind=prototype]", timeout=PLAN_TIMEOUT_MS
    )
    page.fill("#steer-copies", "3")
    assert "2" in page.inner_text("#series-note") and "3" in page.inner_text("#series-note")
    page.wait_for_selector(
        "[data-testid=steer-verdict-kind][data-kind=series]", timeout=PLAN_TIMEOUT_MS
    )
    assert page.evaluate("window.__noReload") is True
    assert page.locator(f"tr[data-machine='{printer}'] .copies").inner_text() == "3"
    _no_overflow(page)
    page.close()


def test_drawing_quote_operations_send_and_revise(lab_server, browser):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    _drop(page, lab_server, "laser-keyring.svg")
    assert page.locator("#drawing").count() == 1
    page.check("input[name=choice][value='laser']")
    page.wait_for_selector("tr[data-machine='laser'][data-state='done']", timeout=PLAN_TIMEOUT_MS)
    red = page.locator("#colours select[data-key='stroke:#ff0000']")
    assert red.input_value() == "cut"
    assert "#ff0000" in page.inner_text("#legend li[data-operation=cut]")
    red.select_option("score")
    page.wait_for_function(
        "() => (document.querySelector('#legend li[data-operation=score]') || {}).textContent.includes('#ff0000')"
    )
    assert page.locator("#legend li[data-operation=cut]").count() == 0
    page.wait_for_selector("tr[data-machine='laser'][data-state='done']", timeout=PLAN_TIMEOUT_MS)
    assert page.locator("#steer-preview").is_visible()
    _no_overflow(page)

    page.fill("#name", "Camille Martin")
    page.fill("#email", "camille@example.org")
    page.check("input[name=consent]")
    page.click("#send")
    page.wait_for_url("**/j/*", timeout=PLAN_TIMEOUT_MS)
    page.wait_for_selector("[data-testid=state][data-state=review]", timeout=PLAN_TIMEOUT_MS)
    assert "stroke:#ff0000=score" in page.text_content("[data-testid=settings]")  # kept

    page.click("[data-testid=revise] summary")
    page.fill("#revise-copies", "3")
    page.click("#revise-submit")
    page.wait_for_selector("[data-testid=state][data-state=review]", timeout=PLAN_TIMEOUT_MS)
    assert "3" in page.inner_text(".sub")
    page.close()
