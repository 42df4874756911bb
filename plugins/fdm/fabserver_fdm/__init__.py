"""fabserver's FDM slicer: STL → G-code for Marlin 2 and Klipper printers."""

from .plugin import FdmPlugin

__all__ = ["FdmPlugin"]
