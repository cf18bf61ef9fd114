"""Who is asking: the client's address as the outermost trusted proxy saw it.

Behind N trusted proxies (TRUSTED_PROXY_COUNT) the client is the Nth address from the
right of X-Forwarded-For: each proxy appends the address it was reached from, and
anything to the left of those was written by the client and may be forged. With 0 (the
default) the header is ignored and the address is the socket's.
"""

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac


def client_address(request: HttpRequest) -> str:
    proxies = settings.TRUSTED_PROXY_COUNT
    direct = request.META.get("REMOTE_ADDR", "") or ""
    if proxies <= 0:
        return direct
    forwarded = [
        address.strip()
        for address in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if address.strip()
    ]
    if len(forwarded) < proxies:
        # Fewer addresses than proxies: the request did not come through all of them.
        return forwarded[0] if forwarded else direct
    return forwarded[-proxies]


def fingerprint(request: HttpRequest) -> str:
    """A keyed hash of the client's address and browser that tells one day's bursts apart.

    The key is derived from SECRET_KEY and today's date, so the same client has another
    fingerprint tomorrow and the address cannot be recovered by hashing every address.
    """
    salt = f"surveys.clients.fingerprint:{timezone.localdate().isoformat()}"
    agent = request.META.get("HTTP_USER_AGENT", "")
    return salted_hmac(salt, f"{client_address(request)}\n{agent}", algorithm="sha256").hexdigest()
