"""Reading a request's fields into what the job services take, for every door.

The upload form names a plugin's options ``opt-<plugin>-<name>`` (the form holds every
plugin's), the staff page ``opt-<name>`` (one job's plugin), the API sends a JSON
object: one reader for the two form conventions, one for the maker's contact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request
from werkzeug.datastructures import FileStorage, MultiDict

from ..errors import FabError
from ..i18n import Text
from ..jobs.context import Runtime
from ..jobs.service import Maker
from ..plugin import MachinePlugin

CONSENT_WORDS = ("1", "true", "yes", "on")
NO_FILE = Text("Choisissez un fichier à envoyer.", "Choose a file to upload.")
MISSING_FILE = Text("Fichier manquant (champ « file »).", "Missing file ('file' field).")
NO_CONSENT = Text(
    "Merci d'accepter les règles du lab pour envoyer votre demande.",
    "Please accept the lab's rules to send your request.",
)


def form_options(
    form: MultiDict[str, str], plugin: MachinePlugin | None, prefix: str
) -> dict[str, Any]:
    """The plugin's options given in the form as ``<prefix><name>`` (copies apart; empty
    fields left to the defaults). A checkbox sends a hidden "0" then "1" when ticked:
    the last value wins."""
    values: dict[str, Any] = {}
    for option in plugin.option_schema() if plugin is not None else ():
        given = form.getlist(f"{prefix}{option.name}")
        if option.name != "copies" and given and given[-1].strip() != "":
            values[option.name] = given[-1]
    return values


def machine_form_options(
    runtime: Runtime, form: MultiDict[str, str], machine_id: str
) -> dict[str, Any]:
    """The chosen machine's plugin options from the maker's form (``opt-<plugin>-<name>``)."""
    machine = runtime.profiles.machines.get(machine_id)
    plugin = runtime.registry.plugins.get(machine.plugin) if machine is not None else None
    return form_options(form, plugin, f"opt-{plugin.id}-") if plugin is not None else {}


def maker_from(fields: Mapping[str, Any], locale: str) -> Maker:
    """The maker's name and contact as given (checked by the service on submit)."""
    return Maker(
        name=str(fields.get("name", "")),
        email=str(fields.get("email", "")),
        phone=str(fields.get("phone", "")),
        locale=locale,
    )


def consented(fields: Mapping[str, Any]) -> bool:
    return str(fields.get("consent", "")).lower() in CONSENT_WORDS


class MissingFile(FabError):
    """The request has no file in its ``file`` field; answered 400 by the app."""


def uploaded_file(message: Text = NO_FILE) -> FileStorage:
    """The request's ``file``; :class:`MissingFile` with ``message`` when there is none."""
    file = request.files.get("file")
    if file is None or not file.filename:
        raise MissingFile(message)
    return file
