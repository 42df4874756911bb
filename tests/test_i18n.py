"""Decimal numbers in messages: a comma in French, a point in English."""

import numpy as np
import pytest

from fabserver.i18n import Text, french_number
from fabserver.plugin import Option, OptionError


@pytest.mark.parametrize(
    ("value", "spec", "english"),
    [
        (0.45, ".2f", "0.45"),
        (12.5, "g", "12.5"),
        (np.float32(2.5), ".1f", "2.5"),
        (np.float64(1234.5), ".1f", "1234.5"),
        (3, ".1f", "3.0"),
        (-0.125, ".3f", "-0.125"),
    ],
)
def test_french_number_is_the_english_form_with_a_comma(value, spec, english):
    assert format(value, spec) == english
    assert french_number(value, spec) == english.replace(".", ",")


def test_french_number_leaves_whole_numbers_alone():
    assert french_number(600.0, "g") == "600"
    assert french_number(7) == "7"
    assert french_number(np.int64(42), "d") == "42"


def test_format_puts_a_comma_in_french_only():
    message = Text("largeur {w:.2f} mm, {n} couches", "width {w:.2f} mm, {n} layers")
    filled = message.format(w=0.45, n=12)
    assert filled.fr == "largeur 0,45 mm, 12 couches"
    assert filled.en == "width 0.45 mm, 12 layers"


def test_format_takes_numpy_and_integer_values_with_a_float_spec():
    filled = Text("{a:.1f} × {b:.1f} mm", "{a:.1f} × {b:.1f} mm").format(
        a=np.float32(2.5), b=np.int64(3)
    )
    assert filled.fr == "2,5 × 3,0 mm"
    assert filled.en == "2.5 × 3.0 mm"


def test_format_leaves_text_and_flags_as_they_are():
    filled = Text("{name} : {ok}", "{name}: {ok}").format(name="PLA 1.75", ok=True)
    assert filled.fr == "PLA 1.75 : True"
    assert filled.en == "PLA 1.75: True"


def test_option_bounds_are_written_with_a_french_comma():
    option = Option("speed", "float", 1.0, Text("Vitesse", "Speed"), unit="mm/s", min=0.5, max=2.5)
    with pytest.raises(OptionError) as err:
        option.parse(3.75)
    assert "3,75 est hors des bornes [0,5 ; 2,5] mm/s" in err.value.message.fr
    assert "3.75 is outside [0.5, 2.5] mm/s" in err.value.message.en
    with pytest.raises(OptionError) as err:
        option.parse("9.5")  # what the maker typed is echoed as typed
    assert "« speed » : 9.5 est hors" in err.value.message.fr
