"""The kinds of design plugins receive, always in millimetres.

All are immutable: a plugin that transforms a design returns a new one, so a
design loaded once can be planned on several machines without surprises. A
:class:`Gcode` is a print already sliced (a maker's file or an external
slicer's): its moves, read as the firmware runs them, and its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..i18n import Text
from ..toolpath import MoveKind, Toolpath

if TYPE_CHECKING:
    import trimesh

    from .indexed import IndexedMesh

DesignKind = Literal["mesh", "drawing", "gcode"]
Colour = tuple[int, int, int]


def colour_hex(colour: Colour | None) -> str | None:
    """``(255, 0, 0)`` → ``"#ff0000"``; ``None`` stays ``None``."""
    if colour is None:
        return None
    return "#{:02x}{:02x}{:02x}".format(*colour)


@dataclass(frozen=True)
class SourceFacts:
    """What the loader found in the file, for ``fabserver inspect`` and the staff page."""

    format: str  # "stl-binary", "stl-ascii", "3mf", "obj", "svg", "dxf"
    units: str  # units found in the file ("mm", "in", "px@96dpi", "unitless→mm", …)
    scale_to_mm: float = 1.0
    repairs: tuple[Text, ...] = ()
    warnings: tuple[Text, ...] = ()
    details: dict[str, object] = field(default_factory=dict)


class _Design:
    """What every design answers from its ``bounds`` and its source ``facts``."""

    facts: SourceFacts

    @property
    def bounds(self) -> np.ndarray:
        """``(2, d) float``: min and max corners, millimetres."""
        raise NotImplementedError

    @property
    def size(self) -> np.ndarray:
        return self.bounds[1] - self.bounds[0]

    @property
    def warnings(self) -> tuple[Text, ...]:
        """What the loader found doubtful, for the maker."""
        return self.facts.warnings


@dataclass(frozen=True)
class Mesh(_Design):
    """A triangle mesh in millimetres, with the facts of its source.

    ``mesh`` is an :class:`~.indexed.IndexedMesh` (what the loaders give: arrays
    and the facts planning needs, without importing trimesh) or a trimesh object;
    treat it as read-only (both cache derived facts). :attr:`trimesh` gives a
    trimesh object for plugins that need its operations.
    """

    mesh: IndexedMesh | trimesh.Trimesh
    facts: SourceFacts
    kind: DesignKind = "mesh"

    @property
    def triangles(self) -> np.ndarray:
        """``(n, 3, 3) float`` vertex coordinates, millimetres."""
        return self.mesh.triangles

    @property
    def face_count(self) -> int:
        return len(self.mesh.faces)

    @property
    def trimesh(self) -> trimesh.Trimesh:
        """The mesh as a ``trimesh.Trimesh`` (built, and trimesh imported, on first use)."""
        to_trimesh = getattr(self.mesh, "to_trimesh", None)
        if to_trimesh is None:
            return self.mesh
        cached = self.__dict__.get("_trimesh")
        if cached is None:
            cached = to_trimesh()
            object.__setattr__(self, "_trimesh", cached)
        return cached

    @property
    def bounds(self) -> np.ndarray:
        """``(2, 3) float``: min and max corners, millimetres."""
        return np.asarray(self.mesh.bounds, dtype=float)

    @property
    def watertight(self) -> bool:
        return bool(self.mesh.is_watertight)

    @property
    def volume_mm3(self) -> float:
        return float(abs(self.mesh.volume)) if self.watertight else 0.0


@dataclass(frozen=True)
class DrawingPath:
    """One 2D path of a drawing.

    ``points`` : ``(n, 2) float``, millimetres, y pointing up (CAD convention;
    the SVG loader flips its y-down axis). A closed path does not repeat its
    first point at the end.
    """

    points: np.ndarray
    closed: bool
    stroke: Colour | None = None
    fill: Colour | None = None
    stroke_width: float = 0.0  # mm
    layer: str = ""
    source: str = ""  # element id or entity handle, for messages

    def __post_init__(self) -> None:
        pts = np.ascontiguousarray(self.points, dtype=float).reshape(-1, 2)
        pts.setflags(write=False)
        object.__setattr__(self, "points", pts)

    @property
    def length(self) -> float:
        pts = np.vstack([self.points, self.points[:1]]) if self.closed else self.points
        return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())

    @property
    def colour(self) -> Colour | None:
        """The colour that chooses an operation: the stroke, else the fill."""
        return self.stroke if self.stroke is not None else self.fill

    def with_points(self, points: np.ndarray) -> DrawingPath:
        return replace(self, points=points)


@dataclass(frozen=True)
class Drawing(_Design):
    """Closed and open 2D paths in millimetres, with colours and layers."""

    paths: tuple[DrawingPath, ...]
    facts: SourceFacts
    kind: DesignKind = "drawing"

    @property
    def bounds(self) -> np.ndarray:
        """``(2, 2) float``: min and max corners, millimetres."""
        if not self.paths:
            return np.zeros((2, 2))
        allpts = np.vstack([p.points for p in self.paths])
        return np.array([allpts.min(axis=0), allpts.max(axis=0)])

    def colours(self) -> list[Colour]:
        """Distinct stroke/fill colours, in order of first use."""
        seen: dict[Colour, None] = {}
        for p in self.paths:
            for c in (p.stroke, p.fill):
                if c is not None:
                    seen.setdefault(c, None)
        return list(seen)

    def layers(self) -> list[str]:
        return list(dict.fromkeys(p.layer for p in self.paths))

    def translated(self, dx: float, dy: float) -> Drawing:
        offset = np.array([dx, dy])
        return replace(self, paths=tuple(p.with_points(p.points + offset) for p in self.paths))


@dataclass(frozen=True)
class GcodeInfo:
    """What a G-code file says about the printer, filament and firmware it was made for.

    Temperatures are the targets the file sets (°C); ``limits`` the machine
    limits it sets (``M201``–``M205``, ``SET_VELOCITY_LIMIT``), in mm/s and mm/s².
    """

    slicer: str = ""
    flavour: str = ""  # as the file names it: "marlin2", "klipper", "Marlin", "Griffin"…
    nozzle_temperatures: tuple[float, ...] = ()
    bed_temperatures: tuple[float, ...] = ()
    filament_diameter: float | None = None
    nozzle_diameter: float | None = None
    bed_shape: tuple[tuple[float, float], ...] = ()
    filament_mm: float = 0.0  # E of the extruding moves, as slicers count "filament used"
    declared_filament_mm: float | None = None  # the slicer's own figure
    declared_time_s: float | None = None
    tools: tuple[int, ...] = ()
    max_fan: float = 0.0  # 0..1
    limits: dict[str, float] = field(default_factory=dict)
    extended_commands: tuple[str, ...] = ()  # Klipper macros and commands (NAME KEY=VALUE)
    inches: bool = False
    first_layer_index: int = 0  # moves before it: start G-code (homing, purge line)


@dataclass(frozen=True)
class Gcode(_Design):
    """An uploaded G-code file: its moves as a toolpath, what it declares, and its bytes.

    The bytes are what the printer receives, unchanged; the toolpath is what
    fabserver previews, estimates and checks.
    """

    toolpath: Toolpath
    info: GcodeInfo
    data: bytes
    facts: SourceFacts
    kind: DesignKind = "gcode"

    @property
    def print_moves(self) -> np.ndarray:
        """Mask of the extruding moves from the first layer on (not the purge line)."""
        tp = self.toolpath
        mask = tp.kind == MoveKind.EXTRUDE
        mask[: self.info.first_layer_index] = False
        return mask

    @property
    def bounds(self) -> np.ndarray:
        """``(2, 3) float``: bounds of the printed part (extrusions from the first layer on)."""
        mask = self.print_moves
        if not mask.any():
            return np.zeros((2, 3))
        pts = np.vstack([self.toolpath.xyz[mask], self.toolpath.starts[mask]])
        return np.array([pts.min(axis=0), pts.max(axis=0)])


Design = Mesh | Drawing | Gcode
