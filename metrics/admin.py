"""The survey admin, extended with what metrics adds: scores, recompute and exports."""

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import models
from django.db.models import Case, Min, OuterRef, QuerySet, Subquery, Value, When
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _

from metrics import notifications, order_imports, orders, privacy, sharing
from metrics.models import (
    WEBHOOK_EVENTS,
    AlertChannel,
    FollowUp,
    FollowUpNote,
    FollowUpRule,
    JobRun,
    Notification,
    Order,
    OrderImport,
    RollupDrift,
    StaffAction,
    SurveyRequest,
)
from metrics.periods import MAX_DAYS, Period
from metrics.reach import with_response_counts
from metrics.rollups import recompute_survey
from metrics.scores import KEY_ROLE
from metrics.scoring import response_rate
from metrics.send_admin import SendPage
from surveys.admin import CustomerAdmin, ResponseAdmin, SurveyAdmin
from surveys.models import Answer, Customer, Response, Survey

admin.site.unregister(Survey)
admin.site.unregister(Response)
admin.site.unregister(Customer)


class FollowUpRuleInline(admin.StackedInline):
    model = FollowUpRule
    can_delete = False
    extra = 1
    max_num = 1
    verbose_name_plural = _("follow-up rule (without one: the defaults)")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Survey)
class SurveyWithScoresAdmin(SendPage, SurveyAdmin):
    actions = [*SurveyAdmin.actions, "recompute_scores", "export_csv", "export_xlsx"]
    inlines = [*SurveyAdmin.inlines, FollowUpRuleInline]
    readonly_fields = [*SurveyAdmin.readonly_fields, "scores", "qr_code", "embed"]

    def get_fieldsets(self, request: HttpRequest, obj: Survey | None = None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        (name, options), *rest = fieldsets
        share = (_("Share the public link"), {"fields": ["qr_code", "embed"]})
        return [(name, {**options, "fields": [*options["fields"], "scores"]}), share, *rest]

    @admin.display(description=_("QR code"))
    def qr_code(self, obj: Survey) -> str:
        return format_html(
            '<div role="img" aria-label="{}">{}</div><a href="{}" download>{}</a> · '
            '<a href="{}" download>{}</a>',
            _("QR code of the public link"),
            mark_safe(sharing.qr_inline(obj)),  # noqa: S308 - segno's own markup
            reverse("metrics:qr_svg", args=[obj.pk]),
            _("Download SVG"),
            reverse("metrics:qr_png", args=[obj.pk]),
            _("Download PNG"),
        )

    @admin.display(description=_("snippet for a website or email signature"))
    def embed(self, obj: Survey) -> str:
        # In the language staff read the admin in; its links open the survey in it.
        snippet = sharing.embed_snippet(obj, get_language() or obj.language)
        return format_html(
            '<textarea readonly rows="6" cols="70" aria-label="{}" data-select-on-focus>{}'
            '</textarea><div class="help">{}</div><div class="embed-preview">{}</div>',
            _("HTML snippet"),
            snippet,
            _("Paste it into a page or signature; each score opens the survey with it chosen."),
            mark_safe(snippet),  # noqa: S308 - rendered from our template, escaped
        )

    list_display = [*SurveyAdmin.list_display, "response_rate", "dashboard"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Survey]:
        return with_response_counts(super().get_queryset(request), "survey")

    @admin.display(description=_("response rate"))
    def response_rate(self, obj: Survey) -> str:
        rate = response_rate(obj._answered, obj._sent)  # type: ignore[attr-defined]
        if rate is None:
            return "-"
        return f"{number_format(round(rate))}% ({obj._answered}/{obj._sent})"  # type: ignore[attr-defined]

    @admin.display(description=_("scores"))
    def scores(self, obj: Survey) -> str:
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("metrics:survey", args=[obj.pk]),
            _("Open the dashboard"),
            reverse("admin:surveys_survey_send", args=[obj.pk]),
            _("Send by email"),
        )

    @admin.display(description=_("dashboard"))
    def dashboard(self, obj: Survey) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("metrics:survey", args=[obj.pk]), _("Scores")
        )

    @admin.action(description=_("Recompute the scores of the selected surveys"))
    def recompute_scores(self, request: HttpRequest, queryset: QuerySet[Survey]) -> None:
        for survey in queryset:
            drift = recompute_survey(survey=survey)
            if drift:
                self.message_user(
                    request,
                    _("%(survey)s: corrected %(cells)d counts (%(answers)d answers off).")
                    % {"survey": survey, "cells": drift.cells, "answers": drift.answers},
                    messages.WARNING,
                )
            else:
                self.message_user(
                    request, _("%(survey)s: the scores were right.") % {"survey": survey}
                )

    @admin.action(description=_("Export the responses of one survey (CSV)"))
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Survey]):
        return self._export(request, queryset, "metrics:export_csv")

    @admin.action(description=_("Export the responses of one survey (Excel)"))
    def export_xlsx(self, request: HttpRequest, queryset: QuerySet[Survey]):
        return self._export(request, queryset, "metrics:export_xlsx")

    def _export(
        self, request: HttpRequest, queryset: QuerySet[Survey], url_name: str
    ) -> HttpResponseRedirect | None:
        if queryset.count() != 1:
            self.message_user(request, _("Choose exactly one survey to export."), messages.ERROR)
            return None
        survey = queryset.get()
        first = survey.responses.aggregate(first=Min("submitted_at"))["first"]
        longest = Period.last(MAX_DAYS)
        start = max(timezone.localdate(first), longest.start) if first else longest.end
        query = urlencode({"start": start.isoformat(), "end": longest.end.isoformat()})
        return redirect(f"{reverse(url_name, args=[survey.pk])}?{query}")


@admin.register(Response)
class ResponseWithScoreAdmin(ResponseAdmin):
    list_display = [*ResponseAdmin.list_display[:3], "score", *ResponseAdmin.list_display[3:]]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Response]:
        key_role = Case(
            *(When(survey__kind=kind, then=Value(role)) for kind, role in KEY_ROLE.items())
        )
        key = Answer.objects.filter(response=OuterRef("pk"), question__role=OuterRef("_key_role"))
        return (
            super()
            .get_queryset(request)
            .annotate(_key_role=key_role)
            .annotate(
                _score=Subquery(key.values("value")[:1]),
                _key_scale_max=Subquery(key.values("question__scale_max")[:1]),
            )
        )

    @admin.display(description=_("score"), ordering="_score")
    def score(self, obj: Response) -> str:
        value = obj._score  # type: ignore[attr-defined]
        if value is None:
            return "-"
        if obj._key_scale_max == 1:  # type: ignore[attr-defined] # a yes/no question
            return str(_("Yes") if value else _("No"))
        return str(value)


@admin.register(Customer)
class CustomerWithErasureAdmin(CustomerAdmin):
    """Customers are erased rather than deleted: deleting took their orders out of the
    KPIs and left their data in the answers, cases and messages."""

    actions = ["erase_customers"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("surveys.delete_customer")

    @admin.action(
        description=_("Erase the personal data of the selected customers"),
        permissions=["erase"],
    )
    def erase_customers(
        self, request: HttpRequest, queryset: QuerySet[Customer]
    ) -> TemplateResponse | None:
        customers = list(queryset.order_by("pk"))
        if request.POST.get("confirmed") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Erase personal data"),
                "customers": customers,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/surveys/customer/erase.html", context)
        for customer in customers:
            privacy.erase_customer(customer=customer, by=request.user)
        self.message_user(
            request,
            ngettext(
                "The personal data of %(count)d customer was erased.",
                "The personal data of %(count)d customers was erased.",
                len(customers),
            )
            % {"count": len(customers)},
            messages.SUCCESS,
        )
        return None


class AlertChannelForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        label=capfirst(_("webhook events")),
        choices=[(event.value, event.label) for event in WEBHOOK_EVENTS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_(
            "Webhooks: each is a POST signed as Standard Webhooks say, with the data the "
            "REST API gives."
        ),
    )

    class Meta:
        model = AlertChannel
        fields = [
            "name",
            "kind",
            "target",
            "secret",
            "events",
            "surveys",
            "on_new_case",
            "on_escalation",
            "enabled",
        ]


@admin.register(AlertChannel)
class AlertChannelAdmin(admin.ModelAdmin):
    form = AlertChannelForm
    list_display = ["name", "kind", "target", "on_new_case", "on_escalation", "enabled"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "target"]
    filter_horizontal = ["surveys"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """The log of what happened: written by the application, only read here."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "channel", "recipient", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["recipient", "subject", "last_error"]
    list_select_related = ["channel"]
    actions = ["send_again"]

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("metrics.change_notification")

    @admin.action(description=_("Send the failed ones again"), permissions=["resend"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = notifications.send_again(notifications=queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d failed message will be sent again.",
                "%(count)d failed messages will be sent again.",
                count,
            )
            % {"count": count},
        )


@admin.register(RollupDrift)
class RollupDriftAdmin(ReadOnlyAdmin):
    """Counts a recompute found wrong (and corrected): they should never drift, so each
    row is a lead to a bug or to data changed behind the application's back."""

    list_display = ["found_at", "survey", "cells", "answers"]
    list_filter = ["survey"]
    list_select_related = ["survey"]
    date_hierarchy = "found_at"


@admin.register(SurveyRequest)
class SurveyRequestAdmin(ReadOnlyAdmin):
    """What other systems asked to be sent through the REST API, and what became of it."""

    list_display = ["created_at", "survey", "customer", "send_at", "status", "reason"]
    list_filter = ["status", "survey"]
    search_fields = ["customer__ref", "customer__email"]
    list_select_related = ["survey", "customer"]
    date_hierarchy = "send_at"


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ["name", "finished_at"]


class NoteInline(admin.TabularInline):
    model = FollowUpNote
    extra = 0
    fields = readonly_fields = ("created_at", "author", "author_name", "kind", "text")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "survey", "status", "assignee", "due_at", "escalated_at"]
    list_filter = ["status", "reason", "survey", "set_aside"]
    list_select_related = ["survey", "assignee"]
    search_fields = ["comment", "response__customer__email", "response__customer__name"]
    inlines = [NoteInline]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Orders come from imports (see "Order imports"), which also keep the facts of each
    customer's history that the KPIs read; so they are read here, not edited."""

    list_display = ["ref", "customer", "ordered_at", "amount", "product", "channel"]
    list_filter = ["channel", "ordered_at"]
    search_fields = ["ref", "customer__ref", "customer__name", "customer__email", "product"]
    list_select_related = ["customer"]
    date_hierarchy = "ordered_at"

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class OrderImportForm(forms.ModelForm):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, with the columns ref,customer_ref,ordered_at,amount,product and optionally "
            "channel. Times in ISO 8601 (2025-03-01T14:30:00+01:00, or without an offset in "
            "the site's time zone), amounts with a point or a comma (12.50 or 12,50), a "
            "negative amount for a refund. A known ref is updated."
        ),
    )

    class Meta:
        model = OrderImport
        fields = ["create_customers"]

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        self.file_name = upload.name
        try:
            return orders.decode(upload.read())
        except orders.ImportFileError as exc:
            raise forms.ValidationError(str(exc), code="encoding") from None


@admin.register(OrderImport)
class OrderImportAdmin(admin.ModelAdmin):
    form = OrderImportForm
    list_display = ["uploaded_at", "file_name", "status", "progress", "created", "updated"]
    list_display += ["refused", "uploaded_by"]
    list_filter = ["status"]
    list_select_related = ["uploaded_by"]
    readonly_fields = [
        "file_name",
        "status",
        "progress",
        "created",
        "updated",
        "refused",
        "refused_rows",
        "error",
        "create_customers",
        "uploaded_by",
        "uploaded_at",
        "started_at",
        "finished_at",
    ]

    def get_fields(self, request: HttpRequest, obj: OrderImport | None = None):
        return ["file", "create_customers"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj: OrderImport | None = None):
        return [] if obj is None else self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # what happened to an upload is history: viewed, not edited

    def save_model(
        self, request: HttpRequest, obj: OrderImport, form: OrderImportForm, change: bool
    ) -> None:
        text = form.cleaned_data["file"]
        obj.file_name = form.file_name[:255]
        obj.content = text
        obj.lines = text.count("\n") + (not text.endswith("\n"))
        obj.language = translation.get_language() or obj.language
        obj.uploaded_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
        order_imports.enqueue(obj)

    def response_add(self, request: HttpRequest, obj: OrderImport, post_url_continue=None):
        # To the upload's page, which follows the import until it is done.
        return redirect(reverse("admin:metrics_orderimport_change", args=[obj.pk]))

    @admin.display(description=_("progress"))
    def progress(self, obj: OrderImport) -> str:
        return format_html(
            '<progress max="100" value="{}">{} %</progress> {}',
            obj.percent_done,
            obj.percent_done,
            _("%(done)s of %(lines)s lines read")
            % {
                "done": number_format(obj.lines_done, force_grouping=True),
                "lines": number_format(obj.lines, force_grouping=True),
            },
        )

    @admin.display(description=_("refused rows"))
    def refused_rows(self, obj: OrderImport) -> str:
        if not obj.refusals:
            return "-"
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", (tuple(r) for r in obj.refusals)
        )
        more = ""
        if obj.refused > len(obj.refusals):
            more = _("The first %(shown)d of %(refused)d refused rows.") % {
                "shown": len(obj.refusals),
                "refused": obj.refused,
            }
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>{}",
            _("Line"),
            _("Column"),
            _("Reason"),
            rows,
            more,
        )


@admin.register(StaffAction)
class StaffActionAdmin(ReadOnlyAdmin):
    """Who did what to which case, export or customer: kept as it was written."""

    list_display = ["created_at", "username", "action", "object_link", "detail"]
    list_filter = ["action", "created_at"]
    search_fields = ["username", "object_id", "detail"]
    date_hierarchy = "created_at"
    list_select_related = ["content_type"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description=_("object"))
    def object_link(self, obj: StaffAction) -> str:
        if obj.content_type is None:
            return "-"
        if obj.content_type.model_class() is FollowUp:
            url = reverse("metrics:followup", args=[obj.object_id])
        else:
            url = reverse(
                f"admin:{obj.content_type.app_label}_{obj.content_type.model}_change",
                args=[obj.object_id],
            )
        return format_html('<a href="{}">{}</a>', url, obj.object_label)
