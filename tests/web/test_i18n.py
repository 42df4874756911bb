"""Every page text has a French translation, and the catalogues compile at start."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import fabserver.web

WEB = Path(fabserver.web.__file__).parent


def _template_messages() -> set[str]:
    found = extract_from_dir(
        str(WEB / "templates"), method_map=[("**.html", "jinja2")], options_map={}
    )
    return {message for _, _, message, _, _ in found}


def _catalogue(lang: str):
    with (WEB / "translations" / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang, abort_invalid=True)  # a broken entry fails here


def test_every_template_text_is_translated_to_french():
    french = {m.id: m.string for m in _catalogue("fr") if m.id}
    used = _template_messages()
    assert used, "no messages extracted"
    missing = sorted(m for m in used if not french.get(m))
    assert missing == []
    assert sorted(set(_catalogue("en")._messages) - {""}) == sorted(used)  # no stale entries


def test_catalogues_compile_and_pages_switch_language(tmp_path):
    from fabserver.web.i18n import compile_catalogs

    out = compile_catalogs(tmp_path)
    assert (out / "fr" / "LC_MESSAGES" / "messages.mo").stat().st_size > 1000
    assert (out / "en" / "LC_MESSAGES" / "messages.mo").exists()


def test_core_texts_follow_the_page_language(client, job_token):
    fr = client.get(f"/j/{job_token}").get_data(as_text=True)
    client.get("/lang/en")
    en = client.get(f"/j/{job_token}").get_data(as_text=True)
    # The verdict comes from the core (Text), the labels from the catalogue.
    assert "Prototype gratuit" in fr and "Temps machine" in fr
    assert "Free prototype" in en and "Machine time" in en and "Prototype gratuit" not in en
