"""The smallest hoop that holds the design, and the shift that centres it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fabserver.errors import PlanError
from fabserver.i18n import Text, french_number

from .settings import Hoop


def choose_hoop(size: np.ndarray, hoops: Sequence[Hoop]) -> tuple[Hoop, bool]:
    """Smallest-area hoop whose field holds ``size`` (w, h) mm; ``True`` when turned 90°.

    Turning is only tried when no hoop holds the design as drawn.
    """
    w, h = float(size[0]), float(size[1])
    by_area = sorted(hoops, key=lambda hp: hp.area)
    for turned in (False, True):
        dw, dh = (h, w) if turned else (w, h)
        for hoop in by_area:
            if dw <= hoop.width + 1e-9 and dh <= hoop.height + 1e-9:
                return hoop, turned
    listing_fr = ", ".join(
        f"{french_number(hp.width, 'g')} × {french_number(hp.height, 'g')}" for hp in by_area
    )
    listing_en = ", ".join(f"{hp.width:g} × {hp.height:g}" for hp in by_area)
    raise PlanError(
        Text(
            "Le motif mesure {w:.1f} × {h:.1f} mm : il ne tient dans aucun cadre de la brodeuse "
            "({hoops_fr} mm). Réduisez-le ou découpez-le en plusieurs parties.",
            "The design measures {w:.1f} × {h:.1f} mm: it fits none of the machine's hoops "
            "({hoops_en} mm). Scale it down or split it into several parts.",
        ).format(w=w, h=h, hoops_fr=listing_fr, hoops_en=listing_en)
    )


def centring_offset(bounds: np.ndarray, grid: float = 0.1) -> np.ndarray:
    """Shift ``(2,)`` that puts the middle of ``bounds`` ``(2, 2)`` at the origin, on ``grid``."""
    middle = (np.asarray(bounds)[0] + np.asarray(bounds)[1]) / 2
    return -np.round(middle / grid) * grid


@dataclass(frozen=True)
class Placement:
    """Where a design sits: its hoop, whether it was turned, and the shift applied."""

    hoop: Hoop
    turned: bool
    offset: np.ndarray  # (2,) mm, added after the turn
    bounds: np.ndarray  # (2, 2) mm, of the placed stitches

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Drawing-frame ``(n, 2)`` points to hoop-frame points (origin at the hoop centre)."""
        pts = np.asarray(points, dtype=float)
        if self.turned:
            pts = pts @ np.array([[0.0, -1.0], [1.0, 0.0]])  # a quarter turn clockwise
        return pts + self.offset


def place(polylines: Sequence[np.ndarray], hoops: Sequence[Hoop]) -> Placement:
    """Smallest hoop for the needle points of ``polylines``, turned if needed, centred."""
    allpts = np.vstack(polylines)
    bounds = np.array([allpts.min(axis=0), allpts.max(axis=0)])
    hoop, turned = choose_hoop(bounds[1] - bounds[0], hoops)
    draft = Placement(hoop, turned, np.zeros(2), bounds)
    if turned:
        moved = draft.apply(allpts)
        bounds = np.array([moved.min(axis=0), moved.max(axis=0)])
    offset = centring_offset(bounds)
    return Placement(hoop, turned, offset, bounds + offset)
