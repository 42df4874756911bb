"""Figures as people read them: decimal mark, units, enough digits, durations."""

from __future__ import annotations

import pytest

from fabserver.web.i18n import design_units, enough_digits, file_size, quantity, size, unit
from fabserver.web.views import minutes

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("value", "digits"),
    [(0.79, 1), (12.0, 1), (0.0, 1), (0.04, 3), (0.024, 3), (0.0123, 3), (0.00004, 6), (1e-9, 6)],
)
def test_small_quantities_get_the_digits_they_need(value, digits):
    assert enough_digits(value) == digits


def test_quantities_and_units_in_french(app):
    with app.test_request_context("/?lang=fr"):
        assert quantity(0.024, "m2") == f"0,024{NBSP}m²"
        assert quantity(1.0, "sheet") == f"1,0{NBSP}feuille"
        assert quantity(2.5, "sheet") == f"2,5{NBSP}feuilles"
        assert quantity(10.14, "g") == f"10,1{NBSP}g"
        assert quantity(3.26, "cm3") == f"3,3{NBSP}cm³"
        assert quantity(None, "g") == "—"
        assert size([201.94, 315.26]) == f"201,9 × 315,3{NBSP}mm"
        assert file_size(42_200) == f"42,2{NBSP}ko"
        assert file_size(3_500_000) == f"3,5{NBSP}Mo"
        assert design_units("none→mm") == "sans unité, lu en mm"
        assert unit("m") == "m" and unit(None) == ""


def test_quantities_and_units_in_english(app):
    with app.test_request_context("/?lang=en"):
        assert quantity(1.0, "sheet") == f"1.0{NBSP}sheet"
        assert quantity(1.5, "sheet") == f"1.5{NBSP}sheets"
        assert size([201.94, 315.26, 12]) == f"201.9 × 315.3 × 12.0{NBSP}mm"
        assert file_size(7_000) == f"7.0{NBSP}kB"
        assert design_units("in") == "inches"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0.2, f"1{NBSP}s"),
        (25, f"25{NBSP}s"),
        (61, f"1{NBSP}min"),
        (3900, f"1{NBSP}h{NBSP}05"),
    ],
)
def test_durations_never_read_zero_minutes(seconds, text):
    assert minutes(seconds) == text
