"""DXF → :class:`Drawing` in millimetres (DXF is already y up).

ezdxf reads the file (text or binary; ``ezdxf.recover`` for broken and ancient
ones), ``ezdxf.path`` turns every curve entity into a path flattened to the
chord tolerance, block references are expanded through ``virtual_entities``
(nested, scaled, rotated, mirrored). Open pieces whose ends touch — contours
drawn as separate LINEs and ARCs, as many CAD exports do — are then chained
into contours with a spatial index (:mod:`.chaining`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import ezdxf
import numpy as np
from ezdxf import colors, recover
from ezdxf import path as ezpath
from ezdxf.document import Drawing as DxfDocument
from ezdxf.entities import DXFGraphic, Insert
from ezdxf.enums import InsertUnits
from ezdxf.lldxf.tagger import binary_tags_loader
from ezdxf.lldxf.validator import dxf_info
from ezdxf.units import conversion_factor

from ..i18n import Text
from .chaining import chain_paths
from .loader import design_error
from .types import Colour, Drawing, DrawingPath, SourceFacts
from .units import size_warnings

_CURVES = frozenset(
    {"LINE", "ARC", "CIRCLE", "ELLIPSE", "LWPOLYLINE", "POLYLINE", "SPLINE", "SOLID", "TRACE"}
)
_FILLS = frozenset({"HATCH", "MPOLYGON"})
_TEXTS = frozenset({"TEXT", "MTEXT", "ATTRIB", "ATTDEF"})
# Drawn for people, not for machines: ignored without a warning.
_ANNOTATIONS = frozenset(
    {"DIMENSION", "ARC_DIMENSION", "LARGE_RADIAL_DIMENSION", "POINT", "LEADER", "MLEADER",
     "MULTILEADER", "TOLERANCE", "VIEWPORT", "XLINE", "RAY", "WIPEOUT"}
)  # fmt: skip
_MAX_BLOCK_DEPTH = 16
# Entities that block references (INSERT, MINSERT) may make in all: a depth limit alone
# lets 12 levels of blocks inserting each other 3 times make 500 000 entities from 30 KB.
MAX_EXPANDED = 200_000
_BLACK: Colour = (0, 0, 0)

_UNIT_NAMES = {
    InsertUnits.Inches: "in",
    InsertUnits.Feet: "ft",
    InsertUnits.Millimeters: "mm",
    InsertUnits.Centimeters: "cm",
    InsertUnits.Meters: "m",
    InsertUnits.Microns: "µm",
    InsertUnits.Decimeters: "dm",
    InsertUnits.Mils: "mil",
    InsertUnits.Microinches: "µin",
    InsertUnits.Yards: "yd",
}


def read_document(data: bytes) -> tuple[DxfDocument, bool]:
    """The ezdxf document and whether it needed ``ezdxf.recover``."""
    try:
        if data.startswith(b"AutoCAD Binary DXF"):
            return DxfDocument.load(binary_tags_loader(data)), False
        head = data[:65536].decode("cp1252", errors="replace")
        info = dxf_info(io.StringIO(head))
        encoding = "utf-8" if info.version >= "AC1021" else info.encoding
        text = data.decode(encoding, errors="surrogateescape")
        return ezdxf.read(io.StringIO(text, newline=None)), False
    except Exception:  # ezdxf raises many kinds on broken files
        pass  # broken or ancient: the recovery reader is slower but tolerant
    try:
        # recovery logs every fix it makes; the facts say "recovered" instead
        with _quiet("ezdxf"):
            doc, _auditor = recover.read(io.BytesIO(data))
    except Exception as exc:  # whatever it is, the file is beyond repair
        raise design_error(
            "Ce DXF est abîmé ou tronqué et n'a pas pu être réparé. Réexportez-le depuis votre"
            " logiciel (format DXF R2000 ou plus récent de préférence).",
            "This DXF is damaged or truncated and could not be repaired. Export it again from"
            " your software (preferably as DXF R2000 or later).",
            detail=repr(exc),
        ) from None
    return doc, True


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@dataclass
class _Style:
    """What an entity inherits from the block reference that placed it."""

    layer: str = "0"
    colour: Colour = _BLACK
    source: str = ""  # handle of the outermost block reference: block copies have none


@dataclass
class _Found:
    paths: list[DrawingPath] = field(default_factory=list)
    texts: int = 0
    skipped_layers: Counter = field(default_factory=Counter)
    ignored: Counter = field(default_factory=Counter)


class _Reader:
    def __init__(self, doc: DxfDocument, tolerance: float, max_expanded: int = MAX_EXPANDED):
        self.doc = doc
        self.max_expanded = max_expanded
        self.expanded = 0  # entities made by INSERT/MINSERT so far
        self.tolerance = tolerance  # in drawing units
        self.bezier_segments = _bezier_segments(tolerance)
        self.found = _Found()
        self._source = ""  # handle given to the paths of the entity being read
        self._layers: dict[str, tuple[Colour, bool]] = {}
        for layer in doc.layers:
            visible = layer.is_on() and not layer.is_frozen()
            rgb = layer.rgb
            colour = tuple(rgb) if rgb is not None else _aci(abs(layer.color))
            self._layers[layer.dxf.name.lower()] = (colour, visible)

    def run(self) -> _Found:
        # Counted on the block definitions first, without expanding anything: a bomb is
        # refused at once instead of after 100 000 expansions.
        sizes: dict[str, int] = {}
        self._spend(sum(self._made_by(e, sizes, 0) for e in self.doc.modelspace()))
        self.expanded = 0  # the exact count, while reading, is a second guard
        for entity in self.doc.modelspace():
            self._entity(entity, _Style(), depth=0)
        return self.found

    def _layer_of(self, entity: DXFGraphic, parent: _Style) -> str:
        name = entity.dxf.get("layer", "0")
        # entities on layer 0 inside a block take the layer of the reference
        return parent.layer if name == "0" else name

    def _colour_of(self, entity: DXFGraphic, layer: str, parent: _Style) -> Colour:
        rgb = entity.rgb if entity.dxf.hasattr("true_color") else None
        if rgb is not None:
            return tuple(rgb)
        aci = entity.dxf.get("color", colors.BYLAYER)
        if aci == colors.BYBLOCK:
            return parent.colour
        if aci == colors.BYLAYER:
            return self._layers.get(layer.lower(), (_BLACK, True))[0]
        return _aci(aci)

    def _entity(self, entity: DXFGraphic, parent: _Style, depth: int) -> None:
        kind = entity.dxftype()
        if entity.dxf.get("invisible", 0):
            return
        layer = self._layer_of(entity, parent)
        if not self._layers.get(layer.lower(), (_BLACK, True))[1]:
            self.found.skipped_layers[layer] += 1
            return
        if kind == "INSERT":
            source = parent.source or entity.dxf.get("handle", "") or ""
            colour = self._colour_of(entity, layer, parent)
            self._insert(entity, _Style(layer, colour, source), depth)
            return
        self._source = parent.source or entity.dxf.get("handle", "") or ""
        if kind in _CURVES:
            self._curve(entity, layer, self._colour_of(entity, layer, parent), filled=False)
        elif kind in _FILLS:
            self._fill(entity, layer, self._colour_of(entity, layer, parent))
        elif kind in _TEXTS:
            self.found.texts += 1
        else:  # annotations and anything exotic: listed in the facts for staff
            self.found.ignored[kind] += 1

    def _insert(self, insert: Insert, style: _Style, depth: int) -> None:
        if depth >= _MAX_BLOCK_DEPTH:
            self.found.ignored["INSERT (nested too deep)"] += 1
            return
        # A MINSERT's grid is counted before it is expanded: 30000 × 30000 is refused at once.
        self._spend(max(1, insert.mcount))
        references: Iterator[Insert] = (
            insert.multi_insert() if insert.mcount > 1 else iter((insert,))
        )
        for reference in references:
            for child in reference.virtual_entities():
                self._spend(1)
                self._entity(child, style, depth + 1)
            self.found.texts += len(reference.attribs)

    def _made_by(self, entity: DXFGraphic, sizes: dict[str, int], depth: int) -> int:
        """Entities a block reference makes once expanded, from the block definitions."""
        if entity.dxftype() != "INSERT" or depth >= _MAX_BLOCK_DEPTH:
            return 0
        name = entity.dxf.get("name", "")
        if name not in sizes:
            sizes[name] = 0  # a block that inserts itself adds nothing (the depth stops it)
            block = self.doc.blocks.get(name)
            if block is not None:
                sizes[name] = sum(1 + self._made_by(e, sizes, depth + 1) for e in block)
        return max(1, entity.mcount) * (1 + sizes[name])

    def _spend(self, count: int) -> None:
        """Count entities made by block references against the drawing's budget: blocks
        that insert each other a few levels deep multiply, whatever the nesting limit."""
        self.expanded += count
        if self.expanded > self.max_expanded:
            limit_fr = f"{self.max_expanded:_}".replace("_", "\u202f")
            raise design_error(
                f"Ce DXF répète ses blocs trop de fois : plus de {limit_fr} éléments une fois "
                "les blocs insérés. Décomposez les blocs (« décomposer » / « explode ») ou "
                "simplifiez le dessin, puis réexportez-le.",
                f"This DXF repeats its blocks too many times: more than {self.max_expanded:,} "
                "entities once the blocks are inserted. Explode the blocks or simplify the "
                "drawing, then export it again.",
                detail=f"expanded block entities > {self.max_expanded}",
            )

    def _curve(self, entity: DXFGraphic, layer: str, colour: Colour, filled: bool) -> None:
        kind = entity.dxftype()
        if kind in ("CIRCLE", "ARC", "ELLIPSE", "SPLINE"):
            # points on the true curve: ezdxf's paths first approximate conics and
            # non-cubic splines by Béziers (2.7e-4 × radius off for a quarter circle,
            # more than 0.01 mm on big arcs)
            try:
                if kind in ("ELLIPSE", "SPLINE"):
                    vertices = list(entity.flattening(distance=self.tolerance))
                else:
                    vertices = list(entity.flattening(sagitta=self.tolerance))
            except (ValueError, ZeroDivisionError):
                self.found.ignored[f"{kind} (degenerate)"] += 1
                return
            closed = (
                kind == "CIRCLE"
                or (kind == "SPLINE" and entity.closed)
                or (
                    kind == "ELLIPSE"
                    and abs(entity.dxf.end_param - entity.dxf.start_param) >= 6.28318
                )
            )
            self._emit_points(vertices, layer, colour, entity, closed_hint=closed, filled=filled)
            return
        try:
            path = ezpath.make_path(entity, segments=self.bezier_segments)
        except (TypeError, ValueError, ZeroDivisionError):  # e.g. a 3D polyface mesh
            self.found.ignored[f"{kind} (unsupported form)"] += 1
            return
        closed_entity = kind in ("SOLID", "TRACE") or bool(
            getattr(entity, "closed", False) or getattr(entity, "is_closed", False)
        )
        for sub in path.sub_paths():
            self._emit(sub, layer, colour, entity, closed_hint=closed_entity, filled=filled)

    def _fill(self, entity: DXFGraphic, layer: str, colour: Colour) -> None:
        for boundary in ezpath.from_hatch(entity):
            for sub in boundary.sub_paths():
                self._emit(sub, layer, colour, entity, closed_hint=True, filled=True)

    def _emit(self, sub, layer, colour, entity, *, closed_hint: bool, filled: bool) -> None:
        vertices = list(sub.flattening(distance=self.tolerance))
        self._emit_points(
            vertices, layer, colour, entity, closed_hint=closed_hint or sub.is_closed, filled=filled
        )

    def _emit_points(self, vertices, layer, colour, entity, *, closed_hint, filled) -> None:
        if len(vertices) < 2:
            return
        points = np.array([(v.x, v.y) for v in vertices], dtype=float)
        closed = closed_hint
        if len(points) > 2 and np.hypot(*(points[-1] - points[0])) <= self.tolerance:
            points = points[:-1]
            closed = True
        if np.ptp(points, axis=0).max() <= 0:
            return  # a zero-length piece: nothing to cut
        self.found.paths.append(
            DrawingPath(
                points=points,
                closed=closed and len(points) >= 3,
                stroke=None if filled else colour,
                fill=colour if filled else None,
                layer=layer,
                source=self._source,
            )
        )


def _bezier_segments(tolerance: float, radius_bound: float = 1e4) -> int:
    """Béziers per full turn so that bulge arcs stay within half the tolerance.

    A cubic on a quarter circle is off by 2.7e-4 × r, an error falling with the
    sixth power of the angle; ``radius_bound`` (drawing units) is a generous
    bound on any bulge radius, since polylines do not state theirs.
    """
    per_quarter = (2.7e-4 * radius_bound / (tolerance / 2)) ** (1 / 6)
    return int(4 * max(1, math.ceil(per_quarter)))


def _aci(index: int) -> Colour:
    """RGB of an AutoCAD colour index.

    ACI 7 is "white" in the table but drawn black on paper and in every laser
    program's white workspace, which is where makers choose their colours.
    """
    if index == 7 or not 1 <= index <= 255:
        return _BLACK
    return tuple(colors.aci2rgb(index))


def load_dxf(data: bytes, name: str = "", *, tolerance_mm: float = 0.01, **_: object) -> Drawing:
    doc, recovered = read_document(data)
    insunits = int(doc.header.get("$INSUNITS", 0) or 0)
    warnings: list[Text] = []
    try:
        unit = InsertUnits(insunits)
        scale = conversion_factor(unit, InsertUnits.Millimeters) if insunits else 1.0
        unit_name = _UNIT_NAMES.get(unit, unit.name.lower()) if insunits else "unitless→mm"
    except ValueError:
        scale, unit_name = 1.0, "unitless→mm"
    if unit_name == "unitless→mm":
        warnings.append(
            Text(
                "Ce DXF ne déclare pas son unité ($INSUNITS) : il est lu en millimètres."
                " Vérifiez les dimensions, ou réexportez-le avec l'unité « mm ».",
                "This DXF does not declare its unit ($INSUNITS): it is read in millimetres."
                " Check the dimensions, or export it again with the unit set to 'mm'.",
            )
        )
    reader = _Reader(doc, tolerance=tolerance_mm / scale)
    found = reader.run()
    pieces = [p.with_points(p.points * scale) for p in found.paths]
    paths = chain_paths(pieces, tolerance=tolerance_mm)

    if found.texts:
        warnings.append(
            Text(
                f"{found.texts} texte(s) ignoré(s) : les machines ne suivent que des tracés."
                " Convertissez les textes en contours dans votre logiciel (« décomposer » /"
                " « explode » en polylignes) et réexportez.",
                f"{found.texts} text(s) ignored: machines only follow paths. Convert the texts"
                " to outlines in your software ('explode' to polylines) and export again.",
            )
        )
    if found.skipped_layers:
        names = ", ".join(sorted(found.skipped_layers))
        warnings.append(
            Text(
                f"Calques éteints ou gelés ignorés : {names}.",
                f"Layers switched off or frozen were ignored: {names}.",
            )
        )
    if not paths:
        raise design_error(
            "Ce DXF ne contient aucune géométrie à découper ou graver (lignes, arcs,"
            " cercles, polylignes, splines)"
            + (" : seulement du texte, à convertir en contours." if found.texts else ".")
            + " Vérifiez que le dessin est dans l'espace objet (Model) et pas seulement dans"
            " une présentation.",
            "This DXF contains no geometry to cut or engrave (lines, arcs, circles,"
            " polylines, splines)"
            + (": only text, to be converted to outlines." if found.texts else ".")
            + " Check that the drawing is in model space, not only in a layout.",
            detail=f"ignored={dict(found.ignored)}",
        )
    allpts = np.vstack([p.points for p in paths])
    size_notes, size_details = size_warnings(
        np.ptp(allpts, axis=0), units_known=unit_name != "unitless→mm", declared_scale=scale
    )
    warnings.extend(size_notes)
    details: dict[str, object] = {
        "dxf_version": doc.dxfversion,
        "insunits": insunits,
        "recovered": recovered,
        "texts": found.texts,
        "pieces": len(pieces),
        "ignored": dict(found.ignored),
        **size_details,
    }
    return Drawing(
        paths=tuple(paths),
        facts=SourceFacts(
            format="dxf",
            units=unit_name,
            scale_to_mm=scale,
            warnings=tuple(warnings),
            details=details,
        ),
    )
