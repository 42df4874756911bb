"""Checks that warn a maker before the vinyl is cut: details the blade cannot make.

A drag knife cannot cut a shape much smaller than a millimetre: the blade turns
over its own offset, tears the vinyl instead of cutting it, and such a speck is
lost when weeding anyway. The thresholds come from the machine profile.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from fabserver.designs import DrawingPath
from fabserver.i18n import Text

#: How many places a warning names before it says "and N more".
LISTED = 5


def too_small(paths: Sequence[DrawingPath], min_detail: float, min_area: float) -> np.ndarray:
    """``(n,) bool``: paths too small to cut.

    Closed paths enclosing less than ``min_area`` mm², or whose box is under
    ``min_detail`` mm both ways; open paths shorter than ``min_detail`` mm.
    """
    closed = np.array([p.closed and len(p.points) >= 3 for p in paths])
    extent = np.array([np.ptp(p.points, axis=0).max() for p in paths])
    rings = [shapely.Polygon(p.points) for p, c in zip(paths, closed, strict=True) if c]
    area = np.zeros(len(paths))
    area[closed] = shapely.area(shapely.make_valid(np.array(rings, dtype=object)))
    length = np.array([p.length for p in paths])
    return np.where(closed, (area < min_area) | (extent < min_detail), length < min_detail)


def small_details_warning(
    paths: Sequence[DrawingPath], min_detail: float, min_area: float
) -> Text | None:
    """A warning naming where the too-small details are (design coordinates), or ``None``."""
    small = np.flatnonzero(too_small(paths, min_detail, min_area))
    if small.size == 0:
        return None
    fr_places, en_places = [], []
    for i in small[:LISTED]:
        x, y = paths[i].points.mean(axis=0)
        name = f" {paths[i].source}" if paths[i].source else ""
        fr_places.append(f"({x:.1f} ; {y:.1f})".replace(".", ",") + name)
        en_places.append(f"({x:.1f}, {y:.1f}){name}")
    more = small.size - len(en_places)
    fr = ", ".join(fr_places) + (f" et {more} autres" if more else "")
    en = ", ".join(en_places) + (f" and {more} more" if more else "")
    return Text(
        "{count} détail(s) trop petit(s) pour la lame (moins de {detail:g} mm ou {area:g} mm²), "
        "aux positions en mm : {fr}. Ils risquent de se déchirer ou de partir à l'échenillage : "
        "agrandissez-les ou supprimez-les.",
        "{count} detail(s) too small for the blade (under {detail:g} mm or {area:g} mm²), "
        "at these positions in mm: {en}. They may tear or be lost when weeding: "
        "enlarge or remove them.",
    ).format(count=int(small.size), detail=float(min_detail), area=float(min_area), fr=fr, en=en)
