"""fabserver embroidery plugin: drawings to DST, PES, JEF and EXP through pyembroidery."""

from .plugin import EmbroideryPlugin

__all__ = ["EmbroideryPlugin"]
