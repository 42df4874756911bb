"""Extrusion flow as PrusaSlicer computes it.

An extruded line is modelled as a rectangle with semicircular ends: width ``w``,
height ``h``, cross-section ``(w - h)·h + π(h/2)²``. Two neighbouring lines
overlap by the part of the round ends that does not fill the rectangle, so their
centres are ``w - h(1 - π/4)`` apart (the *spacing*). A bridge is a round thread
of the nozzle's diameter. The filament length for a path is its volume divided by
the filament's cross-section.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Flow:
    """One extrusion: ``width`` and ``height`` in mm."""

    width: float
    height: float
    bridge: bool = False

    @property
    def area(self) -> float:
        """Cross-section of the extruded line, mm²."""
        if self.bridge:
            return math.pi * self.width**2 / 4.0
        h = self.height
        return (self.width - h) * h + math.pi * (h / 2.0) ** 2

    @property
    def spacing(self) -> float:
        """Distance between the centres of two neighbouring lines, mm."""
        if self.bridge:
            return self.width + 0.05  # PrusaSlicer's BRIDGE_EXTRA_SPACING
        return self.width - self.height * (1.0 - math.pi / 4.0)

    def spacing_to(self, other: Flow) -> float:
        """Centre distance to a line of another flow (external to inner perimeter)."""
        return 0.5 * (self.spacing + other.spacing)


def filament_area(diameter: float) -> float:
    """Cross-section of the filament, mm²."""
    return math.pi * diameter**2 / 4.0


def e_per_mm(flow: Flow, filament_diameter: float, multiplier: float = 1.0) -> float:
    """Millimetres of filament per millimetre of path."""
    return flow.area * multiplier / filament_area(filament_diameter)
