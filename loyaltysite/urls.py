from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from loyaltysite.accounts import ThrottledPasswordResetForm

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="metrics:overview"), name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("loyaltysite.api_urls")),
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(form_class=ThrottledPasswordResetForm),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("surveys.urls")),
    path("", include("metrics.urls")),
]
