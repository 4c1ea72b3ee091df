"""The English catalog is complete and compiled: every string extracted as babel.cfg says
from the code and templates (Vietnamese, the source language: the admin UI, the error pages,
the services' messages) has a translation, and the .mo that Flask-Babel and
``feedsvc.errors`` load says what the .po says."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.support import Translations

ROOT = Path(__file__).parents[1]
WEB = ROOT / "feedsvc" / "web"
CATALOG = WEB / "translations" / "en" / "LC_MESSAGES"


def _po():  # type: ignore[no-untyped-def]
    with (CATALOG / "messages.po").open("rb") as po:
        return read_po(po)


def test_every_message_has_an_english_translation():
    with (ROOT / "babel.cfg").open() as config:
        methods, options = parse_mapping_cfg(config)
    extracted = {message[2] for message in extract_from_dir(ROOT / "feedsvc", methods, options)}
    translated = {m.id: m.string for m in _po() if m.id}
    missing = sorted(m for m in extracted if not translated.get(m))
    assert not missing, "run `make translations` and translate: " + "; ".join(missing)


def test_the_compiled_catalog_matches_the_po_file():
    compiled = Translations.load(WEB / "translations", ["en"])
    stale = [m.id for m in _po() if m.id and compiled.gettext(m.id) != m.string]
    assert not stale, "run `make translations` (pybabel compile)"
