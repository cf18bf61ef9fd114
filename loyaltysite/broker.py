"""Publishing a task from a request without waiting on a broker that is down or hung.

Whatever a task works on (an answer, an upload, a notification) is a committed row
before the task is published, and a sweeper picks up every row whose task never reached
the broker. A publish that fails costs a delay, never data, so a request must not wait
for it: the broker's socket timeouts (settings) bound one attempt, with no retries, and
after a failure this process skips the broker for a while instead of paying that
timeout on every request (a circuit breaker).
"""

import logging
import time

from celery import Task

logger = logging.getLogger(__name__)

# Long enough that an outage costs each process one timeout now and then (with a hung
# Redis, at 10 s, the timeouts of five processes held up 1 in 50 answers by half a
# second); short enough that tasks flow again within half a sweep of the broker's return
# (the sweepers look every minute).
SKIP_AFTER_FAILURE = 30.0


class Breaker:
    """Open for `pause` seconds after a failure; callers skip the broker meanwhile.

    Per process and without a lock: two threads tripping it at once set the same time.
    """

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def trip(self) -> None:
        self._open_until = time.monotonic() + self.pause

    def close(self) -> None:
        self._open_until = 0.0


breaker = Breaker(SKIP_AFTER_FAILURE)


def publish(task: Task, *args: object) -> bool:
    """Send `task(*args)` to the broker, once; returns whether it was sent.

    Never raises: with the broker unreachable the caller's row waits for its sweeper.
    """
    if breaker.is_open:
        return False
    try:
        task.apply_async(args, retry=False)
    except Exception as error:
        breaker.trip()
        logger.warning(
            "Could not publish %s%r (%s); not trying the broker again for %g s, the "
            "sweepers pick up what was not sent.",
            task.name,
            args,
            error,
            breaker.pause,
        )
        return False
    breaker.close()
    return True
