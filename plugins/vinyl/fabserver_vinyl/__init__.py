"""fabserver plugin for drag-knife vinyl cutters (HPGL / CAMM-GL)."""

from .plugin import VinylPlugin

__all__ = ["VinylPlugin"]
