"""Demo surveys, customers and a year of processed responses, loaded in bulk: with COPY
on PostgreSQL (binary for the responses, text made once per answer set for the answers),
response ids reserved first so that answers need no read-back, and with bulk_create on
SQLite (`make run`). bench/ reuses the loader functions."""

import json
import random
import secrets
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache, cached_property
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Avg, Max, Model
from django.utils import timezone
from psycopg.types.json import set_json_dumps

from metrics import followups, orders
from metrics.access import AGENTS
from metrics.models import AlertChannel, ScoreRollup
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
# The loaded columns of a response, with their types for binary COPY.
RESPONSE_COLUMNS = {
    "id": "int8",
    "survey_id": "int8",
    "customer_id": "int8",
    "submitted_at": "timestamptz",
    "language": "text",
    "touchpoint": "text",
    "channel": "text",
    "segment": "text",
    "metadata": "jsonb",
    "processed_at": "timestamptz",
    # Demo answers come from no client: no fingerprint, none excluded (NULL).
    "fingerprint": "text",
}
# (drop, restore) statements for the loaded tables' foreign keys and plain indexes, the
# primary and unique keys of those no foreign key points to (the answers), and the
# answer-scale trigger of surveys migration 0002 (its rule checked in one query).
DROP_AND_RESTORE = """
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
              pg_get_constraintdef(oid))
  FROM pg_constraint c
 WHERE conrelid = ANY({tables})
   AND (contype = 'f'
        OR (contype IN ('p', 'u')
            AND NOT EXISTS (SELECT FROM pg_constraint f WHERE f.confrelid = c.conrelid)))
UNION ALL
SELECT format('DROP INDEX %s', indexrelid::regclass), pg_get_indexdef(indexrelid)
  FROM pg_index WHERE NOT indisunique AND indrelid = ANY({tables})
UNION ALL
SELECT format('ALTER TABLE %s DISABLE TRIGGER %I', tgrelid::regclass, tgname),
       format('ALTER TABLE %s ENABLE TRIGGER %I', tgrelid::regclass, tgname)
  FROM pg_trigger
 WHERE tgname = 'surveys_answer_value_within_scale' AND tgrelid = ANY({tables})
"""

Row = tuple[Any, ...]
# COPY's text format, for the answers: NULL, and the characters a value must escape.
COPY_NULL = "\\N"
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass(frozen=True)
class AnswerSet:
    """One respondent's answers, which many demo responses share."""

    answers: tuple[tuple[int, int | None, str], ...]  # (question id, value, text) each

    @cached_property
    def lines(self) -> tuple[str, ...]:
        """The answers as lines of COPY text, each but for its leading response id."""
        return tuple(
            f"\t{question}\t{COPY_NULL if value is None else value}\t{_copy_value(text)}\n"
            for question, value, text in self.answers
        )


# Response ids with their answers, or those answers as COPY text.
Answered = list[tuple[int, AnswerSet]]


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
            if connection.vendor == "postgresql":
                # Demo data need not wait for the disk at commit: after a crash that
                # lost it, the command simply loads it again.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit = off")
            customers = create_customers(rng, options["customers"])
            surveys = create_demo_surveys(rng)
            count = load_responses(rng, surveys, customers, options["responses"], self.stdout.write)
            self.stdout.write(f"  scores: counting the answers of {len(surveys)} surveys")
            with _bulk_load(ScoreRollup):
                recompute_rollups(
                    surveys=surveys, progress=lambda line: self.stdout.write(f"  scores: {line}")
                )
            cases = open_demo_cases()
            password = create_demo_support()
            placed = load_demo_orders(rng, today=timezone.localdate())
        self.stdout.write(f"Loaded {len(surveys)} live surveys and {count} responses.")
        self.stdout.write(f"Loaded {placed.created} orders and refunds of the last year.")
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
                # The demo answers come from these, so none of them counts as "other".
                known_touchpoints="\n".join(TOUCHPOINTS),
                known_channels="\n".join(CHANNELS),
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

    A thread makes each batch while the one before is written, so the database and
    Python work at once; it uses no database and is the only user of `rng`, so a seed
    always gives the same data.
    """
    if count <= 0:
        return 0
    plans = [(s.pk, s.language, _answer_sets(rng, s)) for s in surveys]
    people = [(c.pk, c.language, c.segment, json.dumps({"ref": c.ref})) for c in customers]
    postgres = connection.vendor == "postgresql"
    now = timezone.now()
    with transaction.atomic(), _bulk_load(Response, Answer), ThreadPoolExecutor(1) as maker:
        ids = _reserve_ids(count)

        def make(start: int) -> tuple[list[Row], Answered | str]:
            responses, answered = _rows(rng, plans, people, ids, now, start)
            return responses, _answers_copy_text(answered) if postgres else answered

        upcoming = maker.submit(make, 0)
        for start in range(0, count, BATCH):
            responses, answers = upcoming.result()
            if start + BATCH < count:
                upcoming = maker.submit(make, start + BATCH)
            if isinstance(answers, str):
                _copy(responses, answers)
            else:
                _create(responses, answers)
            progress(f"  {min(start + BATCH, count):,}/{count:,} responses")
    return count


def _answer_sets(rng: random.Random, survey: Survey) -> dict[str, list[AnswerSet]]:
    questions = list(Question.objects.filter(survey=survey).order_by("position"))
    moods = {language: rng.choices(MOODS, MOOD_WEIGHTS, k=ANSWER_SETS) for language in COMMENTS}
    sets = {
        language: [_answers(rng, questions, language, mood) for mood in moods[language]]
        for language in COMMENTS
    }
    # Every loaded answer is a copy of one of these: the rule of the scale trigger, which
    # the load switches off, checked once per set instead of once per row.
    scales = {question.pk: question.scale_values for question in questions}
    if any(
        value is not None and value not in scales[question]
        for language_sets in sets.values()
        for answer_set in language_sets
        for question, value, _ in answer_set.answers
    ):
        raise CommandError("An answer lies outside its question's scale.")
    return sets


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
    return AnswerSet(tuple(answers))


def _rows(
    rng: random.Random, plans: list[Row], people: list[Row], ids: range, now: datetime, start: int
) -> tuple[list[Row], Answered]:
    """The response rows (as RESPONSE_COLUMNS) of the batch from `start`, and each one's
    answers. Each batch covers its slice of the year, oldest first, so ids rise with
    submitted_at."""
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
    responses, answered = [], []
    for pk, age, (survey, default, sets), person, where, via, pick in picks:
        customer, language, segment, meta = person
        language = language or default
        submitted = now - timedelta(seconds=age)
        row = (pk, survey, customer, submitted, language, where, via, segment, meta, now, "")
        responses.append(row)
        answered.append((pk, sets[language][pick]))
    return responses, answered


def _reserve_ids(count: int) -> range:
    """Ids for `count` new responses. On PostgreSQL the caller's `_bulk_load` holds the
    table's lock, so no insert takes a number between nextval and setval."""
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


def _answers_copy_text(answered: Answered) -> str:
    """Two thirds of the rows are answers, each from a shared answer set: as COPY text,
    made once per set and prefixed with the response id."""
    return "".join(f"{pk}{line}" for pk, each in answered for line in each.lines)


@cache
def _copy_value(text: str) -> str:
    return text.translate(COPY_ESCAPES)


def _copy(responses: list[Row], answers: str) -> None:
    columns = ", ".join(RESPONSE_COLUMNS)
    with connection.cursor() as cursor:
        set_json_dumps(str, context=cursor.cursor)  # the metadata is JSON text already
        binary = f"COPY {Response._meta.db_table} ({columns}) FROM STDIN (FORMAT BINARY)"
        with cursor.cursor.copy(binary) as copy:
            copy.set_types(list(RESPONSE_COLUMNS.values()))
            for row in responses:
                copy.write_row(row)
        text = f"COPY {Answer._meta.db_table} (response_id, question_id, value, text) FROM STDIN"
        with cursor.cursor.copy(text) as copy:
            copy.write(answers)


def _create(responses: list[Row], answered: Answered) -> None:
    objects = [Response(**dict(zip(RESPONSE_COLUMNS, row, strict=True))) for row in responses]
    for response in objects:
        response.metadata = json.loads(response.metadata)
    Response.objects.bulk_create(objects, batch_size=5000)
    Answer.objects.bulk_create(
        (
            Answer(response_id=pk, question_id=question, value=value, text=text)
            for pk, each in answered
            for question, value, text in each.answers
        ),
        batch_size=5000,
    )


@contextmanager
def _bulk_load(*models: type[Model]) -> Iterator[None]:
    """On PostgreSQL, as its manual advises ("Populating a Database"), drop the keys,
    indexes and scale trigger of the models' tables (DROP_AND_RESTORE) and restore them
    after, within the caller's transaction: one query checks each rule, not one per row."""
    if connection.vendor != "postgresql":
        yield
        return
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        connection.check_constraints()  # ALTER TABLE refuses pending deferred checks
        cursor.execute(DROP_AND_RESTORE.format(tables=f"ARRAY{tables}::regclass[]"))
        steps = cursor.fetchall()
        for drop, _ in steps:
            cursor.execute(drop)
        yield
        cursor.execute("SET maintenance_work_mem = '256MB'")  # index sorts in memory
        for _, restore in steps:
            cursor.execute(restore)
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute(f"ANALYZE {', '.join(tables)}")


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
        answers = followups.answers_of(response.pk)
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


# Demo products and prices; customers mostly order their favourite again.
PRODUCTS = [
    ("Coffee beans 1 kg", Decimal("24.90")),
    ("Espresso machine", Decimal("349.00")),
    ("Milk frother", Decimal("59.95")),
    ("Descaler", Decimal("12.50")),
    ("Paper filters", Decimal("4.95")),
    ("Tea sampler", Decimal("19.90")),
    ("Travel mug", Decimal("17.50")),
    ("Coffee grinder", Decimal("129.00")),
]
# By a customer's mean NPS answer: orders a month, the chance of leaving within the year,
# of trying a product new to them, and of a refund. Promoters buy more.
BEHAVIOUR = {
    "promoter": (1.6, 0.04, 0.35, 0.02),
    "passive": (0.9, 0.12, 0.2, 0.03),
    "detractor": (0.5, 0.35, 0.1, 0.08),
    None: (0.8, 0.1, 0.2, 0.03),
}


def _group(mean: float | None) -> str | None:
    if mean is None:
        return None
    return "promoter" if mean >= 9 else "passive" if mean >= 7 else "detractor"


def load_demo_orders(rng: random.Random, today: date) -> orders.ImportResult:
    """A year of orders for the demo customers, through the import, as their NPS answers
    suggest: promoters order more often and try more products, detractors leave more
    often (the date set as their customer_until)."""
    answered = dict(
        Answer.objects.filter(question__role=Question.Role.NPS, response__customer__isnull=False)
        .values_list("response__customer")
        .annotate(mean=Avg("value"))
        .order_by()
    )
    year_ago = today - timedelta(days=365)
    lines = ["ref,customer_ref,ordered_at,amount,product,channel"]
    leaving = []
    for customer in Customer.objects.filter(ref__startswith="DEMO-").order_by("pk"):
        rate, leaves, tries, refunds = BEHAVIOUR[_group(answered.get(customer.pk))]
        start = max(customer.customer_since or year_ago, year_ago)
        end = today
        if rng.random() < leaves:
            end = start + timedelta(days=rng.randint(1, max(1, (today - start).days)))
            customer.customer_until = end
            leaving.append(customer)
        favourite = rng.randrange(len(PRODUCTS))
        days = (end - start).days
        for _ in range(sum(rng.random() < rate / 30 for _ in range(days))):
            when = datetime.combine(start, datetime.min.time()) + timedelta(
                seconds=rng.randrange(max(1, days) * 86400)
            )
            product, price = PRODUCTS[
                rng.randrange(len(PRODUCTS)) if rng.random() < tries else favourite
            ]
            amount = price * rng.choice([1, 1, 1, 2])
            channel = rng.choice(["web", "app", "shop"])
            number = len(lines)
            lines.append(
                f"DEMO-O-{number:06d},{customer.ref},{when:%Y-%m-%dT%H:%M:%S},{amount},{product},{channel}"
            )
            if rng.random() < refunds:
                later = when + timedelta(days=rng.randint(1, 14))
                if later.date() < today:
                    lines.append(
                        f"DEMO-R-{number:06d},{customer.ref},{later:%Y-%m-%dT%H:%M:%S},-{amount},{product},{channel}"
                    )
    Customer.objects.bulk_update(leaving, ["customer_until"])
    return orders.import_orders(lines=[line + "\n" for line in lines])
