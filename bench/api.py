"""The REST API: pages of responses deep into 1,000,000, and customers posted 1,000 at a
time against a plain bulk_create of the same rows. See bench/README.md.

Requests go through Django's test client in this process (the whole stack: middleware,
key, rate limit, serializers), so the figures are the API's own, without a network.
"""

import json
import random
import statistics

from _common import migrate_and_flush, seed, timed, verdict  # configures Django first
from django.conf import settings
from django.db import connection
from django.test import Client

from surveys.api_keys import create_api_key
from surveys.models import Customer

RESPONSES = 1_000_000
PAGE = 100
DEEP = 5_000  # the page number compared with the first
CUSTOMERS = 20_000
PER_REQUEST = 1_000
TARGET_DEPTH = 1.5  # page DEEP against page 1, at most
TARGET_CUSTOMERS = 0.3  # POST rows per second against bulk_create's, at least


def page_times(client: Client, cursor_url: str, runs: int = 15) -> float:
    """The median time of GETting one page."""
    client.get(cursor_url)
    return statistics.median(timed(lambda: client.get(cursor_url)) for _ in range(runs))


def deep_cursor(client: Client, pages: int) -> str:
    """The `next` link of page `pages`, found by following the cursors from page 1."""
    url = f"/api/v1/responses/?page_size={PAGE}"
    for number in range(1, pages):
        url = client.get(url).json()["next"]
        if number % 1000 == 0:
            print(f"  followed {number:,} pages")
    return url


def customer_rows(start: int) -> list[dict[str, str]]:
    return [
        {
            "ref": f"C{i:07d}",
            "email": f"customer{i}@example.com",
            "name": f"Customer {i}",
            "language": "nl" if i % 2 else "en",
            "segment": "consumer",
        }
        for i in range(start, start + PER_REQUEST)
    ]


def empty_customers() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Customer._meta.db_table} RESTART IDENTITY CASCADE")


def post_customers(client: Client) -> None:
    for start in range(0, CUSTOMERS, PER_REQUEST):
        page = client.post(
            "/api/v1/customers/",
            json.dumps(customer_rows(start)),
            content_type="application/json",
        )
        if page.status_code != 201:
            raise SystemExit(f"POST /api/v1/customers/ answered {page.status_code}")


def bulk_create() -> None:
    for start in range(0, CUSTOMERS, PER_REQUEST):
        Customer.objects.bulk_create(Customer(**row) for row in customer_rows(start))


def main() -> None:
    settings.API_REQUESTS_PER_MINUTE = 10**9  # one client asks for many pages
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.SECURE_SSL_REDIRECT = False  # plain HTTP from the test client
    migrate_and_flush()
    _api_key, key = create_api_key(name="Bench", scopes=["read", "write"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")

    print(f"Customers, {PER_REQUEST:,} a request, {CUSTOMERS:,} in all:")
    posts, baselines = [], []
    for _ in range(2):  # alternated, as this machine's speed varies
        empty_customers()
        baselines.append(timed(bulk_create))
        empty_customers()
        posts.append(timed(lambda: post_customers(client)))
    baseline, posted = min(baselines), min(posts)
    print(f"  plain bulk_create:       {CUSTOMERS / baseline:9,.0f} rows/s, best of 2")
    print(f"  POST /api/v1/customers/: {CUSTOMERS / posted:9,.0f} rows/s, best of 2")
    verdict("ratio of rows per second, API / bulk_create", baseline / posted, TARGET_CUSTOMERS)

    print(f"Responses, {PAGE} a page, over {RESPONSES:,}:")
    seed("nps", "API bench", RESPONSES, random.Random(7))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE surveys_response; ANALYZE surveys_answer")
    first_url = f"/api/v1/responses/?page_size={PAGE}"
    deep_url = deep_cursor(client, DEEP)
    first, deep = page_times(client, first_url), page_times(client, deep_url)
    print(f"  page 1:     {first * 1000:7.1f} ms (median of 15)")
    print(f"  page {DEEP:,}: {deep * 1000:7.1f} ms (median of 15)")
    verdict(f"page {DEEP:,} / page 1", deep / first, TARGET_DEPTH, at_most=True)


if __name__ == "__main__":
    main()
