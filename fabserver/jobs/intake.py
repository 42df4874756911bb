"""Receiving a design: store the bytes first, then read them within a time and memory bound."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..designs.loader import is_gcode
from ..designs.types import Design
from ..errors import FabError
from ..i18n import Text
from ..store.models import Design as DesignRow
from ..store.models import Upload
from .context import Runtime

# Client-side hints only (the browser sees names, not content); the server decides by content.
SUFFIX_KINDS = {
    ".stl": "mesh",
    ".3mf": "mesh",
    ".obj": "mesh",
    ".svg": "drawing",
    ".dxf": "drawing",
    ".gcode": "gcode",
    ".gco": "gcode",
}


def sniff_media_type(data: bytes) -> str:
    """A media type from the first bytes, for the record (the loader does the real check)."""
    head = data[:512].lstrip()
    low = head.lower()
    if data[:4] == b"PK\x03\x04":
        return "model/3mf"
    if low.startswith(b"solid"):
        return "model/stl"
    if b"<svg" in low or (low.startswith(b"<?xml") and b"svg" in data[:4096].lower()):
        return "image/svg+xml"
    if low.startswith(b"0") and b"section" in low[:64]:
        return "image/vnd.dxf"
    if is_gcode(data):
        return "text/x-gcode"
    if len(data) >= 84:
        count = int.from_bytes(data[80:84], "little")
        if 84 + 50 * count == len(data):
            return "model/stl"
    return "application/octet-stream"


BUSY_RETRY_AFTER_S = 60
BUSY = Text(
    "Le serveur est très occupé : réessayez dans une minute. Votre fichier est bien reçu, "
    "rien n'est perdu.",
    "The server is very busy: try again in a minute. Your file was received, nothing is lost.",
)


class ServerBusy(FabError):
    """Every parse slot is taken: the maker is asked to come back (503, Retry-After)."""

    retry_after_s = BUSY_RETRY_AFTER_S


def load_bounded(runtime: Runtime, data: bytes, name: str) -> Design:
    """Parse in a child process bounded in time and memory (an upload is untrusted).

    At most ``settings.parse_slots`` parses run at once; a request that cannot get
    a slot within ``settings.parse_wait_s`` raises :class:`ServerBusy`, so a burst of
    heavy uploads cannot hold every web thread.
    """
    from ..designs.bounded import load_design_bounded

    if not runtime.parse_slots.acquire(timeout=runtime.settings.parse_wait_s):
        raise ServerBusy(BUSY, detail=f"{runtime.settings.parse_slots} parses already running")
    try:
        return load_design_bounded(
            data,
            name,
            timeout_s=runtime.settings.load_timeout_s,
            memory_mb=runtime.settings.load_memory_mb,
            max_bytes=int(runtime.settings.max_upload_mb * 1024 * 1024),
        )
    finally:
        runtime.parse_slots.release()


def design_facts(design: Design) -> dict[str, Any]:
    """What staff and makers are shown about a design (JSON-ready)."""
    from ..designs.types import colour_hex

    b = np.asarray(design.bounds, dtype=float)
    facts: dict[str, Any] = {
        "kind": design.kind,
        "format": design.facts.format,
        "units": design.facts.units,
        "size_mm": np.round(b[1] - b[0], 2).tolist(),
        "repairs": [r.to_dict() for r in design.facts.repairs],
        "warnings": [w.to_dict() for w in design.facts.warnings],
    }
    if design.kind == "mesh":
        facts.update(
            triangles=design.face_count,
            watertight=bool(design.watertight),
            volume_mm3=round(float(design.volume_mm3), 2),
        )
    elif design.kind == "gcode":
        facts.update(design.facts.details)
    else:
        facts.update(
            paths=len(design.paths),
            colours=[colour_hex(c) for c in design.colours()],
        )
    return facts


def receive(runtime: Runtime, data: bytes, name: str) -> Upload:
    """Store the bytes (fsynced) and record the upload, before anything can go wrong."""
    sha = runtime.files.put(data)
    with runtime.db.session() as s:
        upload = Upload(
            sha256=sha,
            original_name=(name or "")[:255],
            size=len(data),
            media_type=sniff_media_type(data),
        )
        s.add(upload)
    return upload


def record_design(runtime: Runtime, upload: Upload, design: Design) -> DesignRow:
    with runtime.db.session() as s:
        row = DesignRow(
            upload_id=upload.id,
            kind=design.kind,
            format=design.facts.format,
            facts=design_facts(design),
        )
        s.add(row)
    return row


@dataclass(frozen=True)
class Accepted:
    """A design received: its stored row (with its upload loaded) and what was read."""

    row: DesignRow
    design: Design


def accept_design(runtime: Runtime, data: bytes, name: str) -> Accepted:
    """The one intake of every door (form, quote page, API): store the bytes before
    anything can fail, read them bounded, record the design.

    Raises :class:`ServerBusy` and :class:`~fabserver.errors.DesignError`; the bytes
    are kept either way."""
    upload = receive(runtime, data, name)
    design = load_bounded(runtime, data, name)
    recorded = record_design(runtime, upload, design)
    with runtime.db.session() as s:
        row = s.get(DesignRow, recorded.id)
        assert row is not None  # recorded just above
        row.upload  # noqa: B018 - load while the session is open
    return Accepted(row, design)
