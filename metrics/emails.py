"""Messages from templates: templates/emails/<name>-subject.txt and <name>-body.txt."""

from typing import Any

from django.template.loader import render_to_string
from django.utils import translation


def render(name: str, context: dict[str, Any], language: str) -> tuple[str, str]:
    """The subject (one line) and the plain-text body of message `name`, in `language`."""
    with translation.override(language):
        subject = render_to_string(f"emails/{name}-subject.txt", context)
        body = render_to_string(f"emails/{name}-body.txt", context)
    return " ".join(subject.split()), body.strip() + "\n"


def html_body(body: str) -> str:
    """The HTML alternative of a plain-text body: escaped, so a comment stays text."""
    return render_to_string("emails/base-body.html", {"body": body})
