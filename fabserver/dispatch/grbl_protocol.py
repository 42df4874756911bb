"""GRBL 1.1 serial protocol: what the controller says, and how to feed it.

Pure functions and tables, no I/O: cleaning G-code lines for streaming, the
meaning of ``error:N`` and ``ALARM:N`` in words for staff, and parsing of
``<...>`` status reports. The streamer (``serial_grbl``) uses them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files

from ..i18n import Text

# GRBL on an ATmega328p: 128-byte serial RX ring buffer, one slot kept free.
RX_BUFFER_SIZE = 127
# GRBL's LINE_BUFFER_SIZE is 80: a line (without its newline) must fit in 79 characters.
MAX_LINE_LENGTH = 79

# Real-time commands: one byte each, never buffered, answered or acted on at once.
STATUS_QUERY = b"?"
FEED_HOLD = b"!"
CYCLE_START = b"~"
SOFT_RESET = b"\x18"

_COMMENT = re.compile(r"\([^)]*\)|;.*$")
_BLANK = re.compile(r"\s+")

CODES_FILE = "grbl_codes.toml"


@cache
def _codes(kind: str) -> dict[int, tuple[str, str]]:
    """``errors`` or ``alarms`` of ``grbl_codes.toml``: N → (French, English) words."""
    data = tomllib.loads((files(__package__) / CODES_FILE).read_text(encoding="utf-8"))
    return {int(code): (words["fr"], words["en"]) for code, words in data[kind].items()}


def error_text(answer: str) -> Text:
    """``error:N`` in words; older firmwares' ``error: Bad number format`` kept as said."""
    return _in_words(answer, _codes("errors"), Text("erreur", "error"))


def alarm_text(answer: str) -> Text:
    """``ALARM:N`` in words, with what to do; older firmwares' text kept as said."""
    return _in_words(answer, _codes("alarms"), Text("alarme", "alarm"))


def _in_words(answer: str, table: dict[int, tuple[str, str]], kind: Text) -> Text:
    """GRBL's ``KIND:N`` answer with N's words from ``table``; a text instead of N is kept."""
    code = _code(answer)
    if code is None:
        said = answer.partition(":")[2].strip() or answer
        return Text(f"{kind.fr} GRBL : {said}", f"GRBL {kind.en}: {said}")
    fr, en = table.get(code, (f"{kind.fr} inconnue", f"unknown {kind.en}"))
    return Text(f"{kind.fr} GRBL {code} : {fr}", f"GRBL {kind.en} {code}: {en}")


def _code(answer: str) -> int | None:
    value = answer.partition(":")[2].strip()
    return int(value) if value.isdigit() else None


@dataclass(frozen=True)
class ProgramLine:
    """One line to stream: what is sent, and where it came from in the file."""

    data: bytes  # cleaned, with its trailing b"\n"
    source_line: int  # 1-based line number in the file
    source_text: str


def clean_line(raw: str) -> str:
    """The line as GRBL needs it: comments and blanks removed, upper case.

    GRBL strips these itself, but only after they took room in its 127-byte
    buffer; removing them here lets more motion fit.
    """
    return _BLANK.sub("", _COMMENT.sub("", raw)).upper()


def program_lines(text: str) -> list[ProgramLine]:
    """Lines worth sending, with their origin; ``%`` delimiters and blank lines go."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        cleaned = clean_line(raw)
        if cleaned and cleaned != "%":
            lines.append(ProgramLine((cleaned + "\n").encode("ascii"), number, raw.strip()))
    return lines


@dataclass
class StatusReport:
    """A parsed ``<State|MPos:…|Bf:…|FS:…>`` report."""

    state: str  # Idle, Run, Hold, Jog, Alarm, Door, Check, Home, Sleep
    substate: int | None = None  # Hold:0 = hold complete, Hold:1 = decelerating
    fields: dict[str, list[float]] = field(default_factory=dict)

    @property
    def position(self) -> list[float] | None:
        return self.fields.get("MPos") or self.fields.get("WPos")


def parse_status(line: str) -> StatusReport | None:
    if not (line.startswith("<") and line.endswith(">")):
        return None
    parts = line[1:-1].split("|")
    state, _, sub = parts[0].partition(":")
    fields: dict[str, list[float]] = {}
    for part in parts[1:]:
        key, _, values = part.partition(":")
        try:
            fields[key] = [float(v) for v in values.split(",") if v]
        except ValueError:
            continue  # e.g. "Pn:XYZ" (pins), kept out of the numeric fields
    return StatusReport(state, int(sub) if sub.isdigit() else None, fields)
