"""Unhappy answers open exactly one case; overdue cases escalate once; reminders once."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from metrics import followups
from metrics.models import AlertChannel, FollowUp, FollowUpRule, Notification
from metrics.processing import process_response
from surveys.services import submit_response
from tests.factories import CustomerFactory, SurveyFactory, answer

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("template", "value", "opens", "reason"),
    [
        ("nps", 6, True, "detractor"),
        ("nps", 0, True, "detractor"),
        ("nps", 7, False, None),
        ("csat", 2, True, "dissatisfied"),
        ("csat", 3, False, None),
        ("csat-yes-no", 0, True, "dissatisfied"),
        ("csat-yes-no", 1, False, None),
        ("ces", 3, True, "high_effort"),
        ("ces", 4, False, None),
        ("loyalty", 6, True, "not_recommending"),
        ("loyalty", 7, False, None),
    ],
)
def test_default_rules_open_a_case_for_unhappy_answers(template, value, opens, reason):
    survey = SurveyFactory(template=template, followup_window_hours=24)
    response = answer(survey, value, "Too slow")

    case = FollowUp.objects.filter(response=response).first()
    assert (case is not None) is opens
    if case:
        assert (case.reason, case.score, case.comment) == (reason, value, "Too slow")
        assert case.due_at == response.submitted_at + timedelta(hours=24)
        assert case.status == FollowUp.Status.NEW
        assert list(case.notes.values_list("kind", flat=True)) == ["opened"]


def test_the_survey_window_and_its_own_rule_apply():
    survey = SurveyFactory(template="nps", followup_window_hours=4)
    FollowUpRule.objects.create(survey=survey, threshold=8)

    response = answer(survey, 8)

    case = FollowUp.objects.get()
    assert case.due_at == response.submitted_at + timedelta(hours=4)


def test_a_disabled_rule_opens_nothing():
    survey = SurveyFactory(template="nps")
    FollowUpRule.objects.create(survey=survey, threshold=6, enabled=False)
    answer(survey, 0)
    assert not FollowUp.objects.exists()


def test_processing_twice_opens_one_case():
    survey = SurveyFactory(template="nps")
    response = answer(survey, 2)
    assert process_response(response_id=response.pk) is False
    assert FollowUp.objects.count() == 1


def test_new_cases_are_written_down_for_the_channels_that_want_them():
    survey, other = SurveyFactory(template="nps"), SurveyFactory(template="nps")
    everywhere = AlertChannel.objects.create(name="All", kind="email", target="a@example.com")
    this_one = AlertChannel.objects.create(name="This", kind="slack", target="https://x.test/h")
    this_one.surveys.add(survey)
    elsewhere = AlertChannel.objects.create(name="Other", kind="email", target="o@example.com")
    elsewhere.surveys.add(other)
    AlertChannel.objects.create(name="Off", kind="email", target="x@example.com", enabled=False)
    AlertChannel.objects.create(
        name="Escalations only", kind="email", target="e@example.com", on_new_case=False
    )

    answer(survey, 1, "Never again <b>really</b>")

    sent = Notification.objects.filter(kind="new_case")
    assert {n.channel for n in sent} == {everywhere, this_one}
    assert all(n.status == "pending" for n in sent)
    note = sent.first()
    assert note is not None
    assert "score 1" in note.subject
    assert "Never again <b>really</b>" in note.body  # plain text, not HTML-escaped


def test_escalation_happens_once_for_overdue_cases_without_contact(
    django_capture_on_commit_callbacks,
):
    survey = SurveyFactory(template="nps")
    AlertChannel.objects.create(
        name="Boss", kind="email", target="boss@example.com", on_new_case=False
    )
    overdue, contacted, _on_time = (answer(survey, 3).followup for _ in range(3))
    FollowUp.objects.filter(pk__in=[overdue.pk, contacted.pk]).update(
        due_at=timezone.now() - timedelta(minutes=1)
    )
    FollowUp.objects.filter(pk=contacted.pk).update(first_contact_at=timezone.now())

    assert followups.escalate_overdue() == 1
    assert followups.escalate_overdue() == 0

    overdue.refresh_from_db()
    assert overdue.escalated_at is not None
    assert FollowUp.objects.exclude(escalated_at=None).count() == 1
    assert overdue.notes.filter(kind="escalated", author=None).count() == 1
    assert Notification.objects.filter(kind="escalation", followup=overdue).count() == 1


def test_the_assignee_is_reminded_once_when_four_hours_remain(agent):
    agent.email = "agent@example.com"
    agent.save()
    survey = SurveyFactory(template="nps")
    soon, later = (answer(survey, 3).followup for _ in range(2))
    for case in (soon, later):
        followups.assign(followup=case, to=agent, by=agent)
    now = timezone.now()
    FollowUp.objects.filter(pk=soon.pk).update(due_at=now + timedelta(hours=3))
    FollowUp.objects.filter(pk=later.pk).update(due_at=now + timedelta(hours=5))

    assert followups.remind_due_soon() == 1
    assert followups.remind_due_soon() == 0

    reminder = Notification.objects.get(kind="reminder")
    assert (reminder.recipient, reminder.followup) == ("agent@example.com", soon)
    assert f"/followups/{soon.pk}/" in reminder.body


def test_the_daily_digest_lists_open_and_overdue_cases(agent):
    agent.email = "agent@example.com"
    agent.save()
    survey = SurveyFactory(template="nps")
    cases = [answer(survey, 3).followup for _ in range(3)]
    for case in cases:
        followups.assign(followup=case, to=agent, by=agent)
    followups.resolve(followup=cases[2], by=agent, resolution="Called, refunded")
    FollowUp.objects.filter(pk=cases[0].pk).update(due_at=timezone.now() - timedelta(hours=1))

    assert followups.send_digests([agent]) == 1

    digest = Notification.objects.get(kind="digest")
    assert "2 open cases" in digest.subject and "1 overdue" in digest.subject
    assert digest.body.count("OVERDUE") == 1
    assert f"#{cases[2].pk} " not in digest.body


def test_agent_steps_are_recorded_with_who_and_when(agent, manager):
    case = answer(SurveyFactory(template="nps"), 2).followup

    followups.start(followup=case, by=agent)
    followups.assign(followup=case, to=manager, by=agent)
    followups.log_contact(followup=case, by=manager, kind="note", text="Customer is on holiday")
    case.refresh_from_db()
    assert case.first_contact_at is None  # a note is not contact
    followups.log_contact(followup=case, by=manager, kind="phone", text="Called, will refund")
    followups.resolve(followup=case, by=manager, resolution="Refunded")

    case.refresh_from_db()
    assert case.status == "resolved" and case.resolution == "Refunded"
    assert case.first_contact_at is not None and case.resolved_at is not None
    steps = list(case.notes.values_list("kind", "author__username"))
    assert steps == [
        ("opened", None),
        ("assigned", "agent"),
        ("started", "agent"),
        ("assigned", "agent"),
        ("note", "manager"),
        ("phone", "manager"),
        ("resolved", "manager"),
    ]


def test_reply_to_the_customer_in_their_language(agent):
    customer = CustomerFactory(ref="C1", email="ann@example.com", name="Ann")
    survey = SurveyFactory(template="nps", company="Bakkerij Jansen")
    case = answer(survey, 4, customer=customer, language="nl").followup

    subject, body = followups.reply_draft(case)
    assert subject == "Uw feedback aan Bakkerij Jansen"
    assert body.startswith("Beste Ann,")

    notification = followups.reply(followup=case, by=agent, subject=subject, body="Edited text")
    assert (notification.kind, notification.recipient, notification.body) == (
        "reply",
        "ann@example.com",
        "Edited text",
    )
    case.refresh_from_db()
    assert case.status == "contacted" and case.first_contact_at is not None
    assert case.notes.filter(kind="reply", author=agent).exists()


def test_promoters_are_thanked_when_the_survey_asks_for_it():
    customer = CustomerFactory(ref="C2", email="bo@example.com")
    survey = SurveyFactory(template="nps")
    rule = FollowUpRule(survey=survey, threshold=6, thank_promoters=True)
    with pytest.raises(ValidationError):
        rule.full_clean()
    rule.review_url = "https://reviews.example.com/acme"
    rule.full_clean()
    rule.save()

    answer(survey, 10, customer=customer)
    answer(survey, 8, customer=customer)

    thanks = Notification.objects.get(kind="thank_you")
    assert thanks.recipient == "bo@example.com"
    assert "https://reviews.example.com/acme" in thanks.body
    assert not FollowUp.objects.exists()


def test_a_resolved_case_cannot_be_started_or_resolved_again(agent):
    case = answer(SurveyFactory(template="nps"), 2).followup
    followups.resolve(followup=case, by=agent, resolution="Refunded")

    with pytest.raises(followups.CaseResolved):
        followups.start(followup=case, by=agent)
    with pytest.raises(followups.CaseResolved):
        followups.resolve(followup=case, by=agent, resolution="Again")

    case.refresh_from_db()
    assert case.resolution == "Refunded"
    followups.log_contact(followup=case, by=agent, kind="phone", text="Called back")
    case.refresh_from_db()
    assert case.status == "resolved"  # a later contact does not reopen it


@pytest.mark.parametrize(
    ("template", "threshold", "valid"),
    [("nps", 6, True), ("nps", 10, False), ("csat-yes-no", 0, True), ("csat-yes-no", 2, False)],
)
def test_a_rule_threshold_must_lie_on_the_key_question_scale(template, threshold, valid):
    rule = FollowUpRule(survey=SurveyFactory(template=template), threshold=threshold)
    if valid:
        rule.full_clean()
    else:
        with pytest.raises(ValidationError, match="Choose an answer from"):
            rule.full_clean()


def test_one_response_that_cannot_be_processed_does_not_hold_up_the_rest(monkeypatch):
    from metrics import processing
    from surveys.models import Response

    survey = SurveyFactory(template="nps")
    question = survey.questions.get(role="nps")
    first, second = (
        submit_response(survey=survey, answers={question: 9}, language="en") for _ in range(2)
    )
    Response.objects.update(submitted_at=timezone.now() - timedelta(minutes=5))
    real = processing.process_response

    def broken_for_the_first(*, response_id):
        if response_id == first.pk:
            raise RuntimeError("a bug")
        return real(response_id=response_id)

    monkeypatch.setattr(processing, "process_response", broken_for_the_first)

    assert processing.process_stale_responses() == 1
    assert Response.objects.get(pk=second.pk).processed_at is not None
    assert Response.objects.get(pk=first.pk).processed_at is None


def test_a_double_clicked_reply_is_sent_once(agent):
    customer = CustomerFactory(email="cy@example.com")
    case = answer(SurveyFactory(template="nps"), 1, customer=customer).followup

    first = followups.reply(followup=case, by=agent, subject="Sorry", body="We will call you")
    second = followups.reply(followup=case, by=agent, subject="Sorry", body="We will call you")
    other = followups.reply(followup=case, by=agent, subject="Sorry", body="Another text")

    assert first == second != other
    assert Notification.objects.filter(kind="reply").count() == 2


def test_scheduled_tasks_escalate_remind_and_send_digests_to_agents_only(agent, outsider):
    from metrics import tasks

    for person in (agent, outsider):
        person.email = f"{person.username}@example.com"
        person.save()
    survey = SurveyFactory(template="nps")
    overdue, soon = (answer(survey, 3).followup for _ in range(2))
    followups.assign(followup=soon, to=agent, by=agent)
    followups.assign(followup=overdue, to=outsider, by=agent)
    now = timezone.now()
    FollowUp.objects.filter(pk=overdue.pk).update(due_at=now - timedelta(hours=1))
    FollowUp.objects.filter(pk=soon.pk).update(due_at=now + timedelta(hours=2))

    assert tasks.escalate_and_remind() == 2  # one escalation, one reminder
    assert tasks.send_digests() == 1
    digest = Notification.objects.get(kind="digest")
    assert digest.recipient == "agent@example.com"


def test_reopen_brings_a_resolved_case_back_to_work(agent):
    case = answer(SurveyFactory(template="nps"), 2).followup
    with pytest.raises(followups.CaseOpen):
        followups.reopen(followup=case, by=agent, note="Too early")
    followups.resolve(followup=case, by=agent, resolution="Refunded")

    followups.reopen(followup=case, by=agent, note="The refund bounced")

    case.refresh_from_db()
    assert (case.status, case.resolved_at, case.resolution) == ("in_progress", None, "")
    assert list(case.notes.values_list("kind", "text")) == [
        ("opened", ""),
        ("resolved", "Refunded"),
        ("reopened", "The refund bounced"),
    ]
    followups.resolve(followup=case, by=agent, resolution="Paid by hand")
    case.refresh_from_db()
    assert case.status == "resolved" and case.resolution == "Paid by hand"


def test_a_resolved_case_is_neither_assigned_nor_replied_to(agent, manager):
    customer = CustomerFactory(email="ann@example.com")
    case = answer(SurveyFactory(template="nps"), 2, customer=customer).followup
    followups.resolve(followup=case, by=agent, resolution="Refunded")

    with pytest.raises(followups.CaseResolved):
        followups.assign(followup=case, to=manager, by=agent)
    with pytest.raises(followups.CaseResolved):
        followups.reply(followup=case, by=agent, subject="Hi", body="Sorry")

    case.refresh_from_db()
    assert case.assignee is None
    assert not Notification.objects.filter(kind="reply").exists()
