"""The support queue and the SLA report at 1,000 and at 100,000 follow-up cases.

Their numbers of SQL queries are fixed whatever the number of cases: the tests check that
(tests/metrics/test_queue.py, test_sla.py); this prints how their time grows.

See bench/README.md.
"""

import os
import random
from datetime import timedelta

os.environ.setdefault("ALLOWED_HOSTS", "testserver")
from _common import median_time, migrate_and_flush, ms, seed, verdict
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection
from django.db.models import F, OuterRef, Subquery
from django.test import Client
from django.utils import timezone

from metrics import queue_counts
from metrics.access import AGENTS
from metrics.models import FollowUp
from surveys.models import Response

SIZES = (1_000, 100_000)
# Each page with its target: its time at the last size at most this many times that at the first.
PAGES = {
    "queue (open cases)": ("/followups/", 2),
    "queue (overdue, unassigned)": ("/followups/?when=overdue&who=unassigned", 2),
    "SLA report, per agent, a year": ("/followups/sla/?by=agent&start={start}&end={end}", 3),
}


def open_cases(survey, count: int, agent: User, rng: random.Random) -> None:
    """Cases for `count` more responses, opened when they were answered, in every state."""
    taken = FollowUp.objects.values("response_id")
    # Drawn from the whole year, not the latest answers: the report then shows as many
    # weeks at 1,000 cases as at 100,000, and only the number of cases differs.
    free = Response.objects.filter(survey=survey).exclude(pk__in=taken)
    chosen = rng.sample(list(free.values_list("pk", flat=True)), count)
    responses = Response.objects.filter(pk__in=chosen)
    statuses = ["new", "in_progress", "contacted", "resolved", "resolved"]
    FollowUp.objects.bulk_create(
        (
            FollowUp(
                response=response,
                survey=survey,
                reason="detractor",
                score=rng.randint(0, 6),
                status=rng.choice(statuses),
                assignee=agent if rng.random() < 0.6 else None,
                due_at=response.submitted_at + timedelta(hours=24),
            )
            for response in responses.only("pk", "submitted_at")
        ),
        batch_size=5000,
    )
    # Opened when answered; contacted and resolved some hours later.
    answered = Response.objects.filter(pk=OuterRef("response_id")).values("submitted_at")[:1]
    FollowUp.objects.update(created_at=Subquery(answered))
    FollowUp.objects.filter(status__in=["contacted", "resolved"]).update(
        first_contact_at=F("created_at") + timedelta(hours=rng.randint(1, 30))
    )
    FollowUp.objects.filter(status="resolved").update(
        resolved_at=F("created_at") + timedelta(hours=rng.randint(30, 72))
    )
    with connection.cursor() as cursor:  # what autovacuum does after so many updates
        cursor.execute("VACUUM ANALYZE metrics_followup")
    # Bulk writes reach no receiver: count the cases again, as the nightly job would.
    queue_counts.recompute()


def main() -> None:
    migrate_and_flush()
    # DEBUG is off, as in production: the pages need the collected static files.
    call_command("collectstatic", interactive=False, verbosity=0)
    rng = random.Random(11)
    survey = seed("nps", "Bench cases", SIZES[-1], rng)
    User.objects.filter(username="bench-agent").delete()
    agent = User.objects.create_user("bench-agent", "agent@example.com", "x")
    agent.groups.add(Group.objects.get_or_create(name=AGENTS)[0])
    client = Client()
    client.force_login(agent)
    today = timezone.localdate()
    urls = {
        name: url.format(start=today - timedelta(days=364), end=today)
        for name, (url, _target) in PAGES.items()
    }
    times: dict[tuple[str, int], float] = {}
    for size in SIZES:
        open_cases(survey, size - FollowUp.objects.count(), agent, rng)
        print(f"\nAt {FollowUp.objects.count():,} cases:")
        for name, url in urls.items():
            page = client.get(url, secure=True)
            if page.status_code != 200:
                raise SystemExit(f"{url} answered {page.status_code}")
            times[name, size] = median_time(lambda url=url: client.get(url, secure=True), runs=5)
            print(f"  {name}: {ms(times[name, size])}")
    print()
    for name, (_url, target) in PAGES.items():
        ratio = times[name, SIZES[-1]] / times[name, SIZES[0]]
        label = f"{name}: time at {SIZES[-1]:,} / at {SIZES[0]:,} cases"
        verdict(label, ratio, target, at_most=True)


if __name__ == "__main__":
    main()
