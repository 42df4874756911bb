"""External slicers as engines: PrusaSlicer and CuraEngine beside the builtin slicer.

A printer profile names its engine (``[settings] engine = "prusaslicer"``); staff
may choose another per job (the ``engine`` option, ``--set engine=curaengine``).
An external engine runs in the planning process with the job's options mapped
to its own settings; its G-code is read back by the core's reader, so the
preview, the time estimate (fabserver's firmware model) and the checks are the
same whichever engine sliced. When the engine is not installed, the builtin
slicer answers and the plan says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fabserver.i18n import Text
from fabserver.plugin import Option

from .base import ExternalEngine
from .curaengine import CURAENGINE
from .prusaslicer import PRUSASLICER

BUILTIN = "builtin"
EXTERNAL: dict[str, ExternalEngine] = {e.id: e for e in (PRUSASLICER, CURAENGINE)}
ENGINES = (BUILTIN, *EXTERNAL)
FROM_PROFILE = "profile"

ENGINE_OPTION = Option(
    "engine",
    "choice",
    FROM_PROFILE,
    Text("Trancheur", "Slicer"),
    Text(
        "Celui de l'imprimante par défaut ; l'équipe peut en choisir un autre.",
        "The printer's by default; staff may choose another.",
    ),
    choices=(FROM_PROFILE, *ENGINES),
    choice_labels=(
        Text("Celui de l'imprimante", "The printer's"),
        Text("Intégré (fabserver)", "Builtin (fabserver)"),
        Text("PrusaSlicer", "PrusaSlicer"),
        Text("CuraEngine", "CuraEngine"),
    ),
    advanced=True,
)


def chosen_engine(profile_engine: str, options: Mapping[str, Any]) -> str:
    """The engine a job asks for: its ``engine`` option, else the printer profile's."""
    asked = str(options.get("engine", FROM_PROFILE) or FROM_PROFILE)
    return profile_engine if asked == FROM_PROFILE else asked


def resolve_engine(
    profile_engine: str, options: Mapping[str, Any]
) -> tuple[ExternalEngine | None, list[Text]]:
    """The external engine to run (``None``: the builtin slicer), and a warning if it is missing."""
    name = chosen_engine(profile_engine, options)
    if name == BUILTIN:
        return None, []
    engine = EXTERNAL[name]
    if engine.binary() is None:
        return None, [
            Text(
                "Le trancheur {name} demandé n'est pas installé sur le serveur : le trancheur "
                "intégré l'a remplacé (l'équipe peut installer le paquet {package}).",
                "The requested slicer {name} is not installed on the server: the builtin "
                "slicer answered instead (staff may install the {package} package).",
            ).format(name=engine.name, package=engine.package)
        ]
    return engine, []


def engine_problem(profile_engine: str) -> str | None:
    """For ``fabserver profiles check``: why the profile's engine cannot run here, if it cannot."""
    engine = EXTERNAL.get(profile_engine)
    if engine is None:
        return None
    return engine.missing()


__all__ = [
    "BUILTIN",
    "ENGINES",
    "ENGINE_OPTION",
    "EXTERNAL",
    "ExternalEngine",
    "chosen_engine",
    "engine_problem",
    "resolve_engine",
]
