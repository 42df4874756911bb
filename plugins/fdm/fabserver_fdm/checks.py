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

from fabserver.designs.indexed import corner_columns
from fabserver.designs.types import Mesh
from fabserver.errors import PlanError
from fabserver.i18n import Text, french_number

OVERHANG_LIMIT_DEG = 50.0
OVERHANG_WARN_SHARE = 0.02  # warn when more than 2 % of the surface overhangs
ON_BED_TOLERANCE = 0.01  # mm


@dataclass
class Prepared:
    """The model ready to slice: on the bed (z from 0), centred on x = y = 0.

    vertices : (v, 3) float, millimetres; faces : (f, 3) int
    """

    vertices: np.ndarray
    faces: np.ndarray
    warnings: list[Text] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    @property
    def size(self) -> np.ndarray:
        return self.vertices.max(axis=0) - self.vertices.min(axis=0)


def prepare(design: Mesh, report_open: bool = True, supported: bool = False) -> Prepared:
    """The design's mesh standing on z = 0, centred on x = y = 0; repaired if open.

    A closed mesh, or one the core's loader has already repaired, is used as it is
    (merged vertices, no copy of the trimesh object); any other open one is copied
    and repaired.
    """
    mesh = design.mesh
    warnings: list[Text] = []
    facts: dict = {}
    if len(mesh.faces) == 0:
        raise PlanError(
            Text(
                "Le fichier ne contient aucune surface : rien à imprimer.",
                "The file holds no surface: nothing to print.",
            )
        )
    watertight = bool(mesh.is_watertight)
    facts["watertight"] = watertight
    # The core's loader (mesh_from_triangles, which leaves "vertices_merged" in its
    # facts) has already merged vertices, dropped zero-area faces, made the winding
    # consistent where it could and filled the small holes: repeating that on a copy
    # costs another pass over every edge and changes nothing.
    repaired_by_loader = "vertices_merged" in design.facts.details
    if not repaired_by_loader and (not watertight or not mesh.is_winding_consistent):
        # On a copy: the slicer chains segments along the winding (made
        # consistent) and needs closed outlines (holes filled where trimesh can;
        # the slicer also closes outlines whose ends are close). Outlines are
        # nested by even-odd, so outward normals are not needed.
        mesh = mesh.copy()
        # Chaining needs shared vertices (a loader may not have merged them);
        # faces that repeat a vertex have no area and would confuse it.
        mesh.merge_vertices()
        f = mesh.faces
        repeated = (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])
        if repeated.any():
            mesh.update_faces(~repeated)
        import trimesh  # only for meshes no loader repaired: trimesh brings scipy

        if not mesh.is_winding_consistent:
            trimesh.repair.fix_winding(mesh)
        if not watertight:
            trimesh.repair.fill_holes(mesh)
    if not watertight and report_open:
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
    vertices = np.asarray(mesh.vertices, dtype=float)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    zmin = float(lo[2])
    if zmin < -ON_BED_TOLERANCE:
        warnings.append(
            Text(
                "Le modèle descendait {depth:.2f} mm sous le plateau : il a été posé dessus.",
                "The model went {depth:.2f} mm below the bed: it was placed on it.",
            ).format(depth=-zmin)
        )
    elif zmin > ON_BED_TOLERANCE:
        warnings.append(
            Text(
                "Le modèle flottait {height:.2f} mm au-dessus du plateau : il a été posé dessus.",
                "The model floated {height:.2f} mm above the bed: it was placed on it.",
            ).format(height=zmin)
        )
    centre = (lo + hi) / 2.0
    vertices = vertices - np.array([centre[0], centre[1], zmin])
    share = overhang_share(vertices, faces, inside_out=watertight and mesh.volume < 0)
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
    return Prepared(vertices, faces, warnings, facts)


def overhang_share(vertices: np.ndarray, faces: np.ndarray, inside_out: bool = False) -> float:
    """Share of the surface facing down more steeply than the limit (the bed excluded).

    vertices : (v, 3) float, millimetres, on the bed (z from 0); faces : (f, 3) int

    A face's overhang angle is measured from the vertical: a wall is 0°, a
    ceiling 90°; it overhangs past 50° when its normal points down with
    ``-n_z > sin 50°``. Worked out on whole columns of corners (numpy's
    ``cross`` and ``norm`` arithmetic, written out), not on ``(f, 3, 3)`` triangles.
    """
    p0, p1, p2 = corner_columns(vertices, faces)
    a = [p1[k] - p0[k] for k in range(3)]
    b = [p2[k] - p0[k] for k in range(3)]
    cross_z = a[0] * b[1] - a[1] * b[0]
    norm = np.sqrt((a[1] * b[2] - a[2] * b[1]) ** 2 + (a[2] * b[0] - a[0] * b[2]) ** 2 + cross_z**2)
    total = float(norm.sum())
    if total <= 0:
        return 0.0
    nz = np.divide(cross_z, norm, out=np.zeros_like(norm), where=norm > 0)
    if inside_out:
        nz = -nz
    down = -nz > math.sin(math.radians(OVERHANG_LIMIT_DEG))
    on_bed = np.maximum(np.maximum(p0[2], p1[2]), p2[2]) < 0.05
    return float(norm[down & ~on_bed].sum() / total)


def check_fits(size: np.ndarray, bed: tuple[float, float], max_height: float) -> None:
    """Raise :class:`PlanError` when a part of ``size`` (x, y, z mm) cannot be printed."""
    limits = np.array([bed[0], bed[1], max_height])
    over = size - limits
    if (over <= 1e-6).all():
        return
    scale = float(np.min(limits / np.maximum(size, 1e-9)))
    pct = math.floor(scale * 100 * 0.98)
    axes = "xyz"
    beyond = [i for i in range(3) if over[i] > 1e-6]
    # The overshoot list differs in word order per language, so each gets its own placeholder.
    over_fr = ", ".join(f"{axes[i]} de {french_number(over[i], '.1f')} mm" for i in beyond)
    over_en = ", ".join(f"{over[i]:.1f} mm in {axes[i]}" for i in beyond)
    raise PlanError(
        Text(
            "Le modèle ({sx:.1f} × {sy:.1f} × {sz:.1f} mm) dépasse le volume "
            "d'impression ({lx:.0f} × {ly:.0f} × {lz:.0f} mm) en {over_fr}. Réduisez-le à "
            "{pct} % (ou moins), coupez-le en morceaux, ou choisissez une imprimante plus grande.",
            "The model ({sx:.1f} × {sy:.1f} × {sz:.1f} mm) exceeds the build "
            "volume ({lx:.0f} × {ly:.0f} × {lz:.0f} mm) by {over_en}. Scale it to {pct}% "
            "(or less), cut it into pieces, or pick a larger printer.",
        ).format(
            sx=float(size[0]),
            sy=float(size[1]),
            sz=float(size[2]),
            lx=float(limits[0]),
            ly=float(limits[1]),
            lz=float(limits[2]),
            over_fr=over_fr,
            over_en=over_en,
            pct=pct,
        )
    )
