from django.db import models
from django.utils.translation import gettext_lazy as _

from surveys.models import Question, Survey


class ScoreRollup(models.Model):
    """How many answers had `value`, per question, day and one breakdown.

    Every score is computed from these counts, never by looping over responses. Each
    answer is counted once per dimension: once under "all", once under its customer's
    segment, its touchpoint and its channel, so a breakdown never needs the raw answers.
    """

    class Dimension(models.TextChoices):
        ALL = "all", _("All answers")
        SEGMENT = "segment", _("Segment")
        TOUCHPOINT = "touchpoint", _("Touchpoint")
        CHANNEL = "channel", _("Channel")

    survey = models.ForeignKey(
        Survey, on_delete=models.CASCADE, related_name="rollups", verbose_name=_("survey")
    )
    question = models.ForeignKey(
        Question, on_delete=models.CASCADE, related_name="rollups", verbose_name=_("question")
    )
    day = models.DateField(_("day"))
    dimension = models.CharField(_("dimension"), max_length=10, choices=Dimension.choices)
    # The segment, touchpoint or channel; empty under "all" and where it is unknown.
    member = models.CharField(_("member"), max_length=100, blank=True)
    value = models.SmallIntegerField(_("value"))
    count = models.PositiveIntegerField(_("count"))

    class Meta:
        verbose_name = _("score rollup")
        verbose_name_plural = _("score rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["question", "dimension", "member", "day", "value"],
                name="rollup_one_cell",
            ),
        ]
        indexes = [models.Index(fields=["survey", "dimension", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.dimension}={self.member} {self.value}: {self.count}"
