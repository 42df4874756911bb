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

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fabserver.i18n import Text
from fabserver.plugin import Option

if TYPE_CHECKING:
    from .base import ExternalEngine

BUILTIN = "builtin"
#: Each external engine's module and object, imported when the engine is first asked for:
#: a plan with the builtin slicer does not load them (nor ``subprocess``).
_EXTERNAL_AT = {
    "prusaslicer": (".prusaslicer", "PRUSASLICER"),
    "curaengine": (".curaengine", "CURAENGINE"),
}
ENGINES = (BUILTIN, *_EXTERNAL_AT)
FROM_PROFILE = "profile"


def external_engine(engine_id: str) -> ExternalEngine | None:
    """The external engine of that id (``None`` for the builtin slicer or an unknown id)."""
    where = _EXTERNAL_AT.get(engine_id)
    if where is None:
        return None
    module, name = where
    return getattr(importlib.import_module(module, __name__), name)


def __getattr__(name: str) -> Any:
    """``EXTERNAL`` (every external engine by id) and ``ExternalEngine``, imported on demand."""
    if name == "EXTERNAL":
        return {engine_id: external_engine(engine_id) for engine_id in _EXTERNAL_AT}
    if name == "ExternalEngine":
        from .base import ExternalEngine

        return ExternalEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    engine = external_engine(name)
    if engine is None:
        raise KeyError(name)
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
    engine = external_engine(profile_engine)
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
    "external_engine",
    "resolve_engine",
]
