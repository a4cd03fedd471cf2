"""Outgoing webhooks: one signed JSON POST, and what came of it.

The receiver checks ``X-Avis-Signature: sha256=<hex>``, the HMAC-SHA256 of
``<X-Avis-Timestamp>.<body>`` with the endpoint's secret (the timestamp in the
signed text stops a captured request from being replayed later); see ``avis.signing``.

An endpoint is an address an organisation's admin types in, and avis then calls it
from inside the operator's network: without a guard it would be a way to reach the
operator's internal services (server-side request forgery). So an address must be a
public one, checked when saved and again when sent, after DNS resolution, and the
connection goes to the address checked (a name that resolves elsewhere a second later
gains nothing). Redirects are not followed (they would lead around the check). An
operator trusts internal hosts explicitly with ``AVIS_WEBHOOK_ALLOW``.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from avis.signing import signature

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Result:
    status_code: int | None
    error: str
    duration_ms: int
    final: bool = False  # trying again cannot help (a refused address, a redirect): fail at once

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Refused(Exception):
    """An address avis will not call; the message says why (it goes to the delivery log)."""


def _kind(address: Address) -> str:
    """Why an address is not public, in a word or two ("" when it is public)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if address.is_reserved or not address.is_global:
        return "reserved"
    return ""


def _allowed_host(host: str) -> bool:
    return host.lower().rstrip(".") in {entry.lower().rstrip(".") for entry in settings.AVIS_WEBHOOK_ALLOW}


def _allowed_address(address: Address) -> bool:
    for entry in settings.AVIS_WEBHOOK_ALLOW:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # a host name, matched by _allowed_host
    return False


def parse(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and path of an http(s) address; ``Refused`` when it is not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise Refused(f"not an address ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("not an http(s) address")
    if parts.username or parts.password:
        raise Refused("no user or password in the address (use the secret)")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def check_address(address: Address, host: str) -> None:
    kind = _kind(address)
    if kind and not _allowed_host(host) and not _allowed_address(address):
        raise Refused(f"refused: {host} is {address}, a {kind} address (not public)")


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` stands for, each checked; ``Refused`` if any is not public.

    Every address, not the first: a name with one public and one internal address
    would otherwise reach the internal one whenever the resolver shuffled them.
    """
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        if host.lower().rstrip(".").endswith("localhost") and not _allowed_host(host):
            raise Refused(f"refused: {host} is a loopback name")
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise LookupError(f"{host} does not resolve ({exc})") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
    for address in addresses:
        check_address(address, host)
    return addresses


def check_url(url: str) -> None:
    """When an endpoint is saved: ``Refused`` if it names a non-public address.

    A name that does not resolve yet is accepted (it may exist only in production);
    it is checked again at every delivery.
    """
    _, host, port, _ = parse(url)
    try:
        resolve(host, port)
    except LookupError:
        pass


def post(url: str, secret: str, payload: dict[str, Any], key: str) -> Result:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(timezone.now().timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "avis-webhooks/1",
        "X-Avis-Event": str(payload.get("event", "")),
        "X-Avis-Delivery": key,
        "X-Avis-Timestamp": timestamp,
        "X-Avis-Signature": signature(secret, timestamp, body),
    }
    started = time.monotonic()

    def result(code: int | None, error: str, *, final: bool = False) -> Result:
        return Result(code, error[:300], int((time.monotonic() - started) * 1000), final)

    try:
        scheme, host, port, path = parse(url)
        pinned = str(resolve(host, port)[0])
    except Refused as exc:
        return result(None, str(exc), final=True)
    except LookupError as exc:
        return result(None, str(exc))
    timeout = settings.AVIS_WEBHOOK_TIMEOUT
    connection_class = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    connection = connection_class(host, port, timeout=timeout)

    # Connect to the address just checked (TLS still checks the certificate against the name).
    def connect_checked(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        return socket.create_connection((pinned, address[1]), *args, **kwargs)

    connection._create_connection = connect_checked  # type: ignore[attr-defined]
    try:
        connection.request("POST", path, body=body, headers=headers)
        reply = connection.getresponse()
        reply.read(65536)
        code, reason, location = reply.status, reply.reason, reply.getheader("Location", "")
    except (OSError, http.client.HTTPException) as exc:
        return result(None, str(exc) or exc.__class__.__name__)
    finally:
        connection.close()
    if 300 <= code < 400:
        # Following it would reach an address never checked; the receiver must be given its final address.
        return result(code, f"redirect not followed (to {location or 'nowhere'})", final=True)
    return result(code, "" if 200 <= code < 300 else reason)
