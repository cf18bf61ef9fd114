import random
from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from metrics.rollups import recompute_rollups
from surveys.models import Answer, Customer, Question, Response, Survey
from surveys.services import create_survey

BATCH = 5000
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


class Command(BaseCommand):
    help = (
        "Load demo surveys, customers and a year of responses with their scores "
        "(skipped when surveys exist)."
    )

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
            customers = self._customers(rng, options["customers"])
            surveys = [
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
                for template, name, language in DEMO_SURVEYS
            ]
            count = self._responses(rng, surveys, customers, options["responses"])
            for survey in surveys:
                recompute_rollups(survey=survey)
        first = surveys[0]
        self.stdout.write(f"Loaded {len(surveys)} live surveys and {count} responses.")
        self.stdout.write(f"Demo survey: {first.public_url}")

    def _customers(self, rng: random.Random, count: int) -> list[Customer]:
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

    def _responses(
        self, rng: random.Random, surveys: list[Survey], customers: list[Customer], count: int
    ) -> int:
        questions = {s.pk: list(Question.objects.filter(survey=s)) for s in surveys}
        now = timezone.now()
        done = 0
        while done < count:
            size = min(BATCH, count - done)
            responses = []
            for _ in range(size):
                survey = rng.choice(surveys)
                customer = rng.choice(customers)
                responses.append(
                    Response(
                        survey=survey,
                        customer=customer,
                        submitted_at=now - timedelta(seconds=rng.randint(60, 365 * 86400)),
                        language=customer.language or survey.language,
                        touchpoint=rng.choice(TOUCHPOINTS),
                        channel=rng.choice(CHANNELS),
                        metadata={"ref": customer.ref},
                        processed_at=now,
                    )
                )
            Response.objects.bulk_create(responses, batch_size=BATCH)
            Answer.objects.bulk_create(
                (
                    answer
                    for response in responses
                    for answer in self._answers(rng, response, questions[response.survey_id])
                ),
                batch_size=BATCH,
            )
            done += size
            self.stdout.write(f"  {done}/{count} responses", ending="\r")
        self.stdout.write("")
        return done

    def _answers(self, rng: random.Random, response: Response, questions: list[Question]):
        mood = rng.choices(["low", "mid", "high"], weights=[2, 3, 5])[0]
        for question in questions:
            if question.scale_min is None or question.scale_max is None:
                if rng.random() < 0.4:
                    text = rng.choice(COMMENTS[response.language][mood])
                    yield Answer(response=response, question=question, text=text)
                continue
            low, high = question.scale_min, question.scale_max
            third = (high - low) / 3
            band = {"low": (low, low + third), "mid": (low + third, high - third / 2)}
            start, end = band.get(mood, (high - third / 2, high))
            value = min(high, max(low, round(rng.uniform(start, end))))
            yield Answer(response=response, question=question, value=value)
