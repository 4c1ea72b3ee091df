"""The English catalog of the admin UI is complete and compiled: every string extracted from
the code and templates (Vietnamese, the source language) has a translation, and the .mo
that Flask-Babel loads says what the .po says."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from babel.support import Translations

WEB = Path(__file__).parents[1] / "feedsvc" / "web"
CATALOG = WEB / "translations" / "en" / "LC_MESSAGES"
METHODS = [("admin/**.py", "python"), ("templates/admin/**.html", "jinja2")]


def _po():  # type: ignore[no-untyped-def]
    with (CATALOG / "messages.po").open("rb") as po:
        return read_po(po)


def test_every_message_has_an_english_translation():
    extracted = {message[2] for message in extract_from_dir(WEB, METHODS)}
    translated = {m.id: m.string for m in _po() if m.id}
    missing = sorted(m for m in extracted if not translated.get(m))
    assert not missing, "run `make translations` and translate: " + "; ".join(missing)


def test_the_compiled_catalog_matches_the_po_file():
    compiled = Translations.load(WEB / "translations", ["en"])
    stale = [m.id for m in _po() if m.id and compiled.gettext(m.id) != m.string]
    assert not stale, "run `make translations` (pybabel compile)"
