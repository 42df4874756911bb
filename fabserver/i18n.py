"""Messages that reach makers and staff, in French (default) and English.

The core has no web request to ask for a locale, so every message it produces
carries both languages; the web layer and the CLI pick one when they show it.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


@dataclass(frozen=True, slots=True)
class Text:
    """A message in both languages; ``str()`` gives the French one."""

    fr: str
    en: str

    def get(self, language: str | None = None) -> str:
        return self.en if language == "en" else self.fr

    def format(self, **values: Any) -> Text:
        """Fill ``{name}`` placeholders in both languages.

        Floats are shown with a decimal comma in French, a point in English.
        """
        fr_values = {k: _french_number(v) for k, v in values.items()}
        return Text(self.fr.format(**fr_values), self.en.format(**values))

    def __str__(self) -> str:
        return self.fr

    def to_dict(self) -> dict[str, str]:
        return {"fr": self.fr, "en": self.en}

    @classmethod
    def from_dict(cls, data: dict[str, str] | str) -> Text:
        if isinstance(data, str):
            return cls(data, data)
        return cls(data.get("fr") or data.get("en", ""), data.get("en") or data.get("fr", ""))


class _FrenchFloat(float):
    """A float that formats with a decimal comma, for French messages."""

    def __format__(self, spec: str) -> str:
        return float.__format__(self, spec).replace(".", ",")


class _FrenchInt(int):
    """An integer that keeps a decimal comma when shown with a float spec (``{n:.1f}``)."""

    def __format__(self, spec: str) -> str:
        return int.__format__(self, spec).replace(".", ",")


def _french_number(value: Any) -> Any:
    # numbers.Real/Integral also take numpy scalars (np.float32 is no float subclass).
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value
    if isinstance(value, numbers.Integral):
        return _FrenchInt(value)
    return _FrenchFloat(value)


def french_number(value: float, spec: str = "") -> str:
    """``value`` written for a French message, with a decimal comma.

    ``french_number(0.45, ".2f")`` gives ``"0,45"``. For messages assembled in
    pieces (lists joined before they reach :meth:`Text.format`); a whole
    message is better written as ``Text(...).format(...)``.
    """
    return format(_french_number(value), spec)


def text(fr: str, en: str) -> Text:
    """Shorthand used at call sites: ``text("Trop grand", "Too large")``."""
    return Text(fr, en)
