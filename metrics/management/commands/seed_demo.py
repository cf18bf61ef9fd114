"""Demo surveys, customers and a year of processed responses, loaded in bulk: with COPY
on PostgreSQL, response ids reserved first so that answers need no read-back, and with
bulk_create on SQLite (`make run`). bench/ reuses the loader functions."""

import json
import random
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import F, Max, Model, Q
from django.utils import timezone

from metrics import followups
from metrics.access import AGENTS
from metrics.models import AlertChannel
from metrics.rollups import recompute_rollups
from surveys.models import Answer, Customer, Question, Response, Survey
from surveys.services import create_survey

BATCH = 100_000  # responses made and written per step, one progress line each
SEGMENTS = ["consumer", "small business", "enterprise"]
TOUCHPOINTS = ["delivery", "support", "checkout", "onboarding"]
CHANNELS = ["email", "sms", "web"]
DEMO_SURVEYS = [
    ("nps", "Relationship NPS", "nl"),
    ("csat", "Support satisfaction", "en"),
    ("ces", "Returns effort", "nl"),
    ("loyalty", "Loyalty check", "en"),
    ("csat-yes-no", "Delivery satisfied?", "en"),
]
COMMENTS = {
    "en": {
        "low": ["Delivery was late twice.", "Nobody answered my email.", "Too expensive."],
        "mid": ["Fine, nothing special.", "Good product, slow support."],
        "high": ["Great service, quick delivery!", "Friendly staff, will order again."],
    },
    "nl": {
        "low": ["Levering was twee keer te laat.", "Niemand reageerde op mijn mail."],
        "mid": ["Prima, niets bijzonders.", "Goed product, trage klantenservice."],
        "high": ["Top service, snel geleverd!", "Vriendelijk personeel, ik bestel weer."],
    },
}
MOODS, MOOD_WEIGHTS, COMMENT_SHARE = ["low", "mid", "high"], [2, 3, 5], 0.4
# Each response takes one of this many answer sets made per survey and language: one
# lookup per row instead of random draws per question.
ANSWER_SETS = 2000
YEAR = 365 * 86400
RESPONSE_COLUMNS = ["id", "survey_id", "customer_id", "submitted_at", "language"]
RESPONSE_COLUMNS += ["touchpoint", "channel", "segment", "metadata", "processed_at"]
ANSWER_COLUMNS = ["response_id", "question_id", "value", "text"]
# (drop, restore) statements for the foreign keys and plain indexes of the loaded tables,
# and the answer-scale trigger of surveys migration 0002 (its rule checked in one query).
DROP_AND_RESTORE = """
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
              pg_get_constraintdef(oid))
  FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY({tables})
UNION ALL
SELECT format('DROP INDEX %s', indexrelid::regclass), pg_get_indexdef(indexrelid)
  FROM pg_index WHERE NOT indisunique AND indrelid = ANY({tables})
UNION ALL
SELECT format('ALTER TABLE %s DISABLE TRIGGER %I', tgrelid::regclass, tgname),
       format('ALTER TABLE %s ENABLE TRIGGER %I', tgrelid::regclass, tgname)
  FROM pg_trigger WHERE tgname = 'surveys_answer_value_within_scale'
"""

Row = tuple[Any, ...]
AnswerSet = tuple[tuple[int, int | None, str], ...]  # (question id, value, text) each


class Command(BaseCommand):
    help = "Load demo surveys, customers and a year of scored responses, unless surveys exist."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--responses", type=int, default=2000)
        parser.add_argument("--customers", type=int, default=300)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        if Survey.objects.exists():
            self.stdout.write(
                f"Demo data not loaded: {Survey.objects.count()} surveys exist already."
            )
            live = Survey.objects.filter(status=Survey.Status.LIVE).order_by("created_at").first()
            if live is not None:
                self.stdout.write(f"A live survey: {live.public_url}")
            return
        rng = random.Random(options["seed"])  # noqa: S311 - demo data, not secrets
        with transaction.atomic():
            customers = create_customers(rng, options["customers"])
            surveys = create_demo_surveys(rng)
            count = load_responses(rng, surveys, customers, options["responses"], self.stdout.write)
            recompute_rollups(
                surveys=surveys, progress=lambda line: self.stdout.write(f"  scores: {line}")
            )
            cases = open_demo_cases()
            password = create_demo_support()
        self.stdout.write(f"Loaded {len(surveys)} live surveys and {count} responses.")
        self.stdout.write(f"Opened {cases} follow-up cases for the latest unhappy answers.")
        if password:
            self.stdout.write(f"Support agent login: agent / {password}")
        self.stdout.write(f"Demo survey: {surveys[0].public_url}")


def create_customers(rng: random.Random, count: int) -> list[Customer]:
    today = date.today()
    return Customer.objects.bulk_create(
        Customer(
            ref=f"DEMO-{i:05d}",
            email=f"customer{i}@example.com",
            name=f"Demo customer {i}",
            segment=rng.choice(SEGMENTS),
            language=rng.choice(["en", "nl"]),
            customer_since=today - timedelta(days=rng.randint(30, 1500)),
        )
        for i in range(1, count + 1)
    )


def create_demo_surveys(
    rng: random.Random, demo: Sequence[tuple[str, str, str]] = DEMO_SURVEYS
) -> list[Survey]:
    """Live surveys from (template, name, language) triples."""
    return [
        create_survey(
            survey=Survey(
                name=name,
                company="Demo Webshop",
                language=language,
                status=Survey.Status.LIVE,
                touchpoint=rng.choice(TOUCHPOINTS),
            ),
            template=template,
        )
        for template, name, language in demo
    ]


def load_responses(
    rng: random.Random,
    surveys: Sequence[Survey],
    customers: Sequence[Customer],
    count: int,
    progress: Callable[[str], Any] = print,
) -> int:
    """Add `count` processed responses over the last year, oldest first; returns `count`.
    A thread makes the next batch while this one is written, so two cores work; it uses
    no database and is the only user of `rng`, so a seed always gives the same data."""
    if count <= 0:
        return 0
    plans = [(s.pk, s.language, _answer_sets(rng, s)) for s in surveys]
    people = [(c.pk, c.language, c.segment, json.dumps({"ref": c.ref})) for c in customers]
    with transaction.atomic(), _bulk_load(), ThreadPoolExecutor(max_workers=1) as maker:
        ids = _reserve_ids(count)
        make = partial(_rows, rng, plans, people, ids, timezone.now())
        upcoming = maker.submit(make, 0)
        for start in range(0, count, BATCH):
            responses, answers = upcoming.result()
            if start + BATCH < count:
                upcoming = maker.submit(make, start + BATCH)
            _write(Response, RESPONSE_COLUMNS, responses)
            _write(Answer, ANSWER_COLUMNS, answers)
            progress(f"  {start + len(responses):,}/{count:,} responses")
    return count


def _answer_sets(rng: random.Random, survey: Survey) -> dict[str, list[AnswerSet]]:
    questions = list(Question.objects.filter(survey=survey).order_by("position"))
    moods = {language: rng.choices(MOODS, MOOD_WEIGHTS, k=ANSWER_SETS) for language in COMMENTS}
    return {
        language: [_answers(rng, questions, language, mood) for mood in moods[language]]
        for language in COMMENTS
    }


def _answers(rng: random.Random, questions: list[Question], language: str, mood: str) -> AnswerSet:
    """A respondent's answers: scores that agree with the mood, sometimes a comment."""
    answers: list[tuple[int, int | None, str]] = []
    for question in questions:
        low, high = question.scale_min, question.scale_max
        if low is None or high is None:
            if rng.random() < COMMENT_SHARE:
                answers.append((question.pk, None, rng.choice(COMMENTS[language][mood])))
            continue
        third = (high - low) / 3
        band = {"low": (low, low + third), "mid": (low + third, high - third / 2)}
        start, end = band.get(mood, (high - third / 2, high))
        answers.append((question.pk, min(high, max(low, round(rng.uniform(start, end)))), ""))
    return tuple(answers)


def _rows(
    rng: random.Random, plans: list[Row], people: list[Row], ids: range, now: datetime, start: int
) -> tuple[list[Row], list[Row]]:
    """The response and answer rows (as *_COLUMNS) of the batch from `start`. Each batch
    covers its slice of the year, oldest first, so ids rise with submitted_at."""
    k, count = min(BATCH, len(ids) - start), len(ids)
    oldest = 60 + (YEAR - 60) * (count - start) // count  # seconds before now
    newest = 60 + (YEAR - 60) * (count - start - k) // count
    picks = zip(
        ids[start : start + k],
        sorted(rng.choices(range(newest, max(oldest, newest + 1)), k=k), reverse=True),
        rng.choices(plans, k=k),
        rng.choices(people, k=k),
        rng.choices(TOUCHPOINTS, k=k),
        rng.choices(CHANNELS, k=k),
        rng.choices(range(ANSWER_SETS), k=k),
        strict=True,
    )
    responses, answers = [], []
    for pk, age, (survey, default, sets), person, where, via, pick in picks:
        customer, language, segment, meta = person
        language = language or default
        submitted = now - timedelta(seconds=age)
        row = (pk, survey, customer, submitted, language, where, via, segment, meta, now)
        responses.append(row)
        answers += [(pk, *answer) for answer in sets[language][pick]]
    return responses, answers


def _reserve_ids(count: int) -> range:
    """Ids for `count` new responses. On PostgreSQL `_bulk_load` holds the table's lock,
    so no insert takes a number between nextval and setval."""
    if connection.vendor != "postgresql":
        start = (Response.objects.aggregate(last=Max("pk"))["last"] or 0) + 1
        return range(start, start + count)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(seq, nextval(seq) + %s - 1) "
            "FROM pg_get_serial_sequence('surveys_response', 'id') AS seq",
            [count],
        )
        (last,) = cursor.fetchone()
    return range(last - count + 1, last + 1)


def _write(model: type[Model], columns: list[str], rows: Iterable[Row]) -> None:
    if connection.vendor == "postgresql":
        statement = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
    for response in objects:
        if isinstance(response, Response):
            response.metadata = json.loads(response.metadata)
    model._default_manager.bulk_create(objects, batch_size=5000)


@contextmanager
def _bulk_load() -> Iterator[None]:
    """On PostgreSQL, as its manual advises ("Populating a Database"), drop the foreign
    keys, plain indexes and scale trigger of the loaded tables and restore them after (the
    caller's transaction locks the tables): one query checks each rule, not one per row."""
    if connection.vendor != "postgresql":
        yield
        return
    tables = [Response._meta.db_table, Answer._meta.db_table]
    with connection.cursor() as cursor:
        connection.check_constraints()  # ALTER TABLE refuses pending deferred checks
        in_tables = f"ARRAY{tables}::regclass[]"
        cursor.execute(DROP_AND_RESTORE.format(tables=in_tables))
        steps = cursor.fetchall()
        for drop, _ in steps:
            cursor.execute(drop)
        yield
        cursor.execute("SET maintenance_work_mem = '256MB'")  # index sorts in memory
        for _, restore in steps:
            cursor.execute(restore)
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute(f"ANALYZE {', '.join(tables)}")
    off_scale = Answer.objects.filter(value__isnull=False).filter(
        Q(question__scale_min__isnull=True)
        | Q(value__lt=F("question__scale_min"))
        | Q(value__gt=F("question__scale_max"))
    )
    if off_scale.exists():  # the rule of the trigger, checked once for all rows
        raise CommandError("An answer lies outside its question's scale.")


def open_demo_cases(limit: int = 12, days: int = 3) -> int:
    """Cases for the latest unhappy answers, as processing them would have opened them,
    and escalated where they are overdue already."""
    since = timezone.now() - timedelta(days=days)
    recent = (
        Response.objects.filter(submitted_at__gte=since)
        .select_related("survey", "customer")
        .order_by("-submitted_at")[: limit * 10]
    )
    opened = 0
    for response in recent:
        answers = list(response.answers.values_list(*followups.ANSWER_FIELDS))
        opened += followups.after_answers(response=response, answers=answers) is not None
        if opened == limit:
            break
    followups.escalate_overdue()
    return opened


def create_demo_support() -> str:
    """An email alert channel for new and overdue cases, and a support agent's login.

    Returns the agent's password, shown once, or "" when the login exists already."""
    AlertChannel.objects.get_or_create(
        name="Support team (demo)", defaults={"kind": "email", "target": "support@example.com"}
    )
    User = get_user_model()
    if User.objects.filter(username="agent").exists():
        return ""
    password = secrets.token_urlsafe(12)
    agent = User.objects.create_user("agent", "agent@example.com", password)
    agent.groups.add(Group.objects.get_or_create(name=AGENTS)[0])
    return password
