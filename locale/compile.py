"""Compile the message catalogues with polib, so no GNU gettext is needed.

English is the source language: its entries are filled with their own msgid, so both
catalogues are complete and a missing Dutch entry stands out.
"""

from pathlib import Path

import polib

HERE = Path(__file__).resolve().parent

for path in sorted(HERE.glob("*/LC_MESSAGES/django.po")):
    catalogue = polib.pofile(str(path))
    catalogue.metadata_is_fuzzy = False
    if path.parts[-3] == "en":
        for entry in catalogue:
            # makemessages guesses from similar strings; English needs no guess.
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
                entry.previous_msgid = entry.previous_msgid_plural = None
            if entry.msgid_plural:
                entry.msgstr_plural = {0: entry.msgid, 1: entry.msgid_plural}
            else:
                entry.msgstr = entry.msgid
        catalogue.save()
    catalogue.save_as_mofile(str(path.with_suffix(".mo")))
    print(f"{path.relative_to(HERE)}: {catalogue.percent_translated()}% translated")
