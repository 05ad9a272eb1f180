"""One safe URL fetcher for every domain (image URLs, remote inputs).

``fetch_url`` defends against server-side request forgery the way webhooks do:

- the URL is checked with :func:`tasks.netguard.check_url` against the settings'
  allow-list, and the connection goes to the address checked just now (Host header
  and TLS SNI keep the name), so a DNS answer that changes in between (rebinding)
  cannot redirect the request to a private address;
- redirects are not followed by httpx; up to ``MAX_REDIRECTS`` hops are followed here,
  each one checked and pinned again;
- the body is streamed with a byte cap (decoded bytes, so a gzip bomb is capped too)
  and an overall deadline (a server dripping one byte per read timeout cannot hold it);
- proxies from the environment are ignored (a proxy would resolve the name itself).

Errors, as ``pipelines.errors`` classify them:

==========================================  ==================================================
unsafe or malformed URL (any hop)           ``InputError UNSAFE_URL``
4xx (except 408/425/429), too many hops,    ``InputError URL_FETCH_FAILED``
invalid TLS certificate
body over ``max_bytes``                     ``InputError URL_TOO_LARGE``
timeout or overall deadline                 ``RemoteError URL_FETCH_TIMEOUT`` (retried)
5xx, 408/425/429, connection errors         ``RemoteError URL_FETCH_FAILED`` (retried)
==========================================  ==================================================
"""

from __future__ import annotations

import ssl
import time

import httpx

from pipelines.errors import InputError, RemoteError
from tasks.netguard import UnsafeUrl, check_url, pin, pinned_client
from tasks.settings import get_settings

MAX_REDIRECTS = 3
USER_AGENT = "Meshmill-Fetch/1"
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
TRANSIENT_4XX = frozenset({408, 425, 429})
CHUNK = 64 * 1024


def fetch_url(url: str, *, max_bytes: int, timeout: float) -> bytes:
    """GET ``url`` safely and return its body; see the module docstring for the guards and errors.

    ``timeout`` bounds each network operation and the whole fetch (all hops included).
    """
    deadline = time.monotonic() + timeout
    current = url
    with pinned_client(httpx.Timeout(timeout)) as client:
        for hop in range(MAX_REDIRECTS + 1):
            outcome = _get(client, current, url, max_bytes=max_bytes, deadline=deadline)
            if isinstance(outcome, bytes):
                return outcome
            if hop == MAX_REDIRECTS:
                break
            current = outcome
    raise InputError("URL_FETCH_FAILED", f"more than {MAX_REDIRECTS} redirects",
                     {"url": url, "max_redirects": MAX_REDIRECTS})


def _get(client: httpx.Client, url: str, original: str, *, max_bytes: int, deadline: float) -> bytes | str:
    """One hop: the body, or the next URL when the answer is a redirect."""
    try:
        addresses = check_url(url, get_settings().url_allowlist)
    except UnsafeUrl as exc:
        raise InputError("UNSAFE_URL", str(exc), {"url": url}) from exc
    target = httpx.URL(url)
    headers = {"user-agent": USER_AGENT, "accept": "*/*"}
    last_error: httpx.TransportError | None = None
    for address in addresses:
        try:
            return _request(client, target, address, headers, original, max_bytes=max_bytes, deadline=deadline)
        except httpx.ConnectError as exc:  # next address of the name, if any
            if _bad_certificate(exc):
                raise InputError("URL_FETCH_FAILED", f"TLS certificate not valid for {target.host}",
                                 {"url": url, "reason": str(exc)}) from exc
            last_error = exc
        except httpx.TimeoutException as exc:
            raise RemoteError("URL_FETCH_TIMEOUT", f"fetching {url} timed out", {"url": url}) from exc
        except httpx.TransportError as exc:
            raise RemoteError("URL_FETCH_FAILED", f"fetching {url} failed: {type(exc).__name__}",
                              {"url": url, "reason": str(exc)}) from exc
    raise RemoteError("URL_FETCH_FAILED", f"cannot connect to {target.host}",
                      {"url": url, "reason": str(last_error)})


def _request(client: httpx.Client, target: httpx.URL, address: str, headers: dict[str, str], original: str,
             *, max_bytes: int, deadline: float) -> bytes | str:
    pinned, host, extensions = pin(target, address)
    with client.stream("GET", pinned, headers={**headers, **host}, extensions=extensions) as response:
        status = response.status_code
        if status in REDIRECT_CODES and response.headers.get("location"):
            return str(target.join(response.headers["location"]))
        details = {"url": str(target), "status": status}
        if str(target) != original:
            details["original_url"] = original
        if status >= 500 or status in TRANSIENT_4XX:
            raise RemoteError("URL_FETCH_FAILED", f"the server answered HTTP {status}", details)
        if not 200 <= status < 300:
            raise InputError("URL_FETCH_FAILED", f"the server answered HTTP {status}", details)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise InputError("URL_TOO_LARGE", f"the body is larger than {max_bytes} bytes",
                             {**details, "max_bytes": max_bytes, "content_length": int(declared)})
        body = bytearray()
        for chunk in response.iter_bytes(CHUNK):
            body += chunk
            if len(body) > max_bytes:
                raise InputError("URL_TOO_LARGE", f"the body is larger than {max_bytes} bytes",
                                 {**details, "max_bytes": max_bytes})
            if time.monotonic() > deadline:
                raise RemoteError("URL_FETCH_TIMEOUT", "the download took too long", details)
        return bytes(body)


def _bad_certificate(exc: BaseException) -> bool:
    """True when a connect error comes from certificate verification (not worth retrying)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
