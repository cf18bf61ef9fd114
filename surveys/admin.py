from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from surveys.api_keys import issue, revoke
from surveys.bursts import BURST_MIN_RESPONSES, bursts
from surveys.models import (
    Answer,
    ApiKey,
    Customer,
    CustomerImport,
    Invitation,
    Question,
    Response,
    Survey,
)
from surveys.published import forget as forget_published
from surveys.services import (
    NotInvited,
    check_invitable,
    create_survey,
    exclude_burst,
    include_burst,
    invite,
)
from surveys.survey_templates import template_choices
from surveys.tasks import start_import

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _copyable_link(url: str, label: "StrOrPromise", size: int = 70) -> str:
    """A link in a read-only box that selects itself, ready to copy, and opens in a tab."""
    return format_html(
        '<input type="text" readonly value="{}" size="{}" aria-label="{}" data-select-on-focus>'
        ' <a href="{}" target="_blank" rel="noopener">{}</a>',
        url,
        size,
        label,
        url,
        _("Open"),
    )


class SurveyCreationForm(forms.ModelForm):
    template = forms.ChoiceField(
        label=_("Template"),
        choices=template_choices,
        help_text=_("The questions and their standard wording; you can edit the wording later."),
    )

    class Meta:
        model = Survey
        fields = ["template", "name", "company", "language", "touchpoint"]


class SurveyChangeForm(forms.ModelForm):
    class Meta:
        model = Survey
        fields = [
            "name",
            "company",
            "status",
            "language",
            "touchpoint",
            "known_touchpoints",
            "known_channels",
            "followup_window_hours",
            "resurvey_throttle_days",
            "reminder_after_days",
            "repeat_every_months",
            "repeat_segment",
            "new_customer_delay_days",
            "send_window_start",
            "send_window_end",
            "anonymous",
            "keep_free_text_months",
            "frame_origins",
        ]
        widgets = {
            "known_touchpoints": forms.Textarea(attrs={"rows": 3, "cols": 40}),
            "known_channels": forms.Textarea(attrs={"rows": 3, "cols": 40}),
        }

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        if not self.instance.can_become(status):
            raise forms.ValidationError(
                _("A %(current)s survey cannot become %(new)s."),
                params={
                    "current": self.instance.get_status_display(),
                    "new": Survey.Status(status).label,
                },
            )
        return status


class BurstForm(forms.Form):
    """Which burst to exclude or include again: a fingerprint as surveys.clients makes it."""

    fingerprint = forms.RegexField(regex=r"\A[0-9a-f]{64}\Z")
    action = forms.ChoiceField(choices=[("exclude", "exclude"), ("include", "include")])


class QuestionInline(admin.StackedInline):
    model = Question
    extra = 0
    can_delete = False
    fields = [
        ("position", "role", "scale_min", "scale_max", "required"),
        ("text_en", "text_nl"),
        ("low_label_en", "low_label_nl"),
        ("high_label_en", "high_label_nl"),
    ]
    # The template fixes what is asked and on which scale; staff edit the wording.
    readonly_fields = ["position", "role", "scale_min", "scale_max"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    form = SurveyChangeForm
    add_form = SurveyCreationForm
    # The list keeps to what fits a screen; company, language and dates are searched,
    # filtered or on the change page.
    list_display = [
        "name",
        "kind",
        "status",
        "response_count",
        "public_link_to_copy",
    ]
    list_filter = ["status", "kind", "language"]
    search_fields = ["name", "company", "slug", "touchpoint"]
    actions = ["make_live", "close"]
    readonly_fields = ["public_link", "kind", "response_count", "bursts_link", "created_at"]
    fieldsets = [
        (None, {"fields": ["name", "company", "status", "public_link"]}),
        (
            _("Settings"),
            {
                "fields": [
                    "language",
                    "touchpoint",
                    ("known_touchpoints", "known_channels"),
                    "followup_window_hours",
                    "resurvey_throttle_days",
                    "frame_origins",
                ]
            },
        ),
        (
            _("Sending by email"),
            {
                "fields": [
                    "reminder_after_days",
                    "repeat_every_months",
                    "repeat_segment",
                    "new_customer_delay_days",
                    ("send_window_start", "send_window_end"),
                ]
            },
        ),
        (_("Privacy"), {"fields": ["anonymous", "keep_free_text_months"]}),
        (_("About"), {"fields": ["kind", "response_count", "bursts_link", "created_at"]}),
    ]
    inlines = [QuestionInline]

    class Media:
        js = ["js/select-on-focus.js"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Survey]:
        return super().get_queryset(request).annotate(_response_count=Count("responses"))

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        if obj is None:
            kwargs["form"] = self.add_form
            kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None):
        if obj is None:
            return [(None, {"fields": ["template", "name", "company", "language", "touchpoint"]})]
        return super().get_fieldsets(request, obj)

    def get_inlines(self, request: HttpRequest, obj: Any = None):
        return self.inlines if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Survey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
        else:
            create_survey(survey=obj, template=form.cleaned_data["template"])

    @admin.display(description=_("responses"), ordering="_response_count")
    def response_count(self, obj: Survey) -> int:
        return obj._response_count  # type: ignore[attr-defined]

    @admin.display(description=_("suspicious bursts"))
    def bursts_link(self, obj: Survey) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:surveys_survey_bursts", args=[obj.pk]),
            _("Many answers from one client on one day"),
        )

    def get_urls(self):
        view = self.admin_site.admin_view(self.bursts_view)
        return [path("<int:pk>/bursts/", view, name="surveys_survey_bursts"), *super().get_urls()]

    def bursts_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The survey's bursts; a POST excludes one from the scores or includes it again."""
        survey = get_object_or_404(Survey, pk=pk)
        if not self.has_change_permission(request, survey):
            raise PermissionDenied
        if request.method == "POST":
            form = BurstForm(request.POST)
            if not form.is_valid():
                self.message_user(request, _("Nothing changed."), messages.WARNING)
                return redirect("admin:surveys_survey_bursts", survey.pk)
            fingerprint = form.cleaned_data["fingerprint"]
            if form.cleaned_data["action"] == "include":
                count = include_burst(survey=survey, fingerprint=fingerprint)
                text = ngettext(
                    "%(count)d answer counts in the scores again; the scores were recomputed.",
                    "%(count)d answers count in the scores again; the scores were recomputed.",
                    count,
                )
            else:
                count = exclude_burst(survey=survey, fingerprint=fingerprint)
                text = ngettext(
                    "%(count)d answer was excluded from the scores; the scores were recomputed.",
                    "%(count)d answers were excluded from the scores; the scores were recomputed.",
                    count,
                )
            if count:
                self.message_user(request, text % {"count": count}, messages.SUCCESS)
            else:
                self.message_user(request, _("Nothing changed."), messages.WARNING)
            return redirect("admin:surveys_survey_bursts", survey.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Suspicious bursts of %(survey)s") % {"survey": survey},
            "survey": survey,
            "bursts": bursts(survey),
            "min_responses": BURST_MIN_RESPONSES,
        }
        return TemplateResponse(request, "admin/surveys/survey/bursts.html", context)

    @admin.display(description=_("public link"))
    def public_link(self, obj: Survey) -> str:
        return _copyable_link(obj.public_url, _("public link")) if obj.pk else "-"

    @admin.display(description=_("public link"))
    def public_link_to_copy(self, obj: Survey) -> str:
        return _copyable_link(obj.public_url, _("public link"), size=12)

    @admin.action(description=_("Make the selected surveys live"))
    def make_live(self, request: HttpRequest, queryset: QuerySet[Survey]) -> None:
        self._transition(request, queryset, Survey.Status.LIVE)

    @admin.action(description=_("Close the selected surveys"))
    def close(self, request: HttpRequest, queryset: QuerySet[Survey]) -> None:
        self._transition(request, queryset, Survey.Status.CLOSED)

    def _transition(self, request: HttpRequest, queryset: QuerySet[Survey], status: str) -> None:
        allowed = [s.pk for s in queryset if s.status != status and s.can_become(status)]
        changed = Survey.objects.filter(pk__in=allowed).update(status=status)
        forget_published()  # an update() sends no post_save
        skipped = queryset.count() - changed
        label = Survey.Status(status).label
        self.message_user(
            request,
            ngettext(
                "%(count)d survey is now %(status)s.",
                "%(count)d surveys are now %(status)s.",
                changed,
            )
            % {"count": changed, "status": label},
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d survey was left as it was: it cannot become %(status)s.",
                    "%(count)d surveys were left as they were: they cannot become %(status)s.",
                    skipped,
                )
                % {"count": skipped, "status": label},
                messages.WARNING,
            )


class CustomerImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns ref, email, name, segment and language; optional phone, customer_since "
            "and customer_until. Separated by commas or semicolons, in UTF-8. Customers whose "
            "reference exists are updated."
        ),
    )


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "email",
        "reachable",
        "phone",
        "ref",
        "segment",
        "customer_since",
        "customer_until",
    ]
    list_filter = [
        "segment",
        "language",
        ("opted_out_at", admin.EmptyFieldListFilter),
        ("bouncing_since", admin.EmptyFieldListFilter),
    ]
    search_fields = ["name", "email", "phone", "ref"]
    readonly_fields = ["opted_out_at", "bouncing_since", "erased_at", "created_at"]
    change_list_template = "admin/surveys/customer/change_list.html"

    @admin.display(description=_("survey email"))
    def reachable(self, obj: Customer) -> str:
        if obj.erased_at:
            return str(_("erased"))
        if obj.opted_out_at:
            return str(_("opted out"))
        if obj.bouncing_since:
            return str(_("bouncing"))
        return "" if obj.email else str(_("no email"))

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        if change and "email" in form.changed_data:
            obj.bouncing_since = None  # staff corrected the address: try it again
        super().save_model(request, obj, form, change)

    def get_urls(self):
        views = [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="surveys_customer_import",
            ),
            path(
                "import/<int:pk>/",
                self.admin_site.admin_view(self.import_status_view),
                name="surveys_customer_import_status",
            ),
        ]
        return views + super().get_urls()

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            raise PermissionDenied
        form = CustomerImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            started = start_import(
                file_name=upload.name, data=upload.read(), language=request.LANGUAGE_CODE
            )
            return redirect("admin:surveys_customer_import_status", started.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import customers"),
            "form": form,
        }
        return TemplateResponse(request, "admin/surveys/customer/import.html", context)

    def import_status_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        upload = get_object_or_404(CustomerImport.objects.defer("data"), pk=pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import of %(file)s") % {"file": upload.file_name},
            "upload": upload,
            "running": upload.status
            in (CustomerImport.Status.QUEUED, CustomerImport.Status.RUNNING),
        }
        return TemplateResponse(request, "admin/surveys/customer/import_status.html", context)


class InvitationForm(forms.ModelForm):
    class Meta:
        model = Invitation
        fields = ["survey", "customer"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        survey, customer = cleaned.get("survey"), cleaned.get("customer")
        if self.instance.pk is None and survey and customer:
            try:
                check_invitable(survey=survey, customer=customer)
            except NotInvited as exc:
                raise forms.ValidationError(exc.message, code=exc.reason) from None
        return cleaned

    def full_clean(self) -> None:
        super().full_clean()
        # The admin's autocomplete widget looks the submitted choice up again to show it,
        # and a value that is no id at all fails that query: such a field is shown empty,
        # with its error.
        refused = [name for name in self.Meta.fields if name in self.errors]
        if refused:
            self.data = {name: value for name, value in self.data.items() if name not in refused}


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    form = InvitationForm
    list_display = ["customer", "survey", "created_at", "sent_at", "responded_at"]
    list_filter = ["survey", ("responded_at", admin.EmptyFieldListFilter)]
    search_fields = ["customer__email", "customer__name", "customer__ref", "survey__name"]
    list_select_related = ["customer", "survey"]
    autocomplete_fields = ["customer", "survey"]
    readonly_fields = ["link", "created_at", "sent_at", "reminded_at", "responded_at"]

    class Media:
        js = ["js/select-on-focus.js"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        # Who was invited to what is history once the link exists.
        fixed = ["survey", "customer"] if obj is not None else []
        return [*fixed, *self.readonly_fields]

    def save_model(self, request: HttpRequest, obj: Invitation, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # Through the service, so its throttle holds here as for every other way in.
        obj.pk = invite(survey=obj.survey, customer=obj.customer).pk
        obj.refresh_from_db()

    @admin.display(description=_("personal link"))
    def link(self, obj: Invitation) -> str:
        return _copyable_link(obj.url, _("personal link")) if obj.pk else "-"


class AnswerInline(admin.TabularInline):
    model = Answer
    extra = 0
    can_delete = False
    fields = readonly_fields = ("question", "value", "text")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    # Language and channel are filters: the comment needs the room.
    list_display = ["survey", "submitted_at", "customer", "comment", "touchpoint"]
    list_filter = [
        "survey",
        "language",
        "touchpoint",
        "channel",
        ("excluded_at", admin.EmptyFieldListFilter),
        "submitted_at",
    ]
    search_fields = ["customer__email", "customer__ref", "survey__name"]
    list_select_related = ["survey", "customer"]
    date_hierarchy = "submitted_at"
    inlines = [AnswerInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Response]:
        comments = Answer.objects.filter(response=OuterRef("pk"), question__role="comment")
        return (
            super().get_queryset(request).annotate(_comment=Subquery(comments.values("text")[:1]))
        )

    @admin.display(description=_("comment"))
    def comment(self, obj: Response) -> str:
        return Truncator(obj._comment or "").chars(80)  # type: ignore[attr-defined]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=capfirst(ApiKey._meta.get_field("scopes").verbose_name),
        choices=ApiKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Read: customers, responses and scores. Write: change them. Send: survey requests."
        ),
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "survey"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = [
        "name",
        "prefix",
        "scope_names",
        "survey",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_keys"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.Form, change: bool) -> None:
        if not change:
            obj._key = issue(obj)  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        # The one time the key is seen, on this page alone: not in a message, which the
        # next page would show from a cookie.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": obj.name,
            "api_key": obj,
            "key": obj._key,  # type: ignore[attr-defined]
        }
        return TemplateResponse(request, "admin/surveys/apikey/created.html", context)

    @admin.display(description=_("scopes"))
    def scope_names(self, obj: ApiKey) -> str:
        return ", ".join(str(ApiKey.Scope(scope).label) for scope in obj.scopes)

    @admin.action(description=_("Revoke the selected keys"))
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        live = list(queryset.filter(revoked_at__isnull=True))
        for api_key in live:
            revoke(api_key)
        self.message_user(
            request,
            ngettext("%(count)d key revoked.", "%(count)d keys revoked.", len(live))
            % {"count": len(live)},
            messages.SUCCESS,
        )
