"""Text that people trust is checked where it enters.

XML 1.0 (and so every spreadsheet, and an XLSX export) cannot hold the C0 control
characters other than tab, newline and carriage return, nor U+FFFE and U+FFFF, nor lone
surrogates; PostgreSQL refuses a NUL outright. Text from a file or a request is refused
when it holds one, with a message; text already stored is cleaned with `xml_safe`
wherever it leaves in a format that cannot hold it. Text composed from people's text
(an email's subject from a survey's name) is cut to its column with `fit`.
"""

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def has_control_characters(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def query_has_control_characters(query: QueryDict) -> bool:
    """Whether any name or value of a query string holds such a character."""
    return any(
        has_control_characters(name) or any(has_control_characters(value) for value in values)
        for name, values in query.lists()
    )


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 cannot hold."""
    return CONTROL_CHARACTERS.sub("", text)


def validate_no_control_characters(value: str) -> None:
    """A form field's validator: refuse text with a character XML cannot hold."""
    if isinstance(value, str) and has_control_characters(value):
        raise ValidationError(
            _("Contains a control character; please remove it."), code="control_character"
        )


def refuse_control_characters(field: forms.CharField) -> forms.CharField:
    """`field` refusing control characters with one message: Django's own check for NUL,
    which would say the same again in other words, gives way to ours."""
    field.validators = [
        validator
        for validator in field.validators
        if not isinstance(validator, ProhibitNullCharactersValidator)
        and validator is not validate_no_control_characters
    ]
    field.validators.append(validate_no_control_characters)
    return field


class CheckedTextField(forms.CharField):
    """A text field whose text is checked where it enters (refuse_control_characters)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        refuse_control_characters(self)


def fit(text: str, max_length: int) -> str:
    """`text` cut to `max_length` characters, ending in an ellipsis when it was cut: a
    column's limit must not refuse a string composed from text that was valid alone."""
    if len(text) <= max_length:
        return text
    return text[: max_length - 1].rstrip() + "\u2026"
