"""Where webhooks may go: public addresses only, unless WEBHOOK_ALLOW_PRIVATE_TARGETS.

A channel's URL is checked when it is saved and again before every request: the name is
resolved, and every address it has must be public. The request then goes to an address
that was checked, not to whatever the name resolves to a moment later, so a name that
changes its answer in between (DNS rebinding) cannot reach the internal network.
"""

import http.client
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class UnusableTarget(Exception):
    """Not an http(s) address with a host: trying again cannot help."""


class UnresolvableTarget(Exception):
    """The host name has no address now: it may have one later."""


class InternalTarget(Exception):
    """The host is, or resolves to, an address inside a network rather than on the internet."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} is an internal address ({address})")
        self.host = host
        self.address = address


@dataclass(frozen=True)
class Target:
    https: bool
    host: str
    port: int
    path: str  # with the query, as the request line names it
    addresses: tuple[str, ...]  # checked, in the resolver's order


def is_internal(address: str) -> bool:
    """Private, loopback, link-local, multicast, reserved, unspecified or otherwise not
    global (such as 100.64.0.0/10), for IPv4 and IPv6, including IPv4 in IPv6."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def resolve(url: str) -> Target:
    """The URL's host, resolved and checked; raises one of the exceptions above."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnusableTarget(str(error)) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnusableTarget("not an http:// or https:// address with a host")
    https = parts.scheme == "https"
    port = port or (443 if https else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise UnresolvableTarget(f"{parts.hostname}: {error}") from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in found))
    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        for address in addresses:
            if is_internal(address):
                raise InternalTarget(parts.hostname, address)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(https, parts.hostname, port, path, addresses)


def connection(target: Target, timeout: float) -> http.client.HTTPConnection:
    """A connection to the target's checked addresses; HTTPS still verifies the
    certificate against the host name, which it also sends as SNI and Host."""
    kind = _PinnedHTTPSConnection if target.https else _PinnedHTTPConnection
    return kind(target, timeout)


def _connect_to_any(addresses: tuple[str, ...], port: int, timeout: float | None) -> socket.socket:
    """The first of the addresses that accepts a connection, as socket.create_connection
    tries a name's addresses in turn."""
    error: OSError = OSError("no address")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as failure:
            error = failure
    raise error


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        # http.client opens its socket through this attribute, given the host name.
        self._create_connection = lambda address, timeout, source=None: _connect_to_any(
            target.addresses, address[1], timeout
        )


class _PinnedHTTPSConnection(_PinnedHTTPConnection, http.client.HTTPSConnection):
    """The TLS layer wraps the socket that the pinned connection opens."""
