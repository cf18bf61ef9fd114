from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = _("Surveys")

    def ready(self) -> None:
        # Connects the receivers that empty the public links' kept copies on a change.
        from surveys import published  # noqa: F401
