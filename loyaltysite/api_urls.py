"""The REST API under /api/v1/: each app's endpoints, the OpenAPI document and its docs."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from metrics import api as metrics_api
from surveys import api as surveys_api

app_name = "api"

urlpatterns = [
    path("customers/", surveys_api.Customers.as_view(), name="customers"),
    path(
        "customers/<path:ref>/opt-out/",
        surveys_api.CustomerOptOut.as_view(),
        name="customer_opt_out",
    ),
    path("survey-requests/", metrics_api.SurveyRequests.as_view(), name="survey_requests"),
    path(
        "survey-requests/<int:pk>/",
        metrics_api.OneSurveyRequest.as_view(),
        name="survey_request",
    ),
    path("responses/", metrics_api.Responses.as_view(), name="responses"),
    path("followups/", metrics_api.FollowUps.as_view(), name="followups"),
    path("followups/<int:pk>/", metrics_api.OneFollowUp.as_view(), name="followup"),
    path("followups/<int:pk>/notes/", metrics_api.FollowUpNotes.as_view(), name="followup_notes"),
    path("scores/", metrics_api.Scores.as_view(), name="scores"),
    path("orders/", metrics_api.Orders.as_view(), name="orders"),
    path("kpis/", metrics_api.Kpis.as_view(), name="kpis"),
    # Open to all, as a published API's description is.
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", authentication_classes=[], permission_classes=[]
        ),
        name="docs",
    ),
    re_path(r"", surveys_api.NoSuchEndpoint.as_view()),
]
