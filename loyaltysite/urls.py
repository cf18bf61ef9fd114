from django.contrib import admin
from django.urls import include, path, reverse_lazy
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

admin.site.site_header = admin.site.site_title = _("Loyalty surveys")
admin.site.index_title = _("Administration")
# Lazy: the URLs are not loaded yet (the stubs expect a plain str).
admin.site.site_url = reverse_lazy("metrics:overview")  # type: ignore[assignment]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="metrics:overview"), name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("surveys.urls")),
    path("", include("metrics.urls")),
]
