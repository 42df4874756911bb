"""Checks on the model before slicing, each with a message a maker understands.

The mesh is repaired where that is safe (winding, normals, small holes), put
on the bed (dropped if it floats, raised if it sinks), and measured against
the printer: too large (by how much, and the scale that would fit), overhangs
steeper than 50° (share of the surface), walls thinner than one extrusion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import trimesh

from fabserver.designs.types import Mesh
from fabserver.errors import PlanError
from fabserver.i18n import Text

OVERHANG_LIMIT_DEG = 50.0
OVERHANG_WARN_SHARE = 0.02  # warn when more than 2 % of the surface overhangs
ON_BED_TOLERANCE = 0.01  # mm


@dataclass
class Prepared:
    mesh: trimesh.Trimesh  # on the bed, centred at the origin in x and y
    warnings: list[Text] = field(default_factory=list)
    facts: dict = field(default_factory=dict)


def prepare(design: Mesh, report_open: bool = True, supported: bool = False) -> Prepared:
    """A clean copy of the design's mesh standing on z = 0, centred on x = y = 0."""
    mesh = design.mesh.copy()
    warnings: list[Text] = []
    facts: dict = {}
    if len(mesh.faces) == 0:
        raise PlanError(
            Text(
                "Le fichier ne contient aucune surface : rien à imprimer.",
                "The file holds no surface: nothing to print.",
            )
        )
    mesh.merge_vertices()
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.remove_unreferenced_vertices()
    watertight = mesh.is_watertight
    facts["watertight"] = bool(watertight)
    if not mesh.is_winding_consistent:
        trimesh.repair.fix_winding(mesh)
    if watertight:
        if mesh.volume < 0:  # inside out
            mesh.invert()
    else:
        # The slicer needs a consistent winding (fixed above) and closed loops;
        # it nests outlines by even-odd, so outward normals are not needed.
        trimesh.repair.fill_holes(mesh)
        if report_open:
            warnings.append(
                Text(
                    "Le modèle n'est pas fermé (surfaces ouvertes ou disjointes) : il a été "
                    "réparé au mieux, vérifiez l'aperçu couche par couche. Pour un résultat sûr, "
                    "réparez-le dans votre logiciel (ou avec PrusaSlicer / Meshmixer) et "
                    "renvoyez-le.",
                    "The model is not closed (open or disconnected surfaces): it was repaired as "
                    "well as possible; check the layer preview. For a safe result, repair it in "
                    "your software (or PrusaSlicer / Meshmixer) and send it again.",
                )
            )
    zmin = float(mesh.bounds[0, 2])
    if zmin < -ON_BED_TOLERANCE:
        warnings.append(
            Text(
                f"Le modèle descendait {-zmin:.2f} mm sous le plateau : il a été posé dessus.",
                f"The model went {-zmin:.2f} mm below the bed: it was placed on it.",
            )
        )
    elif zmin > ON_BED_TOLERANCE:
        warnings.append(
            Text(
                f"Le modèle flottait {zmin:.2f} mm au-dessus du plateau : il a été posé dessus.",
                f"The model floated {zmin:.2f} mm above the bed: it was placed on it.",
            )
        )
    centre = mesh.bounds.mean(axis=0)
    mesh.apply_translation([-centre[0], -centre[1], -zmin])
    share = overhang_share(mesh)
    facts["overhang_share"] = round(share, 4)
    if share > OVERHANG_WARN_SHARE and supported:
        warnings.append(
            Text(
                f"{share * 100:.0f} % de la surface est en surplomb de plus de "
                f"{OVERHANG_LIMIT_DEG:.0f}° : des supports sont ajoutés dessous, à retirer "
                "après l'impression.",
                f"{share * 100:.0f}% of the surface overhangs by more than "
                f"{OVERHANG_LIMIT_DEG:.0f}°: supports are added under it, to break away "
                "after printing.",
            )
        )
    elif share > OVERHANG_WARN_SHARE:
        warnings.append(
            Text(
                f"{share * 100:.0f} % de la surface est en surplomb de plus de "
                f"{OVERHANG_LIMIT_DEG:.0f}° sans support : ces zones risquent de pendre. "
                "Tournez la pièce pour les réduire, ou demandez des supports.",
                f"{share * 100:.0f}% of the surface overhangs by more than "
                f"{OVERHANG_LIMIT_DEG:.0f}° with no support: those areas may sag. "
                "Turn the part to reduce them, or ask for supports.",
            )
        )
    return Prepared(mesh, warnings, facts)


def overhang_share(mesh: trimesh.Trimesh) -> float:
    """Share of the surface facing down more steeply than the limit (the bed excluded).

    A face's overhang angle is measured from the vertical: a wall is 0°, a
    ceiling 90°; it overhangs past 50° when its normal points down with
    ``-n_z > sin 50°``.
    """
    normals = mesh.face_normals
    areas = mesh.area_faces
    total = float(areas.sum())
    if total <= 0:
        return 0.0
    down = -normals[:, 2] > math.sin(math.radians(OVERHANG_LIMIT_DEG))
    on_bed = mesh.triangles[:, :, 2].max(axis=1) < 0.05
    return float(areas[down & ~on_bed].sum() / total)


def check_fits(size: np.ndarray, bed: tuple[float, float], max_height: float) -> None:
    """Raise :class:`PlanError` when a part of ``size`` (x, y, z mm) cannot be printed."""
    limits = np.array([bed[0], bed[1], max_height])
    over = size - limits
    if (over <= 1e-6).all():
        return
    scale = float(np.min(limits / np.maximum(size, 1e-9)))
    pct = math.floor(scale * 100 * 0.98)
    axes = "xyz"
    parts_fr = [f"{axes[i]} de {over[i]:.1f} mm" for i in range(3) if over[i] > 1e-6]
    raise PlanError(
        Text(
            f"Le modèle ({size[0]:.1f} × {size[1]:.1f} × {size[2]:.1f} mm) dépasse le volume "
            f"d'impression ({limits[0]:.0f} × {limits[1]:.0f} × {limits[2]:.0f} mm) en "
            f"{', '.join(parts_fr)}. Réduisez-le à {pct} % (ou moins), coupez-le en morceaux, "
            "ou choisissez une imprimante plus grande.",
            f"The model ({size[0]:.1f} × {size[1]:.1f} × {size[2]:.1f} mm) exceeds the build "
            f"volume ({limits[0]:.0f} × {limits[1]:.0f} × {limits[2]:.0f} mm) by "
            + ", ".join(f"{over[i]:.1f} mm in {axes[i]}" for i in range(3) if over[i] > 1e-6)
            + f". Scale it to {pct}% (or less), cut it into pieces, or pick a larger printer.",
        )
    )
