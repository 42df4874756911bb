"""Type detection, dispatch to the format readers, and the bounds every upload gets.

The type comes from the content, never from the file name (makers rename files,
browsers add ``.txt``). Whatever goes wrong inside a reader, the caller gets one
:class:`~fabserver.errors.DesignError` with a message for makers; a stack trace
never reaches them.
"""

from __future__ import annotations

import importlib
import logging
import re
import struct
import traceback
import zlib
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ..errors import DesignError
from ..i18n import Text, french_number
from .types import Design, DesignKind

log = logging.getLogger(__name__)

MAX_BYTES = 100 * 1024 * 1024
"""Default upload size limit: bigger than any design the lab's machines can make."""
DEFAULT_TOLERANCE_MM = 0.01
"""Default chord tolerance when curves are flattened to polylines."""

ACCEPTED = Text(
    "Formats acceptés : STL, 3MF ou OBJ pour l'impression 3D et le fraisage 3D ; G-code"
    " (.gcode) déjà tranché pour l'impression 3D ; SVG ou DXF pour la découpe laser, le"
    " vinyle, la broderie et le fraisage 2D.",
    "Accepted formats: STL, 3MF or OBJ for 3D printing and 3D milling; G-code (.gcode)"
    " already sliced for 3D printing; SVG or DXF for laser cutting, vinyl, embroidery and"
    " 2D milling.",
)


def design_error(fr: str, en: str, detail: str | None = None) -> DesignError:
    """A DesignError whose message ends with the formats we accept when that helps."""
    return DesignError(Text(fr, en), detail=detail)


# --------------------------------------------------------------------------- detection

_BINARY_DXF_SENTINEL = b"AutoCAD Binary DXF\r\n\x1a\x00"
_STL_HEADER = 80
_STL_RECORD = 50

# Formats we recognise only to say clearly what they are and what to do instead.
_NOT_DESIGNS: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "une image PNG", "a PNG image"),
    (b"\xff\xd8\xff", "une image JPEG", "a JPEG image"),
    (b"GIF87a", "une image GIF", "a GIF image"),
    (b"GIF89a", "une image GIF", "a GIF image"),
    (b"BM", "une image BMP", "a BMP image"),
    (b"RIFF", "un fichier RIFF (image WebP ou son)", "a RIFF file (WebP image or sound)"),
    (b"%PDF", "un document PDF", "a PDF document"),
    (b"%!PS", "un fichier PostScript", "a PostScript file"),
    (b"Rar!", "une archive RAR", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "une archive 7-Zip", "a 7-Zip archive"),
    (b"AC10", "un dessin DWG (format natif d'AutoCAD)", "a DWG drawing (AutoCAD's own format)"),
)

_DXF_START = re.compile(rb"\A\s*(?:999\s*\r?\n[^\n]*\n\s*)*0\s*\r?\n\s*SECTION\s*\r?\n", re.I)
_OBJ_LINE = re.compile(rb"^\s*(?:v|f)\s+[-+\d.]", re.M)

#: The first bytes of binary G-code (PrusaSlicer's ``.bgcode``), which is not read.
BGCODE_MAGIC = b"GCDE"


def is_gcode(data: bytes) -> bool:
    """Plain-text G-code: lines of commands (``G1 X…``) or slicer comments (``;…``)."""
    head = data[:65536]
    if b"\x00" in head:
        return False
    # Slicers may put a large thumbnail (base64 in comments) before the first command.
    commands = 0
    for _ in _COMMAND_LINE.finditer(data, 0, min(len(data), 1 << 20)):
        commands += 1
        if commands >= 3:
            return True
    return commands >= 1 and _SLICER_COMMENT.search(head) is not None


_COMMAND_LINE = re.compile(rb"(?mi)^[ \t]*[GMT]\d+[ \t]*(?:[A-Z;]|\r?$)")
_SLICER_COMMENT = re.compile(rb"(?mi)^;\s*(?:generated|FLAVOR|LAYER)")


def binary_gcode_error() -> DesignError:
    return DesignError(
        Text(
            "Ce fichier est du G-code binaire (.bgcode), que nous ne lisons pas. Dans "
            "PrusaSlicer, décochez « G-code binaire » (Réglages de l'imprimante → Général) "
            "et exportez à nouveau en .gcode.",
            "This file is binary G-code (.bgcode), which we do not read. In PrusaSlicer, "
            "untick 'Binary G-code' (Printer Settings → General) and export again as .gcode.",
        )
    )


def detect_format(data: bytes) -> str:
    """The format of a design from its first bytes.

    Returns one of ``"stl-binary"``, ``"stl-ascii"``, ``"3mf"``, ``"obj"``,
    ``"svg"``, ``"dxf"``, ``"dxf-binary"``, ``"gcode"``; raises :class:`DesignError` with a
    message saying what the file is when it is something else.
    """
    if not data or data.isspace():  # (no stripped copy of a large file)
        raise design_error(
            "Le fichier est vide. Vérifiez l'export depuis votre logiciel et envoyez-le à nouveau.",
            "The file is empty. Check the export from your software and upload it again.",
        )
    if data.startswith(_BINARY_DXF_SENTINEL):
        return "dxf-binary"
    if data.startswith(b"PK\x03\x04"):
        if b"3D/3dmodel.model" in data[:65536] or b".model" in data[:65536]:
            return "3mf"
        raise design_error(
            "Ce fichier est une archive ZIP. Décompressez-la et envoyez le fichier du dessin"
            " lui-même. " + ACCEPTED.fr,
            "This file is a ZIP archive. Unzip it and upload the design file itself. "
            + ACCEPTED.en,
        )
    if _is_binary_stl_size(data):
        return "stl-binary"
    if data.startswith(BGCODE_MAGIC):
        raise binary_gcode_error()
    for magic, fr, en in _NOT_DESIGNS:
        if data.startswith(magic):
            raise design_error(
                f"Ce fichier est {fr}, pas un dessin vectoriel ni un modèle 3D. " + ACCEPTED.fr,
                f"This file is {en}, not a vector drawing or a 3D model. " + ACCEPTED.en,
                detail=f"magic {magic!r}",
            )
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    lower = head.lower()
    if lower.startswith(b"solid") and re.search(rb"facet|endsolid", data[:65536]):
        return "stl-ascii"
    if lower.startswith((b"<!doctype html", b"<html")) or b"<html" in lower[:512]:
        raise design_error(
            "Ce fichier est une page web (HTML), pas un dessin. Téléchargez le fichier du dessin"
            " lui-même (souvent un bouton « Download » ou « Raw »). " + ACCEPTED.fr,
            "This file is a web page (HTML), not a design. Download the design file itself"
            " (often a 'Download' or 'Raw' button). " + ACCEPTED.en,
        )
    if lower.startswith(b"<") and b"<svg" in data[:65536].lower():
        return "svg"
    if _DXF_START.match(head):
        return "dxf"
    if _OBJ_LINE.search(head) and _looks_textual(head):
        return "obj"
    if is_gcode(data):
        return "gcode"
    if _truncated_binary_stl(data):
        declared = struct.unpack_from("<I", data, _STL_HEADER)[0]
        held = (len(data) - _STL_HEADER - 4) // _STL_RECORD
        raise design_error(
            f"Ce STL binaire est tronqué : il annonce {declared} triangles mais n'en contient"
            f" que {held}. Le téléchargement ou l'export a été interrompu : exportez-le à"
            " nouveau.",
            f"This binary STL is truncated: it declares {declared} triangles but holds only"
            f" {held}. The download or export was interrupted: export it again.",
            detail=f"declared={declared} size={len(data)}",
        )
    raise design_error(
        "Format de fichier non reconnu. " + ACCEPTED.fr,
        "Unrecognised file format. " + ACCEPTED.en,
        detail=f"first bytes {data[:16]!r}",
    )


def _looks_textual(head: bytes) -> bool:
    return b"\x00" not in head and sum(b < 9 for b in head[:512]) == 0


def _stl_count(data: bytes) -> int | None:
    if len(data) < _STL_HEADER + 4:
        return None
    return struct.unpack_from("<I", data, _STL_HEADER)[0]


def _is_binary_stl_size(data: bytes) -> bool:
    """The triangle count in the header matches the file size exactly.

    Checked before any text sniffing: many binary STLs (SolidWorks) start their
    header with "solid", the classic ASCII-detection pitfall. A few exporters pad
    the end with a handful of bytes; up to one record of slack is accepted.
    """
    count = _stl_count(data)
    if count is None:
        return False
    if count == 0:
        # an empty export (the reader says so in words), or a streaming exporter
        # that never came back to write the count: the records are still there
        body = len(data) - _STL_HEADER - 4
        return body == 0 or (body % _STL_RECORD == 0 and _plausible_records(data))
    expected = _STL_HEADER + 4 + _STL_RECORD * count
    return expected <= len(data) < expected + _STL_RECORD


def _truncated_binary_stl(data: bytes) -> bool:
    """Binary STL records whose header declares more triangles than the file holds."""
    count = _stl_count(data)
    if count is None:
        return False
    held = (len(data) - _STL_HEADER - 4) // _STL_RECORD
    return 1 <= held < count and _plausible_records(data)


def _plausible_records(data: bytes) -> bool:
    """The first 50-byte records after the header hold finite, modest float32 numbers.

    Random bytes also "declare" a triangle count; what tells a real STL apart is
    its coordinates.
    """
    held = (len(data) - _STL_HEADER - 4) // _STL_RECORD
    if held < 1:
        return False
    floats = np.frombuffer(
        data,
        dtype=np.dtype([("f", "<f4", (12,)), ("attr", "<u2")]),
        count=min(held, 32),
        offset=_STL_HEADER + 4,
    )["f"]
    with np.errstate(invalid="ignore", over="ignore"):
        plausible = np.isfinite(floats) & (np.abs(floats) < 1e6)
        # random bits give tiny denormals as often as huge exponents
        plausible &= (floats == 0) | (np.abs(floats) > 1e-12)
    return bool(plausible.mean() > 0.95)


# --------------------------------------------------------------------------- dispatch


class _Format(NamedTuple):
    """A format :func:`detect_format` tells apart: the reader that loads it (imported on first
    use), the kind of design it holds, and the name makers know it by."""

    module: str
    reader: str
    kind: DesignKind
    name: str


_FORMATS: dict[str, _Format] = {
    "stl-binary": _Format("stl", "load_stl_binary", "mesh", "STL"),
    "stl-ascii": _Format("stl", "load_stl_ascii", "mesh", "STL"),
    "3mf": _Format("stl", "load_3mf", "mesh", "3MF"),
    "obj": _Format("stl", "load_obj", "mesh", "OBJ"),
    "svg": _Format("svg", "load_svg", "drawing", "SVG"),
    "dxf": _Format("dxf", "load_dxf", "drawing", "DXF"),
    "dxf-binary": _Format("dxf", "load_dxf", "drawing", "DXF"),
    "gcode": _Format("gcode", "load_gcode", "gcode", "G-code"),
}


def design_kind(data: bytes) -> DesignKind | None:
    """What kind of design ``data`` holds, from its first bytes, without reading it.

    Lets a plan refuse a file its machine does not take (a DXF on a printer) before
    parsing the whole file. None for a compressed file (known once unpacked).
    Raises :class:`DesignError` for what is no design at all, as loading would.
    """
    if bytes(data[:2]) == _GZIP_MAGIC:
        return None
    return _FORMATS[detect_format(data)].kind


def _reader(fmt: str) -> Callable[..., Design]:
    # imported on first use so that importing the package stays cheap (the web
    # app needs the types; the worker pays for ezdxf/svgelements when it loads).
    found = _FORMATS[fmt]
    return getattr(importlib.import_module(f"{__package__}.{found.module}"), found.reader)


def load_design(
    data: bytes,
    name: str = "",
    *,
    max_bytes: int = MAX_BYTES,
    tolerance_mm: float = DEFAULT_TOLERANCE_MM,
) -> Design:
    """Bytes of a design → :class:`Mesh` or :class:`Drawing`, in millimetres.

    ``tolerance_mm`` is the largest distance between a curve and the chords that
    replace it (SVG and DXF). Raises only :class:`DesignError`.
    """
    if not isinstance(data, bytes):  # bytearray, memoryview from a storage layer
        data = bytes(data)
    if len(data) > max_bytes:
        raise design_error(
            f"Le fichier est trop gros ({french_number(len(data) / 1e6, '.1f')} Mo ; maximum"
            f" {max_bytes / 1e6:.0f} Mo). Simplifiez le modèle (moins de triangles) ou"
            " exportez-le en binaire.",
            f"The file is too large ({len(data) / 1e6:.1f} MB; maximum"
            f" {max_bytes / 1e6:.0f} MB). Simplify the model (fewer triangles) or export it"
            " as binary.",
        )
    if data.startswith(_GZIP_MAGIC):  # Inkscape's compressed SVG (.svgz), or a .stl.gz
        data = gunzip_bounded(data, max_bytes)
    fmt = detect_format(data)
    reader = _reader(fmt)
    try:
        return reader(data, name=name, tolerance_mm=tolerance_mm)
    except DesignError:
        raise
    except (MemoryError, RecursionError) as exc:
        raise too_complex(detail=repr(exc)) from None
    except Exception as exc:
        # A reader bug or a library choking on odd input: the maker still gets a
        # clear message, staff get the traceback in the log and in ``detail``.
        log.warning("design %r (%s) failed to load", name, fmt, exc_info=True)
        raise design_error(
            f"Ce fichier ({_FORMATS[fmt].name}) n'a pas pu être lu : il est sans doute"
            " endommagé ou d'une variante que nous ne lisons pas. Exportez-le à nouveau"
            " depuis votre logiciel.",
            f"This file ({_FORMATS[fmt].name}) could not be read: it is probably damaged or"
            " a variant we do not read. Export it again from your software.",
            detail="".join(traceback.format_exception_only(exc)).strip(),
        ) from None


_GZIP_MAGIC = b"\x1f\x8b"


def gunzip_bounded(data: bytes, max_bytes: int) -> bytes:
    """Decompress gzip data, refusing more than ``max_bytes`` of output (a gzip bomb)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, max_bytes + 1)
        if not inflater.eof and not inflater.unconsumed_tail:
            raise zlib.error("truncated gzip stream")
    except zlib.error as exc:
        raise design_error(
            "Ce fichier compressé (gzip) est abîmé. Envoyez le dessin non compressé (SVG"
            " simple plutôt que SVG compressé).",
            "This compressed (gzip) file is damaged. Upload the design uncompressed (plain SVG"
            " rather than compressed SVG).",
            detail=repr(exc),
        ) from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise design_error(
            f"Une fois décompressé, ce fichier dépasse {max_bytes / 1e6:.0f} Mo. Simplifiez le"
            " dessin.",
            f"Once decompressed, this file exceeds {max_bytes / 1e6:.0f} MB. Simplify the design.",
        )
    return out


def too_complex(detail: str | None = None) -> DesignError:
    return design_error(
        "Ce fichier est trop complexe pour être lu dans le temps et la mémoire permis."
        " Simplifiez-le (moins de triangles ou de points) et envoyez-le à nouveau.",
        "This file is too complex to read within the allowed time and memory."
        " Simplify it (fewer triangles or points) and upload it again.",
        detail=detail,
    )
