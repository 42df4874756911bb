"""What a plan shows, as data: the types a plugin returns in ``Plan.preview`` and declares in
``MachinePlugin.roles``.

Plugins do not draw: they say which moves to show and what to lay with them, each with a role,
and :mod:`fabserver.preview` draws it once for every plugin. Kept apart from the drawing so that
a plugin imports only these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely

from .i18n import Text
from .toolpath import Toolpath


@dataclass(frozen=True)
class RoleStyle:
    """How a role is drawn and named in the legend."""

    colour: str  # "#rrggbb"
    label: Text


@dataclass(frozen=True, eq=False)
class Lines:
    """Polylines drawn as strokes: ``paths`` are ``(k, 2)`` arrays in mm, ``closed`` per path."""

    role: str
    paths: Sequence[np.ndarray]
    closed: Sequence[bool] = ()


@dataclass(frozen=True, eq=False)
class Area:
    """Polygons filled even-odd in the role's colour."""

    role: str
    geometry: shapely.Geometry
    opacity: float = 0.6


@dataclass(frozen=True, eq=False)
class Frames:
    """Dashed rectangles ``boxes`` ``(k, 4)``: x0, y0, x1, y1 (mm), each with an optional label."""

    role: str
    boxes: np.ndarray
    labels: Sequence[str] = ()


@dataclass(frozen=True, eq=False)
class Marks:
    """Small squares of side ``size`` (mm) centred on ``centres`` ``(k, 2)``."""

    role: str
    centres: np.ndarray
    size: float = 1.0


@dataclass(frozen=True, eq=False)
class Raster:
    """A grey image (``(h, w) uint8``, row 0 at ``box``'s low y) stretched over ``box``
    (x0, y0, x1, y1, mm)."""

    role: str
    image: np.ndarray
    box: tuple[float, float, float, float]


Overlay = Lines | Area | Frames | Marks | Raster


@dataclass(frozen=True, eq=False)
class Preview:
    """What a plan shows, as data.

    ``toolpath``: the moves to draw (``None``: the plan's own; ``Toolpath.empty()``
    to draw overlays only). ``bounds``: ``(2, 2)`` region shown, mm (``None``:
    everything drawn). ``styles``: roles styled only at plan time; they win over
    the plugin's declared ``roles``. ``frame_work``: show what is made rather than
    the whole sheet or roll (:class:`Frames`) it sits on, reaching out to the sheet's
    edges near it, so a small part in a corner of a large sheet is seen, on its sheet.
    """

    toolpath: Toolpath | None = None
    overlays: tuple[Overlay, ...] = ()
    bounds: np.ndarray | None = None
    show_travel: bool = True
    styles: Mapping[str, RoleStyle] = field(default_factory=dict)
    frame_work: bool = False
