from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.http import QueryDict
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from surveys.models import COMMENT_MAX_LENGTH, Question
from surveys.text import CheckedTextField, query_has_control_characters

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Query parameters a survey link may carry: stored as the response's metadata.
METADATA_PARAMS = ("touchpoint", "channel", "ref")
# Query parameters that steer the page and are not stored.
CONTROL_PARAMS = ("lang", "score")
# Added to links by email and ad tools; ignored, so such a link still works.
TRACKING_PARAMS = ("fbclid", "gclid", "mc_cid", "mc_eid")
# Who the respondent is, as a mailing tool may add it: an anonymous survey accepts the
# link and keeps none of it.
PERSONAL_PARAMS = ("ref", "email")
METADATA_MAX_LENGTH = 100
# A field people never see (hidden by CSS, skipped by the keyboard and screen readers)
# that form-filling scripts fill in: a response that has it is thanked and not stored.
HONEYPOT = "website"
# Buttons of at least 44 px (WCAG 2.5.5) that fit side by side on a 320 px phone.
PHONE_ROW_MAX = 6
# Unanswered forms kept rendered in each process: a survey in two languages, with and
# without each score preselected, is a few dozen. The answer forms' fields likewise.
UNANSWERED_KEPT = 500
_unanswered: dict[tuple[object, ...], SafeString] = {}
_fields: dict[tuple[object, ...], dict[str, forms.Field]] = {}


class LinkParametersForm(forms.Form):
    """The query string of a survey link, checked before anything is stored.

    Its errors are about the link, not about a field the respondent can fix, so they
    are all form-wide.
    """

    # Shared by every link's form, not deep-copied for each request as declared fields
    # are: nothing changes them.
    shared_fields = {name: forms.CharField(required=False) for name in METADATA_PARAMS}

    def __init__(self, *args: Any, anonymous: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(self.shared_fields)
        self.ignored = set(TRACKING_PARAMS) | (set(PERSONAL_PARAMS) if anonymous else set())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # Bound to the request's query string (surveys.views).
        if query_has_control_characters(cast(QueryDict, self.data)):
            raise forms.ValidationError(
                _("This link contains a character we cannot accept."), code="control_character"
            )
        unknown = sorted(
            name
            for name in set(self.data) - set(METADATA_PARAMS) - set(CONTROL_PARAMS)
            if name not in self.ignored and not name.startswith("utm_")
        )
        if unknown:
            raise forms.ValidationError(
                _("This link contains information we cannot accept (%(names)s)."),
                code="unknown_parameter",
                params={"names": ", ".join(name[:30] for name in unknown[:3])},
            )
        too_long = [
            name for name in METADATA_PARAMS if len(cleaned.get(name, "")) > METADATA_MAX_LENGTH
        ]
        if too_long:
            raise forms.ValidationError(
                _("This link's %(name)s is too long."),
                code="parameter_too_long",
                params={"name": too_long[0]},
            )
        return cleaned

    @property
    def metadata(self) -> dict[str, str]:
        return {
            name: self.cleaned_data[name] for name in METADATA_PARAMS if self.cleaned_data[name]
        }


class ResponseForm(forms.Form):
    """The respondent's answers, one field per question, in the survey's order.

    Rendered by templates/surveys/response_fields.html, not by crispy: its per-field
    template machinery cost more than the rest of the page together.
    """

    def __init__(
        self, *args: Any, questions: Sequence[Question], language: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.language = language
        self.questions = {f"q{q.position}": q for q in questions}
        # Every column of the questions: edited wording is another version, never a
        # stale field or page.
        self.version = (
            language,
            *(
                tuple(getattr(question, field.attname) for field in Question._meta.concrete_fields)
                for question in questions
            ),
        )
        # Built once per version and shared, not built or copied for each answer (that
        # was most of the cost of checking one): neither this form nor its template
        # changes a field. Django copies the fields only for forms that do.
        shared = _fields.get(self.version)
        if shared is None:
            if len(_fields) >= UNANSWERED_KEPT:
                _fields.clear()
            shared = _fields[self.version] = {
                **{name: _field_for(q, language) for name, q in self.questions.items()},
                HONEYPOT: forms.CharField(label=_("Leave this field empty"), required=False),
            }
        self.fields.update(shared)

    @property
    def answer_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.questions]

    @property
    def honeypot(self) -> forms.BoundField:
        return self[HONEYPOT]

    @property
    def html(self) -> SafeString:
        """The fields as HTML. Unanswered, the form is the same for every visitor of the
        survey in a language with the same preselected score, so each process renders it
        once per version of the questions. Answered (with errors), it is the respondent's own."""
        if self.is_bound:
            return render_to_string("surveys/response_fields.html", {"form": self})
        key = (tuple(sorted(self.initial.items())), *self.version)
        if key not in _unanswered:
            if len(_unanswered) >= UNANSWERED_KEPT:
                _unanswered.clear()  # the simplest bound: rebuilt within a few visits
            _unanswered[key] = render_to_string("surveys/response_fields.html", {"form": self})
        return _unanswered[key]

    @property
    def filled_by_a_script(self) -> bool:
        return bool(self.data.get(HONEYPOT, "").strip())

    def answers(self) -> dict[Question, int | str | None]:
        return {q: self.cleaned_data.get(name) for name, q in self.questions.items()}


def _field_for(question: Question, language: str) -> forms.Field:
    label = question.text(language)
    if not question.is_scale:
        return CheckedTextField(
            label=label if question.required else format_lazy("{} ({})", label, _("optional")),
            required=question.required,
            max_length=COMMENT_MAX_LENGTH,
            widget=forms.Textarea,
        )
    choices: list[tuple[int, StrOrPromise]]
    if question.is_yes_no:
        choices = [(1, _("Yes")), (0, _("No"))]
    else:
        choices = [(v, str(v)) for v in question.scale_values]
    field = forms.TypedChoiceField(
        label=label,
        required=question.required,
        choices=choices,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Please choose an answer."),
            "invalid_choice": _("Please choose one of the answers shown."),
        },
    )
    if not question.is_yes_no and question.low_label(language):
        # Shown under the scale and read out with it (templates/surveys/scale_field.html).
        field.low_label = f"{question.scale_min} = {question.low_label(language)}"  # type: ignore[attr-defined]
        field.high_label = f"{question.scale_max} = {question.high_label(language)}"  # type: ignore[attr-defined]
    field.phone_row = buttons_per_row(len(choices))  # type: ignore[attr-defined]
    return field


def buttons_per_row(options: int, most: int = PHONE_ROW_MAX) -> int:
    """How many of a scale's buttons share a row on a phone: as few rows as fit, as even
    as they can be (0-10 as 6 + 5, 1-7 as 4 + 3), so no button is left alone on a row."""
    rows = -(-options // most)
    return -(-options // rows)
