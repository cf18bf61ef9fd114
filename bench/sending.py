"""Sending 10,000 survey emails to a local SMTP sink, against send_mass_mail.

See bench/README.md.
"""

import os
import socket
import subprocess
import sys
import time


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


PORT = _free_port()
# Set before Django starts: the sink is plain SMTP on this machine, and the hourly cap
# is out of the way.
os.environ.update(
    {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(PORT),
        "EMAIL_USE_TLS": "0",
        "SEND_RATE_PER_HOUR": "1000000",
    }
)

from _common import migrate_and_flush, timed, verdict  # noqa: E402
from django.core.mail import get_connection, send_mass_mail  # noqa: E402

from metrics import sending  # noqa: E402
from metrics.models import Notification  # noqa: E402
from metrics.transports import email_message  # noqa: E402
from surveys.models import Customer, Survey  # noqa: E402
from surveys.services import create_survey  # noqa: E402

N = 10_000


def start_sink() -> subprocess.Popen:
    """aiosmtpd's Sink handler in a process of its own: it accepts and drops mail."""
    sink = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{PORT}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ]
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
            return sink
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("The SMTP sink did not start.") from None
            time.sleep(0.1)


def main() -> None:
    migrate_and_flush()
    survey = create_survey(
        survey=Survey(name="Bench", company="Acme", language="nl", status=Survey.Status.LIVE),
        template="nps",
    )
    Customer.objects.bulk_create(
        Customer(ref=f"C{i}", email=f"c{i}@example.com", language="nl" if i % 2 else "en")
        for i in range(N)
    )
    # The bench hands the batches over itself, as one worker would take them in turn.
    sending._dispatch_soon = lambda: None  # type: ignore[assignment]
    written = timed(lambda: sending.send_survey(survey=survey, customers=Customer.objects.all()))
    print(f"send_survey: {N:,} invitations and their emails written in {written:.2f} s")
    notifications = list(Notification.objects.select_related("invitation__customer").order_by("pk"))
    sink = start_sink()
    try:
        datatuples = [(n.subject, n.body, None, [n.recipient]) for n in notifications]
        baseline = timed(lambda: send_mass_mail(datatuples))
        print(
            f"send_mass_mail (text only, one connection): {baseline:.2f} s ({N / baseline:,.0f}/s)"
        )
        messages = [email_message(n, [n.recipient]) for n in notifications]

        def multipart() -> None:
            with get_connection() as connection:
                connection.send_messages(messages)

        full = timed(multipart)
        print(f"send_messages, multipart, one connection: {full:.2f} s ({N / full:,.0f}/s)")
        claims = [[n.pk, n.attempts] for n in notifications]
        batches = [claims[i : i + sending.BATCH] for i in range(0, N, sending.BATCH)]
        sent = 0

        def worker() -> None:
            nonlocal sent
            sent = sum(sending.send_batch(batch) for batch in batches)

        ours = timed(worker)
        if sent != N:
            raise SystemExit(f"Only {sent:,} of {N:,} were sent.")
        print(f"send_batch, {len(batches)} batches: {ours:.2f} s ({N / ours:,.0f}/s)")
        verdict("ratio of messages per second, send_batch / send_mass_mail", baseline / ours, 0.5)
    finally:
        sink.terminate()
        sink.wait(timeout=10)


if __name__ == "__main__":
    main()
