"""What the mill plugin tells makers, in French and English: what is wrong and what to do.

Numbers go through :meth:`Text.format`, so French gets decimal commas.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fabserver.i18n import Text
from fabserver.operations import CHOOSE_ON_QUOTE, Found, found_listing

OPERATION_NAMES = {
    "outside": Text("contour extérieur", "outside profile"),
    "inside": Text("contour intérieur", "inside profile"),
    "pocket": Text("poche", "pocket"),
    "engrave": Text("gravure", "engraving"),
}


def _places(points: Iterable[tuple[float, float]], limit: int = 5) -> Text:
    pts = list(points)[:limit]
    fr = ", ".join(f"({x:.1f} ; {y:.1f})".replace(".", ",") for x, y in pts)
    en = ", ".join(f"({x:.1f}, {y:.1f})" for x, y in pts)
    return Text(fr, en)


def no_cutting_data(tool_id: str) -> Text:
    return Text(
        "Ce matériau n'a pas de données de coupe pour l'outil « {tool} » : choisissez un autre "
        "outil ou demandez à l'équipe de compléter le profil.",
        "This material has no cutting data for tool '{tool}': choose another tool or ask the "
        "staff to complete the profile.",
    ).format(tool=tool_id)


def unknown_tool(name: str, what: Text, tools: Iterable[str]) -> Text:
    return Text(
        "Outil « {name} » inconnu pour {what_fr} (outils : {tools}).",
        "Unknown tool '{name}' for {what_en} (tools: {tools}).",
    ).format(name=name, what_fr=what.fr, what_en=what.en, tools=", ".join(tools))


def too_deep_for_tool(operation: str, depth: float, tool_id: str, flute: float) -> Text:
    op = OPERATION_NAMES[operation]
    return Text(
        "{op_fr} : {depth:.1f} mm de profondeur, mais l'outil « {tool} » ne coupe que sur "
        "{flute:.1f} mm. Réduisez la profondeur ou choisissez un outil plus long.",
        "{op_en}: {depth:.1f} mm deep, but tool '{tool}' only cuts {flute:.1f} mm deep. "
        "Make it shallower or choose a longer tool.",
    ).format(
        op_fr=op.fr.capitalize(), op_en=op.en.capitalize(), depth=depth, tool=tool_id, flute=flute
    )


def part_too_tall_for_tool(height: float, tool_id: str, flute: float) -> Text:
    return Text(
        "La pièce fait {height:.1f} mm de haut : l'outil « {tool} » ne coupe que sur "
        "{flute:.1f} mm. Réduisez la hauteur de la pièce.",
        "The part is {height:.1f} mm tall: tool '{tool}' only cuts {flute:.1f} mm deep. "
        "Make the part lower.",
    ).format(height=height, tool=tool_id, flute=flute)


VBIT_ONLY_ENGRAVES = Text(
    "Une fraise en V ne sert qu'à graver : choisissez une fraise droite pour découper ou vider.",
    "A V-bit is only for engraving: choose a flat end mill to cut out or clear pockets.",
)


def nothing_to_mill(found: Sequence[Found]) -> Text:
    """No path got an operation: what each colour or layer got, and where to change it."""
    listing = found_listing(found, OPERATION_NAMES)
    return Text(
        f"Rien à fraiser : aucun tracé n'a reçu d'opération (trouvé : {listing.fr or '—'}). "
        f"{CHOOSE_ON_QUOTE.fr}",
        f"Nothing to mill: no path was given an operation (found: {listing.en or '—'}). "
        f"{CHOOSE_ON_QUOTE.en}",
    )


LEAVES_WORK_AREA = Text(
    "Le parcours d'outil sort de la zone de travail : signalez ce fichier à l'équipe.",
    "The toolpath leaves the work area: please report this file to the staff.",
)


def open_paths(count: int, operation: str) -> Text:
    op = OPERATION_NAMES[operation]
    return Text(
        "{count} tracé(s) ouvert(s) en {op_fr} : fraisés sur la ligne, sans compensation "
        "d'outil. Fermez-les pour un contour.",
        "{count} open path(s) for {op_en}: milled on the line, without tool compensation. "
        "Close them for a profile.",
    ).format(count=count, op_fr=op.fr, op_en=op.en)


def too_small_2d(
    operation: str, count: int, tool_id: str, area: float, points: Iterable[tuple[float, float]]
) -> Text:
    op = OPERATION_NAMES[operation]
    where = _places(points)
    return Text(
        "{op_fr} : {count} zone(s) trop étroite(s) pour l'outil « {tool} » ({area:.1f} mm² "
        "resteront), vers {where_fr} mm. Choisissez un outil plus fin ou élargissez ces zones.",
        "{op_en}: {count} area(s) too narrow for tool '{tool}' ({area:.1f} mm² will remain), "
        "near {where_en} mm. Choose a smaller tool or widen these areas.",
    ).format(
        op_fr=op.fr.capitalize(),
        op_en=op.en.capitalize(),
        count=count,
        tool=tool_id,
        area=area,
        where_fr=where.fr,
        where_en=where.en,
    )


def too_small_3d(
    count: int, tool_id: str, area: float, points: Iterable[tuple[float, float]]
) -> Text:
    where = _places(points)
    return Text(
        "{count} zone(s) trop étroite(s) pour la fraise de finition « {tool} » ({area:.1f} mm² "
        "de matière resteront), vers {where_fr} mm. Choisissez une fraise plus fine ou "
        "élargissez ces zones.",
        "{count} area(s) too narrow for finishing tool '{tool}' ({area:.1f} mm² of material "
        "will remain), near {where_en} mm. Choose a smaller tool or widen these areas.",
    ).format(count=count, tool=tool_id, area=area, where_fr=where.fr, where_en=where.en)


def finish_only(depth: float) -> Text:
    return Text(
        "Finition seule sur {depth:.1f} mm de matière : ébauchez d'abord (stratégie "
        "rough+finish), sinon l'outil de finition coupe trop profond.",
        "Finishing alone through {depth:.1f} mm of material: rough first (strategy "
        "rough+finish), or the finishing tool cuts too deep.",
    ).format(depth=depth)


def too_big(sx: float, sy: float, ax: float, ay: float) -> Text:
    return Text(
        "Le brut ({sx:.0f} × {sy:.0f} mm avec ses marges) ne tient pas sur la fraiseuse "
        "({ax:.0f} × {ay:.0f} mm). Réduisez la pièce ou les marges, ou découpez-la en "
        "plusieurs parties.",
        "The stock ({sx:.0f} × {sy:.0f} mm with its margins) does not fit on the mill "
        "({ax:.0f} × {ay:.0f} mm). Make the part or the margins smaller, or split it into "
        "pieces.",
    ).format(sx=sx, sy=sy, ax=ax, ay=ay)


def too_tall(thickness: float, az: float, safe: float) -> Text:
    return Text(
        "Le brut ({thickness:.1f} mm d'épaisseur) est trop haut pour la fraiseuse "
        "({az:.0f} mm sous la broche, dont {safe:.0f} mm de dégagement).",
        "The stock ({thickness:.1f} mm thick) is too tall for the mill "
        "({az:.0f} mm under the spindle, {safe:.0f} mm of it clearance).",
    ).format(thickness=thickness, az=az, safe=safe)


def runs(per_run: int, count: int, copies: int) -> Text:
    return Text(
        "{per_run} pièce(s) par bloc : {count} passages machine pour {copies} pièces.",
        "{per_run} part(s) per block: {count} machine runs for {copies} parts.",
    ).format(per_run=per_run, count=count, copies=copies)


def rml_files(count: int) -> Text:
    return Text(
        "RML-1 n'a pas de pause : {count} fichiers, un par outil, à lancer dans l'ordre.",
        "RML-1 has no pause: {count} files, one per tool, to run in order.",
    ).format(count=count)


TURNED = Text(
    "La pièce est tournée d'un quart de tour sur le brut : c'est ainsi qu'elle tient sur la "
    "fraiseuse.",
    "The part is turned a quarter turn on the stock: that is how it fits on the mill.",
)


def resolution_raised(asked: float, used: float) -> Text:
    return Text(
        "Résolution 3D portée de {asked:.2f} à {used:.2f} mm : la pièce est trop grande pour "
        "une grille aussi fine.",
        "3D resolution raised from {asked:.2f} to {used:.2f} mm: the part is too large for so "
        "fine a grid.",
    ).format(asked=asked, used=used)
