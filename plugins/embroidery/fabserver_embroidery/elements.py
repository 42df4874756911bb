"""From a drawing to embroidery elements: what is filled, satined or run.

- A path with a fill colour is a filled shape (closed as SVG closes it). Sub-paths of one SVG
  element (same ``source``) and colour make one shape with the even-odd rule,
  so letters keep their counters and rings their holes. Each connected part
  is sewn on its own.
- A filled part with at most one hole that is narrow everywhere (its largest inscribed
  circle no wider than the widest satin) and long for its width, like a letter
  stroke, becomes a satin column (see :mod:`.column`); if the column would not
  cover it, and for any other filled part, a tatami fill.
- A stroke wider than ``satin_min_width`` becomes a satin along it; wider than
  the longest sensible satin stitch, a fill of the stroke's outline (with a
  warning); thinner, a running stitch.

Document order is kept (``order``): later elements lie on top of earlier ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Literal

import numpy as np
import shapely

from fabserver.designs.types import Colour, Drawing
from fabserver.i18n import Text
from fabserver.operations import IGNORE, Operations, PathRules

ElementKind = Literal["fill", "column", "satin", "running"]


@dataclass(frozen=True)
class ElementRules:
    satin_min_width: float = 1.0  # mm: strokes at least this wide are satins
    satin_max_width: float = 8.0  # mm: longest satin stitch that lies flat
    min_area: float = 0.5  # mm²: smaller filled parts are dropped
    column_fullness: float = 0.85  # area / minimum rectangle for a bar
    auto_satin: bool = True  # narrow filled parts become satin columns
    underlap: float = 1.0  # mm a cut fill keeps under what covers it


@dataclass(frozen=True)
class Element:
    """Something sewn in one colour, in one go."""

    kind: ElementKind
    colour: Colour
    order: int
    footprint: shapely.Geometry  # what it covers, for layering decisions
    shape: shapely.Polygon | None = None  # fill, column
    points: np.ndarray | None = field(default=None, repr=False)  # satin, running
    closed: bool = False
    width: float = 0.0  # satin width, mm
    source: str = ""


def even_odd(rings: list[np.ndarray]) -> shapely.Geometry:
    """Area inside an odd number of ``rings`` (each ``(n, 2)``), valid and polygonal."""
    polys = [shapely.make_valid(shapely.Polygon(r)) for r in rings if len(r) >= 3]
    polys = [_polygonal(p) for p in polys]
    polys = [p for p in polys if not p.is_empty]
    if not polys:
        return shapely.Polygon()
    return _polygonal(reduce(shapely.symmetric_difference, polys))


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def is_bar(part: shapely.Polygon, rules: ElementRules) -> bool:
    """A hole-free part close to its minimum rectangle, long and at most a satin wide."""
    if len(part.interiors):
        return False
    rect = shapely.minimum_rotated_rectangle(part)
    pts = shapely.get_coordinates(rect)[:4]
    if len(pts) < 4 or rect.area <= 0:
        return False
    sides = np.linalg.norm(np.diff(pts[:3], axis=0), axis=1)
    narrow, long = sides.min(), sides.max()
    return (
        narrow <= rules.satin_max_width
        and long >= 2 * narrow
        and part.area / rect.area >= rules.column_fullness
    )


def is_narrow(part: shapely.Polygon, rules: ElementRules) -> bool:
    """A part no wider than a satin anywhere and long for its width (a stroke, a ring).

    At most one hole: a ring's column runs round it.
    """
    if len(part.interiors) > 1:
        return False
    radius = shapely.maximum_inscribed_circle(part, 0.05).length
    width = 2 * radius
    return 0 < width <= rules.satin_max_width and part.area >= 3 * width**2


#: What a maker's map may ask of a path's fill or stroke; unnamed paths are chosen by shape.
STITCHES = Operations(
    ("fill", "satin", "run"), example="#ff0000=satin,stroke:#000000=run,#00ff00=ignore"
)


def drawing_elements(
    drawing: Drawing, rules: ElementRules, chosen: Sequence[PathRules] | None = None
) -> tuple[list[Element], list[Text]]:
    """Elements of ``drawing`` in document order, and warnings for the maker.

    ``chosen``: each path's rules from the maker's map (:data:`STITCHES`); a part no
    map names is stitched by its shape (filled area: fill or satin column; stroke:
    running, satin or fill by its width).
    """

    def asked(i: int, part: str) -> str | None:
        if chosen is None:
            return None
        rule = chosen[i].fill if part == "fill" else chosen[i].stroke
        return None if rule is None else rule.operation

    warnings: list[Text] = []
    elements: list[Element] = []
    # Group filled sub-paths by (source element, fill colour), keeping first-seen order.
    groups: dict[tuple[str, Colour], list[int]] = {}
    for i, path in enumerate(drawing.paths):
        # SVG fills open paths too, as if closed.
        if path.fill is not None and len(path.points) >= 3:
            key = (path.source or f"#{i}", path.fill)
            groups.setdefault(key, []).append(i)
    fill_first = {members[0]: key for key, members in groups.items()}
    dropped = 0
    wide_strokes = 0
    for i, path in enumerate(drawing.paths):
        if i in fill_first and asked(i, "fill") not in (IGNORE, "run"):
            key = fill_first[i]
            shape = even_odd([drawing.paths[j].points for j in groups[key]])
            for part in shapely.get_parts(shape):
                if part.area < rules.min_area:
                    dropped += 1
                    continue
                narrow = rules.auto_satin and (is_bar(part, rules) or is_narrow(part, rules))
                if asked(i, "fill") is not None:
                    narrow = asked(i, "fill") == "satin"
                kind: ElementKind = "column" if narrow else "fill"
                elements.append(Element(kind, key[1], 2 * i, part, shape=part, source=key[0]))
        stroke_as = asked(i, "stroke")
        if i in fill_first and asked(i, "fill") == "run":
            stroke_as = "run"  # a fill asked to be run: its outline
        if (path.stroke is None and stroke_as != "run") or len(path.points) < 2:
            continue
        if stroke_as == IGNORE:
            continue
        colour = path.stroke if path.stroke is not None else path.fill
        line = (
            shapely.LinearRing(path.points)
            if path.closed and len(path.points) >= 3
            else shapely.LineString(path.points)
        )
        width = path.stroke_width
        if stroke_as == "satin":
            width = min(max(width, rules.satin_min_width), rules.satin_max_width)
        elif stroke_as == "run":
            width = 0.0
        if width > rules.satin_max_width or stroke_as == "fill":
            outline = shapely.buffer(line, max(width, rules.satin_min_width) / 2)
            wide_strokes += 1
            for part in shapely.get_parts(outline):
                if part.area >= rules.min_area:
                    elements.append(
                        Element("fill", colour, 2 * i + 1, part, shape=part, source=path.source)
                    )
        elif width >= rules.satin_min_width:
            elements.append(
                Element(
                    "satin",
                    colour,
                    2 * i + 1,
                    shapely.buffer(line, width / 2),
                    points=np.asarray(path.points),
                    closed=path.closed,
                    width=width,
                    source=path.source,
                )
            )
        else:
            elements.append(
                Element(
                    "running",
                    colour,
                    2 * i + 1,
                    shapely.buffer(line, 0.3),
                    points=np.asarray(path.points),
                    closed=path.closed,
                    source=path.source,
                )
            )
    if dropped:
        warnings.append(
            Text(
                "{n} surface(s) de moins de {area:g} mm² ignorée(s) : trop petites pour être "
                "brodées.",
                "{n} filled area(s) under {area:g} mm² left out: too small to embroider.",
            ).format(n=dropped, area=rules.min_area)
        )
    if wide_strokes:
        warnings.append(
            Text(
                "{n} trait(s) plus large(s) que {width:g} mm : un satin n'y tiendrait pas "
                "(points trop longs), ils sont remplis en tatami.",
                "{n} stroke(s) wider than {width:g} mm: a satin would not hold (stitches too "
                "long), they are filled with tatami instead.",
            ).format(n=wide_strokes, width=rules.satin_max_width)
        )
    return elements, warnings


def cut_hidden(elements: list[Element], rules: ElementRules) -> list[Element]:
    """Filled elements without the parts later elements cover, less an underlap.

    Sewing a fill in full under another one wastes thread and time and makes
    the work stiff. Each fill keeps ``rules.underlap`` mm under what covers it,
    so no gap opens at the edge when the fabric pulls. Strokes and running
    stitches are kept whole (too thin to hide much).
    """
    covers = [e.kind in ("fill", "column", "satin") for e in elements]
    footprints = np.array([e.footprint for e in elements], dtype=object)
    if len(footprints) == 0:
        return elements
    tree = shapely.STRtree(footprints)
    out: list[Element] = []
    for e in elements:
        if e.shape is None:
            out.append(e)
            continue
        above = [
            footprints[j]
            for j in tree.query(e.footprint, predicate="intersects")
            if covers[j] and elements[j].order > e.order
        ]
        if not above:
            out.append(e)
            continue
        hidden = shapely.union_all(above).buffer(-rules.underlap)
        rest = shapely.difference(e.shape, hidden) if not hidden.is_empty else e.shape
        for part in shapely.get_parts(_polygonal(rest)):
            if part.area < rules.min_area:
                continue
            narrow = rules.auto_satin and (is_bar(part, rules) or is_narrow(part, rules))
            out.append(
                Element(
                    "column" if narrow else "fill",
                    e.colour,
                    e.order,
                    part,
                    shape=part,
                    source=e.source,
                )
            )
    return out
