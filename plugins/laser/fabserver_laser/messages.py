"""Messages for makers about the laser job, French first, then English."""

from __future__ import annotations

from fabserver.errors import PlanError
from fabserver.i18n import Text

from .parts import Layout
from .settings import MaterialSettings


def layout_warnings(layout: Layout, kerf: float) -> list[Text]:
    out = []
    if layout.open_cuts:
        out.append(
            Text(
                f"{layout.open_cuts} tracé(s) ouvert(s) à découper "
                f"({layout.open_cut_length:.0f} mm) : une découpe ouverte ne libère aucune "
                "pièce. Fermez le contour s'il doit en détacher une.",
                f"{layout.open_cuts} open path(s) to cut ({layout.open_cut_length:.0f} mm): "
                "an open cut frees no part. Close the contour if it should free one.",
            )
        )
    if layout.duplicate_length > 0:
        out.append(
            Text(
                f"Lignes en double ou superposées fusionnées : {layout.duplicate_length:.1f} mm "
                f"({layout.duplicate_paths} contour(s) entier(s) en double). Elles auraient "
                "brûlé deux fois.",
                f"Duplicate or overlapping lines merged: {layout.duplicate_length:.1f} mm "
                f"({layout.duplicate_paths} whole contour(s) drawn twice). They would have "
                "burnt twice.",
            )
        )
    if layout.shared_length > 0:
        out.append(
            Text(
                f"{layout.shared_length:.1f} mm de bords communs à deux contours fermés : "
                "ils seront découpés deux fois. Écartez les pièces si ce n'est pas voulu.",
                f"{layout.shared_length:.1f} mm of edges shared by two closed contours will be "
                "cut twice. Move the parts apart if that is not intended.",
            )
        )
    if layout.small_holes:
        out.append(
            Text(
                f"{layout.small_holes} trou(s) plus petit(s) que la largeur de coupe "
                f"({kerf:.2f} mm) : découpé(s) sans compensation.",
                f"{layout.small_holes} hole(s) smaller than the kerf ({kerf:.2f} mm): cut "
                "without compensation.",
            )
        )
    return out


def too_big(size, usable, mat: MaterialSettings, bed, margin: float, whole: bool) -> PlanError:
    w, h = float(size[0]), float(size[1])
    what_fr, what_en = ("Le dessin", "The drawing") if whole else ("Une pièce", "A part")
    return PlanError(
        Text(
            f"Trop grand : {what_fr.lower()} mesure {w:.1f} × {h:.1f} mm, la zone utile "
            f"est de {usable[0]:.0f} × {usable[1]:.0f} mm (plaque {mat.sheet.x:g} × "
            f"{mat.sheet.y:g} mm, lit {bed[0]:g} × {bed[1]:g} mm, marges {margin:g} mm). "
            "Réduisez l'échelle ou coupez le dessin en plusieurs pièces.",
            f"Too large: {what_en.lower()} is {w:.1f} × {h:.1f} mm, the usable area "
            f"is {usable[0]:.0f} × {usable[1]:.0f} mm (sheet {mat.sheet.x:g} × "
            f"{mat.sheet.y:g} mm, bed {bed[0]:g} × {bed[1]:g} mm, margins {margin:g} mm). "
            "Scale it down or split the drawing into several parts.",
        )
    )


def not_a_drawing() -> PlanError:
    return PlanError(
        Text(
            "La découpe laser demande un dessin 2D (SVG ou DXF).",
            "Laser cutting needs a 2D drawing (SVG or DXF).",
        )
    )


def sheet_over_bed(mat: MaterialSettings, used: tuple[float, float]) -> Text:
    return Text(
        f"La plaque ({mat.sheet.x:g} × {mat.sheet.y:g} mm) dépasse le lit de la "
        f"machine : seuls {used[0]:g} × {used[1]:g} mm sont utilisés.",
        f"The sheet ({mat.sheet.x:g} × {mat.sheet.y:g} mm) is larger than the "
        f"machine's bed: only {used[0]:g} × {used[1]:g} mm are used.",
    )


def sheets_needed(count: int) -> Text:
    return Text(
        f"{count} plaques nécessaires : un fichier par plaque "
        "(la plaque 1 est le fichier principal).",
        f"{count} sheets needed: one file per sheet (sheet 1 is the main file).",
    )


def nothing_to_make() -> PlanError:
    return PlanError(
        Text(
            "Rien à faire : les tracés retenus n'ont ni longueur ni surface (points isolés, "
            "traits de longueur nulle). Vérifiez le dessin.",
            "Nothing to do: the paths kept have no length and no area (lone points, "
            "zero-length strokes). Check the drawing.",
        )
    )
