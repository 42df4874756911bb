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
from fabserver.operations import (
    BOXES_OUTER,
    CHOOSE_ON_QUOTE,
    Found,
    OperationMap,
    Operations,
    found_listing,
    looks_like_boxes,
    report,
    resolve,
)

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


OPERATION_WORDS = {
    "cut": Text("découpe", "cut"),
    "score": Text("marquage", "score"),
    "engrave": Text("gravure", "engrave"),
}
"""The operations in a sentence (the quote page's table names them the same)."""


def unmapped_warning(found: Sequence[Found]) -> Text:
    """Which colours were left out, what every colour got, and where to change it."""
    listing = found_listing(found, OPERATION_WORDS)
    return Text(
        "Des couleurs du dessin n'ont pas d'opération : leurs tracés ne seront PAS réalisés. "
        f"Couleurs trouvées : {listing.fr}. {CHOOSE_ON_QUOTE.fr}",
        "Some colours of the drawing have no operation: their paths will NOT be made. "
        f"Colours found: {listing.en}. {CHOOSE_ON_QUOTE.en}",
    )


def nothing_mapped_error(found: Sequence[Found], boxes: bool = False) -> PlanError:
    """No path has an operation: what the drawing holds, the lab's convention, what to do."""
    listing = found_listing(found, OPERATION_WORDS)
    message = Text(
        f"Rien à faire : aucune couleur du dessin n'a d'opération (couleurs trouvées : "
        f"{listing.fr or '—'}). Convention du labo : trait rouge = découpe, trait bleu = "
        f"marquage, remplissage noir = gravure. Recolorez le dessin, ou {CHOOSE_ON_QUOTE.fr[0].lower()}"
        f"{CHOOSE_ON_QUOTE.fr[1:]}",
        f"Nothing to do: no colour of the drawing has an operation (colours found: "
        f"{listing.en or '—'}). Lab convention: red stroke = cut, blue stroke = score, black "
        f"fill = engrave. Recolour the drawing, or {CHOOSE_ON_QUOTE.en[0].lower()}"
        f"{CHOOSE_ON_QUOTE.en[1:]}",
    )
    if boxes:
        hint = boxes_hint()
        message = Text(f"{message.fr} {hint.fr}", f"{message.en} {hint.en}")
    return PlanError(message)


def boxes_left_out(paths: Sequence[DrawingPath], unmapped: Sequence[Unmapped]) -> bool:
    """A Boxes.py drawing whose black outlines the map left out."""
    return colour_hex(BOXES_OUTER) in {u.colour for u in unmapped} and looks_like_boxes(paths)


def boxes_hint() -> Text:
    return Text(
        "Ce dessin ressemble à un fichier Boxes.py (noir = découpe extérieure, bleu = découpe "
        "intérieure, rouge = étiquettes) : dans le tableau « Opérations par couleur » de la page "
        "de devis, choisissez « Découpe » pour le noir et le bleu, et « Ignorer » pour le rouge "
        "(le préréglage « boxes » fait de même).",
        "This drawing looks like a Boxes.py file (black = outer cut, blue = inner cut, red = "
        "labels): in the 'Operations by colour' table of the quote page, choose 'Cut' for black "
        "and blue and 'Ignore' for red (the 'boxes' preset does the same).",
    )
