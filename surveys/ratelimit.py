"""How many answers one client may post to one survey, per minute and per day, and the
counting in fixed windows that other limits share (password resets, loyaltysite.accounts).

Counted in fixed windows in Django's cache (Redis in production, so every web process
shares the counts), keyed on the survey and `client_address`, which trusts
X-Forwarded-For only as far as TRUSTED_PROXY_COUNT says. It fails open: while the cache
cannot be reached every answer is let through, since turning a real respondent away
costs more than a flood that staff can exclude from the scores afterwards. After a
failure the process stops asking for a while (a circuit breaker, as for the broker), so
a Redis that is down or hung costs one timeout now and then, not one on every answer.
"""

import functools
import hashlib
import logging
import time
from datetime import timedelta

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest
from django.utils import timezone
from redis.commands.core import Script

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
    # Hashed: the cache need not hold the address either.
    prefix = f"public-posts:{survey.slug}:{hashed_client(request)}"
    now = time.time()
    local = timezone.localtime()
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    windows = [(f"{prefix}:m{int(now // MINUTE)}", MINUTE), (f"{prefix}:d{local.date()}", DAY)]
    counts = count(windows)
    if counts is None:
        return 0
    minute_count, day_count = counts
    if day_count > settings.PUBLIC_POSTS_PER_DAY:
        return max(1, int((midnight - local).total_seconds()))
    if minute_count > settings.PUBLIC_POSTS_PER_MINUTE:
        return MINUTE - int(now % MINUTE)
    return 0


def hashed_client(request: HttpRequest) -> str:
    return hashlib.sha256(client_address(request).encode()).hexdigest()[:32]


def count(windows: list[tuple[str, int]]) -> list[int] | None:
    """Count one more event in each (cache key, seconds) window, starting any that is new;
    None while the cache cannot be reached, when a limit lets everything through."""
    if breaker.is_open:
        return None
    try:
        return _count(caches["default"], windows)
    except Exception:
        breaker.trip()
        logger.warning(
            "The cache cannot count towards a limit; letting requests through, and not "
            "asking it again for %g s.",
            breaker.pause,
        )
        return None


def _count(cache: BaseCache, windows: list[tuple[str, int]]) -> list[int]:
    """Count one more post in each (key, seconds) window, starting any that is new."""
    if isinstance(cache, RedisCache):
        return _count_in_redis(cache, windows)
    return [_increment(cache, key, timeout) for key, timeout in windows]


# Counts one more event in each window (KEYS) and starts, with its length in seconds
# (ARGV), any window that is new: one command, atomic, so a window cannot end between its
# start and its count. The values are the cache's own: it stores integers as Redis
# integers.
COUNT_IN_WINDOWS = """
local counts = {}
for i, key in ipairs(KEYS) do
    counts[i] = redis.call('INCR', key)
    if counts[i] == 1 then
        redis.call('EXPIRE', key, ARGV[i])
    end
end
return counts
"""


def _count_in_redis(cache: RedisCache, windows: list[tuple[str, int]]) -> list[int]:
    # One round trip on every answer instead of six (add(), and incr()'s EXISTS and INCR,
    # per window). The keys are ours, so the cache need not check them for memcached.
    script = _counting_script(cache._cache._get_connection_pool(write=True))  # type: ignore[attr-defined]
    keys = [cache.make_key(key) for key, _seconds in windows]
    return script(keys=keys, args=[seconds for _key, seconds in windows])


@functools.lru_cache(maxsize=32)
def _counting_script(pool: redis.ConnectionPool) -> Script:
    """The script with a client of the cache's connection pool, made once per pool (per
    process and thread) rather than on every answer."""
    return redis.Redis(connection_pool=pool).register_script(COUNT_IN_WINDOWS)


def _increment(cache: BaseCache, key: str, timeout: int) -> int:
    # add() starts the window only if it is new; incr() is atomic in each backend.
    cache.add(key, 0, timeout)
    try:
        return cache.incr(key)
    except ValueError:
        # The window ended between the two calls: this post starts the next one.
        cache.set(key, 1, timeout)
        return 1
