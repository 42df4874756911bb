"""Which laser operation each path gets, the way laser users expect (red cut, blue score,
black fill engrave), through the core's operations model (:mod:`fabserver.operations`).

``cut`` and ``score`` follow the outline of the path; ``engrave`` rasters the
filled area of closed paths (an ``engrave`` entry without ``stroke:``/``fill:``
is for fills only: a black outline is not a request to engrave), and a stroke
mapped to engrave explicitly (``stroke:#00ff00=engrave``) is engraved as a line
(scored). Paths whose colours are not in the map are listed for the maker, never
cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fabserver.designs.types import DrawingPath, colour_hex
from fabserver.errors import PlanError
from fabserver.i18n import Text
from fabserver.operations import Found, OperationMap, Operations, report, resolve

OPERATIONS = Operations(
    ("cut", "score", "engrave"),
    example="#ff0000=cut,#0000ff=score,#000000=engrave",
    fill_only=frozenset({"engrave"}),
)


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
    found: tuple[Found, ...] = ()  # each colour / layer with its operation, for the maker

    @property
    def empty(self) -> bool:
        return not (any(self.outlines.values()) or self.engrave)


def classify(paths: Sequence[DrawingPath], cmap: OperationMap) -> Classified:
    """Choose each path's operation from its layer, stroke and fill."""
    outlines: dict[str, list[int]] = {"cut": [], "score": []}
    engrave: list[int] = []
    unmapped: dict[str, list[float]] = {}
    ignored = 0
    resolved = resolve(paths, cmap)
    for i, (path, rules) in enumerate(zip(paths, resolved, strict=True)):
        stroke_op = rules.stroke.operation if rules.stroke else None
        fill_op = rules.fill.operation if rules.fill else None
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
        found=report(paths, resolved),
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
