from django.urls import path

from surveys import views

app_name = "surveys"
urlpatterns = [
    path("s/<str:slug>/", views.respond, name="respond"),
    path("s/<str:slug>/thanks/", views.thanks, name="thanks"),
    path("i/<str:token>/", views.respond_invitation, name="respond_invitation"),
    path("i/<str:token>/thanks/", views.invitation_thanks, name="invitation_thanks"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
