"""fabserver plugin for CO2 laser cutters: GRBL G-code (M4 dynamic power) and clean SVG."""

from .plugin import LaserPlugin

__all__ = ["LaserPlugin"]
