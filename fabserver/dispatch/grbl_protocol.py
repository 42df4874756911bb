"""GRBL 1.1 serial protocol: what the controller says, and how to feed it.

Pure functions and tables, no I/O: cleaning G-code lines for streaming, the
meaning of ``error:N`` and ``ALARM:N`` in words for staff, and parsing of
``<...>`` status reports. The streamer (``serial_grbl``) uses them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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

# error:N, in our words (GRBL 1.1 meanings). French first.
ERRORS: dict[int, tuple[str, str]] = {
    1: ("mot G-code sans lettre", "G-code word without a letter"),
    2: ("valeur numérique absente ou mal écrite", "missing or malformed number"),
    3: ("commande « $ » inconnue", "unknown '$' command"),
    4: (
        "valeur négative là où il faut une valeur positive",
        "negative value where a positive one is needed",
    ),
    5: ("cycle de prise d'origine non activé ($22)", "homing cycle not enabled ($22)"),
    6: ("impulsion de pas trop courte (minimum 3 µs)", "step pulse too short (3 µs minimum)"),
    7: (
        "lecture EEPROM ratée, réglages par défaut restaurés",
        "EEPROM read failed, defaults restored",
    ),
    8: (
        "commande « $ » refusée : la machine n'est pas au repos",
        "'$' command refused: machine not idle",
    ),
    9: (
        "G-code bloqué : la machine est en alarme ou en jog",
        "G-code locked out: machine in alarm or jog",
    ),
    10: ("limites logicielles impossibles sans prise d'origine", "soft limits need homing enabled"),
    11: ("ligne trop longue, non exécutée", "line too long, not executed"),
    12: (
        "réglage trop élevé : fréquence de pas maximale dépassée",
        "setting exceeds the maximum step rate",
    ),
    13: ("porte de sécurité ouverte", "safety door open"),
    14: ("ligne trop longue pour l'EEPROM", "line too long for EEPROM"),
    15: ("déplacement manuel hors de la course", "jog target beyond machine travel"),
    16: ("commande de jog invalide", "invalid jog command"),
    17: ("mode laser impossible sans sortie PWM", "laser mode needs PWM output"),
    20: ("commande G-code non reconnue", "unsupported or invalid G-code command"),
    21: (
        "deux commandes du même groupe modal sur la ligne",
        "two commands of the same modal group",
    ),
    22: ("vitesse d'avance (F) non définie", "feed rate (F) not set"),
    23: ("la commande demande une valeur entière", "command needs an integer value"),
    24: (
        "deux commandes utilisant les axes sur la même ligne",
        "two commands using axis words in one block",
    ),
    25: ("mot G-code répété sur la ligne", "repeated G-code word in block"),
    26: ("coordonnées d'axe manquantes", "axis words missing"),
    27: ("numéro de ligne invalide", "invalid line number"),
    28: ("valeur obligatoire manquante", "required value word missing"),
    29: ("repères G59.x non pris en charge", "G59.x work coordinates not supported"),
    30: ("G53 seulement avec G0 ou G1", "G53 only with G0 or G1"),
    31: ("coordonnées d'axe inutilisées sur la ligne", "axis words with no command using them"),
    32: ("arc G2/G3 sans axe dans le plan", "G2/G3 arc without an in-plane axis word"),
    33: ("cible du mouvement invalide", "invalid motion target"),
    34: ("rayon d'arc invalide", "invalid arc radius"),
    35: ("arc G2/G3 sans décalage dans le plan", "G2/G3 arc without an in-plane offset"),
    36: ("mots de valeur inutilisés sur la ligne", "unused value words in block"),
    37: ("correcteur d'outil G43.1 sur le mauvais axe", "G43.1 tool offset on the wrong axis"),
    38: ("numéro d'outil trop grand", "tool number too large"),
}

# ALARM:N, in our words, with what staff should do.
ALARMS: dict[int, tuple[str, str]] = {
    1: (
        "fin de course touché : position perdue, refaites la prise d'origine",
        "hard limit hit: position lost, home the machine again",
    ),
    2: (
        "mouvement hors de la course (limite logicielle) : position conservée, déverrouillez ($X)",
        "motion beyond travel (soft limit): position kept, unlock ($X)",
    ),
    3: (
        "réinitialisation en mouvement : position incertaine, refaites la prise d'origine",
        "reset while moving: position uncertain, home again",
    ),
    4: (
        "palpeur dans un état inattendu avant le palpage",
        "probe in an unexpected state before probing",
    ),
    5: ("le palpeur n'a rien touché", "probe did not make contact"),
    6: ("prise d'origine interrompue par une réinitialisation", "homing interrupted by a reset"),
    7: ("porte ouverte pendant la prise d'origine", "door opened during homing"),
    8: (
        "prise d'origine : fin de course non dégagé",
        "homing: limit switch not cleared on pull-off",
    ),
    9: ("prise d'origine : fin de course introuvable", "homing: limit switch not found"),
}


def error_text(answer: str) -> Text:
    """``error:N`` in words; older firmwares' ``error: Bad number format`` kept as said."""
    return _in_words(answer, ERRORS, Text("erreur", "error"))


def alarm_text(answer: str) -> Text:
    """``ALARM:N`` in words, with what to do; older firmwares' text kept as said."""
    return _in_words(answer, ALARMS, Text("alarme", "alarm"))


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
