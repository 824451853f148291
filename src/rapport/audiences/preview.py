"""Sizing an audience: evaluate its rule over the workspace's profiles, page by page.

Profiles are streamed in pages of a thousand, never loaded all at once; the event
counts a rule's ``{"event": ...}`` conditions need are fetched once per page and window.
Conditions without a window read the profile's own counts by event name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from rapport.audiences import rules, storage
from rapport.audiences.schemas import AudienceSize, SessionSample
from rapport.audiences.session import AudienceSubject, GeoDatabase, SessionContext, matches_event

PAGE = 1000
SAMPLE = 10


def computed_of(row: Any) -> dict[str, Any]:
    """A profile row's computed fields, in the shape rules read."""
    counts = row.counts or {}
    return {
        "first_seen": row.first_seen,
        "last_seen": row.last_seen,
        "event_count": row.event_count,
        "timezone": row.timezone,
        "locale": row.locale,
        "counts_by_name": counts.get("names", {}),
        "counts_by_category": counts.get("categories", {}),
    }


def _counter(
    all_time: Mapping[str, int], windows: Mapping[float, Mapping[str, int]]
) -> Callable[[str, float | None], int]:
    def count(pattern: str, since: float | None) -> int:
        names = all_time if since is None else windows.get(since, {})
        return sum(n for name, n in names.items() if matches_event(pattern, name))

    return count


class Sizer:
    """Counts the profiles an audience matches (one per process, with its geo database)."""

    def __init__(self, geo: GeoDatabase | None = None) -> None:
        self.geo = geo

    def session(self, sample: SessionSample | None, now: float) -> SessionContext:
        """The in-session attributes a preview is run with (none by default)."""
        if sample is None:
            return SessionContext(now=now, geo_database=self.geo)
        attributes: dict[str, Any] = dict(sample.attributes)
        for key in ("DAY_OF_THE_WEEK", "TIME_OF_THE_DAY", "USER_IP_ADDRESS", "USER_AGENT"):
            value = getattr(sample, key)
            if value is not None:
                attributes[key] = value
        return SessionContext.from_request(attributes, now=now, geo_database=self.geo)

    def size(
        self,
        conn: Connection,
        workspace_id: str,
        rule: rules.Rule,
        sample: SessionSample | None,
    ) -> AudienceSize:
        now = time.time()
        session = self.session(sample, now)
        matched, seen = 0, 0
        examples: list[str] = []
        after: str | None = None
        while True:
            page = storage.profile_page(conn, workspace_id, after, PAGE)
            if not page:
                break
            for row in matching(conn, workspace_id, rule, page, session, now):
                matched += 1
                if len(examples) < SAMPLE:
                    examples.append(row.id)
            seen += len(page)
            after = page[-1].id
        return AudienceSize(matched=matched, profiles=seen, sample=examples)


def matching(
    conn: Connection,
    workspace_id: str,
    rule: rules.Rule,
    page: Sequence[Any],
    session: SessionContext,
    now: float,
) -> list[Any]:
    """The profile rows of ``page`` that ``rule`` matches (one query per event window)."""
    windows = sorted(
        {since for c in rules.event_conditions(rule) if (since := c.since(now)) is not None}
    )
    ids = [row.id for row in page]
    recent = {
        since: storage.recent_event_counts(conn, workspace_id, ids, since) for since in windows
    }
    found = []
    for row in page:
        subject = AudienceSubject(
            properties=row.properties or {},
            computed=computed_of(row),
            event_count=_counter(
                (row.counts or {}).get("names", {}),
                {since: counts.get(row.id, {}) for since, counts in recent.items()},
            ),
            session=session,
        )
        if rules.evaluate(rule, subject):
            found.append(row)
    return found
