"""Planning on offcuts: place a plan's parts on a piece the lab already has.

A laser keyring does not need a whole 600 × 400 mm sheet. After the plugin has
planned (on its sheet, at its position on the bed), the core takes the parts'
footprint from the toolpath's work moves and looks for the smallest stored
piece of the same material that covers it: the operator lays that piece on the
bed over the parts, and the maker pays for the area used, not the sheet. What
is left of the piece, when still useful, is proposed back as a new offcut when
the job is done.

Pure: no database, no web. Shapely does the geometry; the search over
translations and quarter turns is written here because no library places one
polygon inside another (the no-fit polygon is more than this needs: pieces are
few and footprints small).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from .estimate import Estimate, MaterialLine
from .i18n import Text
from .profiles import MaterialProfile
from .toolpath import Toolpath

#: Sheet-like material kinds that offcuts exist for.
OFFCUT_KINDS = frozenset({"sheet", "stock", "vinyl"})
#: Kept free between the parts and the piece's edges (clamping, an uneven edge).
EDGE_CLEARANCE_MM = 3.0
#: A leftover narrower than this is scrap, not an offcut.
MIN_OFFCUT_MM = 30.0
_GRID_STEPS = 40  # candidate positions per axis inside an odd-shaped piece


@dataclass(frozen=True)
class Piece:
    """A stored piece: a rectangle from the origin, or an odd outline, in mm."""

    id: int
    material: str
    outline: Polygon
    note: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Piece:
        """From ``{id, material, width_mm, height_mm | outline_mm, note}``."""
        if data.get("outline_mm"):
            outline = shapely.make_valid(Polygon(data["outline_mm"]))
            if not isinstance(outline, Polygon):  # a bow-tie outline: keep its largest part
                outline = max(shapely.get_parts(outline), key=lambda g: g.area)
        else:
            outline = box(0.0, 0.0, float(data["width_mm"]), float(data["height_mm"]))
        return cls(int(data["id"]), str(data["material"]), outline, str(data.get("note") or ""))

    @property
    def label(self) -> Text:
        where = f", {self.note}" if self.note else ""
        return Text(f"chute n° {self.id}{where}", f"offcut no. {self.id}{where}")

    @property
    def is_rectangle(self) -> bool:
        return abs(self.outline.envelope.area - self.outline.area) < 1e-6 * max(
            self.outline.area, 1.0
        )


@dataclass(frozen=True)
class Placement:
    """Where the parts go on a piece and what it costs."""

    piece: Piece
    rotation: int  # degrees the piece is turned, relative to the bed (0 or 90)
    part_box: tuple[float, float, float, float]  # the parts on the bed, mm (with clearance)
    used: tuple[float, float, float, float]  # the same box in the piece's own frame
    area_mm2: float
    cost_eur: float | None
    leftover: dict[str, Any] | None  # the new offcut proposed when the job is done

    @property
    def instructions(self) -> Text:
        x0, y0, x1, y1 = self.part_box
        turned_fr = " tournée d'un quart de tour" if self.rotation else ""
        turned_en = " turned a quarter turn" if self.rotation else ""
        return Text(
            f"Matière : {self.piece.label.fr}{turned_fr}, posée sur la zone "
            f"x {x0:.0f}–{x1:.0f} mm, y {y0:.0f}–{y1:.0f} mm du plateau.",
            f"Material: {self.piece.label.en}{turned_en}, laid over "
            f"x {x0:.0f}–{x1:.0f} mm, y {y0:.0f}–{y1:.0f} mm of the bed.",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "piece_id": self.piece.id,
            "area_mm2": round(self.area_mm2, 1),
            "label": self.piece.label.to_dict(),
            "instructions": self.instructions.to_dict(),
            "rotation": self.rotation,
            "part_box_mm": [round(v, 2) for v in self.part_box],
            "used_mm": [round(v, 2) for v in self.used],
            "cost_eur": self.cost_eur,
            "leftover": self.leftover,
        }


def footprint(toolpath: Toolpath, clearance: float = EDGE_CLEARANCE_MM) -> BaseGeometry | None:
    """The parts' outline on the bed: the union of the convex hulls of each run of
    work moves (a contour, a pocket, an engraving line), grown by ``clearance``."""
    if len(toolpath) == 0:
        return None
    work = toolpath.work_mask()
    if not work.any():
        return None
    idx = np.flatnonzero(work)
    # A new run starts where the previous move was not work.
    run = np.cumsum(np.concatenate([[1], np.diff(idx) > 1]))
    starts = toolpath.starts[idx, :2]
    ends = np.asarray(toolpath.xyz)[idx, :2]
    points = np.vstack([starts, ends])
    owners = np.concatenate([run, run]) - 1
    order = np.argsort(owners, kind="stable")
    hulls = shapely.convex_hull(shapely.multipoints(points[order], indices=owners[order]))
    shape = shapely.union_all(hulls)
    return shape.buffer(clearance, join_style="mitre") if clearance > 0 else shape


def price_per_mm2(material: MaterialProfile) -> float | None:
    """The material's price by area, from whichever unit the lab prices it in."""
    prices, settings = material.prices, material.settings
    if "m2" in prices:
        return prices["m2"] / 1e6
    if "sheet" in prices and isinstance(settings.get("sheet"), dict):
        sheet = settings["sheet"]
        return prices["sheet"] / (float(sheet["x"]) * float(sheet["y"]))
    if "cm3" in prices and settings.get("thickness"):
        return prices["cm3"] * float(settings["thickness"]) / 1000.0
    if "m" in prices and settings.get("roll_width"):
        return prices["m"] / (float(settings["roll_width"]) * 1000.0)
    return None


def _fit(shape: BaseGeometry, piece: Piece, rotations: Sequence[int]):
    """The first (rotation, dx, dy) that puts ``shape`` inside the piece, bottom-left first."""
    outline = piece.outline
    shapely.prepare(outline)
    px0, py0, px1, py1 = outline.bounds
    for rotation in rotations:
        turned = affinity.rotate(shape, rotation, origin=(0, 0)) if rotation else shape
        fx0, fy0, fx1, fy1 = turned.bounds
        width, height = fx1 - fx0, fy1 - fy0
        if width > px1 - px0 + 1e-9 or height > py1 - py0 + 1e-9:
            continue
        if piece.is_rectangle:
            return rotation, px0 - fx0, py0 - fy0
        if turned.area > outline.area:
            continue
        # Every candidate position at once: copies of the shape, each moved by its offset,
        # then one vectorised containment test; the first hit is the lowest, leftmost.
        ys, xs = np.meshgrid(
            np.linspace(py0, py1 - height, _GRID_STEPS + 1) - fy0,
            np.linspace(px0, px1 - width, _GRID_STEPS + 1) - fx0,
            indexing="ij",
        )
        offsets = np.column_stack([xs.ravel(), ys.ravel()])
        moves = np.repeat(offsets, shapely.get_num_coordinates(turned), axis=0)
        copies = shapely.transform(
            np.full(len(offsets), turned, dtype=object),
            lambda coords, moves=moves: coords + moves,
        )
        inside = np.flatnonzero(shapely.contains(outline, copies))
        if inside.size:
            dx, dy = offsets[inside[0]]
            return rotation, float(dx), float(dy)
    return None


def leftover(piece: Piece, used: tuple[float, float, float, float]) -> dict[str, Any] | None:
    """What remains of ``piece`` once the ``used`` box is cut out, when still an offcut:
    the largest full-width or full-height strip of a rectangle, the largest part of an
    odd outline; ``None`` when it is narrower than :data:`MIN_OFFCUT_MM`."""
    ux0, uy0, ux1, uy1 = used
    if piece.is_rectangle:
        px0, py0, px1, py1 = piece.outline.bounds
        strips = [
            (px1 - px0, py1 - uy1),
            (px1 - px0, uy0 - py0),
            (px1 - ux1, py1 - py0),
            (ux0 - px0, py1 - py0),
        ]
        fits = [(w * h, w, h) for w, h in strips if min(w, h) >= MIN_OFFCUT_MM]
        if not fits:
            return None
        _, w, h = max(fits)
        return {"width_mm": round(w, 1), "height_mm": round(h, 1)}
    rest = piece.outline.difference(box(*used))
    parts = [p for p in shapely.get_parts(rest) if isinstance(p, Polygon)]
    if not parts:
        return None
    best = max(parts, key=lambda p: p.area)
    rect = best.minimum_rotated_rectangle
    corners = np.asarray(rect.exterior.coords)
    sides = np.linalg.norm(np.diff(corners[:3], axis=0), axis=1)
    if sides.min() < MIN_OFFCUT_MM:
        return None
    bx0, by0, _, _ = best.bounds
    moved = affinity.translate(best.simplify(0.5), -bx0, -by0)
    return {"outline_mm": [[round(x, 1), round(y, 1)] for x, y in moved.exterior.coords[:-1]]}


def place(
    toolpath: Toolpath,
    material: MaterialProfile,
    pieces: Sequence[Piece],
    rotations: Sequence[int] = (0, 90),
) -> Placement | None:
    """The smallest piece of ``material`` that takes the parts, or ``None``."""
    candidates = sorted(
        (p for p in pieces if p.material == material.id), key=lambda p: p.outline.area
    )
    if not candidates:
        return None
    shape = footprint(toolpath)
    if shape is None or shape.is_empty:
        return None
    x0, y0, x1, y1 = shape.bounds
    area = (x1 - x0) * (y1 - y0)
    price = price_per_mm2(material)
    for piece in candidates:
        found = _fit(shape, piece, rotations)
        if found is None:
            continue
        rotation, dx, dy = found
        turned = affinity.rotate(box(x0, y0, x1, y1), rotation, origin=(0, 0))
        used = affinity.translate(turned, dx, dy).bounds
        return Placement(
            piece=piece,
            rotation=rotation,
            part_box=(x0, y0, x1, y1),
            used=used,
            area_mm2=area,
            cost_eur=None if price is None else area * price,
            leftover=leftover(piece, used),
        )
    return None


def rotations_for(material: MaterialProfile) -> tuple[int, ...]:
    """A vinyl remnant goes in the cutter the way the roll does; sheets may be turned."""
    return (0,) if material.kind == "vinyl" else (0, 90)


def charge(estimate: Estimate, placement: Placement, material: MaterialProfile) -> Estimate:
    """The estimate with the material charged by the piece's area used instead of a sheet."""
    label = Text(
        f"{material.name.fr} — {placement.piece.label.fr}",
        f"{material.name.en} — {placement.piece.label.en}",
    )
    lines = [line for line in estimate.materials if line.material != material.id]
    lines.insert(
        0,
        MaterialLine(material.id, label, placement.area_mm2 / 100.0, "cm2", placement.cost_eur),
    )
    cost = sum(line.cost_eur for line in lines if line.cost_eur is not None)
    return replace(estimate, materials=tuple(lines), cost_eur=cost)


def plan_on_offcut(
    toolpath: Toolpath,
    runs: int,
    estimate: Estimate,
    material: MaterialProfile,
    pieces: Sequence[Piece],
) -> tuple[Estimate, Placement | None]:
    """After the plugin's plan: use an offcut when one takes the parts (one sheet's worth)."""
    if material.kind not in OFFCUT_KINDS or runs != 1 or not pieces:
        return estimate, None
    placement = place(toolpath, material, pieces, rotations_for(material))
    if placement is None:
        return estimate, None
    return charge(estimate, placement, material), placement
