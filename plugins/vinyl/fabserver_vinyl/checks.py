"""Checks that warn a maker before the vinyl is cut: details the blade cannot make.

A drag knife cannot cut a shape much smaller than a millimetre: the blade turns
over its own offset, tears the vinyl instead of cutting it, and such a speck is
lost when weeding anyway. The same goes for thin parts of larger shapes (a
hairline serif, a needle-sharp point). The thresholds come from the machine
profile.
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


def narrow_places(paths: Sequence[DrawingPath], min_detail: float) -> np.ndarray:
    """``(k, 2) float``: middles of the parts of filled shapes thinner than ``min_detail``.

    The shapes are filled even-odd (a letter's counters are holes). A
    morphological opening (shrink, then grow back, by ``min_detail / 2``) removes
    exactly the parts a disc of that diameter cannot reach; pieces under
    ``min_detail²`` are ignored, which leaves out the slivers every corner loses
    (0.05 mm² for a right angle and a 1 mm disc; 0.5 mm² for a star's 36° point).
    """
    rings = [shapely.Polygon(p.points) for p in paths if p.closed and len(p.points) >= 3]
    if not rings or min_detail <= 0:
        return np.zeros((0, 2))
    filled = even_odd_fill(shapely.make_valid(np.array(rings, dtype=object)))
    radius = min_detail / 2
    opened = shapely.buffer(shapely.buffer(filled, -radius, quad_segs=8), radius, quad_segs=8)
    lost = shapely.get_parts(shapely.difference(filled, shapely.buffer(opened, 1e-3)))
    lost = lost[shapely.area(lost) >= min_detail**2]
    return shapely.get_coordinates(shapely.point_on_surface(lost)).reshape(-1, 2)


def even_odd_fill(shapes: np.ndarray) -> shapely.Geometry:
    """The area covered by an odd number of ``shapes`` (valid geometries): even-odd fill.

    Pairwise ``symmetric_difference`` over n shapes re-overlays the growing result
    n times (21 s for a 55-letter logo); shapely's ``symmetric_difference_all`` does
    not compute an exclusive-or of more than two. Instead, all boundaries are noded
    once (``unary_union``) and cut the plane into faces (``polygonize``); a face lies
    wholly inside or outside each shape, so one point inside it, counted against the
    shapes through an STRtree, says whether it is filled. The filled faces share
    edges exactly, which is what ``coverage_union_all`` joins fast.
    """
    polygons = _polygons(shapes)
    if not len(polygons):
        return shapely.Polygon()
    linework = shapely.unary_union(shapely.boundary(polygons))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(linework)))
    if not len(faces):
        return shapely.Polygon()
    inside = shapely.point_on_surface(faces)
    hits = shapely.STRtree(polygons).query(inside, predicate="within")
    odd = np.bincount(hits[0], minlength=len(faces)) % 2 == 1
    return shapely.coverage_union_all(faces[odd])


def _polygons(shapes: np.ndarray) -> np.ndarray:
    """The polygons in ``shapes``, multi-parts and collections opened (lines and points,
    which ``make_valid`` leaves of a collapsed ring, cover no area and are dropped).
    Parts of one valid shape do not overlap, so each point is counted once per shape."""
    parts = shapely.get_parts(shapes)
    while True:
        nested = shapely.get_type_id(parts) >= shapely.GeometryType.MULTIPOINT
        if not nested.any():
            break
        parts = np.concatenate([parts[~nested], shapely.get_parts(parts[nested])])
    return parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON]


def narrow_parts_warning(paths: Sequence[DrawingPath], min_detail: float) -> Text | None:
    """A warning naming where shapes are thinner than the blade cuts, or ``None``."""
    places = narrow_places(paths, min_detail)
    if not len(places):
        return None
    fr, en = _listed(
        [f"({x:.1f} ; {y:.1f})".replace(".", ",") for x, y in places[:LISTED]],
        [f"({x:.1f}, {y:.1f})" for x, y in places[:LISTED]],
        len(places),
    )
    return Text(
        "{count} partie(s) du motif plus fine(s) que {detail:g} mm, aux positions en mm : {fr}. "
        "La lame risque de les déchirer : épaississez-les.",
        "{count} part(s) of the design thinner than {detail:g} mm, at these positions in mm: "
        "{en}. The blade may tear them: make them thicker.",
    ).format(count=len(places), detail=float(min_detail), fr=fr, en=en)


def _listed(fr_places: list[str], en_places: list[str], total: int) -> tuple[str, str]:
    more = total - len(en_places)
    return (
        ", ".join(fr_places) + (f" et {more} autres" if more else ""),
        ", ".join(en_places) + (f" and {more} more" if more else ""),
    )


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
        # The element's id in the maker's file, named as such (it is no word of the message).
        source = paths[i].source
        fr_places.append(
            f"({x:.1f} ; {y:.1f})".replace(".", ",")
            + (f" (élément « {source} »)" if source else "")
        )
        en_places.append(f"({x:.1f}, {y:.1f})" + (f" (element '{source}')" if source else ""))
    fr, en = _listed(fr_places, en_places, small.size)
    return Text(
        "{count} détail(s) trop petit(s) pour la lame (moins de {detail:g} mm ou {area:g} mm²), "
        "aux positions en mm : {fr}. Ils risquent de se déchirer ou de partir à l'échenillage : "
        "agrandissez-les ou supprimez-les.",
        "{count} detail(s) too small for the blade (under {detail:g} mm or {area:g} mm²), "
        "at these positions in mm: {en}. They may tear or be lost when weeding: "
        "enlarge or remove them.",
    ).format(count=int(small.size), detail=float(min_detail), area=float(min_area), fr=fr, en=en)
