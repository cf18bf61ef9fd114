from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from metrics import dashboard, exports, health, kpi_report, reach, sharing, sla
from metrics.access import dashboard_view
from metrics.models import StaffAction
from metrics.periods import PeriodForm
from metrics.staff_actions import record_staff_action
from surveys.models import Survey


def _survey(pk: int) -> Survey:
    return get_object_or_404(Survey.objects.prefetch_related("questions"), pk=pk)


@require_safe
@dashboard_view
def overview(request: HttpRequest) -> HttpResponse:
    form = PeriodForm(request.GET or None)
    live = Survey.objects.filter(status=Survey.Status.LIVE).prefetch_related("questions")
    cards = dashboard.cards(live.order_by("name"), form.period)
    return render(
        request, "metrics/overview.html", {"form": form, "period": form.period, "cards": cards}
    )


@require_safe
@dashboard_view
def survey_report(request: HttpRequest, pk: int) -> HttpResponse:
    survey = _survey(pk)
    form = PeriodForm(request.GET or None)
    only_unhappy = request.GET.get("comments") == "unhappy"
    report = dashboard.report(survey, form.period, only_unhappy=only_unhappy)
    context = {
        "survey": survey,
        "form": form,
        "period": form.period,
        "report": report,
        "only_unhappy": only_unhappy,
        "report_filters": {"comments": "unhappy"} if only_unhappy else {},
        "response_rates": reach.response_rates(survey),
    }
    return render(request, "metrics/survey.html", context)


@require_safe
@dashboard_view
def survey_scores(request: HttpRequest, pk: int) -> JsonResponse:
    survey = _survey(pk)
    form = PeriodForm(request.GET or None)
    return JsonResponse(dashboard.headline_json(survey, form.period))


@require_safe
@dashboard_view
def export(request: HttpRequest, pk: int, fmt: str) -> HttpResponseBase:
    survey = _survey(pk)
    form = PeriodForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        problems = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return HttpResponseBadRequest(problems, content_type="text/plain; charset=utf-8")
    period = form.period
    record_staff_action(
        by=request.user,
        action=StaffAction.Action.RESPONSES_EXPORTED,
        target=survey,
        detail=f"{fmt.upper()} {period.start.isoformat()}/{period.end.isoformat()}",
    )
    if fmt == "xlsx":
        return exports.xlsx_response(survey, period)
    return exports.csv_response(survey, period)


@require_safe
@dashboard_view
def sla_report(request: HttpRequest) -> HttpResponse:
    form = PeriodForm(request.GET or None)
    by = sla.BY_AGENT if request.GET.get("by") == sla.BY_AGENT else sla.BY_SURVEY
    rows = sla.sla_rows(form.period, by)
    context = {
        "form": form,
        "period": form.period,
        "by": by,
        "sla_filters": {"by": by},
        "rows": rows,
        "totals": [row for row in rows if row.is_total],
        "chart": sla.share_chart(form.period, rows),
    }
    return render(request, "metrics/sla.html", context)


@require_safe
@dashboard_view
def qr_code(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    survey = get_object_or_404(Survey, pk=pk)
    content_type = {"svg": "image/svg+xml", "png": "image/png"}[kind]
    response = HttpResponse(sharing.qr_code(survey, kind), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="survey-{survey.pk}-qr.{kind}"'
    return response


@require_safe
@dashboard_view
def kpi_page(request: HttpRequest) -> HttpResponse:
    form = kpi_report.KpiForm(request.GET or None)
    report = kpi_report.report(form.choice)
    return render(
        request,
        "metrics/kpis.html",
        {
            "form": form,
            "report": report,
            "units": kpi_report.UNITS,
            "order_kpis": kpi_report.ORDER_KPIS,
            "currency": settings.CURRENCY,
            "time_zone": settings.TIME_ZONE,
        },
    )


@require_safe
@dashboard_view
def kpi_export(request: HttpRequest) -> HttpResponseBase:
    form = kpi_report.KpiForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        problems = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return HttpResponseBadRequest(problems, content_type="text/plain; charset=utf-8")
    choice = form.choice
    segment = f" {choice.segment}" if choice.segment else ""
    record_staff_action(
        by=request.user,
        action=StaffAction.Action.KPIS_EXPORTED,
        detail=f"CSV {choice.unit} {choice.period.start.isoformat()}{segment}",
    )
    return exports.kpi_csv_response(choice, kpi_report.trend(choice))


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: no login, no personal data; 503 names what failed."""
    now = timezone.now()
    status = health.check(now)
    return JsonResponse(status.as_json(now), status=200 if status.healthy else 503)
