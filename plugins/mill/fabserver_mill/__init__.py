"""fabserver plugin for the desktop milling machine: 2.5D from drawings, 3D from meshes."""

from .plugin import MillPlugin

__all__ = ["MillPlugin"]
