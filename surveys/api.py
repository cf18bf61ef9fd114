"""The surveys app's REST endpoints: customers (list, create or update by ref, opt out)."""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from surveys.api_access import ByRefList, CheckedCharField, Pages, every_survey, query_text
from surveys.imports import upsert_customers
from surveys.models import Customer, Language
from surveys.services import opt_out


class BearerKey(OpenApiAuthenticationExtension):
    """Tells the OpenAPI document (and its docs page) how to give the key."""

    target_class = "surveys.api_access.ApiKeyAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}


# Customers one request may create or update.
CUSTOMERS_PER_REQUEST = 1000


class CustomerSerializer(serializers.Serializer):
    ref = CheckedCharField(max_length=100)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    name = CheckedCharField(max_length=200, required=False, allow_blank=True)
    language = serializers.ChoiceField(choices=Language.choices, required=False, allow_blank=True)
    segment = CheckedCharField(max_length=100, required=False, allow_blank=True)
    opted_out_at = serializers.DateTimeField(read_only=True)
    bouncing_since = serializers.DateTimeField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class CustomerList(ByRefList):
    child = CustomerSerializer()
    most = CUSTOMERS_PER_REQUEST


class Customers(APIView):
    """List customers; create or update them by `ref`, one object or a list of up to
    1,000. A field left out keeps its value."""

    @extend_schema(
        parameters=[
            OpenApiParameter("ref", str),
            OpenApiParameter("email", str),
            OpenApiParameter("segment", str),
        ],
        responses=CustomerSerializer(many=True),
    )
    def get(self, request: Request) -> ApiResponse:
        every_survey(request)
        customers: QuerySet[Customer] = Customer.objects.filter(erased_at__isnull=True)
        for name, lookup in [("ref", "ref"), ("email", "email__iexact"), ("segment", "segment")]:
            if (given := query_text(request, name)) is not None:
                customers = customers.filter(**{lookup: given})
        pages = Pages()
        page = pages.paginate_queryset(customers, request, view=self) or []
        return pages.get_paginated_response(CustomerSerializer(page, many=True).data)

    @extend_schema(request=CustomerSerializer, responses={200: CustomerSerializer})
    def post(self, request: Request) -> ApiResponse:
        every_survey(request)
        many = isinstance(request.data, list)
        given = CustomerList(data=request.data) if many else CustomerSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        rows = given.validated_data if many else [given.validated_data]
        created, updated = upsert_customers([dict(row) for row in rows])
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        saved = Customer.objects.filter(ref__in=[row["ref"] for row in rows]).order_by("pk")
        data = CustomerSerializer(saved, many=True).data
        if not many:
            return ApiResponse(data[0], status=code)
        return ApiResponse({"created": created, "updated": updated, "results": data}, status=code)


class CustomerOptOut(APIView):
    """The customer asks for no more survey email, from any survey."""

    @extend_schema(request=None, responses=CustomerSerializer)
    def post(self, request: Request, ref: str) -> ApiResponse:
        every_survey(request)
        customer = Customer.objects.filter(ref=ref).first() if ref.isprintable() else None
        if customer is None:
            raise exceptions.NotFound(_("There is no customer %(ref)s.") % {"ref": ref[:60]})
        opt_out(customer=customer)
        customer.refresh_from_db()
        return ApiResponse(CustomerSerializer(customer).data)


class NoSuchEndpoint(APIView):
    """Any other path under /api/v1/: a 404 in JSON, as every other error is."""

    schema = None  # not in the OpenAPI document
    permission_classes: list[Any] = []

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        raise exceptions.NotFound(
            _("There is no such endpoint; see /api/v1/docs/. Every path ends in a slash.")
        )
