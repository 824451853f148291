"""Pieces every ingestion dialect shares: inbox rows, timezones, id checks."""

from __future__ import annotations

import time
import zoneinfo
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from rapport.core.errors import ValidationFailed
from rapport.ingest import messages as msg


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def valid_timezone(name: str) -> bool:
    """An IANA time zone name (``Europe/Paris``) or ``UTC``."""
    return name in _zones()


def check_timezone(name: str | None, loc: Sequence[str | int]) -> None:
    if name is not None and not valid_timezone(name):
        raise ValidationFailed.single(
            loc, f"Unknown time zone {name!r}; use an IANA name", "value_error"
        )


def require_identity(
    external_id: str | None, anonymous_id: str | None, loc: Sequence[str | int]
) -> None:
    if not external_id and not anonymous_id:
        raise ValidationFailed.single(
            [*loc, "external_id"], "anonymous_id or external_id is required", "missing"
        )


def inbox_rows(workspace_id: str, messages: Sequence[msg.Queued]) -> list[dict[str, Any]]:
    """Inbox rows for ``messages``, all stamped with the same receive time."""
    received_at = time.time()
    return [
        {
            "workspace_id": workspace_id,
            "kind": type(message).__name__.lower(),
            "message_id": msg.message_id(message),
            "payload": msg.encoder.encode(message),
            "received_at": received_at,
        }
        for message in messages
    ]
