import pytest
from django.core.exceptions import ValidationError

from surveys.text import fit, has_control_characters, validate_no_control_characters, xml_safe


@pytest.mark.parametrize("bad", ["a\x00b", "x\x0bz", "\ufffe", "end\uffff", "\ud800"])
def test_characters_xml_cannot_hold_are_found_and_removed(bad):
    assert has_control_characters(bad)
    assert not has_control_characters(xml_safe(bad))
    with pytest.raises(ValidationError):
        validate_no_control_characters(bad)


def test_tabs_newlines_and_ordinary_text_are_kept():
    text = "Goed\tgeholpen,\r\nmaar traag \u2013 \U0001f600 caf\u00e9"
    assert not has_control_characters(text)
    assert xml_safe(text) == text
    validate_no_control_characters(text)


@pytest.mark.parametrize(
    ("text", "fitted"),
    [("short", "short"), ("exactly10!", "exactly10!"), ("eleven char", "eleven ch\u2026")],
)
def test_fit_cuts_with_an_ellipsis_only_what_is_too_long(text, fitted):
    assert fit(text, 10) == fitted
