"""Gunicorn in production: `gunicorn loyaltysite.wsgi` reads this file from the project.

Sync workers: a request waits on PostgreSQL, never on the broker for long (publishing is
bounded, loyaltysite/broker.py), so processes are what serve more requests at once.
"""

import os

from loyaltysite.env import envint

wsgi_app = "loyaltysite.wsgi"
# Gunicorn's own variable; two per core and one, as gunicorn's documentation suggests.
workers = envint("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1)
# A worker silent for this long is restarted: longer than the slowest page, a streamed
# export of a year's answers.
timeout = 120
# On a restart (a deploy), requests under way get this long to finish.
graceful_timeout = 30
# Behind a load balancer that keeps connections open between requests.
keepalive = 5
# Access log to stdout, errors to stderr, for the process manager to collect. The path
# without its query string (no `ref` or score a respondent's link carries), the status,
# the size and the time taken; no client address (behind the proxy, it is the proxy's),
# and no invitation token (loyaltysite/access_log.py).
accesslog = "-"
errorlog = "-"
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
logger_class = "loyaltysite.access_log.AccessLogWithoutTokens"
