"""Header lookups on a request agree with its parsed headers."""

from __future__ import annotations

from rapport.api.http import Request


async def _nothing() -> dict[str, object]:
    return {"type": "http.request", "body": b""}


def _request(headers: list[tuple[bytes, bytes]]) -> Request:
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    return Request(scope, _nothing, 1024)


def test_one_header_is_found_without_parsing_them_all() -> None:
    raw = [(b"x-api-key", b"k1"), (b"User-Agent", b"caf\xe9"), (b"x-api-key", b"k2")]
    request = _request(raw)
    assert request.header(b"x-api-key") == "k2"  # the last, as in ``headers``
    assert request.header(b"user-agent") == "caf\xe9"
    assert request.header(b"accept") is None
    parsed = _request(raw).headers
    assert parsed["x-api-key"] == "k2"
    assert parsed["user-agent"] == "caf\xe9"
    # Once parsed, the same answers come from the parsed headers.
    request.headers  # noqa: B018
    assert request.header(b"x-api-key") == "k2"
