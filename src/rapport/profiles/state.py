"""A profile's mutable state during processing, and the rules that change it.

Pure: no storage. Every rule is order-independent where it can be (last write by event
time wins; counts add; first/last seen are min/max), so processing by several workers,
or replaying in another order, gives the same profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ProfileState:
    """What processing knows and changes about one profile."""

    id: str
    workspace_id: str
    properties: dict[str, Any] = field(default_factory=dict)
    property_times: dict[str, float] = field(default_factory=dict)
    names: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    event_count: int = 0
    first_seen: float | None = None
    last_seen: float | None = None
    timezone: str | None = None
    timezone_at: float = float("-inf")
    locale: str | None = None
    locale_at: float = float("-inf")
    created_at: float = 0.0
    is_new: bool = False
    dirty: bool = False

    def set_properties(self, values: dict[str, Any], at: float) -> None:
        """Apply a property write made at event time ``at``; later writes win per key."""
        for key, value in values.items():
            if at >= self.property_times.get(key, float("-inf")):
                self.properties[key] = value
                self.property_times[key] = at
                self.dirty = True

    def saw(self, at: float) -> None:
        self.first_seen = at if self.first_seen is None else min(self.first_seen, at)
        self.last_seen = at if self.last_seen is None else max(self.last_seen, at)
        self.dirty = True

    def count_event(self, name: str, category: str, at: float) -> None:
        self.names[name] = self.names.get(name, 0) + 1
        self.categories[category] = self.categories.get(category, 0) + 1
        self.event_count += 1
        self.saw(at)

    def set_timezone(self, timezone: str | None, at: float) -> None:
        if timezone and at >= self.timezone_at:
            self.timezone, self.timezone_at, self.dirty = timezone, at, True

    def set_locale(self, locale: str | None, at: float) -> None:
        if locale and at >= self.locale_at:
            self.locale, self.locale_at, self.dirty = locale, at, True

    def absorb(self, other: ProfileState) -> None:
        """Fold a merged-away profile into this one."""
        for key, value in other.properties.items():
            at = other.property_times.get(key, float("-inf"))
            if at >= self.property_times.get(key, float("-inf")):
                self.properties[key] = value
                self.property_times[key] = at
        for name, count in other.names.items():
            self.names[name] = self.names.get(name, 0) + count
        for category, count in other.categories.items():
            self.categories[category] = self.categories.get(category, 0) + count
        self.event_count += other.event_count
        for seen in (other.first_seen, other.last_seen):
            if seen is not None:
                self.saw(seen)
        self.set_timezone(other.timezone, other.timezone_at)
        self.set_locale(other.locale, other.locale_at)
        self.created_at = min(self.created_at, other.created_at)
        self.dirty = True

    def counts_document(self) -> dict[str, Any]:
        """The stored ``counts`` JSON (also keeps when timezone/locale were set)."""
        return {
            "names": self.names,
            "categories": self.categories,
            "timezone_at": None if self.timezone_at == float("-inf") else self.timezone_at,
            "locale_at": None if self.locale_at == float("-inf") else self.locale_at,
        }
