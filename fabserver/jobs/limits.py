"""What a plan may use, and what the maker and staff read when a plan goes past it.

The limits come from the machine's ``[limits]`` table in the job's profile
snapshot (defaults in :class:`fabserver.profiles.PlanLimits`). The maker's
message says what to change; the staff detail names the limit that was hit.
"""

from __future__ import annotations

from typing import Any, Literal

from ..i18n import Text
from ..profiles import PlanLimits, validated

LimitKind = Literal["memory", "time", "output", "crash"]

# What a maker can change to make a plan smaller, per plugin (the default otherwise).
HINTS: dict[str, Text] = {
    "fdm": Text(
        "Pour l'alléger : des couches plus épaisses, moins de remplissage, moins "
        "d'exemplaires ou une pièce plus petite.",
        "To make it lighter: thicker layers, less infill, fewer copies or a smaller part.",
    ),
    "mill": Text(
        "Pour l'alléger : des passes plus épaisses, moins d'exemplaires ou une pièce plus petite.",
        "To make it lighter: deeper passes, fewer copies or a smaller part.",
    ),
}
DEFAULT_HINT = Text(
    "Pour l'alléger : moins d'exemplaires, ou un dessin plus petit ou plus simple.",
    "To make it lighter: fewer copies, or a smaller or simpler design.",
)

_MESSAGES: dict[str, Text] = {
    "memory": Text(
        "Ce travail est trop lourd à calculer : il demande plus de {value:.0f} Mo de mémoire, "
        "la limite de cette machine.",
        "This job is too heavy to plan: it needs more than {value:.0f} MB of memory, "
        "this machine's limit.",
    ),
    "time": Text(
        "Ce travail est trop long à calculer : plus de {value:.0f} min, la limite de cette "
        "machine.",
        "This job takes too long to plan: more than {value:.0f} min, this machine's limit.",
    ),
    "output": Text(
        "Ce travail donnerait un fichier machine trop gros : plus de {value:.0f} Mo, la limite "
        "de cette machine.",
        "This job would make too big a machine file: more than {value:.0f} MB, this "
        "machine's limit.",
    ),
    "crash": Text(
        "Le calcul de ce travail s'est arrêté deux fois de suite : son processus a été tué, "
        "le plus souvent faute de mémoire. Il ne sera pas relancé tout seul.",
        "Planning this job stopped twice in a row: its process was killed, most often for "
        "lack of memory. It will not be started again by itself.",
    ),
}


def limits_for(machine_snapshot: dict[str, Any]) -> PlanLimits:
    """The limits in a job's machine snapshot (older snapshots get the defaults)."""
    return validated(PlanLimits, machine_snapshot.get("limits") or {})


def limit_value(kind: LimitKind, limits: PlanLimits) -> float:
    """The limit in the unit the message speaks of (MB or minutes)."""
    return {
        "memory": float(limits.memory_mb),
        "time": limits.time_s / 60.0,
        "output": float(limits.output_mb),
        "crash": 0.0,
    }[kind]


def limit_message(kind: LimitKind, limits: PlanLimits, plugin_id: str) -> Text:
    """The maker's message: which limit, then what to change."""
    first = _MESSAGES[kind].format(value=limit_value(kind, limits))
    hint = HINTS.get(plugin_id, DEFAULT_HINT)
    return Text(f"{first.fr} {hint.fr}", f"{first.en} {hint.en}")


def limit_detail(kind: LimitKind, limits: PlanLimits, machine_id: str, more: str = "") -> str:
    """For staff: the limit that was hit, its value and where to change it."""
    setting = {
        "memory": f"memory_mb = {limits.memory_mb}",
        "time": f"time_s = {limits.time_s:g}",
        "output": f"output_mb = {limits.output_mb:g}",
        "crash": "worker lost twice (killed by a signal: out of memory, segfault, kill)",
    }[kind]
    where = f"[limits] of machine '{machine_id}'" if kind != "crash" else f"machine '{machine_id}'"
    return f"limit hit: {kind} ({setting}; {where}){': ' + more if more else ''}"
