from django.urls import path

from metrics import views

app_name = "metrics"
urlpatterns = [
    path("dashboard/", views.overview, name="overview"),
    path("dashboard/surveys/<int:pk>/", views.survey_report, name="survey"),
    path("dashboard/surveys/<int:pk>/scores.json", views.survey_scores, name="scores"),
    path("dashboard/surveys/<int:pk>/export.csv", views.export, {"fmt": "csv"}, name="export_csv"),
    path(
        "dashboard/surveys/<int:pk>/export.xlsx", views.export, {"fmt": "xlsx"}, name="export_xlsx"
    ),
]
