"""Plausibility of a design's size, for formats whose units may be wrong or absent.

STL has no units at all, and CAD files often declare the wrong ones (a drawing
in millimetres saved with ``$INSUNITS`` = metres). The numbers are kept as they
are (millimetres, or the declared unit); the maker gets a warning that names the
likely unit and the scale that would fix it, the way slicers ask "this object
looks tiny, was it in inches?".
"""

from __future__ import annotations

import numpy as np

from ..i18n import Text

TINY_MM = 1.0
"""Below this largest extent a part is certainly not meant in millimetres."""
SMALL_MM = 5.0
"""Below this largest extent a part may well be drawn in inches."""
HUGE_MM = 3000.0
"""Above this largest extent nothing in the lab can make it: wrong unit or wrong file."""

# (unit, scale to millimetres) candidates, tried in this order for small parts.
_SMALL_CANDIDATES = (("m", 1000.0), ("in", 25.4), ("cm", 10.0))
_HUGE_CANDIDATES = (("µm", 0.001), ("1/100 mm", 0.01), ("1/10 mm", 0.1))

_PLAUSIBLE_MM = (5.0, 1500.0)

UNIT_NAMES: dict[str, tuple[str, str]] = {
    "mm": ("millimètres", "millimetres"),
    "m": ("mètres", "metres"),
    "cm": ("centimètres", "centimetres"),
    "in": ("pouces", "inches"),
    "µm": ("micromètres", "micrometres"),
    "1/100 mm": ("centièmes de millimètre", "hundredths of a millimetre"),
    "1/10 mm": ("dixièmes de millimètre", "tenths of a millimetre"),
}


def guess_unit(largest_mm: float, declared_scale: float = 1.0) -> tuple[str, float] | None:
    """The unit a part of this largest extent was most likely drawn in, or ``None``.

    Returns ``(unit, scale_to_mm)``: the first candidate that brings the part to a
    plausible size for a fablab (5 mm to 1.5 m). When the file declared a unit
    (``declared_scale`` ≠ 1), the first candidate is that its numbers were
    millimetres all along, the most common export mistake.
    """
    if not np.isfinite(largest_mm) or largest_mm <= 0:
        return None
    implausible = largest_mm < SMALL_MM or largest_mm > HUGE_MM
    as_mm = largest_mm / declared_scale
    if declared_scale != 1.0 and implausible and _PLAUSIBLE_MM[0] <= as_mm <= _PLAUSIBLE_MM[1]:
        return "mm", 1.0 / declared_scale
    if largest_mm < SMALL_MM:
        candidates = _SMALL_CANDIDATES if largest_mm < TINY_MM else _SMALL_CANDIDATES[1:]
    elif largest_mm > HUGE_MM:
        candidates = _HUGE_CANDIDATES
    else:
        return None
    for unit, scale in candidates:
        if _PLAUSIBLE_MM[0] <= largest_mm * scale <= _PLAUSIBLE_MM[1]:
            return unit, scale
    return None


def size_warnings(
    size_mm: np.ndarray, units_known: bool, declared_scale: float = 1.0
) -> tuple[list[Text], dict[str, object]]:
    """Warnings about an implausible size, and the facts behind them.

    ``size_mm`` : ``(2,)`` or ``(3,)`` float, extents in millimetres as loaded.
    ``units_known``: the file declared its unit (DXF ``$INSUNITS``, SVG lengths);
    the warning then says the declaration looks wrong instead of "no unit".
    ``declared_scale``: millimetres per file unit that were applied.
    """
    size = np.asarray(size_mm, dtype=float)
    largest = float(size.max()) if size.size else 0.0
    warnings: list[Text] = []
    details: dict[str, object] = {}
    dims = " × ".join(f"{v:.3g}" for v in size)
    dims_fr = dims.replace(".", ",")
    if largest < SMALL_MM:
        lead = Text(
            f"La pièce est minuscule : {dims_fr} mm.",
            f"The part is tiny: {dims} mm.",
        )
    elif largest > HUGE_MM:
        lead = Text(
            f"La pièce est immense : {dims_fr} mm.",
            f"The part is huge: {dims} mm.",
        )
    else:
        return warnings, details
    if units_known:
        why = Text(
            " L'unité déclarée dans le fichier est sans doute fausse.",
            " The unit declared in the file is probably wrong.",
        )
    else:
        why = Text(" Ce format ne dit pas son unité.", " This format does not state its unit.")
    guess = guess_unit(largest, declared_scale)
    if guess is None:
        hint = Text(
            " Vérifiez l'unité d'export dans votre logiciel.",
            " Check the export unit in your software.",
        )
    else:
        unit, scale = guess
        unit_fr, unit_en = UNIT_NAMES[unit]
        details["unit_guess"] = unit
        details["unit_guess_scale"] = scale
        factor = f"{scale:.6g}"
        hint = Text(
            f" Si elle a été dessinée en {unit_fr}, mettez-la à l'échelle ×{factor}".replace(
                ".", ","
            )
            + " (ou réexportez-la en millimètres).",
            f" If it was drawn in {unit_en}, scale it by ×{factor} (or export it again in"
            " millimetres).",
        )
    warnings.append(Text(lead.fr + why.fr + hint.fr, lead.en + why.en + hint.en))
    return warnings, details
