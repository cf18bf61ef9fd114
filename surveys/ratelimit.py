"""How many answers one client may post to one survey, per minute and per day.

Counted in fixed windows in Django's cache (Redis in production, so every web process
shares the counts), keyed on the survey and `client_address`, which trusts
X-Forwarded-For only as far as TRUSTED_PROXY_COUNT says. It fails open: while the cache
cannot be reached every answer is let through, since turning a real respondent away
costs more than a flood that staff can exclude from the scores afterwards. After a
failure the process stops asking for a while (a circuit breaker, as for the broker), so
a Redis that is down or hung costs one timeout now and then, not one on every answer.
"""

import hashlib
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone

from loyaltysite.broker import SKIP_AFTER_FAILURE, Breaker
from surveys.clients import client_address
from surveys.models import Survey

logger = logging.getLogger(__name__)

MINUTE = 60
DAY = 24 * 60 * 60

breaker = Breaker(SKIP_AFTER_FAILURE)


def count_public_post(*, request: HttpRequest, survey: Survey) -> int:
    """Count this POST; 0 when it may go on, else the seconds until the client may post
    again."""
    if breaker.is_open:
        return 0
    # Hashed: the cache need not hold the address either.
    client = hashlib.sha256(client_address(request).encode()).hexdigest()[:32]
    prefix = f"public-posts:{survey.slug}:{client}"
    now = time.time()
    local = timezone.localtime()
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        minute_count = _increment(f"{prefix}:m{int(now // MINUTE)}", MINUTE)
        day_count = _increment(f"{prefix}:d{local.date().isoformat()}", DAY)
    except Exception:
        breaker.trip()
        logger.warning(
            "The cache cannot count public posts; letting them through, and not asking it "
            "again for %g s.",
            breaker.pause,
        )
        return 0
    if day_count > settings.PUBLIC_POSTS_PER_DAY:
        return max(1, int((midnight - local).total_seconds()))
    if minute_count > settings.PUBLIC_POSTS_PER_MINUTE:
        return MINUTE - int(now % MINUTE)
    return 0


def _increment(key: str, timeout: int) -> int:
    # add() starts the window only if it is new; incr() is atomic in Redis.
    cache.add(key, 0, timeout)
    try:
        return cache.incr(key)
    except ValueError:
        # The window ended between the two calls: this post starts the next one.
        cache.set(key, 1, timeout)
        return 1
