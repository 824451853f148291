"""Cursor pagination shared by every list endpoint.

``next_token`` is opaque to clients: a base64url JSON of the last row's sort key.
Pages are read with keyset conditions (``id > last``), so walking a long list costs
the same on every page and never skips or repeats rows that were inserted meanwhile.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from rapport.core.digits import is_ascii_number
from rapport.core.errors import ValidationFailed

T = TypeVar("T")
U = TypeVar("U")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What the client asked for."""

    limit: int = DEFAULT_LIMIT
    after: Any = None
    with_total: bool = False


class Page(msgspec.Struct, Generic[T], omit_defaults=True):
    """One page of a list: ``{data, next_token, total}``."""

    data: list[T]
    next_token: str | None = None
    total: int | None = None


def encode_cursor(after: Any) -> str:
    raw = msgspec.json.encode({"a": after})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> Any:
    """The sort key inside a ``next_token``; a 422 on anything we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value = msgspec.json.decode(raw)
        return value["a"]
    except (binascii.Error, msgspec.DecodeError, KeyError, TypeError, ValueError):
        raise ValidationFailed.single(
            ["query", "next_token"], "next_token is not a token this server issued", "value_error"
        ) from None


def parse_page_request(query: dict[str, list[str]]) -> PageRequest:
    """Validate ``limit``, ``next_token`` and ``with_total`` from a query string."""
    limit = DEFAULT_LIMIT
    if "limit" in query:
        raw = query["limit"][-1]
        if not is_ascii_number(raw) or not 1 <= int(raw) <= MAX_LIMIT:
            raise ValidationFailed.single(
                ["query", "limit"], f"limit must be an integer from 1 to {MAX_LIMIT}", "value_error"
            )
        limit = int(raw)
    after = decode_cursor(query["next_token"][-1]) if query.get("next_token") else None
    with_total = False
    if "with_total" in query:
        raw = query["with_total"][-1].lower()
        if raw not in {"true", "false", "1", "0"}:
            raise ValidationFailed.single(
                ["query", "with_total"], "with_total must be true or false", "bool_parsing"
            )
        with_total = raw in {"true", "1"}
    return PageRequest(limit=limit, after=after, with_total=with_total)


def build_page(rows: list[T], request: PageRequest, key: Any, total: int | None) -> Page[T]:
    """Cut ``rows`` (fetched with ``limit + 1``) into a page with its ``next_token``.

    ``key`` maps a row to the sort key the next page continues after.
    """
    has_more = len(rows) > request.limit
    data = rows[: request.limit]
    next_token = encode_cursor(key(data[-1])) if has_more and data else None
    return Page(data=data, next_token=next_token, total=total)


def converted(page: Page[T], convert: Callable[[T], U]) -> Page[U]:
    """The same page with every item converted (stored rows into their public form)."""
    return Page(
        data=[convert(item) for item in page.data], next_token=page.next_token, total=page.total
    )
