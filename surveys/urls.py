from django.urls import path

from surveys import views

app_name = "surveys"
# Slugs and tokens are URL-safe base64 (secrets.token_urlsafe): anything else, a NUL
# among it, is a plain 404 before it reaches the database.
urlpatterns = [
    path("s/<slug:slug>/", views.respond, name="respond"),
    path("s/<slug:slug>/thanks/", views.thanks, name="thanks"),
    path("i/<slug:token>/", views.respond_invitation, name="respond_invitation"),
    path("i/<slug:token>/thanks/", views.invitation_thanks, name="invitation_thanks"),
    path("unsubscribe/<slug:token>/", views.unsubscribe, name="unsubscribe"),
]
