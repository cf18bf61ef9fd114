"""`seed_demo --responses 1000000` on empty tables, end to end. See bench/README.md."""

import time

from _common import migrate_and_flush, verdict
from django.core.management import call_command

RESPONSES = 1_000_000


class Timestamped:
    """A stdout for call_command that records when each line came, and echoes it."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.lines: list[tuple[float, str]] = []

    def write(self, text: str) -> None:
        for line in filter(None, text.splitlines()):
            self.lines.append((time.perf_counter() - self.started, line))
            print(f"{self.lines[-1][0]:7.2f} s  {line}", flush=True)

    def flush(self) -> None:
        pass

    def at(self, marker: str) -> float:
        """When the first line containing `marker` came."""
        return next(t for t, line in self.lines if marker in line)


def main() -> None:
    migrate_and_flush()
    out = Timestamped()
    call_command("seed_demo", responses=RESPONSES, stdout=out)
    total = time.perf_counter() - out.started
    loaded, scoring = out.at(f"{RESPONSES:,}/{RESPONSES:,}"), out.at("scores:")
    print(f"\nresponses written (COPY batches):   {loaded:6.1f} s")
    print(f"keys and indexes restored, checked: {scoring - loaded:6.1f} s")
    print(f"rollups built (recompute_rollups):  {total - scoring:6.1f} s, commit included")
    print(f"total: {total:.1f} s")
    verdict("responses per second, end to end", RESPONSES / total, 50_000)
    verdict("responses per second without the rollups", RESPONSES / scoring, 50_000)


if __name__ == "__main__":
    main()
