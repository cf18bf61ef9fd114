"""The metrics app's REST endpoints: responses with their follow-up cases, the cases
themselves, survey requests, orders, scores and the loyalty KPIs. Each calls the service
the site's own pages and commands call (loyaltysite.api_urls puts them together)."""

import csv
import io
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.validators import RegexValidator
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from metrics import dashboard, followups, kpis, orders, requests
from metrics.forms import colleagues
from metrics.models import FollowUp, FollowUpNote, SurveyRequest
from metrics.periods import EARLIEST, LATEST, MAX_DAYS, PeriodForm
from metrics.staff_actions import acting_as
from surveys.api import CustomerSerializer
from surveys.api_access import (
    ByRefList,
    CheckedCharField,
    Pages,
    every_survey,
    key_of,
    of_its_survey,
    query_text,
    survey_of,
)
from surveys.imports import upsert_customers
from surveys.models import Answer, ApiKey, Customer, Response


class AnswerSerializer(serializers.Serializer):
    role = serializers.CharField(source="question.role")
    value = serializers.IntegerField(allow_null=True)
    text = serializers.CharField()


class FollowUpSummary(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    reason = serializers.CharField()
    due_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)


class ResponseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    survey = serializers.CharField(source="survey.slug")
    submitted_at = serializers.DateTimeField()
    language = serializers.CharField()
    customer = serializers.CharField(source="customer.ref", allow_null=True, default=None)
    touchpoint = serializers.CharField()
    channel = serializers.CharField()
    metadata = serializers.DictField(child=serializers.CharField())
    excluded = serializers.SerializerMethodField()
    answers = AnswerSerializer(many=True)
    followup = serializers.SerializerMethodField()

    def get_excluded(self, response: Response) -> bool:
        return response.excluded_at is not None

    @extend_schema_field(FollowUpSummary(allow_null=True))
    def get_followup(self, response: Response) -> dict[str, Any] | None:
        case = getattr(response, "followup", None)
        return None if case is None else dict(FollowUpSummary(case).data)


# The steps that can change a case's status as FollowUpSummary shows it, and leave no
# column of the case saying when: starting it, a contact (first_contact_at keeps only
# the first), reopening it (resolved_at is emptied), also as its answer counts again.
UNRECORDED_CASE_STEPS = [
    FollowUpNote.Kind.STARTED,
    FollowUpNote.Kind.PHONE,
    FollowUpNote.Kind.EMAIL,
    FollowUpNote.Kind.REPLY,
    FollowUpNote.Kind.REOPENED,
    FollowUpNote.Kind.INCLUDED,
]


def _updated_since(moment: datetime) -> Q:
    """Responses submitted at or after `moment`, or of which something ResponseSerializer
    shows changed then or later, as far as a timestamp tells: see UPDATED_SINCE. Each
    response matches once (subqueries, not joins that repeat it)."""
    case = FollowUp.objects.filter(response=OuterRef("pk"))
    return (
        Q(submitted_at__gte=moment)
        | Q(processed_at__gte=moment)
        | Q(excluded_at__gte=moment)
        | Q(customer__erased_at__gte=moment)
        | Exists(
            case.filter(
                Q(created_at__gte=moment)
                | Q(first_contact_at__gte=moment)
                | Q(resolved_at__gte=moment)
            )
        )
        | Exists(
            FollowUpNote.objects.filter(
                followup__response=OuterRef("pk"),
                kind__in=UNRECORDED_CASE_STEPS,
                created_at__gte=moment,
            )
        )
    )


UPDATED_SINCE = (
    "Submitted, or updated, at or after this time. An update is: being processed (counted "
    "in the scores, announced by the response.created webhook, a case opened if it needs "
    "one); being excluded from the scores; its customer's erasure; and each step that can "
    "change its case's status: started, contact logged, resolved (also by an exclusion), "
    "reopened (also by the answer counting again). Not an update, as nothing records when "
    "it happened: an exclusion lifted where no case reopens, comments and link details "
    "removed as they expire, erasure of a public-link answer by the reference it carried, "
    "a change to its customer's ref or the customer's deletion. Nor is what the list does "
    "not show: a case's assignee, notes, escalation and reminders. A response updated "
    "behind your cursor while you page is not listed again: start your next poll from "
    "the time this one started."
)


def _moment(request: Request, name: str) -> datetime | None:
    raw = query_text(request, name)
    if raw is None:
        return None
    try:
        moment = parse_datetime(raw)
    except ValueError:  # well formed, but no such time (a 13th month)
        moment = None
    if moment is None or moment.tzinfo is None:
        raise exceptions.ValidationError(
            {name: [_("Give a time in ISO 8601 with its offset, e.g. 2026-05-01T00:00:00Z.")]}
        )
    return moment


class Responses(APIView):
    """Responses, oldest first, with their answers and follow-up case, page by page."""

    @extend_schema(
        parameters=[
            OpenApiParameter("survey", str, description="A survey's slug."),
            OpenApiParameter("since", datetime, description="Submitted at or after."),
            OpenApiParameter("until", datetime, description="Submitted before."),
            OpenApiParameter("customer", str, description="A customer's ref."),
            OpenApiParameter("updated_since", datetime, description=UPDATED_SINCE),
        ],
        responses=ResponseSerializer(many=True),
    )
    def get(self, request: Request) -> ApiResponse:
        found: QuerySet[Response] = of_its_survey(request, Response.objects.all())
        if "survey" in request.query_params:
            found = found.filter(survey=survey_of(request, request.query_params["survey"]))
        if (since := _moment(request, "since")) is not None:
            found = found.filter(submitted_at__gte=since)
        if (until := _moment(request, "until")) is not None:
            found = found.filter(submitted_at__lt=until)
        if (ref := query_text(request, "customer")) is not None:
            found = found.filter(customer__ref=ref)
        if (moment := _moment(request, "updated_since")) is not None:
            found = found.filter(_updated_since(moment))
        found = found.select_related("survey", "customer", "followup").prefetch_related(
            Prefetch("answers", Answer.objects.select_related("question").order_by("question"))
        )
        pages = Pages()
        page = pages.paginate_queryset(found, request, view=self) or []
        return pages.get_paginated_response(ResponseSerializer(page, many=True).data)


class Scores(APIView):
    """A survey's headline score: over all its answers, as `manage.py scores SLUG --json`
    gives it, or of the days from `start` to `end`, as its dashboard shows them."""

    @extend_schema(
        parameters=[
            OpenApiParameter("survey", str, required=True, description="A survey's slug."),
            OpenApiParameter("start", str, description="First day, YYYY-MM-DD."),
            OpenApiParameter("end", str, description="Last day, YYYY-MM-DD."),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> ApiResponse:
        if "survey" not in request.query_params:
            raise exceptions.ValidationError({"survey": [_("Give a survey's slug.")]})
        survey = survey_of(request, request.query_params["survey"])
        if not {"start", "end"} & set(request.query_params):
            return ApiResponse(dashboard.headline_json(survey, None))
        form = PeriodForm(request.query_params)
        if not form.is_valid():
            errors = {
                "non_field_errors" if name == NON_FIELD_ERRORS else name: [str(e) for e in found]
                for name, found in form.errors.items()
            }
            raise exceptions.ValidationError(errors)
        return ApiResponse(dashboard.headline_json(survey, form.period))


# The reasons a request is skipped, as the API names them.
API_REASONS = {"without_email": "no_email"}


class RequestMetadata(serializers.Serializer):
    touchpoint = CheckedCharField(max_length=100, required=False, allow_blank=True)
    channel = CheckedCharField(max_length=100, required=False, allow_blank=True)
    ref = CheckedCharField(max_length=100, required=False, allow_blank=True)


class SurveyRequestIn(serializers.Serializer):
    survey = CheckedCharField(max_length=100)
    customer = CustomerSerializer()
    delay = serializers.IntegerField(
        min_value=0, max_value=int(requests.MAX_DELAY.total_seconds()), default=0
    )
    metadata = RequestMetadata(required=False)


class SurveyRequestOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    reason = serializers.CharField()
    survey = serializers.CharField(source="survey.slug")
    customer = serializers.CharField(source="customer.ref")
    send_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    handled_at = serializers.DateTimeField(allow_null=True)


class SurveyRequests(APIView):
    """Send a survey to a customer (created or updated on the fly) after a delay, unless
    the rules against over-surveying refuse; list the requests."""

    scope = ApiKey.Scope.SEND

    @extend_schema(
        request=SurveyRequestIn,
        responses={201: SurveyRequestOut, 200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> ApiResponse:
        given = SurveyRequestIn(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        survey = survey_of(request, data["survey"])
        if not survey.is_live:
            raise exceptions.ValidationError({"survey": [_("This survey is not live.")]})
        customer = Customer.objects.filter(ref=data["customer"]["ref"]).first()
        # A key that may change customers (write, all surveys) updates one it names;
        # another key only adds a missing one.
        api_key = key_of(request)
        if customer is None or (api_key.allows(ApiKey.Scope.WRITE) and not api_key.survey_id):
            upsert_customers([dict(data["customer"])])
            customer = Customer.objects.get(ref=data["customer"]["ref"])
        metadata = {k: v for k, v in data.get("metadata", {}).items() if v}
        made = requests.request_survey(
            survey=survey,
            customer=customer,
            delay=timedelta(seconds=data["delay"]),
            metadata=metadata,
        )
        if isinstance(made, str):
            return ApiResponse({"status": "skipped", "reason": API_REASONS.get(made, made)})
        return ApiResponse(SurveyRequestOut(made).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=SurveyRequest.Status.values),
            OpenApiParameter("survey", str, description="A survey's slug."),
        ],
        responses=SurveyRequestOut(many=True),
    )
    def get(self, request: Request) -> ApiResponse:
        found = of_its_survey(request, SurveyRequest.objects.all())
        if "survey" in request.query_params:
            found = found.filter(survey=survey_of(request, request.query_params["survey"]))
        if (wanted := request.query_params.get("status")) is not None:
            if wanted not in SurveyRequest.Status.values:
                raise exceptions.ValidationError({"status": [_("Not a valid value.")]})
            found = found.filter(status=wanted)
        pages = Pages()
        page = pages.paginate_queryset(
            found.select_related("survey", "customer"), request, view=self
        )
        return pages.get_paginated_response(SurveyRequestOut(page or [], many=True).data)


class OneSurveyRequest(APIView):
    scope = ApiKey.Scope.SEND

    def _request(self, request: Request, pk: int) -> SurveyRequest:
        found = of_its_survey(request, SurveyRequest.objects.filter(pk=pk)).first()
        if found is None:
            raise exceptions.NotFound(_("There is no such survey request."))
        return found

    @extend_schema(responses=SurveyRequestOut)
    def get(self, request: Request, pk: int) -> ApiResponse:
        return ApiResponse(SurveyRequestOut(self._request(request, pk)).data)

    @extend_schema(responses={200: SurveyRequestOut, 409: OpenApiTypes.OBJECT})
    def delete(self, request: Request, pk: int) -> ApiResponse:
        """Cancel a request that is not sent yet."""
        survey_request = self._request(request, pk)
        if not requests.cancel(survey_request):
            return ApiResponse(
                {
                    "message": _(
                        "This request is %(status)s already; only a scheduled one can be cancelled."
                    )
                    % {"status": survey_request.get_status_display().lower()},
                    "field": None,
                },
                status=status.HTTP_409_CONFLICT,
            )
        return ApiResponse(SurveyRequestOut(survey_request).data)


class KpisIn(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField(help_text="Not included.")
    segment = CheckedCharField(max_length=100, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError(
                {"end": [_("The end must be after the start: the period is [start, end).")]}
            )
        for name in ("start", "end"):
            if not EARLIEST <= attrs[name] <= LATEST:
                raise serializers.ValidationError(
                    {name: [_("Choose dates between %(earliest)s and %(latest)s.")
                            % {"earliest": EARLIEST.year, "latest": LATEST.year}]}
                )  # fmt: skip
        if (attrs["end"] - attrs["start"]).days > MAX_DAYS:
            raise serializers.ValidationError(
                {"end": [_("Choose a range of at most %(years)d years.")
                         % {"years": MAX_DAYS // 366}]}
            )  # fmt: skip
        return attrs


class Kpis(APIView):
    """The loyalty KPIs of the days from `start` up to (not including) `end`: the same
    object as `manage.py kpis --start --end --json`."""

    @extend_schema(parameters=[KpisIn], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> ApiResponse:
        every_survey(request)
        given = KpisIn(data=request.query_params)
        given.is_valid(raise_exception=True)
        start, end = given.validated_data["start"], given.validated_data["end"]
        segment = given.validated_data["segment"]
        row, groups = kpis.of_days(start, end, segment=segment)
        return ApiResponse(kpis.as_json(row, groups, segment))


# Orders one request may create or update.
ORDERS_PER_REQUEST = 10_000


class OneLineField(CheckedCharField):
    """Text on one line: an order becomes one line of the import's CSV."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(
            RegexValidator(r"[\r\n]", _("Must be on one line."), inverse_match=True)
        )


class OrderIn(serializers.Serializer):
    ref = OneLineField(max_length=100)
    customer_ref = OneLineField(max_length=100)
    ordered_at = OneLineField(
        max_length=40, help_text="ISO 8601; without an offset, the site's local time."
    )
    amount = OneLineField(max_length=20, help_text='A number, e.g. "19.95" or 19.95.')
    product = OneLineField(max_length=200)
    channel = OneLineField(max_length=100, required=False, allow_blank=True, default="")

    def to_internal_value(self, data: Any) -> Any:
        # An amount may come as a JSON number; the import checks it as the text it reads.
        if isinstance(data, dict) and isinstance(data.get("amount"), int | float):
            data = {**data, "amount": str(data["amount"])}
        return super().to_internal_value(data)


class OrderList(ByRefList):
    child = OrderIn()
    most = ORDERS_PER_REQUEST


class OrdersRefused(Exception):
    def __init__(self, result: orders.ImportResult) -> None:
        self.result = result


class Orders(APIView):
    """Create or update orders by `ref` (up to 10,000 a request), for the loyalty KPIs:
    the same checks and the same upsert as `manage.py import_orders`. All or nothing: one
    refused order and none is written."""

    @extend_schema(request=OrderIn(many=True), responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> ApiResponse:
        every_survey(request)
        given = OrderList(data=request.data)
        given.is_valid(raise_exception=True)
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow([*orders.COLUMNS, *orders.OPTIONAL_COLUMNS])
        for row in given.validated_data:
            writer.writerow([row[name] for name in (*orders.COLUMNS, *orders.OPTIONAL_COLUMNS)])
        try:
            with transaction.atomic():
                result = orders.import_orders(lines=io.StringIO(text.getvalue()))
                if result.refusals:
                    raise OrdersRefused(result)
        except OrdersRefused as refused:
            # Line 1 is the header: the order at index i is on line i + 2.
            errors = {f"{r.line - 2}.{r.column}": [r.reason] for r in refused.result.refusals}
            raise exceptions.ValidationError(errors) from None
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return ApiResponse({"created": result.created, "updated": result.updated}, status=code)


class NoteOut(serializers.Serializer):
    kind = serializers.CharField()
    text = serializers.CharField()
    by = serializers.CharField(source="by_name", allow_null=True)
    at = serializers.DateTimeField(source="created_at")


class FollowUpOut(serializers.Serializer):
    id = serializers.IntegerField()
    survey = serializers.CharField(source="survey.slug")
    response = serializers.IntegerField(source="response_id")
    customer = serializers.CharField(source="response.customer.ref", default=None)
    reason = serializers.CharField()
    score = serializers.IntegerField()
    comment = serializers.CharField()
    status = serializers.CharField()
    assignee = serializers.CharField(source="assignee.get_username", default=None)
    created_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    first_contact_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolution = serializers.CharField()


class FollowUpDetail(FollowUpOut):
    notes = NoteOut(many=True)


class FollowUpChange(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[FollowUp.Status.IN_PROGRESS, FollowUp.Status.RESOLVED], required=False
    )
    assignee = CheckedCharField(max_length=150, required=False, allow_null=True)
    resolution = CheckedCharField(max_length=5000, required=False, allow_blank=True, default="")


class NoteIn(serializers.Serializer):
    text = CheckedCharField(max_length=5000)


def _cases(request: Request) -> QuerySet[FollowUp]:
    return of_its_survey(request, FollowUp.objects.all()).select_related(
        "survey", "assignee", "response__customer"
    )


def _case(request: Request, pk: int) -> FollowUp:
    case = _cases(request).filter(pk=pk).first()
    if case is None:
        raise exceptions.NotFound(_("There is no such case."))
    return case


def _actor(request: Request) -> str:
    api_key = key_of(request)
    return f"API key {api_key.name} ({api_key.prefix})"


class FollowUps(APIView):
    """Follow-up cases, oldest first."""

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=FollowUp.Status.values),
            OpenApiParameter("survey", str, description="A survey's slug."),
        ],
        responses=FollowUpOut(many=True),
    )
    def get(self, request: Request) -> ApiResponse:
        found = _cases(request)
        if "survey" in request.query_params:
            found = found.filter(survey=survey_of(request, request.query_params["survey"]))
        if (wanted := request.query_params.get("status")) is not None:
            if wanted not in FollowUp.Status.values:
                raise exceptions.ValidationError({"status": [_("Not a valid value.")]})
            found = found.filter(status=wanted)
        pages = Pages()
        page = pages.paginate_queryset(found, request, view=self)
        return pages.get_paginated_response(FollowUpOut(page or [], many=True).data)


class OneFollowUp(APIView):
    """A case with its notes; assign it, mark it in progress (again) or resolve it."""

    @extend_schema(responses=FollowUpDetail)
    def get(self, request: Request, pk: int) -> ApiResponse:
        case = _case(request, pk)
        notes = NoteOut(case.notes.select_related("author"), many=True).data
        return ApiResponse({**FollowUpOut(case).data, "notes": notes})

    @extend_schema(request=FollowUpChange, responses=FollowUpDetail)
    def patch(self, request: Request, pk: int) -> ApiResponse:
        case = _case(request, pk)
        given = FollowUpChange(data=request.data)
        given.is_valid(raise_exception=True)
        change = given.validated_data
        assignee = None
        if change.get("assignee"):
            assignee = colleagues().filter(username=change["assignee"]).first()
            if assignee is None:
                raise exceptions.ValidationError(
                    {"assignee": [_("No colleague may hold cases by that user name.")]}
                )
        try:
            with acting_as(_actor(request)), transaction.atomic():
                if "assignee" in change:
                    followups.assign(followup=case, to=assignee, by=None)
                if change.get("status") == FollowUp.Status.RESOLVED:
                    followups.resolve(followup=case, by=None, resolution=change["resolution"])
                elif change.get("status") == FollowUp.Status.IN_PROGRESS:
                    if case.status == FollowUp.Status.RESOLVED:
                        followups.reopen(followup=case, by=None, note=change["resolution"])
                    else:
                        followups.start(followup=case, by=None)
        except followups.CaseResolved:
            raise exceptions.ValidationError(
                {"status": [_("This case is resolved; mark it in progress first.")]}
            ) from None
        return self.get(request, pk)


class FollowUpNotes(APIView):
    """Add a note to a case (an internal note: it does not count as contact)."""

    @extend_schema(request=NoteIn, responses={201: NoteOut})
    def post(self, request: Request, pk: int) -> ApiResponse:
        case = _case(request, pk)
        given = NoteIn(data=request.data)
        given.is_valid(raise_exception=True)
        with acting_as(_actor(request)):
            followups.log_contact(
                followup=case,
                by=None,
                kind=FollowUpNote.Kind.NOTE,
                text=given.validated_data["text"],
            )
        note = case.notes.order_by("-pk").first()
        return ApiResponse(NoteOut(note).data, status=status.HTTP_201_CREATED)
