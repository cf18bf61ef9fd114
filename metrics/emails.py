"""Messages from templates: templates/emails/<name>-subject.txt and <name>-body.txt."""

import re
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape, linebreaks
from django.utils.safestring import mark_safe

from metrics.models import SUBJECT_MAX_LENGTH
from surveys.text import fit


def render(name: str, context: dict[str, Any], language: str) -> tuple[str, str]:
    """The subject (one line) and the plain-text body of message `name`, in `language`."""
    with translation.override(language):
        subject = render_to_string(f"emails/{name}-subject.txt", context)
        body = render_to_string(f"emails/{name}-body.txt", context)
    return subject_line(subject), body.strip() + "\n"


def subject_line(rendered: str) -> str:
    """A rendered subject template as one line that fits its column, however long the
    survey name or company in it."""
    return fit(" ".join(rendered.split()), SUBJECT_MAX_LENGTH)


def html_body(body: str) -> str:
    """The HTML alternative of a plain-text body: escaped, so a comment stays text, with
    the addresses of this site made links (any other address stays text)."""
    html = linebreaks(body.strip(), autoescape=True)
    own_address = re.escape(escape(settings.SITE_URL)) + r"/[^\s<]*"
    html = re.sub(own_address, lambda match: f'<a href="{match[0]}">{match[0]}</a>', html)
    return render_to_string("emails/base-body.html", {"body": mark_safe(html)})  # noqa: S308
