"""SVG → :class:`Drawing` in millimetres, y up.

svgelements does the SVG semantics (units, viewBox and preserveAspectRatio,
nested transforms, ``<use>``/``<symbol>``, CSS classes and inheritance,
``display:none``); this module checks the XML first, then flattens every curve to
a chord tolerance measured in millimetres after all transforms, over arrays.

Coordinates: the page's bottom-left corner is the origin and y points up
(``y_mm = page_height_mm − y_svg_mm``), so a drawing keeps its place on the
page. Without any page height (no ``height`` nor ``viewBox``) the y axis is only
mirrored (``y_mm = −y_svg_mm``).
"""

from __future__ import annotations

import io
import re
import xml.parsers.expat
from dataclasses import dataclass, field

import numpy as np
import svgelements as se

from ..i18n import Text
from .loader import design_error
from .types import Drawing, DrawingPath, SourceFacts
from .units import size_warnings

MM_PER_INCH = 25.4
CSS_DPI = 96.0
LEGACY_INKSCAPE_DPI = 90.0
"""Inkscape before 0.92 wrote user units at 90 per inch; Inkscape itself rescales them."""

_MAX_ENTITY_VALUE = 1024
_ABSOLUTE_UNIT = re.compile(r"(mm|cm|in|pt|pc|q)\s*$", re.I)


# --------------------------------------------------------------------------- XML safety


def check_xml(data: bytes) -> dict[str, str]:
    """Refuse dangerous or broken XML before any SVG library sees the bytes.

    Same line as defusedxml: no external entities, no external DTD fetched, no
    parameter entities, and no entity whose value refers to another entity (the
    "billion laughs" bomb). Plain internal entities stay allowed, because Adobe
    Illustrator declares its namespaces that way. Returns the root element's
    attributes, which tell the page size and the writing program.

    svgelements parses with ElementTree (expat): it never fetches external
    entities (they fail as "undefined entity") and expat ≥ 2.4 stops entity
    amplification, but only with a bare ``ParseError`` and only where the
    system's libexpat is recent. Checking here gives the maker a clear message
    on every system, and the bomb is never expanded at all.
    """
    parser = xml.parsers.expat.ParserCreate(namespace_separator=None)
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    root: dict[str, str] = {}

    def refuse(reason: str) -> None:
        raise design_error(
            "Ce SVG contient des déclarations XML dangereuses (entités externes ou en"
            " cascade) que nous refusons par sécurité. Réenregistrez-le depuis Inkscape en"
            " « SVG simple ».",
            "This SVG contains dangerous XML declarations (external or nested entities) that"
            " we refuse for safety. Save it again from Inkscape as 'Plain SVG'.",
            detail=reason,
        )

    def entity_decl(name, is_parameter, value, base, system_id, public_id, notation):
        if is_parameter:
            refuse(f"parameter entity {name}")
        if system_id or public_id or notation:
            refuse(f"external entity {name}")
        if value is not None and ("&" in value or "%" in value or len(value) > _MAX_ENTITY_VALUE):
            refuse(f"nested or oversized entity {name}")

    def external_ref(context, base, system_id, public_id):
        refuse(f"external entity reference {system_id}")

    def start(tag, attributes):
        if not root:
            root.update(attributes)
            root["__tag__"] = tag

    parser.EntityDeclHandler = entity_decl
    parser.ExternalEntityRefHandler = external_ref
    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise design_error(
            f"Ce SVG n'est pas un XML valide (ligne {exc.lineno}, colonne {exc.offset}) : le"
            " fichier est coupé ou abîmé. Réenregistrez-le depuis votre logiciel.",
            f"This SVG is not valid XML (line {exc.lineno}, column {exc.offset}): the file is"
            " cut off or damaged. Save it again from your software.",
            detail=str(exc),
        ) from None
    if root.get("__tag__", "").rsplit(":", 1)[-1] != "svg":
        raise design_error(
            "Ce fichier XML n'est pas un SVG (son élément racine n'est pas <svg>).",
            "This XML file is not an SVG (its root element is not <svg>).",
            detail=f"root {root.get('__tag__')!r}",
        )
    return root


# --------------------------------------------------------------------------- flattening


@dataclass
class _Curves:
    """Curves of the whole document gathered for one vectorised flattening pass."""

    cubics: list[tuple[complex, complex, complex, complex]] = field(default_factory=list)

    def add_cubic(self, p0: complex, p1: complex, p2: complex, p3: complex) -> int:
        self.cubics.append((p0, p1, p2, p3))
        return len(self.cubics) - 1

    def flatten(self, tolerance: float) -> list[np.ndarray]:
        """Each cubic → ``(k, 2)`` points after its start, chord error ≤ ``tolerance``.

        The step count comes from the bound on the second derivative of a cubic,
        ``|B''| ≤ 6 max|P0 − 2P1 + P2|, |P1 − 2P2 + P3|``, and the chord error of a
        uniform step ``h``: ``|B''| h² / 8``.
        """
        if not self.cubics:
            return []
        ctrl = np.array(self.cubics, dtype=complex)  # (m, 4)
        d2 = np.maximum(
            np.abs(ctrl[:, 0] - 2 * ctrl[:, 1] + ctrl[:, 2]),
            np.abs(ctrl[:, 1] - 2 * ctrl[:, 2] + ctrl[:, 3]),
        )
        steps = np.maximum(1, np.ceil(np.sqrt(6 * d2 / (8 * tolerance)))).astype(np.int64)
        steps = np.minimum(steps, 10_000)
        owner = np.repeat(np.arange(len(ctrl)), steps)
        first = np.cumsum(steps) - steps
        t = (np.arange(steps.sum()) - first[owner] + 1) / steps[owner]
        s = 1 - t
        c = ctrl[owner]
        z = s**3 * c[:, 0] + 3 * s * s * t * c[:, 1] + 3 * s * t * t * c[:, 2] + t**3 * c[:, 3]
        points = np.column_stack([z.real, z.imag])
        return np.split(points, np.cumsum(steps)[:-1])


def _arc_points(arc: se.Arc, tolerance: float) -> np.ndarray:
    """Points of an elliptical arc after its start, sagitta ≤ ``tolerance``."""
    radius = max(abs(arc.rx), abs(arc.ry), tolerance)
    sweep = abs(arc.sweep)
    step = 2 * np.arccos(max(-1.0, 1 - tolerance / radius))
    count = int(min(max(1, np.ceil(sweep / step)), 10_000))
    pts = arc.npoint(np.linspace(0, 1, count + 1)[1:])
    return np.asarray(pts, dtype=float).reshape(-1, 2)


# --------------------------------------------------------------------------- the loader


@dataclass
class _Subpath:
    """One subpath while it is collected: its pieces are assembled after flattening."""

    pieces: list  # (x, y) line ends, ("cubic", index) into _Curves, or (k, 2) arc points
    closed: bool = False


def load_svg(data: bytes, name: str = "", *, tolerance_mm: float = 0.01, **_: object) -> Drawing:
    """Visible shapes of an SVG as paths in mm (y up), one per subpath.

    Each path keeps its element's stroke and fill colours, stroke width (mm,
    after transforms), Inkscape layer and id. Text and raster images are counted
    and reported as warnings; hidden and unpainted shapes are skipped.
    """
    root = check_xml(data)
    mm_per_px, units, legacy = _page_scale(root)
    # svgelements converts mm with 0.0393701 in/mm (0.5 ppm off); for metric pages
    # a matching ppi makes millimetres exact, which is what the lab measures.
    ppi = CSS_DPI / (0.0393701 * MM_PER_INCH) if units in ("mm", "cm") else CSS_DPI
    svg = se.SVG.parse(io.BytesIO(data), ppi=ppi, reify=True)
    tolerance_px = tolerance_mm / mm_per_px

    curves = _Curves()
    shapes: list[tuple[se.Shape, list[_Subpath], str]] = []
    texts = images = hidden = 0
    layer = ""
    for element in svg.elements():
        if isinstance(element, se.Group):
            attrs = element.values.get("attributes", {})
            if attrs.get(_INKSCAPE + "groupmode") == "layer":
                layer = attrs.get(_INKSCAPE + "label") or element.id or ""
            continue
        if isinstance(element, se.Text):
            texts += 1
            continue
        if isinstance(element, se.Image):
            images += 1
            continue
        if not isinstance(element, se.Shape):
            continue
        if str(element.values.get("visibility", "")).lower() in ("hidden", "collapse"):
            hidden += 1
            continue
        in_layer = element.values.get(_INKSCAPE + "groupmode") == "layer"
        subpaths = _walk(abs(se.Path(element)), curves, tolerance_px)
        if subpaths:
            shapes.append((element, subpaths, layer if in_layer else ""))

    flat_cubics = curves.flatten(tolerance_px)
    page_height_mm = _page_height_mm(svg, root, mm_per_px)
    paths: list[DrawingPath] = []
    for element, subpaths, layer_name in shapes:
        stroke = _colour(element.stroke, element.values.get("stroke-opacity"))
        fill = _colour(element.fill, element.values.get("fill-opacity"))
        if stroke is None and fill is None:  # neither stroked nor filled: invisible
            hidden += 1
            continue
        width = element.implicit_stroke_width if stroke is not None else 0.0
        for sub in subpaths:
            points = _assemble(sub, flat_cubics)
            if len(points) < 2:
                continue
            points = points * mm_per_px
            points[:, 1] = (
                page_height_mm - points[:, 1] if page_height_mm is not None else -points[:, 1]
            )
            closed = sub.closed
            if len(points) > 2 and np.hypot(*(points[-1] - points[0])) <= tolerance_mm:
                points = points[:-1]
                closed = True
            if closed and len(points) < 3:
                closed = False
            if not np.isfinite(points).all():
                continue
            paths.append(
                DrawingPath(
                    points=points,
                    closed=closed,
                    stroke=stroke,
                    fill=fill,
                    stroke_width=float(width or 0.0) * mm_per_px,
                    layer=layer_name,
                    source=element.id or "",
                )
            )

    warnings: list[Text] = []
    if texts:
        warnings.append(
            Text(
                f"{texts} texte(s) ignoré(s) : les machines ne suivent que des tracés. Dans"
                " Inkscape, sélectionnez le texte puis Chemin ▸ Objet en chemin, et"
                " réenregistrez.",
                f"{texts} text element(s) ignored: machines only follow paths. In Inkscape,"
                " select the text, then Path ▸ Object to Path, and save again.",
            )
        )
    if images:
        warnings.append(
            Text(
                f"{images} image(s) matricielle(s) ignorée(s) : seuls les tracés vectoriels"
                " sont lus. Vectorisez-les (Inkscape : Chemin ▸ Vectoriser un objet matriciel).",
                f"{images} raster image(s) ignored: only vector paths are read. Trace them"
                " (Inkscape: Path ▸ Trace Bitmap).",
            )
        )
    if legacy:
        warnings.append(
            Text(
                "Fichier d'une ancienne version d'Inkscape (avant 0.92) : lu à 90 pixels par"
                " pouce, comme Inkscape le fait. Vérifiez les dimensions.",
                "File from an old Inkscape version (before 0.92): read at 90 pixels per inch,"
                " as Inkscape does. Check the dimensions.",
            )
        )
    if not paths:
        raise design_error(
            "Ce SVG ne contient aucun tracé visible à découper, graver ou broder"
            + (" (seulement du texte : convertissez-le en chemins)." if texts else ".")
            + " Vérifiez que les objets ne sont pas masqués et sont des chemins.",
            "This SVG contains no visible path to cut, engrave or stitch"
            + (" (only text: convert it to paths)." if texts else ".")
            + " Check that the objects are not hidden and are paths.",
            detail=f"texts={texts} images={images} hidden={hidden}",
        )
    drawing_size = np.ptp(np.vstack([p.points for p in paths]), axis=0)
    size_notes, size_details = size_warnings(drawing_size, units_known=units != "px@96dpi")
    warnings.extend(size_notes)
    details: dict[str, object] = {
        "texts": texts,
        "images": images,
        "hidden_skipped": hidden,
        "mm_per_user_unit": _mm_per_user_unit(svg, mm_per_px),
        "mm_per_css_px": mm_per_px,
        "page_height_mm": page_height_mm,
        **size_details,
    }
    return Drawing(
        paths=tuple(paths),
        facts=SourceFacts(
            format="svg",
            units=units,
            scale_to_mm=_mm_per_user_unit(svg, mm_per_px),
            warnings=tuple(warnings),
            details=details,
        ),
    )


_INKSCAPE = "{http://www.inkscape.org/namespaces/inkscape}"


def _page_scale(root: dict[str, str]) -> tuple[float, str, bool]:
    """Millimetres per CSS pixel, the units found, and whether legacy 90 dpi applies.

    svgelements turns every length into pixels at the ``ppi`` it is given (96,
    the CSS value). Inkscape before 0.92 meant 90 pixels per inch; a drawing from
    it whose page size has no absolute unit is scaled as Inkscape would.
    """
    width = root.get("width", "").strip()
    height = root.get("height", "").strip()
    absolute = [m.group(1).lower() for v in (width, height) if (m := _ABSOLUTE_UNIT.search(v))]
    if absolute:
        return MM_PER_INCH / CSS_DPI, absolute[0], False
    version = root.get("inkscape:version", "")
    match = re.match(r"\s*0\.(\d+)", version)
    if match and int(match.group(1)) < 92:
        return MM_PER_INCH / LEGACY_INKSCAPE_DPI, "px@90dpi", True
    return MM_PER_INCH / CSS_DPI, "px@96dpi", False


def _mm_per_user_unit(svg: se.SVG, mm_per_px: float) -> float:
    """Millimetres per unit of the drawing's own coordinates (the viewBox's, if any).

    What a person means by the file's scale: 1.0 for a 80 mm page with a
    ``0 0 80 80`` viewBox, whatever CSS pixels svgelements counts in.
    """
    viewbox = getattr(svg, "viewbox", None)
    width = svg.width
    vb_width = getattr(viewbox, "width", None) if viewbox is not None else None
    if vb_width and isinstance(width, (int, float)) and np.isfinite(width) and width > 0:
        return float(width) / float(vb_width) * mm_per_px
    return mm_per_px


def _page_height_mm(svg: se.SVG, root: dict[str, str], mm_per_px: float) -> float | None:
    if "height" not in root and "viewBox" not in root:
        return None
    height = svg.height
    if not isinstance(height, (int, float)) or not np.isfinite(height) or height <= 0:
        return None
    return float(height) * mm_per_px


def _colour(paint: se.Color | None, opacity: object) -> tuple[int, int, int] | None:
    if paint is None or paint.value is None or paint.alpha == 0:
        return None
    try:
        if opacity is not None and float(opacity) == 0:
            return None
    except ValueError:
        pass
    return (int(paint.red), int(paint.green), int(paint.blue))


def _walk(path: se.Path, curves: _Curves, tolerance: float) -> list[_Subpath]:
    """Subpaths of a reified path; curves are queued in ``curves`` for flattening."""
    subpaths: list[_Subpath] = []
    current: _Subpath | None = None
    for segment in path:
        if isinstance(segment, se.Move):
            current = _Subpath(pieces=[(segment.end.x, segment.end.y)])
            subpaths.append(current)
            continue
        if current is None:  # tolerated: a path that does not begin with a move
            start = segment.start
            current = _Subpath(pieces=[(start.x, start.y)])
            subpaths.append(current)
        if isinstance(segment, se.Close):
            current.closed = True
            current = None
        elif isinstance(segment, se.Line):
            current.pieces.append((segment.end.x, segment.end.y))
        elif isinstance(segment, se.CubicBezier):
            p = [
                complex(q.x, q.y)
                for q in (segment.start, segment.control1, segment.control2, segment.end)
            ]
            current.pieces.append(("cubic", curves.add_cubic(*p)))
        elif isinstance(segment, se.QuadraticBezier):
            # the exact cubic of a quadratic (degree elevation), flattened with the rest
            p0, c, p3 = (complex(q.x, q.y) for q in (segment.start, segment.control, segment.end))
            current.pieces.append(
                ("cubic", curves.add_cubic(p0, p0 + 2 / 3 * (c - p0), p3 + 2 / 3 * (c - p3), p3))
            )
        elif isinstance(segment, se.Arc):
            current.pieces.append(_arc_points(segment, tolerance))
    return [s for s in subpaths if len(s.pieces) > 1]


def _assemble(sub: _Subpath, flat_cubics: list[np.ndarray]) -> np.ndarray:
    """``(n, 2) float`` points of one subpath, in user units, consecutive duplicates removed."""
    parts: list[np.ndarray] = []
    run: list[tuple[float, float]] = []
    for piece in sub.pieces:
        if isinstance(piece, tuple) and len(piece) == 2 and piece[0] == "cubic":
            if run:
                parts.append(np.array(run, dtype=float))
                run = []
            parts.append(flat_cubics[piece[1]])
        elif isinstance(piece, np.ndarray):
            if run:
                parts.append(np.array(run, dtype=float))
                run = []
            parts.append(piece)
        else:
            run.append(piece)
    if run:
        parts.append(np.array(run, dtype=float))
    points = np.vstack(parts)
    keep = np.ones(len(points), dtype=bool)
    keep[1:] = np.any(np.abs(np.diff(points, axis=0)) > 1e-12, axis=1)
    return points[keep]
