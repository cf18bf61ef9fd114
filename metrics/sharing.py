"""Sharing a survey's public link: a QR code (segno) and an HTML snippet for websites and
email signatures whose score links open the survey with that score chosen."""

import io

import segno
from django.template.loader import render_to_string
from django.utils import translation

from metrics.scores import KEY_ROLE
from surveys.models import Survey

# Fixed sizes: an SVG scales, and a PNG of 10 pixels a module prints sharply.
SVG_SCALE, PNG_SCALE = 10, 10


def qr_code(survey: Survey, kind: str) -> bytes:
    """The public link as a QR code: `kind` is "svg" or "png"."""
    code = segno.make_qr(_qr_url(survey), error="m")
    out = io.BytesIO()
    code.save(out, kind=kind, scale=SVG_SCALE if kind == "svg" else PNG_SCALE, border=4)
    return out.getvalue()


def qr_inline(survey: Survey) -> str:
    """A small QR code to show on a page, as SVG markup."""
    return segno.make_qr(_qr_url(survey), error="m").svg_inline(scale=3, border=4)


def _qr_url(survey: Survey) -> str:
    return f"{survey.public_url}?channel=qr"


def embed_snippet(survey: Survey, language: str) -> str:
    """HTML to paste into a page or signature, with inline styles only: the key question
    in `language` and its scale as links to ?score=N&channel=embed (and &lang= when that
    is not the survey's own language, so that the survey opens in it too)."""
    question = next(
        (q for q in survey.questions.all() if q.role == KEY_ROLE[survey.kind] and q.is_scale),
        None,
    )
    scores = []
    if question is not None and survey.kind != Survey.Kind.LOYALTY:
        scores = [1, 0] if question.is_yes_no else list(question.scale_values)
    with translation.override(language):
        return render_to_string(
            "metrics/embed_snippet.html",
            {
                "url": survey.public_url,
                "lang": "" if language == survey.language else language,
                "question": question.text(language) if question else "",
                "yes_no": question.is_yes_no if question else False,
                "low_label": question.low_label(language) if question else "",
                "high_label": question.high_label(language) if question else "",
                "scores": scores,
                "survey": survey,
            },
        ).strip()
