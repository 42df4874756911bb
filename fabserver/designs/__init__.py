"""Design loaders: bytes of an STL/3MF/OBJ, SVG or DXF → :class:`Mesh` or :class:`Drawing`.

``load_design`` detects the type from the content, never from the file name,
and raises :class:`~fabserver.errors.DesignError` (with a message for makers)
for anything it cannot read.
"""

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
]


def load_design(data: bytes, name: str = "") -> Design:
    """Load a design from its bytes. ``name`` is only used in messages."""
    from .loader import load_design as _load

    return _load(data, name)
