"""`make run` as a newcomer uses it: the links it prints and mails lead where it serves."""

import contextlib
import os
import queue
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# A newcomer's shell has none of these: make run must work with its own defaults.
NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "SITE_URL", "EMAIL_HOST", "DEBUG", "ALLOWED_HOSTS")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _lines_of(process: subprocess.Popen[str]) -> tuple["queue.Queue[str]", threading.Thread]:
    """Every line it prints, read until all its processes closed their output."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return lines, reader


def _stop_session(session: int, reader: threading.Thread) -> None:
    """Ctrl-C as a person would, then kill whatever of the session is still there.

    honcho gives each process a group of its own, so only the session holds them all.
    """
    os.killpg(session, signal.SIGINT)
    reader.join(timeout=30)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # the session id, after state, ppid and pgrp
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(stat.parent.name), signal.SIGKILL)


def _wait_for_line(lines: "queue.Queue[str]", start: str, seconds: float) -> str:
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if line.startswith(start):
            return line.removeprefix(start).strip()
    raise AssertionError(f"no line starting {start!r} in:\n{''.join(seen)}")


def _get(url: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as page:  # noqa: S310 - our own server
                return page.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.timeout(300)
def test_make_run_prints_and_mails_links_to_the_address_it_serves(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env["VAR_DIR"] = str(tmp_path)
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"RUN_ADDRESS=127.0.0.1:{port}"],  # noqa: S607
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines, reader = _lines_of(process)
    try:
        link = _wait_for_line(lines, "Demo survey: ", seconds=180)
        assert link.startswith(f"http://127.0.0.1:{port}/s/")

        # The demo survey is an NPS survey; a 3 opens a case, and its alert is mailed.
        _get(link, seconds=60)
        answer = urllib.parse.urlencode({"q1": "3", "q2": "Too slow"}).encode()
        with urllib.request.urlopen(link, data=answer, timeout=10):  # noqa: S310
            pass
        mails = tmp_path / "mail"
        deadline = time.monotonic() + 60
        alerts: list[str] = []
        while not alerts and time.monotonic() < deadline:
            time.sleep(0.5)
            texts = (path.read_text() for path in mails.glob("*.log")) if mails.exists() else ()
            alerts = [text for text in texts if "Too slow" in text]
        assert alerts, "no alert for the new case was mailed"
        assert f"http://127.0.0.1:{port}/followups/" in alerts[0]
        assert "localhost:8000" not in alerts[0]

        # The demo emailed its survey to a few customers, with one-tap score links. (The
        # file backend may write two messages made in the same second to one file.)
        surveys: list[str] = []
        while sum(t.count("List-Unsubscribe-Post:") for t in surveys) < 5:
            assert time.monotonic() < deadline + 60, "the demo survey was not emailed to all five"
            time.sleep(0.5)
            texts = (path.read_text() for path in mails.glob("*.log"))
            surveys = [text for text in texts if "/unsubscribe/" in text]
        assert f"http://127.0.0.1:{port}/i/" in surveys[0]
        assert "?score=10" in surveys[0]
        assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in surveys[0]
    finally:
        _stop_session(process.pid, reader)
        process.wait(timeout=10)
