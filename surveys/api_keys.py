"""API keys: made, recognised and revoked here, for the admin, the command and the API.

A key reads `lk_<prefix>_<secret>`. The prefix finds the row; the whole key's SHA-256 is
what is kept and compared. A key is random and long, so a plain hash is as safe as a
slow one and costs nothing on every request.
"""

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone

from surveys.models import ApiKey, Survey

KEY_SHAPE = re.compile(r"lk_(?P<prefix>[0-9a-f]{8})_[A-Za-z0-9_-]{20,100}")
# A key's last use is written at most this often, not on every request.
LAST_USED_EVERY = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    *, name: str, scopes: Iterable[str], survey: Survey | None = None
) -> tuple[ApiKey, str]:
    """A new key; returns it with the key itself, which is shown once and never kept."""
    scopes = sorted(set(scopes))
    if not scopes or set(scopes) - set(ApiKey.Scope.values):
        raise ValueError(f"Scopes must be some of {', '.join(ApiKey.Scope.values)}.")
    api_key = ApiKey(name=name, scopes=scopes, survey=survey)
    key = issue(api_key)
    api_key.save()
    return api_key, key


def issue(api_key: ApiKey) -> str:
    """Give an unsaved key its secret; returns the key, to be shown this once."""
    api_key.prefix = secrets.token_hex(4)
    key = f"lk_{api_key.prefix}_{secrets.token_urlsafe(30)}"
    api_key.secret_hash = _hash(key)
    return key


def key_for(presented: str) -> ApiKey | None:
    """The live key presented, or None for anything else (unknown, revoked, malformed)."""
    shape = KEY_SHAPE.fullmatch(presented)
    if shape is None:
        return None
    found = ApiKey.objects.select_related("survey").filter(
        prefix=shape["prefix"], revoked_at__isnull=True
    )
    api_key = found.first()
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, _hash(presented)):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_EVERY:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def revoke(api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
