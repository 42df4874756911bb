"""Design loaders: bytes of an STL/3MF/OBJ, SVG or DXF → :class:`Mesh` or :class:`Drawing`.

``load_design`` detects the type from the content, never from the file name,
and raises :class:`~fabserver.errors.DesignError` (with a message for makers)
for anything it cannot read.
"""

from typing import Any

from .types import Colour, Design, DesignKind, Drawing, DrawingPath, Mesh, SourceFacts, colour_hex

__all__ = [
    "Colour",
    "Design",
    "DesignKind",
    "Drawing",
    "DrawingPath",
    "Mesh",
    "SourceFacts",
    "colour_hex",
    "load_design",
    "load_design_bounded",
]


def load_design(data: bytes, name: str = "", **options: Any) -> Design:
    """Load a design from its bytes. ``name`` is only used in messages.

    ``options``: ``max_bytes``, ``tolerance_mm`` (see :func:`.loader.load_design`).
    """
    from .loader import load_design as _load

    return _load(data, name, **options)


def load_design_bounded(data: bytes, name: str = "", **options: Any) -> Design:
    """:func:`load_design` in a child process bounded in time and memory (for uploads)."""
    from .bounded import load_design_bounded as _bounded

    return _bounded(data, name, **options)
