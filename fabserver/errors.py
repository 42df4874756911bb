"""Errors that carry a message for people, not a stack trace."""

from __future__ import annotations

from .i18n import Text


class FabError(Exception):
    """Base of the errors fabserver reports to makers or staff.

    ``message`` is shown as is; ``detail`` (English, technical) is for staff
    and logs only.
    """

    def __init__(self, message: Text, detail: str | None = None):
        super().__init__(message.en)
        self.message = message
        self.detail = detail


class DesignError(FabError):
    """The uploaded design cannot be read: says what is wrong and what to do."""


class PlanError(FabError):
    """A plugin cannot plan this design on this machine (too big, wrong kind…)."""


class ProfileError(FabError):
    """A profile file is invalid: names the file and the key."""

    def __init__(self, file: str, key: str, problem: str):
        message = Text(
            f"Profil invalide : {file}, clé « {key} » : {problem}",
            f"Invalid profile: {file}, key '{key}': {problem}",
        )
        super().__init__(message, detail=f"{file}: {key}: {problem}")
        self.file = file
        self.key = key
        self.problem = problem
