"""Telltale words of each language, to catch a page that speaks the other one.

The dictionaries come from the project's own texts: the page catalogues
(``messages.po``, English ids and French strings), every ``Text(fr, en)`` of the
core and the plugins and every ``{ fr, en }`` of the plugins' ``options.toml``. A word found only on one side is a telltale of that language;
a page in French must show none of the English-only words, and the reverse.
"""

from __future__ import annotations

import ast
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
CATALOGUES = ROOT / "fabserver" / "web" / "translations"
WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
SYNTAX = re.compile(r"[#\w]=[#\w]")
#: A single word in quotes is a name or a value (« copies », 'flat-2'), not prose.
QUOTED_NAME = re.compile(r"«\s*[^\s»]+\s*»|(?<!\w)'[^\s']+'(?!\w)")
IDENTIFIER = re.compile(r"\w[-._@/+]\w|\d")
FRENCH_LETTERS = re.compile(r"[éèêëàâîïôûùüçœÉÈÊÀÂÎÔÛÇŒ]")

#: Words both languages write the same, or names, that one side's texts happen to lack.
SHARED = {
    "machine",
    "machines",
    "stock",
    "notes",
    "note",
    "total",
    "plan",
    "date",
    "type",
    "format",
    "message",
    "description",
    "position",
    "minutes",
    "min",
    "max",
    "options",
    "option",
    "pause",
    "fabserver",
    "fablab",
    "openapi",
    "api",
    "csv",
    "svg",
    "dxf",
    "stl",
    "obj",
    "gcode",
    "mf",
    "pla",
    "petg",
    "tpu",
    "abs",
    "dst",
    "pes",
    "jef",
    "exp",
    "hpgl",
    "grbl",
    "marlin",
    "klipper",
    "moonraker",
    "octoprint",
    "prusaslicer",
    "curaengine",
    "boxes",
    "tajima",
    "brother",
    "janome",
    "melco",
    "roland",
    "voron",
    "prusa",
    "bambu",
    "ender",
    "creality",
    "prototype",
    "prototypes",
    "code",
    "mail",
    "e-mail",
    "sms",
    "ratio",
    "contour",
    "simple",
    "double",
    "triple",
    "infill",
    "camille",
    "ana",
    "orientation",
    "direction",
    "distance",
    "correction",
    "corrections",
    "compensation",
    "actions",
    "action",
    "vinyl",
    "laser",
    "test",
    "rectangle",
    "cercle",
    "offset",
    "gap",
    "tag",
    "token",
    "zone",
    "zones",
}


def _catalogue(lang: str):
    with (CATALOGUES / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def _texts_in_sources() -> tuple[list[str], list[str]]:
    """(French, English) strings of every ``Text("…", "…")`` in the core and plugins."""
    french: list[str] = []
    english: list[str] = []
    sources = [*(ROOT / "fabserver").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]
    for path in sources:
        if "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Text"
                and len(node.args) >= 2
            ):
                for arg, out in zip(node.args[:2], (french, english), strict=True):
                    out.extend(_constant_parts(arg))
    for path in (ROOT / "plugins").rglob("options.toml"):
        _declared_texts(tomllib.loads(path.read_text(encoding="utf-8")), french, english)
    return french, english


def _declared_texts(table: dict, french: list[str], english: list[str]) -> None:
    """The ``{ fr = "…", en = "…" }`` of a plugin's options.toml (labels, help, choices)."""
    if set(table) == {"fr", "en"}:
        french.append(table["fr"])
        english.append(table["en"])
        return
    for value in table.values():
        if isinstance(value, dict):
            _declared_texts(value, french, english)


def _constant_parts(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant)]
    return []


def words(text: str) -> set[str]:
    """Words of a text; placeholders (%(name)s, {name}) and identifiers (job-1.gcode,
    flat-3.175, c@example.org) belong to no language."""
    text = re.sub(r"%\(\w+\)s|\{\w*\}", " ", text)
    text = QUOTED_NAME.sub(" ", text)
    found: set[str] = set()
    for token in text.split():
        token = token.strip(".,;:!?()[]«»\"'“”‘’…—–-")
        if IDENTIFIER.search(token):
            continue
        found.update(w.lower() for w in WORD.findall(token))
    return found


def telltales() -> dict[str, set[str]]:
    """{"fr": words only French texts use, "en": words only English texts use}."""
    fr_texts = [m.string for m in _catalogue("fr") if m.id and m.string]
    en_texts = [m.id for m in _catalogue("en") if m.id]
    core_fr, core_en = _texts_in_sources()
    fr = set().union(*(words(t) for t in fr_texts + core_fr))
    en = set().union(*(words(t) for t in en_texts + core_en))
    return {"fr": fr - en - SHARED, "en": en - fr - SHARED}


class _Visible(HTMLParser):
    """The text a reader meets: element text and the attributes shown or read aloud,
    without what the page marks ``translate="no"`` (names, files, addresses)."""

    SHOWN_ATTRIBUTES = ("alt", "title", "placeholder", "aria-label", "data-label")
    VOID = frozenset(
        {
            "area",
            "base",
            "br",
            "col",
            "embed",
            "hr",
            "img",
            "input",
            "link",
            "meta",
            "source",
            "wbr",
        }
    )

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[tuple[str, str | None]] = []  # (text, its lang attribute)
        self._stack: list[tuple[str, bool, str | None]] = []  # (tag, hides its text, lang)

    def _hidden(self) -> bool:
        return any(hides for _, hides, _ in self._stack)

    def _lang(self) -> str | None:
        return next((lang for _, _, lang in reversed(self._stack) if lang), None)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        hides = tag in ("script", "style") or attributes.get("translate") == "no"
        lang = attributes.get("lang") or self._lang()
        if not (hides or self._hidden()):
            for name in self.SHOWN_ATTRIBUTES:
                if attributes.get(name):
                    self.parts.append((attributes[name], lang))
            if tag == "input" and attributes.get("type") in ("submit", "button"):
                self.parts.append((attributes.get("value") or "", lang))
        if tag not in self.VOID:
            self._stack.append((tag, hides, attributes.get("lang")))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self._stack.pop()

    def handle_endtag(self, tag):
        # Close up to the matching tag (HTML lets some end tags be left out).
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break

    def handle_data(self, data):
        if not self._hidden():
            self.parts.append((data, self._lang()))


def visible_parts(html: str) -> list[tuple[str, str | None]]:
    """(text, language it is marked with) of every visible piece of a page."""
    parser = _Visible()
    parser.feed(html)
    return [(text.strip(), lang) for text, lang in parser.parts if text.strip()]


def visible_text(html: str) -> str:
    return "\n".join(text for text, _ in visible_parts(html))


def foreign_words(
    html: str, lang: str, tells: dict[str, set[str]], allowed: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """(word, its line) for every word of the other language on a page in ``lang``;
    on an English page, any French accented word counts too. Text marked with its own
    ``lang`` (a mail sent in the maker's language) is checked against that language;
    a line that teaches a typed syntax (``colour_map=#00aa00=cut``) is left out, its
    keywords are what the maker types."""
    found = []
    for line, marked in visible_parts(html):
        expected = marked or lang
        other = tells["en" if expected == "fr" else "fr"]
        if SYNTAX.search(line):
            continue
        for word in words(line) - allowed:
            if word in other or (expected == "en" and FRENCH_LETTERS.search(word)):
                found.append((word, line))
    return found
