from django.urls import path

from metrics import followup_views, views

app_name = "metrics"
urlpatterns = [
    path("dashboard/", views.overview, name="overview"),
    path("dashboard/surveys/<int:pk>/", views.survey_report, name="survey"),
    path("dashboard/surveys/<int:pk>/scores.json", views.survey_scores, name="scores"),
    path("dashboard/surveys/<int:pk>/export.csv", views.export, {"fmt": "csv"}, name="export_csv"),
    path(
        "dashboard/surveys/<int:pk>/export.xlsx", views.export, {"fmt": "xlsx"}, name="export_xlsx"
    ),
    path("dashboard/surveys/<int:pk>/qr.svg", views.qr_code, {"kind": "svg"}, name="qr_svg"),
    path("dashboard/surveys/<int:pk>/qr.png", views.qr_code, {"kind": "png"}, name="qr_png"),
    path("dashboard/kpis/", views.kpi_page, name="kpis"),
    path("dashboard/kpis/export.csv", views.kpi_export, name="kpis_csv"),
    path("followups/sla/", views.sla_report, name="sla"),
    path("followups/", followup_views.queue, name="queue"),
    path("followups/<int:pk>/", followup_views.followup_detail, name="followup"),
    path("followups/<int:pk>/assign/", followup_views.followup_assign, name="followup_assign"),
    path("followups/<int:pk>/start/", followup_views.followup_start, name="followup_start"),
    path("followups/<int:pk>/contact/", followup_views.followup_contact, name="followup_contact"),
    path("followups/<int:pk>/reply/", followup_views.followup_reply, name="followup_reply"),
    path("followups/<int:pk>/resolve/", followup_views.followup_resolve, name="followup_resolve"),
    path("followups/<int:pk>/reopen/", followup_views.followup_reopen, name="followup_reopen"),
    path("healthz", views.healthz, name="healthz"),
]
