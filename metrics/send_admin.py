"""The survey admin's "Send" page: choose customers, see what would happen, send."""

import re
from typing import TYPE_CHECKING, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from metrics import sending
from metrics.models import Notification
from surveys.models import Customer, Survey
from surveys.text import CheckedTextField

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class SendForm(forms.Form):
    segment = forms.ChoiceField(label=_("Segment"), required=False)
    refs = CheckedTextField(
        label=_("Customer references"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        help_text=_("Separated by spaces, commas or new lines; instead of a segment."),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        segments = Customer.objects.exclude(segment="").order_by("segment")
        cast(forms.ChoiceField, self.fields["segment"]).choices = [
            ("", _("All customers")),
            *((s, s) for s in segments.values_list("segment", flat=True).distinct()),
        ]

    def customers(self):
        refs = [ref for ref in re.split(r"[\s,;]+", self.cleaned_data["refs"]) if ref]
        return sending.customers_for(segment=self.cleaned_data["segment"], refs=refs)


class SendPage:
    """Mixed into the survey admin: its "Send" page at <id>/send/."""

    def get_urls(self):
        view = self.admin_site.admin_view(self.send_view)  # type: ignore[attr-defined]
        return [path("<int:pk>/send/", view, name="surveys_survey_send"), *super().get_urls()]  # type: ignore[misc]

    def send_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        survey = get_object_or_404(Survey, pk=pk)
        if not self.has_change_permission(request, survey):  # type: ignore[attr-defined]
            raise PermissionDenied
        form = SendForm(request.POST if request.method == "POST" else request.GET)
        if form.is_valid() and request.method == "POST" and survey.is_live:
            sent = sending.send_survey(
                survey=survey, customers=form.customers(), segment=form.cleaned_data["segment"]
            )
            count = len(sent.invitations)
            self.message_user(  # type: ignore[attr-defined]
                request,
                ngettext(
                    "%(count)d survey email is on its way.",
                    "%(count)d survey emails are on their way.",
                    count,
                )
                % {"count": count},
                messages.SUCCESS,
            )
            return redirect("admin:surveys_survey_change", survey.pk)
        plan = (
            sending.preview(survey=survey, customers=form.customers()) if form.is_valid() else None
        )
        email = sending.render(survey, survey.language, Notification.Kind.SURVEY)
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": Survey._meta,
            "original": survey,
            "title": _("Send %(survey)s") % {"survey": survey},
            "survey": survey,
            "form": form,
            "plan": plan,
            "skipped": _skipped(plan) if plan else [],
            "email": email,
            "change_url": reverse("admin:surveys_survey_change", args=[survey.pk]),
        }
        return TemplateResponse(request, "admin/surveys/survey/send.html", context)


def _skipped(plan: sending.Plan) -> list[tuple[int, "StrOrPromise"]]:
    labels = {
        "surveyed_recently": _("invited to or answered a survey within the re-survey throttle"),
        "opted_out": _("opted out"),
        "without_email": _("without an email address"),
        "bouncing": _("email bounces"),
    }
    return [(plan.skipped[reason], labels[reason]) for reason in labels if plan.skipped[reason]]
