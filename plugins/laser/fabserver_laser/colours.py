"""Operations by colour and by layer, the way laser users expect.

A colour map is text, so it fits a profile and a form field alike::

    #ff0000=cut, #0000ff=score, #000000=engrave, layer:*cut*=cut, *=ignore

Keys are ``#rgb``/``#rrggbb`` colours or a few colour names, ``none`` (a path
with no colour), ``*`` (every colour not listed), or ``layer:PATTERN`` (a
case-insensitive shell pattern on the layer name, checked before colours). A
colour key may start with ``stroke:`` or ``fill:``; without it, the entry is
for strokes and fills alike, except ``engrave`` entries, for fills only (a
black outline is not a request to engrave). A bare word that names a preset of
the machine profile (``boxes``) brings its entries in. Operations are ``cut``,
``score``, ``engrave`` and ``ignore``.

``cut`` and ``score`` follow the outline of the path; ``engrave`` rasters the
filled area of closed paths, and a stroke mapped to engrave explicitly
(``stroke:#00ff00=engrave``) is engraved as a line (scored). Paths whose
colours are not in the map are listed for the maker, never cut.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fabserver.designs.types import Colour, DrawingPath, colour_hex
from fabserver.errors import PlanError
from fabserver.i18n import Text

MAP_OPERATIONS = ("cut", "score", "engrave", "ignore")
COLOUR_TOLERANCE = 24
"""Largest per-channel difference still taken as the same colour (0..255):
exports often write ``rgb(0,0,254)`` or anti-aliased greys for pure colours."""

NAMED_COLOURS: dict[str, Colour] = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "lime": (0, 255, 0),
    "blue": (0, 0, 255),
    "cyan": (0, 255, 255),
    "magenta": (255, 0, 255),
    "yellow": (255, 255, 0),
}


def _bad_map(entry: str, why_fr: str, why_en: str) -> PlanError:
    return PlanError(
        Text(
            f"Table des couleurs : « {entry} » {why_fr}. Exemple : "
            "#ff0000=cut,#0000ff=score,#000000=engrave.",
            f"Colour map: '{entry}' {why_en}. Example: #ff0000=cut,#0000ff=score,#000000=engrave.",
        )
    )


def _parse_colour(key: str) -> Colour | None:
    key = key.strip().lower()
    if key in NAMED_COLOURS:
        return NAMED_COLOURS[key]
    if key.startswith("#") and len(key) in (4, 7):
        digits = key[1:]
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        try:
            value = int(digits, 16)
        except ValueError:
            return None
        return (value >> 16 & 255, value >> 8 & 255, value & 255)
    return None


Part = str  # "stroke" or "fill"


@dataclass(frozen=True)
class ColourMap:
    """Parsed map: colours per part (stroke, fill), layer patterns, other colours."""

    stroke: dict[Colour | None, str] = field(default_factory=dict)
    fill: dict[Colour | None, str] = field(default_factory=dict)
    layers: tuple[tuple[str, str], ...] = ()
    other_stroke: str | None = None  # the ``*`` entries
    other_fill: str | None = None

    @classmethod
    def parse(cls, text: str, presets: Mapping[str, str] | None = None) -> ColourMap:
        return cls().updated(text, presets)

    def updated(self, text: str, presets: Mapping[str, str] | None = None) -> ColourMap:
        """This map with the entries of ``text`` added; later entries win."""
        maps = {"stroke": dict(self.stroke), "fill": dict(self.fill)}
        other = {"stroke": self.other_stroke, "fill": self.other_fill}
        layers = dict(self.layers)
        presets = presets or {}
        for raw in text.replace(";", ",").split(","):
            entry = raw.strip()
            if not entry:
                continue
            if "=" not in entry:
                if entry.lower() in presets:
                    expanded = ColourMap.parse(presets[entry.lower()])
                    maps["stroke"].update(expanded.stroke)
                    maps["fill"].update(expanded.fill)
                    layers.update(expanded.layers)
                    for part in ("stroke", "fill"):
                        value = getattr(expanded, f"other_{part}")
                        other[part] = value if value is not None else other[part]
                    continue
                known = ", ".join(sorted(presets)) or "—"
                raise _bad_map(
                    entry,
                    f"n'est ni « couleur=opération » ni un préréglage connu ({known})",
                    f"is neither 'colour=operation' nor a known preset ({known})",
                )
            key, op = (part.strip() for part in entry.rsplit("=", 1))
            op = op.lower()
            if op not in MAP_OPERATIONS:
                raise _bad_map(
                    entry,
                    f"demande « {op} » ; opérations possibles : {', '.join(MAP_OPERATIONS)}",
                    f"asks for '{op}'; operations are {', '.join(MAP_OPERATIONS)}",
                )
            lowered = key.lower()
            if lowered.startswith("layer:"):
                pattern = lowered[6:].strip()
                layers.pop(pattern, None)  # re-added last: it now wins
                layers[pattern] = op
                continue
            # Without "stroke:" or "fill:", an entry is for both, except engrave (fills only).
            parts: tuple[Part, ...] = ("fill",) if op == "engrave" else ("stroke", "fill")
            for prefix in ("stroke:", "fill:"):
                if lowered.startswith(prefix):
                    parts = (prefix[:-1],)
                    key = key[len(prefix) :].strip()
            if key == "*":
                for part in parts:
                    other[part] = op
                continue
            colour = None if key.lower() == "none" else _parse_colour(key)
            if colour is None and key.lower() != "none":
                raise _bad_map(
                    entry,
                    "n'est pas une couleur (#rrggbb, #rgb ou un nom comme red)",
                    "is not a colour (#rrggbb, #rgb or a name such as red)",
                )
            for part in parts:
                maps[part][colour] = op
        return ColourMap(
            maps["stroke"], maps["fill"], tuple(layers.items()), other["stroke"], other["fill"]
        )

    def for_layer(self, layer: str) -> str | None:
        name = layer.lower()
        for pattern, op in reversed(self.layers):  # later entries (the job's) win
            if fnmatch.fnmatchcase(name, pattern):
                return op
        return None

    def for_colour(self, colour: Colour | None, part: Part = "stroke") -> str | None:
        table = self.stroke if part == "stroke" else self.fill
        if colour in table:
            return table[colour]
        if colour is not None:
            best, best_diff = None, COLOUR_TOLERANCE + 1
            for known, op in table.items():
                if known is None:
                    continue
                diff = max(abs(a - b) for a, b in zip(known, colour, strict=True))
                if diff < best_diff:
                    best, best_diff = op, diff
            if best is not None:
                return best
        return self.other_stroke if part == "stroke" else self.other_fill


@dataclass(frozen=True)
class Unmapped:
    """Paths left out because their colour is not in the map."""

    colour: str  # "#rrggbb" or "none"
    paths: int
    length_mm: float


@dataclass(frozen=True)
class Classified:
    """Source path indices per operation, and what was left out."""

    outlines: dict[str, tuple[int, ...]]  # "cut" / "score" → path indices
    engrave: tuple[int, ...]  # filled closed paths
    unmapped: tuple[Unmapped, ...]
    ignored: int

    @property
    def empty(self) -> bool:
        return not (any(self.outlines.values()) or self.engrave)


def classify(paths: Sequence[DrawingPath], cmap: ColourMap) -> Classified:
    """Choose each path's operation from its layer, stroke and fill."""
    outlines: dict[str, list[int]] = {"cut": [], "score": []}
    engrave: list[int] = []
    unmapped: dict[str, list[float]] = {}
    ignored = 0
    for i, path in enumerate(paths):
        layer_op = cmap.for_layer(path.layer)
        if layer_op is not None:
            outlined = path.stroke is not None or path.fill is None
            ops = {
                "stroke": layer_op if outlined else None,
                "fill": layer_op if path.fill is not None else None,
            }
        else:
            ops = {
                "stroke": cmap.for_colour(path.stroke, "stroke")
                if path.stroke is not None
                else None,
                "fill": cmap.for_colour(path.fill, "fill") if path.fill is not None else None,
            }
            if path.stroke is None and path.fill is None:
                ops["stroke"] = cmap.for_colour(None, "stroke")
        stroke_op, fill_op = ops["stroke"], ops["fill"]
        used = False
        if fill_op == "engrave" and path.closed and len(path.points) >= 3:
            engrave.append(i)
            used = True
        outline_ops = {op for op in (stroke_op, fill_op) if op in ("cut", "score")}
        if stroke_op == "engrave" and not (used and path.stroke == path.fill):
            outline_ops.add("score")  # a line cannot be filled: engrave it as a line
        if fill_op == "engrave" and not path.closed:
            outline_ops.add("score")
        if outline_ops:
            outlines["cut" if "cut" in outline_ops else "score"].append(i)
            used = True
        if "ignore" in (stroke_op, fill_op):
            ignored += 1
            used = True
        if not used:
            # A path made by one of its colours is made; an unused fill or
            # stroke beside it is just how it looks on screen.
            key = colour_hex(path.colour) or "none"
            unmapped.setdefault(key, []).append(path.length)
    return Classified(
        outlines={op: tuple(v) for op, v in outlines.items()},
        engrave=tuple(engrave),
        unmapped=tuple(
            Unmapped(colour, len(lengths), float(sum(lengths)))
            for colour, lengths in unmapped.items()
        ),
        ignored=ignored,
    )


def unmapped_warning(unmapped: Sequence[Unmapped]) -> Text:
    """Which colours were left out, and how to have them made."""
    listing = ", ".join(f"{u.colour} ({u.paths}, {u.length_mm:.0f} mm)" for u in unmapped)
    example = ",".join(f"{u.colour}=cut" for u in unmapped[:2] if u.colour != "none")
    example = example or "none=cut"
    return Text(
        f"Couleurs sans opération, tracés NON réalisés : {listing}. Pour les découper, "
        f"ajoutez par ex. l'option colour_map={example} (opérations : cut, score, engrave, "
        "ignore ; préréglage « boxes » pour les fichiers Boxes.py).",
        f"Colours with no operation, paths NOT made: {listing}. To cut them, add e.g. the "
        f"option colour_map={example} (operations: cut, score, engrave, ignore; preset "
        "'boxes' for Boxes.py files).",
    )


def nothing_mapped_error(unmapped: Sequence[Unmapped], boxes: bool = False) -> PlanError:
    listing = ", ".join(f"{u.colour} ({u.paths})" for u in unmapped) or "—"
    message = Text(
        f"Rien à faire : aucune couleur du dessin n'a d'opération (couleurs trouvées : "
        f"{listing}). Convention du labo : trait rouge = découpe, trait bleu = marquage, "
        "remplissage noir = gravure. Recolorez le dessin ou donnez l'option colour_map, "
        "par ex. colour_map=#000000=cut (ou colour_map=boxes pour Boxes.py).",
        f"Nothing to do: no colour of the drawing has an operation (colours found: "
        f"{listing}). Lab convention: red stroke = cut, blue stroke = score, black fill = "
        "engrave. Recolour the drawing or set the colour_map option, e.g. "
        "colour_map=#000000=cut (or colour_map=boxes for Boxes.py files).",
    )
    if boxes:
        hint = boxes_hint()
        message = Text(f"{message.fr} {hint.fr}", f"{message.en} {hint.en}")
    return PlanError(message)


BOXES_OUTER, BOXES_INNER = (0, 0, 0), (0, 0, 255)


def looks_like_boxes(paths: Sequence[DrawingPath], unmapped: Sequence[Unmapped]) -> bool:
    """Black outlines left out and blue closed contours inside them: Boxes.py's colours."""
    if colour_hex(BOXES_OUTER) not in {u.colour for u in unmapped}:
        return False
    blue = [p for p in paths if p.stroke == BOXES_INNER and p.closed]
    black = [p for p in paths if p.stroke == BOXES_OUTER and p.closed]
    return bool(blue and black) and all(p.fill is None for p in blue + black)


def boxes_hint() -> Text:
    return Text(
        "Ce dessin ressemble à un fichier Boxes.py (noir = découpe extérieure, bleu = découpe "
        "intérieure) : avec l'option colour_map=boxes, les deux sont découpés et les "
        "étiquettes rouges ignorées.",
        "This drawing looks like a Boxes.py file (black = outer cut, blue = inner cut): with "
        "the option colour_map=boxes, both are cut and the red labels ignored.",
    )
