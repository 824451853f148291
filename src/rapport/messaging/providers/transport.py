"""What the HTTP providers share: TLS trust, clients, Retry-After, network failures."""

from __future__ import annotations

import email.utils
import os
import ssl
import time
from functools import lru_cache

import certifi
import httpx

from rapport import __version__
from rapport.core.digits import is_ascii_number
from rapport.messaging.providers.base import Outcome, SendResult

USER_AGENT = f"rapport/{__version__}"
# Connect quickly or fail over to a retry; a provider that accepted the request gets
# longer to answer.
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
MAX_RETRY_AFTER = 24 * 3600.0


@lru_cache(maxsize=8)
def tls_context(extra_ca_file: str | None = None) -> ssl.SSLContext:
    """Verification is always on: the public CAs (``SSL_CERT_FILE`` when set, like
    httpx, else certifi's bundle) plus ``extra_ca_file`` (``RAPPORT_PROVIDER_CA_FILE``).

    Built once per process and shared by every provider: loading a CA bundle takes
    milliseconds, which provider construction must not pay.
    """
    context = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or certifi.where())
    if extra_ca_file:
        context.load_verify_locations(cafile=extra_ca_file)
    return context


def make_client(tls: ssl.SSLContext | None, *, http2: bool = False) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        http2=http2,
        verify=tls if tls is not None else tls_context(),
        timeout=TIMEOUT,
        limits=LIMITS,
        headers={"User-Agent": USER_AGENT},
        trust_env=False,
        follow_redirects=False,
    )


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if is_ascii_number(value):
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), MAX_RETRY_AFTER))


def network_failure(error: httpx.HTTPError) -> SendResult:
    """No answer (refused, reset, timed out, TLS failure): worth retrying later.

    A certificate that does not verify is also retried: it is more often a
    misconfigured proxy than a permanent state, and the attempts stay bounded.
    """
    return SendResult(
        Outcome.TRANSIENT, code=type(error).__name__, detail=str(error) or type(error).__name__
    )


def by_status(status: int, code: str | None, detail: str, after: float | None) -> SendResult:
    """The generic mapping of an HTTP status to an outcome."""
    if status == 429:
        return SendResult(Outcome.RATE_LIMITED, retry_after=after, code=code, detail=detail)
    if status >= 500 or status == 408:
        return SendResult(Outcome.TRANSIENT, retry_after=after, code=code, detail=detail)
    return SendResult(Outcome.PERMANENT, code=code, detail=detail)
