"""Headless Chromium against a real ``fabserver serve`` (waitress + Huey on SQLite).

A maker uploads a design, watches the progress, then sees the preview, estimate
and verdict; a staff member logs in, approves, dispatches and marks it done; the
maker's page shows each state. Once in French (the default), once in English.
"""

from __future__ import annotations

import re

import pytest
from servers import STAFF_PASSWORD, STAFF_USER

from fabserver.testing import require

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

PLAN_TIMEOUT_MS = 180_000  # shared, slow machines: a generous bound, not a measurement

WORDS = {
    "fr": {
        "title": "Envoyer un fichier au lab",
        "review": "En attente de validation",
        "approved": "Validé",
        "dispatched": "Envoyé à la machine",
        "done": "Terminé",
        "time": "Temps machine",
        "queue": "File d'attente par machine",
    },
    "en": {
        "title": "Send a design to the lab",
        "review": "Waiting for review",
        "approved": "Approved",
        "dispatched": "Sent to the machine",
        "done": "Done",
        "time": "Machine time",
        "queue": "Queue by machine",
    },
}


def _maker_uploads(page, server, lab, lang: str) -> str:
    words = WORDS[lang]
    page.goto(server.url + "/")
    if lang == "en":
        page.click("header .lang a[hreflang=en]")
    assert page.locator("h1").inner_text() == words["title"]
    assert page.locator("html").get_attribute("lang") == lang
    page.set_input_files("#file", str(lab.sample))
    # The script keeps only machines taking this kind of file, then filters materials.
    page.select_option("#machine", lab.machine)
    page.select_option("#material", lab.material)
    hidden = page.eval_on_selector_all(
        "fieldset.plugin-options", "els => els.filter(e => !e.hidden).map(e => e.dataset.plugin)"
    )
    assert hidden == [lab.plugin]
    for name, value in lab.options.items():
        page.fill(f"[name='{name}']", value)
    page.fill("#name", "Camille Martin")
    page.fill("#email", "camille@example.org")
    page.check("input[name=consent]")
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/j/[A-Za-z0-9_-]{32}$"))
    return page.url


def _maker_sees_progress_then_results(page, lab, lang: str) -> None:
    # Planning may or may not be over when the page first loads: both are right. State
    # and progress bar are read in one script run, as the page reloads itself on a change.
    state, progress_shown = page.evaluate(
        """() => {
            const bar = document.querySelector("[data-testid=progress]");
            return [document.querySelector("[data-testid=state]").dataset.state,
                    !!bar && bar.offsetParent !== null];
        }"""
    )
    assert state in ("queued", "planning", "review"), state
    assert progress_shown == (state != "review")
    # The script polls the JSON endpoint and reloads when the state changes.
    page.wait_for_selector("[data-testid=preview]", timeout=PLAN_TIMEOUT_MS)
    assert page.get_by_test_id("state").get_attribute("data-state") == "review"
    assert page.get_by_test_id("state").inner_text() == WORDS[lang]["review"]
    assert WORDS[lang]["time"] in page.locator("dl.facts").first.inner_text()
    assert page.get_by_test_id("verdict").get_attribute("data-kind") in ("prototype", "series")
    # The preview image really loaded (an SVG with a size).
    width = page.eval_on_selector("[data-testid=preview]", "img => img.naturalWidth")
    assert width > 0
    if lab.plugin in ("fdm", "testbox"):
        page.wait_for_selector(".layers:not([hidden])")
        slider = page.get_by_test_id("layer-slider")
        assert int(slider.get_attribute("max")) > 1
        slider.fill("0")
        assert page.locator("#layer-out").inner_text().startswith("1 /")
        assert page.locator("#layer-view path").count() > 0
    history = page.get_by_test_id("history").locator("li")
    assert [history.nth(i).get_attribute("data-state") for i in range(history.count())] == [
        "queued",
        "planning",
        "review",
    ]


def _staff_action(page, action: str, **fields) -> None:
    form = page.locator(f"form.action:has(button[data-action={action}])")
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    with page.expect_navigation():
        form.locator("button").click()


def _maker_page_shows(page, state: str, label: str) -> None:
    """The maker's open page updates itself (it polls and reloads on a change of state)."""
    page.wait_for_selector(f"[data-testid=state][data-state={state}]", timeout=PLAN_TIMEOUT_MS)
    assert page.get_by_test_id("state").inner_text() == label


def _wait_state(page, url: str, state: str) -> None:
    for _ in range(120):
        page.goto(url)
        if page.get_by_test_id("state").get_attribute("data-state") == state:
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"{url} never reached {state}")


def _flow(browser, server, lab, lang: str) -> None:
    words = WORDS[lang]
    maker = browser.new_context(locale="fr-FR" if lang == "fr" else "en-GB")
    maker.set_default_timeout(60_000)  # shared, slow machines
    maker_page = maker.new_page()
    job_url = _maker_uploads(maker_page, server, lab, lang)
    _maker_sees_progress_then_results(maker_page, lab, lang)

    staff = browser.new_context()
    staff.set_default_timeout(60_000)
    page = staff.new_page()
    page.goto(server.url + "/staff/")  # not logged in: the login form, which comes back here
    assert "/staff/login?next=/staff/" in page.url and page.locator("#username").is_visible()
    page.goto(server.url + f"/lang/{lang}?next=/staff/login")
    page.fill("#username", STAFF_USER)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == words["queue"]
    token = job_url.rsplit("/", 1)[-1]
    # The queue links to the job; the detail page names the maker's page by its token.
    page.locator(f"section.machine[data-machine='{lab.machine}'] table a").last.click()
    assert token in page.content()
    assert "camille@example.org" in page.get_by_test_id("contact").inner_text()
    assert page.get_by_test_id("preview").is_visible()

    _staff_action(page, "approve", note="OK")
    staff_job_url = page.url
    _maker_page_shows(maker_page, "approved", words["approved"])

    _staff_action(page, "dispatch")
    _wait_state(page, staff_job_url, "dispatched")  # sent by the queue, not the request
    _maker_page_shows(maker_page, "dispatched", words["dispatched"])
    with page.expect_download() as download:
        page.get_by_test_id("download").first.click()
    assert download.value.suggested_filename.startswith("job-")

    _staff_action(page, "done", actual_time_min="12.5", actual_material="3")
    assert page.get_by_test_id("state").get_attribute("data-state") == "done"
    _maker_page_shows(maker_page, "done", words["done"])
    states = maker_page.get_by_test_id("history").locator("li")
    assert [states.nth(i).get_attribute("data-state") for i in range(states.count())] == [
        "queued",
        "planning",
        "review",
        "approved",
        "dispatched",
        "done",
    ]
    maker.close()
    staff.close()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_maker_and_staff_flow(browser, server, lab, lang):
    _flow(browser, server, lab, lang)
    require(
        lab.real,
        "flow passed with the test plugin: no fdm, vinyl or laser plugin installed "
        "(install plugins/fdm to run it on the real slicer)",
    )
