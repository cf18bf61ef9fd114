from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from metrics.management.commands import seed_demo
from metrics.models import ScoreRollup
from metrics.rollups import recompute_rollups
from surveys.models import Answer, Response, Survey

pytestmark = pytest.mark.django_db


def _run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def _schema():
    """Constraints, indexes and triggers of the tables the loader works on in bulk."""
    with connection.cursor() as cursor:
        found = {
            (table, name, repr(sorted(details.items())))
            for table in ("surveys_response", "surveys_answer", "metrics_scorerollup")
            for name, details in connection.introspection.get_constraints(cursor, table).items()
        }
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname, tgenabled FROM pg_trigger "
                "WHERE tgrelid = 'surveys_answer'::regclass AND NOT tgisinternal"
            )
            found |= set(cursor.fetchall())
    return found


def test_seed_demo_loads_live_surveys_with_answers_once():
    lines = _run("seed_demo", "--responses", "300", "--customers", "20")

    assert Survey.objects.filter(status=Survey.Status.LIVE).count() == 5
    assert Response.objects.count() == 300
    assert not Response.objects.filter(processed_at__isnull=True).exists()
    assert set(Survey.objects.values_list("kind", flat=True)) == {"nps", "csat", "ces", "loyalty"}
    # Every response answers its survey's required questions, on their scales.
    required = Answer.objects.filter(question__required=True)
    assert required.count() == sum(
        r.survey.questions.filter(required=True).count()
        for r in Response.objects.select_related("survey")
    )
    # Spread over the last year, about 40% with a comment.
    assert not Response.objects.filter(submitted_at__lt=timezone.now() - timedelta(days=366))
    assert not Response.objects.filter(submitted_at__gt=timezone.now())
    assert 0.25 < Answer.objects.filter(value__isnull=True).count() / 300 < 0.55
    # Scores are built at the end, and equal a fresh count.
    assert ScoreRollup.objects.filter(dimension="all").exists()
    assert all(recompute_rollups(surveys=[s]).cells == 0 for s in Survey.objects.all())
    first = Survey.objects.order_by("created_at").first()
    assert first is not None
    assert lines[-1] == f"Demo survey: http://localhost:8000/s/{first.slug}/"
    assert "300/300 responses" in "\n".join(lines)

    again = _run("seed_demo", "--responses", "300")
    assert Response.objects.count() == 300
    assert "not loaded" in again[0]
    assert again[-1] == f"A live survey: http://localhost:8000/s/{first.slug}/"


def test_seed_demo_leaves_keys_indexes_and_the_scale_rule_in_place():
    schema = _schema()
    _run("seed_demo", "--responses", "50", "--customers", "5")

    assert _schema() == schema
    answer = Answer.objects.filter(value__isnull=False).first()
    assert answer is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.filter(pk=answer.pk).update(value=99)


def test_seed_demo_opens_cases_for_recent_unhappy_answers_and_a_support_login():
    from django.contrib.auth import get_user_model

    from metrics.models import AlertChannel, FollowUp
    from metrics.scores import default_threshold

    lines = _run("seed_demo", "--responses", "3000", "--customers", "50")

    cases = FollowUp.objects.select_related("response", "survey")
    assert 0 < cases.count() <= 12
    recent = timezone.now() - timedelta(days=3)
    assert all(case.response.submitted_at >= recent for case in cases)
    assert all(case.score <= default_threshold(case.survey.kind) for case in cases)
    overdue = cases.filter(due_at__lt=timezone.now())
    assert overdue.exists() and all(case.escalated_at is not None for case in overdue)
    assert AlertChannel.objects.filter(kind="email", enabled=True).exists()
    password = next(line for line in lines if line.startswith("Support agent login"))
    agent = get_user_model().objects.get(username="agent")
    assert agent.check_password(password.split(" / ")[1])
    assert agent.groups.filter(name="Support agents").exists() and not agent.is_staff


def test_seed_demo_stores_comments_exactly_as_written(monkeypatch):
    """On PostgreSQL the answers travel as COPY text, where tabs, newlines and
    backslashes must be escaped; on SQLite they go through bulk_create."""
    tricky = "Tab\there, new\nline, return\r, back\\slash, \\N and 'quotes'"
    moods = {mood: [tricky] for mood in ("low", "mid", "high")}
    monkeypatch.setattr(seed_demo, "COMMENTS", {"en": moods, "nl": moods})
    monkeypatch.setattr(seed_demo, "COMMENT_SHARE", 1.0)

    _run("seed_demo", "--responses", "200", "--customers", "5")

    comments = Answer.objects.filter(value__isnull=True)
    assert comments.count() == 200
    assert set(comments.values_list("text", flat=True)) == {tricky}


def test_an_answer_off_its_scale_stops_the_load_and_loads_nothing(monkeypatch):
    made = seed_demo._answers

    def off_scale(rng, questions, language, mood):
        answers = made(rng, questions, language, mood).answers
        return seed_demo.AnswerSet(((answers[0][0], 99, ""), *answers[1:]))

    monkeypatch.setattr(seed_demo, "_answers", off_scale)

    with pytest.raises(CommandError, match="outside its question's scale"):
        _run("seed_demo", "--responses", "50", "--customers", "5")
    assert not Survey.objects.exists() and not Response.objects.exists()


def test_seed_demo_loads_a_year_of_orders_in_which_promoters_buy_more():
    from django.db.models import Avg, Count, F, Q

    from metrics.models import Order
    from surveys.models import Customer

    lines = _run("seed_demo", "--responses", "2000", "--customers", "200")

    assert f"Loaded {Order.objects.count()} orders and refunds of the last year." in lines
    year_ago = timezone.now() - timedelta(days=366)
    assert not Order.objects.filter(ordered_at__lt=year_ago).exists()
    assert not Order.objects.filter(ordered_at__gt=timezone.now()).exists()
    assert Order.objects.filter(amount__lt=0).exists()  # some refunds
    # Nobody orders after they stopped being a customer (a refund may come after).
    late = Order.objects.filter(amount__gte=0, ordered_at__date__gte=F("customer__customer_until"))
    assert not late.exists()
    customers = (
        Customer.objects.annotate(
            mean=Avg(
                "responses__answers__value", filter=Q(responses__answers__question__role="nps")
            )
        )
        .filter(mean__isnull=False)
        .annotate(bought=Count("orders", filter=Q(orders__amount__gte=0), distinct=True))
    )
    promoters = [c.bought for c in customers if c.mean >= 9]
    detractors = [c.bought for c in customers if c.mean < 7]
    assert promoters and detractors
    assert sum(promoters) / len(promoters) > 1.5 * sum(detractors) / len(detractors)
    assert Customer.objects.filter(customer_until__isnull=False).exists()
