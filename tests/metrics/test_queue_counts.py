"""The queue's stored counts: they follow every change to a case, and say what counting
every case would say."""

import random
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from metrics import followups, queue_counts
from metrics.models import FollowUp, QueueCount
from tests.factories import SurveyFactory, answer
from tests.metrics.test_queue import _text

pytestmark = pytest.mark.django_db


def _counted_afresh():
    return {
        (s, survey, r, a or 0): n
        for (s, survey, r, a), n in _tally(
            FollowUp.objects.values_list("status", "survey_id", "reason", "assignee_id")
        ).items()
    }


def _tally(rows):
    counts = {}
    for row in rows:
        counts[row] = counts.get(row, 0) + 1
    return counts


def _stored():
    return queue_counts._sums()


def _facet_counts(client):
    page = client.get(reverse("metrics:queue"))
    return {
        (facet.name, option.value): option.count
        for facet in page.context["facets"]
        for option in facet.options
    }


def test_every_step_on_a_case_moves_its_count(client, agent, manager):
    """Cases opened, assigned, started, contacted, resolved and reopened in a random
    order: the stored counts stay what counting the cases gives, and so do the queue's."""
    rng = random.Random(12)
    nps, csat = SurveyFactory(template="nps"), SurveyFactory(template="csat")
    cases = [answer(rng.choice([nps, csat]), 1, f"case {i}").followup for i in range(12)]
    people = [agent, manager, None]
    for _ in range(60):
        case = FollowUp.objects.get(pk=rng.choice(cases).pk)
        step = rng.choice(["assign", "start", "contact", "resolve", "reopen"])
        try:
            if step == "assign":
                followups.assign(followup=case, to=rng.choice(people), by=agent)
            elif step == "start":
                followups.start(followup=case, by=rng.choice([agent, manager]))
            elif step == "contact":
                followups.log_contact(followup=case, by=agent, kind="phone", text="Called")
            elif step == "resolve":
                followups.resolve(followup=case, by=agent, resolution="Done")
            else:
                followups.reopen(followup=case, by=agent, note="Again")
        except (followups.CaseResolved, followups.CaseOpen):
            continue
        assert _stored() == _counted_afresh(), step

    client.force_login(agent)
    shown = _facet_counts(client)
    assert queue_counts.recompute() == 0
    assert _facet_counts(client) == shown


def test_overdue_and_due_soon_follow_the_clock(client, agent):
    survey = SurveyFactory(template="nps")
    now = timezone.now()
    due = {"late": -2, "soon": 2, "later": 30}
    for name, hours in due.items():
        case = answer(survey, 1, name).followup
        FollowUp.objects.filter(pk=case.pk).update(due_at=now + timedelta(hours=hours))

    groups = queue_counts.groups(now)

    def cases(overdue, soon):
        return sum(g["cases"] for g in groups if (g["overdue"], g["soon"]) == (overdue, soon))

    assert (cases(True, False), cases(False, True), cases(False, False)) == (1, 1, 1)
    later = queue_counts.groups(now + timedelta(hours=3))
    assert sum(g["cases"] for g in later if g["overdue"]) == 2


def test_a_deleted_agents_cases_count_as_unassigned(client, agent, manager):
    survey = SurveyFactory(template="nps")
    case = answer(survey, 1, "Slow").followup
    followups.assign(followup=case, to=agent, by=manager)

    agent.delete()

    assert _stored() == _counted_afresh()
    client.force_login(manager)
    assert _facet_counts(client)["who", "unassigned"] == 1


def test_deleted_answers_and_surveys_leave_the_counts(client, manager):
    kept, gone = SurveyFactory(template="nps"), SurveyFactory(template="nps")
    first = answer(kept, 1, "Slow")
    answer(kept, 2, "Rude")
    answer(gone, 0, "Broken")

    first.delete()
    gone.delete()

    assert _stored() == _counted_afresh()
    client.force_login(manager)
    assert _facet_counts(client)["status", ""] == 1


def test_recompute_corrects_counts_that_bulk_writes_left_behind(client, manager):
    survey = SurveyFactory(template="nps")
    case = answer(survey, 1, "Slow").followup
    FollowUp.objects.filter(pk=case.pk).update(status=FollowUp.Status.RESOLVED)  # no receiver

    assert queue_counts.recompute() == 2  # one combination too many, one too few
    assert _stored() == _counted_afresh()
    assert queue_counts.recompute() == 0


def test_counts_that_are_off_never_hide_a_case_from_the_list(client, agent):
    survey = SurveyFactory(template="nps")
    for i in range(3):
        answer(survey, 1, f"case {i}")
    QueueCount.objects.all().delete()  # as if the cases had been written past the receivers
    client.force_login(agent)

    page = client.get(reverse("metrics:queue"))

    assert len(page.context["rows"]) == 3
    assert "3 cases" in _text(page)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_agents_moving_cases_both_ways_at_once_do_not_wait_on_each_other(agent):
    """Resolving one case while reopening another moves them between the same two
    combinations in opposite directions: with shared counters that deadlocked."""
    survey = SurveyFactory(template="nps")
    cases = [answer(survey, 1, f"case {i}").followup for i in range(16)]
    for case in cases[8:]:
        followups.resolve(followup=case, by=agent, resolution="Done")
    start = threading.Barrier(len(cases))
    errors: list[BaseException] = []

    def step(case: FollowUp, resolving: bool) -> None:
        try:
            start.wait()
            with transaction.atomic():
                if resolving:
                    followups.resolve(followup=case, by=agent, resolution="Done")
                else:
                    followups.reopen(followup=case, by=agent, note="Again")
                time.sleep(0.05)  # hold the transaction open, as a slow request would
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=step, args=(case, i < 8)) for i, case in enumerate(cases)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert _stored() == _counted_afresh()
    assert queue_counts.recompute() == 0
