"""The small forms of a follow-up case's page, one per action (metrics/followup_views.py).

Each form checks its input and whether the action fits the case; the views then call
one service of metrics.followups. A form posts to its own URL, named `url_name`.
"""

from typing import TYPE_CHECKING, Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from metrics import followups
from metrics.access import AGENTS, MANAGERS
from metrics.models import SUBJECT_MAX_LENGTH, FollowUp, FollowUpNote
from surveys.text import CheckedTextField, refuse_control_characters

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_stubs_ext import StrOrPromise

TEXT_MAX_LENGTH = 5000
REPLY_MAX_LENGTH = 10000
SEARCH_MAX_LENGTH = 100


def colleagues() -> "QuerySet[User]":
    """Who may hold a case: active superusers, survey managers and support agents."""
    return (
        get_user_model()
        .objects.filter(
            Q(is_superuser=True) | Q(groups__name__in=[MANAGERS, AGENTS]), is_active=True
        )
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def person(user: Any) -> str:
    """A colleague as people see them: the full name, else the username."""
    return str(user.get_full_name() or user.get_username())


class QueueSearchForm(forms.Form):
    """The queue's customer search: words that reach the database are checked first."""

    q = CheckedTextField(required=False)

    @property
    def words(self) -> str:
        return self.cleaned_data["q"].strip()[:SEARCH_MAX_LENGTH] if self.is_valid() else ""


class CaseForm(forms.Form):
    """A form for one action on `followup`, rendered by crispy with its own ids."""

    url_name = ""
    submit_label: "StrOrPromise" = ""

    def __init__(self, *args: Any, followup: FollowUp, **kwargs: Any) -> None:
        # Several forms share the page: prefix the ids, keep the field names plain.
        kwargs.setdefault("auto_id", self.url_name.removeprefix("followup_") + "_%s")
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                refuse_control_characters(field)
        self.followup = followup
        self.helper = FormHelper(self)
        self.helper.form_action = reverse(f"metrics:{self.url_name}", args=[followup.pk])
        self.helper.add_input(Submit("submit", self.submit_label))


class OpenCaseForm(CaseForm):
    """An action that only an open case takes."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.followup.status == FollowUp.Status.RESOLVED:
            raise forms.ValidationError(
                _("This case is resolved already."), code="already_resolved"
            )
        return cleaned


class ColleagueField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return person(obj)


class AssignForm(OpenCaseForm):
    url_name = "followup_assign"
    submit_label = _("Assign")

    assignee = ColleagueField(
        label=_("Assign to"), queryset=colleagues(), empty_label=_("Choose a colleague")
    )

    def __init__(self, *args: Any, followup: FollowUp, **kwargs: Any) -> None:
        super().__init__(*args, followup=followup, **kwargs)
        if followup.assignee_id and not self.is_bound:
            self.initial["assignee"] = followup.assignee_id


class StartForm(OpenCaseForm):
    url_name = "followup_start"
    submit_label = _("Start")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.followup.status != FollowUp.Status.NEW:
            raise forms.ValidationError(
                _("This case has been started already."), code="already_started"
            )
        return cleaned


class ContactForm(CaseForm):
    url_name = "followup_contact"
    submit_label = _("Log it")

    KINDS = (FollowUpNote.Kind.PHONE, FollowUpNote.Kind.EMAIL, FollowUpNote.Kind.NOTE)

    kind = forms.ChoiceField(label=_("What happened"), choices=[(k, k.label) for k in KINDS])
    text = forms.CharField(
        label=_("What was said or done"),
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("A phone call or email counts as contact; a note is for colleagues only."),
    )

    def __init__(self, *args: Any, followup: FollowUp, **kwargs: Any) -> None:
        # A resolved case takes notes for colleagues; contact means reopening it.
        resolved = followup.status == FollowUp.Status.RESOLVED
        if resolved:
            self.submit_label = _("Add the note")
        super().__init__(*args, followup=followup, **kwargs)
        if resolved:
            self.fields["kind"].widget = forms.HiddenInput()
            self.fields["kind"].initial = FollowUpNote.Kind.NOTE
            self.fields["text"].label = _("Note")
            self.fields["text"].help_text = _("For colleagues only.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        resolved = self.followup.status == FollowUp.Status.RESOLVED
        if resolved and cleaned.get("kind", FollowUpNote.Kind.NOTE) != FollowUpNote.Kind.NOTE:
            raise forms.ValidationError(
                _("This case is resolved already: reopen it to log a contact."), code="resolved"
            )
        return cleaned


class ReplyForm(OpenCaseForm):
    """The customer's email, prefilled with the template in the response's language."""

    url_name = "followup_reply"
    submit_label = _("Send the reply")

    subject = forms.CharField(label=_("Subject"), max_length=SUBJECT_MAX_LENGTH)
    body = forms.CharField(
        label=_("Message"), max_length=REPLY_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 9})
    )

    def __init__(self, *args: Any, followup: FollowUp, **kwargs: Any) -> None:
        super().__init__(*args, followup=followup, **kwargs)
        if not self.is_bound and self.can_reply:
            subject, body = followups.reply_draft(followup)
            self.initial.update(subject=subject, body=body)

    @property
    def can_reply(self) -> bool:
        customer = self.followup.response.customer
        return bool(customer and customer.email)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.can_reply:
            raise forms.ValidationError(_("This customer left no email address."), code="no_email")
        return cleaned


class ResolveForm(OpenCaseForm):
    url_name = "followup_resolve"
    submit_label = _("Resolve the case")

    resolution = forms.CharField(
        label=_("How was it resolved?"),
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReopenForm(CaseForm):
    url_name = "followup_reopen"
    submit_label = _("Reopen the case")

    note = forms.CharField(
        label=_("Why does it need more work?"),
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.followup.status != FollowUp.Status.RESOLVED:
            raise forms.ValidationError(_("This case is open already."), code="open")
        return cleaned
