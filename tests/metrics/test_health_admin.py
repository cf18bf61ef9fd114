"""What the admin shows of the application's health: failed messages, which staff can
send again, and the drift a recompute of the scores found."""

from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from metrics import processing, tasks
from metrics.models import Notification, RollupDrift, ScoreRollup
from surveys.services import submit_response
from tests.factories import SurveyFactory

pytestmark = pytest.mark.django_db


def _message(status: str, recipient: str) -> Notification:
    return Notification.objects.create(
        kind=Notification.Kind.REPLY,
        recipient=recipient,
        subject="About your answer",
        body="Thank you for telling us.",
        status=status,
        attempts=3,
        last_error="SMTP 421: try again later" if status == "failed" else "",
    )


def _act(client, action: str, objects) -> object:
    return client.post(
        reverse("admin:metrics_notification_changelist"),
        {"action": action, "_selected_action": [o.pk for o in objects]},
        follow=True,
    )


def test_failed_messages_are_sent_again_and_sent_ones_are_left_alone(
    admin_client, eager_celery, django_capture_on_commit_callbacks
):
    failed = _message("failed", "ann@example.com")
    sent = _message("sent", "bob@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        page = _act(admin_client, "send_again", [failed, sent])

    assert "1 failed message will be sent again." in page.content.decode()
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("sent", 4)
    assert [message.to for message in mail.outbox] == [["ann@example.com"]]
    sent.refresh_from_db()
    assert (sent.status, sent.attempts) == ("sent", 3)


def test_the_failed_filter_lists_only_failed_messages(admin_client):
    _message("failed", "ann@example.com")
    _message("sent", "bob@example.com")

    page = admin_client.get(reverse("admin:metrics_notification_changelist"), {"status": "failed"})

    assert "ann@example.com" in page.content.decode()
    assert "bob@example.com" not in page.content.decode()


def test_staff_who_may_only_read_messages_cannot_send_them_again(client, manager):
    from django.contrib.auth.models import Permission

    manager.user_permissions.add(Permission.objects.get(codename="view_notification"))
    client.force_login(manager)
    failed = _message("failed", "ann@example.com")

    page = client.get(reverse("admin:metrics_notification_changelist"))
    assert page.status_code == 200
    assert "send_again" not in page.content.decode()

    _act(client, "send_again", [failed])
    failed.refresh_from_db()
    assert failed.status == "failed"


def _survey_with_drift():
    survey = SurveyFactory(template="nps", name="Spring")
    question = survey.questions.get(position=1)
    response = submit_response(survey=survey, answers={question: 9}, language="en")
    processing.process_response(response_id=response.pk)
    ScoreRollup.objects.filter(survey=survey, dimension="all").update(count=3)
    return survey


def test_the_recompute_command_keeps_the_drift_it_corrected():
    survey = _survey_with_drift()
    clean = SurveyFactory(template="nps", name="Clean")

    call_command("recompute_scores", stdout=StringIO())
    call_command("recompute_scores", stdout=StringIO())  # nothing left to find

    drift = RollupDrift.objects.get()
    assert (drift.survey, drift.cells, drift.answers) == (survey, 1, 2)
    assert not RollupDrift.objects.filter(survey=clean).exists()


def test_the_nightly_recompute_keeps_the_drift_it_corrected():
    survey = _survey_with_drift()

    assert tasks.recompute_scores() == 1

    assert list(RollupDrift.objects.values_list("survey", "cells")) == [(survey.pk, 1)]


def test_the_admin_shows_drift_read_only(admin_client):
    survey = _survey_with_drift()
    call_command("recompute_scores", stdout=StringIO())
    drift = RollupDrift.objects.get()

    listing = admin_client.get(reverse("admin:metrics_rollupdrift_changelist"))
    assert listing.status_code == 200
    assert "Spring" in listing.content.decode()
    assert admin_client.get(reverse("admin:metrics_rollupdrift_add")).status_code == 403
    change = reverse("admin:metrics_rollupdrift_change", args=[drift.pk])
    admin_client.post(change, {"survey": survey.pk, "cells": 0, "answers": 0})
    drift.refresh_from_db()
    assert drift.cells == 1
