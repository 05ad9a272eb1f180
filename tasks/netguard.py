"""Refuse URLs that resolve to private, loopback or link-local addresses (SSRF guard).

An allow-list (``MESHMILL_URL_ALLOWLIST``: host names, IPs or CIDRs) lets tests and
trusted internal receivers through. Checked when a URL is accepted and again
right before each request, so a DNS answer that changes (rebinding) is caught.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from urllib.parse import urlparse

import certifi
import httpx


class UnsafeUrl(ValueError):
    """The URL is malformed, not http(s), or points at a private address."""


def _allowed(host: str, addr: ipaddress._BaseAddress, allowlist: tuple[str, ...]) -> bool:
    for entry in allowlist:
        if entry.lower() == host.lower():
            return True
        try:
            if addr in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _is_public(addr: ipaddress._BaseAddress) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return not (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
                or addr.is_reserved or addr.is_unspecified)


def check_url(url: str, allowlist: tuple[str, ...], *, resolve: bool = True) -> list[str]:
    """Validate ``url`` and return the addresses it resolves to; raises UnsafeUrl."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UnsafeUrl("URL must be absolute http or https")
    if parsed.username or parsed.password:
        raise UnsafeUrl("URL must not carry credentials")
    host = parsed.hostname
    if not resolve:
        return []
    try:
        infos = socket.getaddrinfo(host, parsed.port or (443 if parsed.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"host {host!r} does not resolve") from exc
    addrs = sorted({info[4][0] for info in infos})
    for raw in addrs:
        addr = ipaddress.ip_address(raw.split("%", 1)[0])
        if not _is_public(addr) and not _allowed(host, addr, allowlist):
            raise UnsafeUrl(f"host {host!r} resolves to a non-public address ({raw})")
    return addrs


def pinned_client(timeout: float | httpx.Timeout) -> httpx.Client:
    """A client for pinned requests: no redirects followed, no environment proxies
    (a proxy would resolve the name itself and undo the pinning)."""
    return httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, verify=tls_context())


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: httpx builds a new one (loading every CA
    certificate) for each client, about 24 ms of CPU per webhook or fetch."""
    return ssl.create_default_context(cafile=certifi.where())


def pin(target: httpx.URL, address: str) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """Aim a request at an address ``check_url`` approved, keeping the real host name for
    the Host header and TLS (SNI and certificate check): ``(url, headers, extensions)``."""
    return (target.copy_with(host=address), {"host": target.netloc.decode("ascii")},
            {"sni_hostname": target.host})
