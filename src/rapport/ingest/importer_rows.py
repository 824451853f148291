"""Warehouse rows -> canonical messages: column names, value parsing, validation.

Pure functions, no storage. Warehouses spell the same column many ways (``user_id``,
``contact_id``, ``externalId``…) and type values loosely (CSV has only text, Parquet has
real timestamps), so every field is matched by a normalised name and every value is
parsed from whatever type it arrives as. A row that cannot become a valid message
raises :class:`RowRejected` with a short reason (what the summary groups by) and a
detail (what the rejects file records).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, Literal

import msgspec

from rapport.ingest import messages as msg
from rapport.ingest.common import valid_timezone
from rapport.ingest.timestamps import parse_iso

Kind = Literal["events", "users"]
KINDS: tuple[Kind, ...] = ("events", "users")
SOURCE = "import"

# Canonical field -> accepted column names, normalised (lower case, letters and digits).
_COMMON = {
    "user_id": ("userid", "contactid", "externalid", "customerid"),
    "anonymous_id": ("anonymousid",),
    "timezone": ("timezone", "tz"),
    "locale": ("locale",),
}
FIELDS: dict[Kind, dict[str, tuple[str, ...]]] = {
    "events": {
        **_COMMON,
        "event_name": ("eventname", "event"),
        "timestamp": ("timestamp", "occurredat", "time", "eventtime", "eventtimestamp"),
        "event_id": ("eventid", "messageid"),
        "metadata": ("metadata", "properties"),
    },
    "users": {
        **_COMMON,
        "timestamp": ("updatedat", "timestamp", "occurredat", "time"),
        "push_token": ("pushtoken", "token", "devicetoken"),
        "device_id": ("deviceid",),
        "email": ("email",),
        "phone": ("phone", "phonenumber"),
        "traits": ("traits", "properties", "attributes", "userproperties"),
        "os": ("os", "platform"),
        "os_version": ("osversion",),
        "model": ("model", "devicemodel"),
        "app_version": ("appversion",),
        "app_build": ("appbuild",),
    },
}
_DEVICE = ("os", "os_version", "model", "app_version", "app_build")
_MAX_LENGTH = {"locale": 32, "os": 64, "os_version": 64, "app_version": 64, "app_build": 64}
_MAX_SECONDS = 253402300800.0  # 10000-01-01: beyond any real event
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class RowRejected(Exception):
    """A row that cannot be imported: ``reason`` groups it, ``detail`` explains it."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def normalise(column: str) -> str:
    """``User ID``, ``user_id`` and ``userId`` all become ``userid``."""
    return "".join(ch for ch in column.lower() if ch.isalnum())


def detect_kind(columns: list[str]) -> Kind:
    """Events when there is an event name column, otherwise user attributes."""
    names = {normalise(c) for c in columns}
    return "events" if names & set(FIELDS["events"]["event_name"]) else "users"


@dataclass(frozen=True, slots=True)
class Layout:
    """Which column holds each canonical field; ``extra`` are all the other columns."""

    kind: Kind
    fields: dict[str, str]
    extra: tuple[str, ...]

    @classmethod
    def of(cls, kind: Kind, columns: list[str]) -> Layout:
        by_name: dict[str, str] = {}
        for column in columns:
            by_name.setdefault(normalise(column), column)
        fields: dict[str, str] = {}
        for field, aliases in FIELDS[kind].items():
            found = next((by_name[a] for a in aliases if a in by_name), None)
            if found is not None:
                fields[field] = found
        used = set(fields.values())
        return cls(kind, fields, tuple(c for c in columns if c not in used))

    def missing(self) -> list[str]:
        """Required fields no column provides (the file is then unusable)."""
        needed = [] if "anonymous_id" in self.fields else ["user_id"]
        if self.kind == "events":
            needed += ["event_name", "timestamp"]
        return [field for field in needed if field not in self.fields]


# -- values ---------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A JSON-native copy of ``value`` (Parquet gives datetimes, decimals, bytes)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return msgspec.to_builtins(value)


def _seconds(number: float) -> float:
    """Epoch seconds from seconds, milliseconds, microseconds or nanoseconds."""
    for threshold, scale in ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3)):
        if abs(number) >= threshold:
            return number / scale
    return number


def parse_timestamp(value: Any) -> float:
    """Epoch seconds from a number, a numeric string, ISO 8601 text or a datetime."""
    if value is None or value == "":
        raise RowRejected("missing timestamp", "no timestamp")
    seconds: float | None = None
    if isinstance(value, datetime):
        seconds = (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    elif isinstance(value, date):
        seconds = datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    elif isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        seconds = _seconds(float(value))
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = _seconds(float(text)) if _NUMBER.match(text) else parse_iso(text)
        except (ValueError, OverflowError):
            seconds = None
    if seconds is None or not math.isfinite(seconds) or not 0 <= seconds < _MAX_SECONDS:
        raise RowRejected(
            "bad timestamp",
            f"{value!r} is not epoch seconds or milliseconds or an ISO 8601 time after 1970",
        )
    return seconds


def parse_object(value: Any, what: str) -> dict[str, Any]:
    """A JSON object given as a mapping, as JSON text, or (Parquet maps) as pairs."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = msgspec.json.decode(value)
        except msgspec.DecodeError as exc:
            raise RowRejected(f"{what} not an object", f"{what} is not valid JSON: {exc}") from exc
    elif isinstance(value, list) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        value = dict(value)  # a Parquet map column
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise RowRejected(f"{what} not an object", f"{what} is a {type(value).__name__}")
    return {k: plain(v) for k, v in value.items()}


def identifier(value: Any, what: str, max_length: int = 255) -> str | None:
    """An id given as text or as an integer (warehouses often type user ids as numbers)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise RowRejected(f"bad {what}", f"{what} must be text, not {type(value).__name__}")
    text = value.strip()
    if len(text) > max_length:
        raise RowRejected(f"bad {what}", f"{what} is longer than {max_length} characters")
    return text or None


def _timezone(value: Any) -> str | None:
    name = identifier(value, "timezone", 64)
    if name is not None and not valid_timezone(name):
        raise RowRejected("unknown timezone", f"{name!r} is not an IANA time zone name")
    return name


def content_event_id(
    external_id: str | None,
    anonymous_id: str | None,
    name: str,
    occurred_at: float,
    properties: dict[str, Any],
) -> str:
    """A deterministic id for an event row that has none, so a re-run stores it once.

    Only the row's content goes in (not the workspace, file or format): the same event
    exported as CSV or as JSON lines, with an ISO or an epoch timestamp, gets one id.
    """
    parts = [external_id, anonymous_id, name, occurred_at, properties]
    digest = hashlib.sha256(msgspec.json.encode(parts, order="sorted")).hexdigest()
    return f"imp_{digest[:32]}"


def device_id_for(token: str) -> str:
    """A stable device id for a push token given without one."""
    return f"tok_{hashlib.sha256(token.encode()).hexdigest()[:32]}"


# -- rows -----------------------------------------------------------------------------


def _get(values: dict[str, Any], layout: Layout, field: str) -> Any:
    column = layout.fields.get(field)
    return None if column is None else values.get(column)


def _identity(values: dict[str, Any], layout: Layout) -> tuple[str | None, str | None]:
    external_id = identifier(_get(values, layout, "user_id"), "user id")
    anonymous_id = identifier(_get(values, layout, "anonymous_id"), "anonymous id")
    if external_id is None and anonymous_id is None:
        raise RowRejected("missing user id", "the row has no user id")
    return external_id, anonymous_id


def _extra(values: dict[str, Any], layout: Layout) -> dict[str, Any]:
    return {c: plain(values[c]) for c in layout.extra if values.get(c) is not None}


def event_message(values: dict[str, Any], layout: Layout) -> msg.Track:
    """A Track for an event row. Columns that are not a known field become properties
    (the ``metadata`` object wins when both name the same key)."""
    external_id, anonymous_id = _identity(values, layout)
    name = identifier(_get(values, layout, "event_name"), "event name")
    if name is None:
        raise RowRejected("missing event name", "the row has no event name")
    occurred_at = parse_timestamp(_get(values, layout, "timestamp"))
    event_id = identifier(_get(values, layout, "event_id"), "event id")
    properties = {
        **_extra(values, layout),
        **parse_object(_get(values, layout, "metadata"), "metadata"),
    }
    return msg.Track(
        event_id=event_id
        or content_event_id(external_id, anonymous_id, name, occurred_at, properties),
        name=name,
        occurred_at=occurred_at,
        external_id=external_id,
        anonymous_id=anonymous_id,
        timezone=_timezone(_get(values, layout, "timezone")),
        locale=identifier(_get(values, layout, "locale"), "locale", _MAX_LENGTH["locale"]),
        properties=properties,
        source=SOURCE,
    )


def user_messages(values: dict[str, Any], layout: Layout, as_of: float) -> list[msg.Message]:
    """An Identify for a user attribute row, and a Device when it has a push token.

    ``as_of`` is the time of the attributes when the row gives none: profile properties
    follow "the last write by event time wins", so a stable time (the export's) makes a
    re-import change nothing and lets newer live data win over the export.
    """
    external_id, anonymous_id = _identity(values, layout)
    raw_time = _get(values, layout, "timestamp")
    at = as_of if raw_time is None or raw_time == "" else parse_timestamp(raw_time)
    traits = {**parse_object(_get(values, layout, "traits"), "traits"), **_extra(values, layout)}
    identify = msg.Identify(
        occurred_at=at,
        external_id=external_id,
        anonymous_id=anonymous_id,
        email=identifier(_get(values, layout, "email"), "email"),
        phone=identifier(_get(values, layout, "phone"), "phone"),
        timezone=_timezone(_get(values, layout, "timezone")),
        locale=identifier(_get(values, layout, "locale"), "locale", _MAX_LENGTH["locale"]),
        traits=traits,
        source=SOURCE,
    )
    token = identifier(_get(values, layout, "push_token"), "push token", 4096)
    if token is None:
        return [identify]
    device = {f: identifier(_get(values, layout, f), f, _MAX_LENGTH.get(f, 128)) for f in _DEVICE}
    return [
        identify,
        msg.Device(
            device_id=identifier(_get(values, layout, "device_id"), "device id")
            or device_id_for(token),
            occurred_at=at,
            external_id=external_id,
            anonymous_id=anonymous_id,
            token=token,
            os=device["os"],
            os_version=device["os_version"],
            model=device["model"],
            app_version=device["app_version"],
            app_build=device["app_build"],
            source=SOURCE,
        ),
    ]


def row_messages(values: dict[str, Any], layout: Layout, as_of: float) -> list[msg.Message]:
    """The messages one row becomes; :class:`RowRejected` when it cannot be imported."""
    if layout.kind == "events":
        return [event_message(values, layout)]
    return user_messages(values, layout, as_of)
