"""Rollup counts stay equal to a fresh count of the raw answers, whatever happens."""

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.urls import reverse
from django.utils import timezone

from metrics import processing, rollups, tasks, webhooks
from metrics.models import FollowUp, ScoreRollup
from surveys.models import Response
from surveys.services import submit_response
from tests.factories import CustomerFactory, InvitationFactory, SurveyFactory, know

pytestmark = pytest.mark.django_db


def _submit(survey, score, comment="", customer=None, **metadata):
    questions = {q.role: q for q in survey.questions.all()}
    answers = {questions["nps"]: score, questions["comment"]: comment}
    invitation = InvitationFactory(survey=survey, customer=customer) if customer else None
    know(survey, **metadata)
    return submit_response(
        survey=survey, answers=answers, metadata=metadata, language="en", invitation=invitation
    )


def _cells(survey, dimension="all"):
    return {
        (r.member, r.value): r.count
        for r in ScoreRollup.objects.filter(survey=survey, dimension=dimension)
    }


def _assert_no_drift(survey):
    assert rollups.recompute_rollups(surveys=[survey]).cells == 0


def test_processing_counts_each_answer_once_per_dimension():
    survey = SurveyFactory(template="nps")
    customer = CustomerFactory(ref="C1", segment="enterprise")
    first = _submit(survey, 9, "Great", customer, touchpoint="support", channel="email")
    second = _submit(survey, 3, touchpoint="delivery")

    assert processing.process_response(response_id=first.pk) is True
    assert processing.process_response(response_id=second.pk) is True

    assert _cells(survey) == {("", 9): 1, ("", 3): 1}
    assert _cells(survey, "segment") == {("enterprise", 9): 1, ("", 3): 1}
    assert _cells(survey, "touchpoint") == {("support", 9): 1, ("delivery", 3): 1}
    assert _cells(survey, "channel") == {("email", 9): 1, ("link", 3): 1}
    assert ScoreRollup.objects.filter(question__role="comment").count() == 0
    assert not Response.objects.filter(processed_at__isnull=True).exists()
    _assert_no_drift(survey)


@pytest.mark.parametrize(
    ("template", "score", "case_queries"),
    [("nps", 8, 0), ("loyalty", 9, 0), ("nps", 3, 4)],
)
def test_processing_takes_the_same_few_queries_whatever_the_survey(
    template, score, case_queries, django_assert_num_queries
):
    """The worker's hot path: the claim, the survey with its rule, the answers, one
    upsert for every count (and on PostgreSQL the commit setting), in one savepoint; an
    unhappy answer adds its case, its count in the queue (one upsert), the case's first
    note and the look for alert channels. The webhooks are kept by the process (read
    once in a while, metrics.webhooks), as they are after its first answers."""
    survey = SurveyFactory(template=template)
    questions = survey.questions.exclude(scale_min=None)
    response = submit_response(
        survey=survey, answers={q: score for q in questions}, metadata={}, language="en"
    )

    webhooks.forget()
    webhooks.emit("response.created", surveys=[survey.pk])  # read and kept: none
    statements = 6 + (connection.vendor == "postgresql") + case_queries
    with django_assert_num_queries(statements):
        assert processing.process_response(response_id=response.pk) is True

    counted = ScoreRollup.objects.filter(survey=survey, dimension="all")
    assert sum(counted.values_list("count", flat=True)) == questions.count()
    assert FollowUp.objects.filter(response=response).exists() is bool(case_queries)


def test_counts_are_per_local_day():
    survey = SurveyFactory(template="nps")
    response = _submit(survey, 10)
    Response.objects.filter(pk=response.pk).update(submitted_at=timezone.now() - timedelta(days=3))
    processing.process_response(response_id=response.pk)

    assert ScoreRollup.objects.get(dimension="all").day == timezone.localdate() - timedelta(days=3)
    _assert_no_drift(survey)


def test_processing_the_same_response_twice_counts_it_once():
    survey = SurveyFactory(template="nps")
    response = _submit(survey, 7)

    assert processing.process_response(response_id=response.pk) is True
    assert processing.process_response(response_id=response.pk) is False

    assert _cells(survey) == {("", 7): 1}
    _assert_no_drift(survey)


def test_recompute_corrects_drift_and_says_so():
    survey = SurveyFactory(template="nps")
    for score in (10, 10, 2):
        processing.process_response(response_id=_submit(survey, score).pk)
    ScoreRollup.objects.filter(dimension="all", value=10).update(count=5)
    ScoreRollup.objects.filter(dimension="channel", value=2).delete()
    stray = ScoreRollup.objects.get(dimension="touchpoint", value=2)
    ScoreRollup.objects.create(
        survey=survey,
        question=stray.question,
        day=stray.day,
        dimension="touchpoint",
        member="nowhere",
        value=4,
        count=2,
    )

    drift = rollups.recompute_rollups(surveys=[survey])

    assert (drift.cells, drift.answers) == (3, 3 + 1 + 2)
    assert _cells(survey) == {("", 10): 2, ("", 2): 1}
    assert _cells(survey, "channel") == {("link", 10): 2, ("link", 2): 1}
    _assert_no_drift(survey)


def test_recompute_of_one_survey_leaves_the_others_alone():
    mine, other = SurveyFactory(template="nps"), SurveyFactory(template="nps")
    for survey in (mine, other):
        processing.process_response(response_id=_submit(survey, 8).pk)
    ScoreRollup.objects.filter(survey=other, dimension="all").update(count=7)

    assert rollups.recompute_rollups(surveys=[mine]).cells == 0

    assert _cells(other) == {("", 8): 7}
    assert rollups.recompute_rollups(surveys=[other]).cells == 1
    assert _cells(other) == {("", 8): 1}


def test_unprocessed_responses_are_not_counted_by_recompute():
    survey = SurveyFactory(template="nps")
    _submit(survey, 4)
    _assert_no_drift(survey)
    assert not ScoreRollup.objects.exists()


def test_submission_is_processed_by_the_task_after_commit(
    client, eager_celery, django_capture_on_commit_callbacks
):
    survey = SurveyFactory(template="nps")
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(reverse("surveys:respond", args=[survey.slug]), {"q1": "8"})

    assert page.status_code == 302
    assert Response.objects.get().processed_at is not None
    assert _cells(survey) == {("", 8): 1}


def test_broker_outage_loses_no_answer_and_the_sweeper_catches_up(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    survey = SurveyFactory(template="nps")

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.process_response, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(reverse("surveys:respond", args=[survey.slug]), {"q1": "2"})

    assert page.status_code == 302
    response = Response.objects.get()
    assert response.processed_at is None

    assert processing.process_stale_responses() == 0  # too recent: its task may still come
    Response.objects.update(submitted_at=timezone.now() - timedelta(seconds=61))
    assert tasks.sweep_responses() == 1

    assert _cells(survey) == {("", 2): 1}
    _assert_no_drift(survey)


def test_recompute_scores_command_reports_drift():
    survey = SurveyFactory(template="nps", name="Spring")
    processing.process_response(response_id=_submit(survey, 9).pk)
    ScoreRollup.objects.filter(dimension="all").update(count=3)
    out = StringIO()

    call_command("recompute_scores", survey.slug, stdout=out)

    lines = out.getvalue().splitlines()
    assert "[1/1] Spring: corrected 1 cells (2 answers off)" in lines
    assert lines[-1] == "Recomputed 1 surveys: 1 drifted cells corrected."
    assert _cells(survey) == {("", 9): 1}

    out = StringIO()
    call_command("recompute_scores", stdout=out)
    assert out.getvalue().splitlines()[-1] == "Recomputed 1 surveys: no drift."


def test_nightly_task_recomputes_every_survey():
    surveys = [SurveyFactory(template="nps") for _ in range(2)]
    for survey in surveys:
        processing.process_response(response_id=_submit(survey, 6).pk)
    ScoreRollup.objects.filter(dimension="all").delete()

    assert tasks.recompute_scores() == 2
    assert all(_cells(s) == {("", 6): 1} for s in surveys)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_one_response_count_it_once():
    survey = SurveyFactory(template="nps")
    responses = [_submit(survey, score % 11) for score in range(20)]
    results: list[bool] = []

    def worker(start: threading.Barrier) -> None:
        try:
            for response in responses:
                start.wait()
                results.append(processing.process_response(response_id=response.pk))
        finally:
            connection.close()

    start = threading.Barrier(2)
    threads = [threading.Thread(target=worker, args=(start,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert results.count(True) == 20 and results.count(False) == 20
    assert sum(_cells(survey).values()) == 20
    _assert_no_drift(survey)


def test_segment_counts_keep_their_history_when_a_customer_moves():
    survey = SurveyFactory(template="nps")
    customer = CustomerFactory(ref="C7", segment="consumer")
    processing.process_response(response_id=_submit(survey, 10, customer=customer).pk)

    customer.segment = "enterprise"
    customer.save()

    _assert_no_drift(survey)
    assert _cells(survey, "segment") == {("consumer", 10): 1}
