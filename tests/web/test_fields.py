"""Reading form fields into what the job services take: one reader for the upload form
(``opt-<plugin>-<name>``) and the staff page (``opt-<name>``)."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from fabserver.registry import load_registry
from fabserver.testing import require
from fabserver.web.fields import consented, form_options, maker_from


@pytest.fixture(scope="module")
def vinyl():
    plugins = load_registry().plugins
    require("vinyl" in plugins, "the vinyl plugin is not installed")
    return plugins["vinyl"]


def test_a_ticked_checkbox_wins_over_its_hidden_zero_and_empty_fields_keep_defaults(vinyl):
    form = MultiDict(
        [
            ("opt-vinyl-mirror", "0"),
            ("opt-vinyl-mirror", "1"),
            ("opt-vinyl-weeding_border", "0"),
            ("opt-vinyl-spacing", "  "),
            ("opt-vinyl-copies", "9"),
            ("opt-laser-rotation", "1"),
        ]
    )
    assert form_options(form, vinyl, "opt-vinyl-") == {"mirror": "1", "weeding_border": "0"}


def test_the_staff_page_prefix_reads_the_same_options(vinyl):
    form = MultiDict([("opt-mirror", "1"), ("opt-weeding_margin", "2,5"), ("copies", "3")])
    assert form_options(form, vinyl, "opt-") == {"mirror": "1", "weeding_margin": "2,5"}
    assert form_options(form, None, "opt-") == {}  # a plugin no longer installed


def test_consent_and_contact_read_alike_from_a_form_or_a_json_body():
    assert consented({"consent": "1"}) and consented({"consent": True})
    assert consented(MultiDict([("consent", "on")]))
    assert not consented({}) and not consented({"consent": "0"})
    maker = maker_from({"name": "Ana", "email": "ana@example.org", "phone": 612}, "en")
    assert (maker.name, maker.email, maker.phone, maker.locale) == (
        "Ana",
        "ana@example.org",
        "612",
        "en",
    )
