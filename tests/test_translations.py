"""Every user-visible string is translated, and the compiled catalogues are current."""

from pathlib import Path

import polib
import pytest

LOCALE = Path(__file__).resolve().parent.parent / "locale"


@pytest.mark.parametrize("language", ["nl", "en"])
def test_catalogue_is_complete_and_not_fuzzy(language):
    catalogue = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))

    assert len(catalogue) > 50
    assert [e.msgid for e in catalogue.untranslated_entries()] == []
    assert [e.msgid for e in catalogue.fuzzy_entries()] == []
    # What msgmerge leaves beside a fuzzy guess ("#| msgid"); one left behind without
    # its fuzzy flag stops the next `make messages` with a syntax error.
    assert [e.msgid for e in catalogue if e.previous_msgid or e.previous_msgid_plural] == []


def test_dutch_keeps_every_placeholder():
    catalogue = polib.pofile(str(LOCALE / "nl" / "LC_MESSAGES" / "django.po"))
    for entry in catalogue.translated_entries():
        translations = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
        for translation in translations:
            for placeholder in ("%(company)s", "%(name)s", "%(names)s", "%(status)s"):
                assert (placeholder in entry.msgid) == (placeholder in translation), entry.msgid


@pytest.mark.parametrize("language", ["nl", "en"])
def test_compiled_catalogue_matches_its_source(language):
    source = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    compiled = polib.mofile(str(LOCALE / language / "LC_MESSAGES" / "django.mo"))

    def entries(catalogue):
        return {
            (e.msgctxt, e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
            for e in catalogue
            if e.msgid
        }

    assert entries(compiled) == entries(source), "run `make compilemessages`"
