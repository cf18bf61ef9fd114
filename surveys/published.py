"""A public link's survey and questions, kept by each web process for a few seconds.

Every GET and POST of a public link needs the survey and its questions, and the form it
shows is the same for everyone who asks in the same language. Each web process keeps
them, and the pages it rendered, for KEPT_SECONDS: a link opened by many people at once
(a newsletter, a QR code at a till) costs one query and one rendering a process, not one
a request.

A save or delete of a survey or question empties this process's copies at once; other
processes notice within KEPT_SECONDS. No answer depends on a copy being current: it is
written only while the survey is still live in the database, and only for questions that
still exist (surveys.services.submit_response).
"""

import time
from dataclasses import dataclass, field
from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.shortcuts import get_object_or_404
from django.urls import reverse

from surveys.models import Question, Survey

KEPT_SECONDS = 5.0
# Enough for every link in use at once; beyond it the oldest copies go first.
KEPT_SURVEYS = 200


@dataclass
class Published:
    survey: Survey
    questions: list[Question]
    read_at: float
    thanks_url: str
    # The rendered form, by language, for links without parameters other than ?lang=.
    pages: dict[str, bytes] = field(default_factory=dict)

    @property
    def fresh(self) -> bool:
        return time.monotonic() - self.read_at < KEPT_SECONDS


_kept: dict[str, Published] = {}


def published(slug: str) -> Published:
    """The survey with this slug and its questions, as read at most KEPT_SECONDS ago;
    Http404 when there is none."""
    kept = _kept.get(slug)
    if kept is not None and kept.fresh:
        return kept
    # The survey comes with its questions in one query; one without any, on its own.
    questions = list(Question.objects.select_related("survey").filter(survey__slug=slug))
    survey = questions[0].survey if questions else get_object_or_404(Survey, slug=slug)
    kept = Published(
        survey, questions, time.monotonic(), reverse("surveys:thanks", args=[survey.slug])
    )
    _kept.pop(slug, None)  # a dict keeps its order of insertion: newest last
    _kept[slug] = kept
    while len(_kept) > KEPT_SURVEYS:
        del _kept[next(iter(_kept))]
    return kept


def forget() -> None:
    """Read every survey afresh from now on (in this process)."""
    _kept.clear()


@receiver(post_save, sender=Survey)
@receiver(post_delete, sender=Survey)
@receiver(post_save, sender=Question)
@receiver(post_delete, sender=Question)
def forget_changed(**kwargs: Any) -> None:
    forget()
