"""Languages: French by default, English on request (a visible FR/EN switch).

Page texts are gettext messages (``translations/{fr,en}/LC_MESSAGES/messages.po``,
compiled to ``.mo`` at start with Babel's API, so there is no manual step);
messages from the core are :class:`~fabserver.i18n.Text` and are picked here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Blueprint, Flask, redirect, request
from flask_babel import Babel, format_decimal, get_locale

from ..i18n import DEFAULT_LANGUAGE, LANGUAGES, Text

SOURCES = Path(__file__).resolve().parent / "translations"
COOKIE = "lang"

bp = Blueprint("lang", __name__)


def compile_catalogs(target: Path) -> Path:
    """Compile every ``messages.po`` into ``target`` (skipped when the .mo is newer)."""
    for po in SOURCES.glob("*/LC_MESSAGES/messages.po"):
        mo = target / po.relative_to(SOURCES).with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parts[-3])
        tmp = mo.with_suffix(".mo.part")
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        tmp.replace(mo)
    return target


def select_locale() -> str:
    lang = request.args.get("lang") or request.cookies.get(COOKIE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> str:
    return str(get_locale() or DEFAULT_LANGUAGE)


def tr(value: Any) -> str:
    """A core message (Text, or its ``{"fr", "en"}`` dict) in the page's language."""
    if value is None:
        return ""
    if isinstance(value, dict):
        value = Text.from_dict(value)
    if isinstance(value, Text):
        return value.get(current_language())
    if hasattr(value, "get") and hasattr(value, "fr"):  # a profile's LocalName
        return value.get(current_language())
    return str(value)


def number(value: Any, digits: int | None = 1) -> str:
    """A number with the page language's decimal mark (0,5 in French); ``digits=None``
    keeps up to three decimals and drops trailing zeros (settings as typed)."""
    if value is None:
        return "—"
    if digits is None:
        return format_decimal(value, format="#,##0.###")
    return format_decimal(value, format="#,##0." + "0" * digits if digits else "#,##0")


#: Units as plugins write them ("m2") and as people read them; a word unit has its
#: singular and plural per language (French plural from 2, English from anything but 1).
UNITS: dict[str, tuple[Text, Text]] = {
    "m2": (Text("m²", "m²"), Text("m²", "m²")),
    "cm2": (Text("cm²", "cm²"), Text("cm²", "cm²")),
    "mm2": (Text("mm²", "mm²"), Text("mm²", "mm²")),
    "cm3": (Text("cm³", "cm³"), Text("cm³", "cm³")),
    "mm3": (Text("mm³", "mm³"), Text("mm³", "mm³")),
    "sheet": (Text("feuille", "sheet"), Text("feuilles", "sheets")),
    "piece": (Text("pièce", "piece"), Text("pièces", "pieces")),
    "kB": (Text("ko", "kB"), Text("ko", "kB")),
    "MB": (Text("Mo", "MB"), Text("Mo", "MB")),
}


def unit(name: str | None, quantity: float | None = None) -> str:
    """A unit in the page's language: ``m2`` → m², ``sheet`` → feuille(s)."""
    if not name:
        return ""
    forms = UNITS.get(name)
    if forms is None:
        return name
    language = current_language()
    plural = quantity is not None and (abs(quantity) >= 2 if language == "fr" else quantity != 1)
    return forms[1 if plural else 0].get(language)


def enough_digits(value: float, digits: int = 1, significant: int = 2, most: int = 6) -> int:
    """Decimals to show so a small non-zero quantity does not read 0: ``digits`` when
    they show something, else enough for ``significant`` digits (0.0123 m² → 0,012),
    ``most`` at most."""
    magnitude = abs(float(value))
    if magnitude == 0 or round(magnitude, digits) != 0:
        return digits
    needed = significant - 1 - math.floor(math.log10(magnitude))
    return max(digits, min(most, needed))


def quantity(value: Any, name: str | None = None, digits: int = 1) -> str:
    """A material quantity with its unit, never rounded down to a misleading 0."""
    if value is None:
        return "—"
    text = number(value, enough_digits(value, digits))
    label = unit(name, float(value))
    return f"{text}\u00a0{label}" if label else text


def size(values: Any, digits: int = 1) -> str:
    """A design's size, ``201,9 × 315,3 mm`` in French."""
    if not values:
        return "—"
    return " × ".join(number(v, digits) for v in values) + "\u00a0mm"


def file_size(size_bytes: int | float) -> str:
    """A file's size in kB / ko (MB / Mo past a megabyte)."""
    if size_bytes >= 1_000_000:
        return quantity(size_bytes / 1_000_000, "MB")
    return quantity(size_bytes / 1000, "kB")


#: How a design's units were decided, as the loaders record it ("none→mm": the file
#: has no unit, read as millimetres).
DESIGN_UNITS = {
    "none→mm": Text("sans unité, lu en mm", "no unit, read as mm"),
    "unitless→mm": Text("sans unité, lu en mm", "no unit, read as mm"),
    "px@96dpi": Text("pixels à 96 ppp", "pixels at 96 dpi"),
    "in": Text("pouces", "inches"),
    "ft": Text("pieds", "feet"),
    "mil": Text("millièmes de pouce", "mils"),
}


def design_units(name: str | None) -> str:
    if not name:
        return "—"
    known = DESIGN_UNITS.get(name)
    return known.get(current_language()) if known else name


def safe_next(target: str | None) -> str:
    """Only local paths: the switch must not become an open redirect."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@bp.get("/lang/<code>")
def switch(code: str):
    response = redirect(safe_next(request.args.get("next")))
    if code in LANGUAGES:
        response.set_cookie(
            COOKIE,
            code,
            max_age=3600 * 24 * 365,
            samesite="Lax",
            httponly=True,
            secure=request.is_secure,
        )
    return response


def init_app(app: Flask, data_dir: Path) -> None:
    # Absolute: Flask-Babel reads a relative directory against the package, not the
    # working directory, and the default data directory (``./data``) is relative.
    compiled = compile_catalogs(Path(data_dir).resolve() / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compiled)
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["tr"] = tr
    app.jinja_env.filters["num"] = number
    app.jinja_env.filters["unit"] = unit
    app.jinja_env.filters["quantity"] = quantity
    app.jinja_env.filters["size"] = size
    app.jinja_env.filters["file_size"] = file_size
    app.jinja_env.filters["design_units"] = design_units
    app.jinja_env.globals["current_language"] = current_language
    app.register_blueprint(bp)
