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
                "Lignes en double ou superposées fusionnées : {length:.1f} mm "
                "({paths} contour(s) entier(s) en double). Elles auraient brûlé deux fois.",
                "Duplicate or overlapping lines merged: {length:.1f} mm "
                "({paths} whole contour(s) drawn twice). They would have burnt twice.",
            ).format(length=float(layout.duplicate_length), paths=layout.duplicate_paths)
        )
    if layout.shared_length > 0:
        out.append(
            Text(
                "{length:.1f} mm de bords communs à deux contours fermés : "
                "ils seront découpés deux fois. Écartez les pièces si ce n'est pas voulu.",
                "{length:.1f} mm of edges shared by two closed contours will be "
                "cut twice. Move the parts apart if that is not intended.",
            ).format(length=float(layout.shared_length))
        )
    if layout.small_holes:
        out.append(
            Text(
                "{holes} trou(s) plus petit(s) que la largeur de coupe "
                "({kerf:.2f} mm) : découpé(s) sans compensation.",
                "{holes} hole(s) smaller than the kerf ({kerf:.2f} mm): cut without compensation.",
            ).format(holes=layout.small_holes, kerf=float(kerf))
        )
    return out


def too_big(size, usable, mat: MaterialSettings, bed, margin: float, whole: bool) -> PlanError:
    w, h = float(size[0]), float(size[1])
    what_fr, what_en = ("Le dessin", "The drawing") if whole else ("Une pièce", "A part")
    return PlanError(
        Text(
            "Trop grand : {what_fr} mesure {w:.1f} × {h:.1f} mm, la zone utile "
            "est de {uw:.0f} × {uh:.0f} mm (plaque {sx:g} × {sy:g} mm, "
            "lit {bx:g} × {by:g} mm, marges {margin:g} mm). "
            "Réduisez l'échelle ou coupez le dessin en plusieurs pièces.",
            "Too large: {what_en} is {w:.1f} × {h:.1f} mm, the usable area "
            "is {uw:.0f} × {uh:.0f} mm (sheet {sx:g} × {sy:g} mm, "
            "bed {bx:g} × {by:g} mm, margins {margin:g} mm). "
            "Scale it down or split the drawing into several parts.",
        ).format(
            what_fr=what_fr.lower(),
            what_en=what_en.lower(),
            w=w,
            h=h,
            uw=float(usable[0]),
            uh=float(usable[1]),
            sx=float(mat.sheet.x),
            sy=float(mat.sheet.y),
            bx=float(bed[0]),
            by=float(bed[1]),
            margin=float(margin),
        )
    )


def sheet_over_bed(mat: MaterialSettings, used: tuple[float, float]) -> Text:
    return Text(
        "La plaque ({sx:g} × {sy:g} mm) dépasse le lit de la "
        "machine : seuls {ux:g} × {uy:g} mm sont utilisés.",
        "The sheet ({sx:g} × {sy:g} mm) is larger than the "
        "machine's bed: only {ux:g} × {uy:g} mm are used.",
    ).format(sx=float(mat.sheet.x), sy=float(mat.sheet.y), ux=float(used[0]), uy=float(used[1]))


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
