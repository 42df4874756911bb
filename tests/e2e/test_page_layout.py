"""Pages on a desktop (1280 px) and a phone (390 px) in headless Chromium.

No element may stick out of the viewport (the page would scroll sideways), previews
fit their box whatever their proportions (the vinyl roll is metres long), staff
figures keep to one line, the focus ring stands out from white (≥ 3:1). Screenshots are written to ``FABSERVER_SCREENSHOTS``
(a temporary directory by default) for people to look at.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import requests
from servers import ROOT, STAFF_PASSWORD, STAFF_USER

from fabserver.profiles import load_profiles
from fabserver.registry import load_registry
from fabserver.testing import require

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

WIDTHS = (1280, 390)
PLAN_TIMEOUT_S = 180  # shared, slow machines: a generous bound, not a measurement
JOBS = {"vinyl": "vinyl-sticker.svg", "laser": "laser-keyring.svg", "printer-1": "fdm-step.stl"}

# Elements wider than the viewport, or reaching past its right edge; inside a box that
# scrolls on its own (a wide table), only the box counts.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const inScroller = el => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") return true;
    }
    return false;
  };
  const out = [], anywhere = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || el.classList.contains("skip")) continue;  // skip link: off screen
    if (r.right > width + 1 || r.left < -1) {
      (inScroller(el) ? anywhere : out).push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
        (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "") +
        " " + Math.round(r.left) + "→" + Math.round(r.right));
    }
  }
  return {out, anywhere, scrollWidth: document.documentElement.scrollWidth, width};
}"""


def _contrast(rgb_a: tuple[float, ...], rgb_b: tuple[float, ...]) -> float:
    """WCAG 2 contrast ratio of two sRGB colours (0–255)."""

    def luminance(rgb):
        channels = []
        for c in rgb[:3]:
            c = c / 255
            channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    high, low = sorted((luminance(rgb_a), luminance(rgb_b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(v) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])


@pytest.fixture(scope="module")
def lab_jobs(server) -> dict[str, str]:
    """One job per machine kind, planned by the real plugins: {machine: maker's page}."""
    require(
        {"fdm", "laser", "vinyl"} <= set(load_registry().plugins),
        "the built-in plugins are not installed",
    )
    profiles = load_profiles()
    urls = {}
    for machine, sample in JOBS.items():
        material = profiles.materials_for(profiles.machines[machine])[0].id
        with (ROOT / "samples" / sample).open("rb") as f:
            answer = requests.post(
                server.url + "/api/v1/jobs",
                files={"file": (sample, f)},
                data={
                    "machine": machine,
                    "material": material,
                    "copies": "2",
                    "name": "Camille Martin-Delacroix",
                    "email": "camille.martin-delacroix@example.org",
                    "consent": "1",
                },
                timeout=120,
            )
        assert answer.status_code == 201, answer.text
        urls[machine] = answer.json()["url"]
    deadline = time.monotonic() + PLAN_TIMEOUT_S
    for machine, url in urls.items():
        token = url.rsplit("/", 1)[-1]
        while time.monotonic() < deadline:
            state = requests.get(f"{server.url}/api/v1/jobs/{token}", timeout=30).json()["state"]
            if state not in ("queued", "planning"):
                break
            time.sleep(0.5)
        assert state == "review", (machine, state)
    return urls


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    target = os.environ.get("FABSERVER_SCREENSHOTS")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _context(browser, width: int):
    context = browser.new_context(
        viewport={"width": width, "height": 844 if width < 600 else 900},
        device_scale_factor=1,
        is_mobile=width < 600,
        has_touch=width < 600,
        locale="fr-FR",
    )
    context.set_default_timeout(60_000)
    return context


def _login(page, server) -> None:
    page.goto(server.url + "/staff/")
    # not logged in: the login form, not a 403 page
    assert "/staff/login" in page.url
    page.fill("#username", STAFF_USER)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/staff/")


def _check(page, shots: Path, name: str, width: int) -> None:
    page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
    found = page.evaluate(OVERFLOW_JS)
    assert found["out"] == [], f"{name} at {width} px: {found['out'][:10]}"
    assert found["scrollWidth"] <= found["width"], (
        f"{name} scrolls sideways at {width} px: {found['anywhere'][:10]}"
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_pages_fit_the_screen(browser, server, lab_jobs, shots, width):
    context = _context(browser, width)
    page = context.new_page()
    page.goto(server.url + "/lang/fr?next=/")
    _check(page, shots, "form", width)
    for machine, url in lab_jobs.items():
        page.goto(url)
        page.wait_for_selector("[data-testid=preview]")
        page.wait_for_function("document.querySelector('[data-testid=preview]').complete")
        _check(page, shots, f"job-{machine}", width)
        # the preview fits its box: never taller than the screen, never wider than its column
        box = page.locator("[data-testid=preview]").bounding_box()
        column = page.locator(".grid > div").first.bounding_box()
        assert box["height"] <= 0.7 * page.viewport_size["height"] + 1, (machine, box)
        assert box["width"] <= column["width"] + 1, (machine, box, column)
        assert page.get_by_test_id("preview-size").inner_text().endswith("mm")
    _login(page, server)
    _check(page, shots, "queue", width)
    # staff figures stay on one line (no word per line in a narrow cell)
    for figure in page.locator(".totals .fig, table.jobs td.fig").all():
        if figure.inner_text().strip() in ("", "—"):
            continue
        height = figure.evaluate("e => e.getClientRects().length")
        assert height == 1, figure.inner_text()
    page.click("table.jobs a >> nth=0")
    page.wait_for_selector("[data-testid=staff-job]")
    _check(page, shots, "staff-job", width)
    for path in ("/staff/machines", "/staff/stock", "/staff/reports"):
        page.goto(server.url + path)
        _check(page, shots, path.rsplit("/", 1)[-1], width)
    context.close()


def test_staff_fields_have_labels_and_focus_is_visible(browser, server, lab_jobs):
    context = _context(browser, 1280)
    page = context.new_page()
    _login(page, server)
    page.click("table.jobs a >> nth=0")
    page.wait_for_selector("[data-testid=staff-job]")
    fields = (
        ".actions input:not([type=hidden]), .actions select, form.action input:not([type=hidden])"
    )
    unlabelled = page.eval_on_selector_all(
        fields,
        "els => els.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))"
        ".map(e => e.name)",
    )
    assert unlabelled == []
    for name in ("Note (facultative)", "Raison, montrée au demandeur", "Pourquoi", "Verdict"):
        assert page.get_by_label(name, exact=True).count() >= 1, name
    # keyboard focus on a field of the white card: a ring of at least 3:1 against white
    page.focus("#reject-reason")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    style = page.eval_on_selector(
        "#reject-reason",
        "e => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }",
    )
    assert style[0] != "none" and float(style[1].removesuffix("px")) >= 2, style
    assert _contrast(_rgb(style[2]), (255, 255, 255)) >= 3, style
    page.goto(server.url + "/staff/machines")
    assert page.get_by_label("À quoi il sert", exact=True).count() == 1
    context.close()


def test_the_width_check_catches_an_element_wider_than_a_phone(browser, server, shots):
    context = _context(browser, 390)
    page = context.new_page()
    page.goto(server.url + "/")
    _check(page, shots, "form-before-plant", 390)
    page.evaluate(
        "document.querySelector('main .card').insertAdjacentHTML('beforeend',"
        " '<div id=planted style=\"white-space: nowrap\">' + 'x'.repeat(200) + '</div>')"
    )
    with pytest.raises(AssertionError, match="planted"):
        _check(page, shots, "form-planted", 390)
    context.close()
