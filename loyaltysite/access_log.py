"""Gunicorn's access log without the credentials that some paths hold.

A personal invitation's token is its link's only key (`/i/<token>/`, and the
unsubscribe link): a log line must not let whoever reads the logs answer for the
customer or opt them out. The token is replaced by `…`; the path stays readable.
"""

import re
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

TOKEN_IN_PATH = re.compile(r"/(i|unsubscribe)/[^/?#\s]+")


def without_tokens(text: str) -> str:
    return TOKEN_IN_PATH.sub(r"/\1/…", text)


class AccessLogWithoutTokens(Logger):
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: timedelta) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("U", "r", "f", "{referer}i"):
            if isinstance(atoms.get(name), str):
                atoms[name] = without_tokens(atoms[name])
        return atoms
