"""Remote file names a machine's small screen can show.

Printer and cutter screens show 16 to 24 characters and some firmwares (Marlin's
SD card code, older controllers reading FAT without long names) only see 8.3
names. A name starts with the job number, so staff find the job on the screen
and in the queue with the same key, then as much of the part name as fits.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from .base import ConnectorSettingsError

_UNSAFE = re.compile(r"[^A-Za-z0-9]+")

STYLES = ("short", "8.3")


def ascii_slug(text: str) -> str:
    """ASCII letters, digits and single hyphens: « Pièce n°2 » → "Piece-no2"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = decomposed.encode("ascii", "ignore").decode("ascii")
    return _UNSAFE.sub("-", plain).strip("-")


def _split_suffix(part_name: str, suffix: str | None) -> tuple[str, str]:
    """(stem, ".ext"): the part name's own extension goes; ``suffix`` wins when given."""
    stem, dot, ext = part_name.rpartition(".")
    has_ext = bool(dot and stem and 1 <= len(ext) <= 5 and ext.isalnum())
    if not has_ext:
        stem, ext = part_name, ""
    if suffix is not None:
        ext = suffix.lstrip(".")
    return stem, "." + ext if ext else ""


def remote_name_for(
    job_number: int | str,
    part_name: str,
    machine: Any = None,
    *,
    suffix: str | None = None,
    style: str | None = None,
    length: int | None = None,
) -> str:
    """A short ASCII file name: ``"J0042-benchy.gcode"``, or ``"J0042BEN.GCO"`` in 8.3.

    ``machine`` may be a ``MachineProfile`` (its ``connector`` table gives
    ``name_style`` and ``name_length``), a mapping of those settings, or None.
    ``suffix`` is the file extension; by default it is taken from ``part_name``.
    """
    settings: dict[str, Any] = {}
    machine_id = getattr(machine, "id", "")
    if machine is not None:
        table = getattr(machine, "connector", machine)
        if isinstance(table, dict):
            settings = table
    style = style or settings.get("name_style", "short")
    length = length or int(settings.get("name_length", 24))
    if style not in STYLES:
        # Also a ValueError; a DispatchError, so the queue reports it in words.
        raise ConnectorSettingsError(
            machine_id, "name_style", f"must be one of {', '.join(STYLES)}, not '{style}'"
        )

    stem, ext = _split_suffix(part_name, suffix)
    number = ascii_slug(str(job_number)) or "0"
    part = ascii_slug(stem)
    ext = "." + ascii_slug(ext) if ascii_slug(ext) else ""

    if style == "8.3":
        # Uppercase, no hyphens, 8 + 3: "J" and the job number first, part name after.
        # The last digits tell recent jobs apart when a number does not fit.
        head = ("J" + number.replace("-", "")[-7:]).upper()
        tail = part.replace("-", "").upper()[: 8 - len(head)]
        return head + tail + ext[:4].upper()

    head = f"J{number.zfill(4)}" if number.isdigit() else number
    room = max(length - len(head) - len(ext) - 1, 0)
    part = part[:room].rstrip("-")
    return f"{head}-{part}{ext}" if part else f"{head}{ext}"
