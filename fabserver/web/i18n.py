"""Languages: French by default, English on request (a visible FR/EN switch).

Page texts are gettext messages (``translations/{fr,en}/LC_MESSAGES/messages.po``,
compiled to ``.mo`` at start with Babel's API, so there is no manual step);
messages from the core are :class:`~fabserver.i18n.Text` and are picked here.
"""

from __future__ import annotations

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
    app.jinja_env.globals["current_language"] = current_language
    app.register_blueprint(bp)
