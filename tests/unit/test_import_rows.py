"""Row parsing of ``rapport import``: column names, values, messages, rejections."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from rapport.ingest import messages as msg
from rapport.ingest.importer_rows import (
    Layout,
    RowRejected,
    detect_kind,
    device_id_for,
    event_message,
    identifier,
    parse_object,
    parse_timestamp,
    plain,
    user_messages,
)

NOV_14 = 1700000000.0  # 2023-11-14T22:13:20Z


def events(row: dict[str, Any]) -> msg.Track:
    return event_message(row, Layout.of("events", list(row)))


def users(row: dict[str, Any], as_of: float = 1.0) -> list[msg.Message]:
    return user_messages(row, Layout.of("users", list(row)), as_of)


def rejected(call: Any, *args: Any) -> RowRejected:
    with pytest.raises(RowRejected) as caught:
        call(*args)
    return caught.value


@pytest.mark.parametrize(
    "value",
    [
        1700000000,
        1700000000.0,
        1700000000000,  # milliseconds
        1700000000000000,  # microseconds
        "1700000000",
        " 1700000000000 ",
        "2023-11-14T22:13:20Z",
        "2023-11-14T23:13:20+01:00",
        "2023-11-14 22:13:20",  # naive: UTC
        datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        datetime(2023, 11, 14, 22, 13, 20),
        Decimal("1700000000"),
    ],
)
def test_timestamps_in_every_warehouse_spelling(value: object) -> None:
    assert parse_timestamp(value) == pytest.approx(NOV_14)


def test_a_date_is_midnight_utc() -> None:
    assert parse_timestamp(date(2023, 11, 14)) == 1699920000.0


@pytest.mark.parametrize("value", ["yesterday", "2023-13-45", "-5", float("nan"), True, [1]])
def test_bad_timestamps_are_rejected(value: object) -> None:
    assert rejected(parse_timestamp, value).reason == "bad timestamp"


@pytest.mark.parametrize("value", [None, ""])
def test_missing_timestamp(value: object) -> None:
    assert rejected(parse_timestamp, value).reason == "missing timestamp"


def test_metadata_as_object_json_text_or_parquet_map() -> None:
    assert parse_object({"a": 1}, "metadata") == {"a": 1}
    assert parse_object('{"a": [1, 2]}', "metadata") == {"a": [1, 2]}
    assert parse_object([("a", 1), ("b", "x")], "metadata") == {"a": 1, "b": "x"}
    assert parse_object(None, "metadata") == {}
    assert parse_object("", "metadata") == {}
    for bad in ("[1, 2]", "[]", "{not json", 5, [1, 2]):
        assert rejected(parse_object, bad, "metadata").reason == "metadata not an object"


def test_values_become_json_native() -> None:
    assert plain(Decimal("12.5")) == 12.5
    assert plain(Decimal("12")) == 12
    assert plain(datetime(2024, 1, 2, 3, 4, tzinfo=UTC)) == "2024-01-02T03:04:00+00:00"
    assert plain({"d": date(2024, 1, 2), "n": [float("inf")]}) == {"d": "2024-01-02", "n": [None]}


def test_identifiers_accept_numbers_but_not_other_types() -> None:
    assert identifier(42, "user id") == "42"
    assert identifier(42.0, "user id") == "42"
    assert identifier(" u1 ", "user id") == "u1"
    assert identifier("", "user id") is None
    assert rejected(identifier, True, "user id").reason == "bad user id"
    assert rejected(identifier, "x" * 256, "user id").reason == "bad user id"


def test_columns_match_common_warehouse_spellings() -> None:
    layout = Layout.of("events", ["contactId", "EVENT", "Occurred At", "message_id", "Properties"])
    assert layout.fields == {
        "user_id": "contactId",
        "event_name": "EVENT",
        "timestamp": "Occurred At",
        "event_id": "message_id",
        "metadata": "Properties",
    }
    assert layout.missing() == []
    assert Layout.of("events", ["user_id", "name"]).missing() == ["event_name", "timestamp"]
    assert Layout.of("users", ["email", "country"]).missing() == ["user_id"]
    assert Layout.of("users", ["anonymous_id"]).missing() == []


def test_kind_is_detected_from_an_event_column() -> None:
    assert detect_kind(["user_id", "event_name", "timestamp"]) == "events"
    assert detect_kind(["external_id", "Event", "time"]) == "events"
    assert detect_kind(["user_id", "push_token", "country"]) == "users"


def test_an_event_row_becomes_a_track() -> None:
    track = events(
        {
            "user_id": "u1",
            "event_name": "purchase",
            "timestamp": "2023-11-14T22:13:20Z",
            "event_id": "e-1",
            "metadata": {"price": 9.5},
            "timezone": "Europe/Paris",
            "store": "paris-1",
        }
    )
    assert track.event_id == "e-1"
    assert (track.name, track.external_id, track.occurred_at) == ("purchase", "u1", NOV_14)
    assert track.timezone == "Europe/Paris"
    assert track.source == "import"
    # Columns that are no known field become properties; metadata wins on a clash.
    assert track.properties == {"price": 9.5, "store": "paris-1"}


def test_events_without_an_id_get_the_same_id_in_every_format() -> None:
    from_csv = events(
        {"user_id": "u1", "event_name": "buy", "timestamp": "1700000000", "metadata": '{"a":1}'}
    )
    from_jsonl = events(
        {"user_id": "u1", "event_name": "buy", "timestamp": 1700000000000, "metadata": {"a": 1}}
    )
    from_parquet = events(
        {
            "user_id": "u1",
            "event_name": "buy",
            "timestamp": datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
            "metadata": [("a", 1)],
        }
    )
    assert from_csv.event_id.startswith("imp_")
    assert from_csv.event_id == from_jsonl.event_id == from_parquet.event_id
    other = events(
        {"user_id": "u1", "event_name": "buy", "timestamp": 1700000000, "metadata": {"a": 2}}
    )
    assert other.event_id != from_csv.event_id


GOOD_EVENT = {"user_id": "u", "event_name": "x", "timestamp": 1700000000}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"user_id": None}, "missing user id"),
        ({"event_name": ""}, "missing event name"),
        ({"timestamp": "soon"}, "bad timestamp"),
        ({"metadata": "[1]"}, "metadata not an object"),
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
    ],
)
def test_bad_event_rows_are_rejected_with_a_reason(change: dict[str, Any], reason: str) -> None:
    events(GOOD_EVENT)  # valid as it is
    assert rejected(events, {**GOOD_EVENT, **change}).reason == reason


def test_a_user_row_becomes_an_identify_with_every_other_column_as_a_property() -> None:
    [identify] = users(
        {
            "external_id": 7,
            "country": "FR",
            "timezone": "Europe/Paris",
            "locale": "fr-FR",
            "email": "a@example.com",
            "plan": "gold",
            "age": 31,
            "nickname": None,  # missing values set nothing
        },
        as_of=123.0,
    )
    assert isinstance(identify, msg.Identify)
    assert identify.external_id == "7"
    assert identify.occurred_at == 123.0
    assert (identify.timezone, identify.locale, identify.email) == (
        "Europe/Paris",
        "fr-FR",
        "a@example.com",
    )
    assert identify.traits == {"country": "FR", "plan": "gold", "age": 31}


def test_a_push_token_adds_a_device_with_a_stable_id() -> None:
    identify, device = users({"user_id": "u1", "push_token": "fcm:abc", "os": "android"})
    assert isinstance(identify, msg.Identify)
    assert isinstance(device, msg.Device)
    _, same_token = users({"user_id": "u1", "token": "fcm:abc"})
    assert isinstance(same_token, msg.Device)
    assert device.device_id == device_id_for("fcm:abc") == same_token.device_id
    assert (device.token, device.os, device.external_id) == ("fcm:abc", "android", "u1")
    _, named = users({"user_id": "u1", "push_token": "t", "device_id": "phone-1"})
    assert isinstance(named, msg.Device)
    assert named.device_id == "phone-1"


def test_a_user_row_with_its_own_time_uses_it() -> None:
    [identify] = users({"user_id": "u1", "updated_at": "2023-11-14T22:13:20Z", "plan": "x"})
    assert identify.occurred_at == NOV_14
    assert isinstance(identify, msg.Identify)
    assert identify.traits == {"plan": "x"}


def test_bad_user_rows_are_rejected() -> None:
    assert rejected(users, {"user_id": "", "country": "FR"}).reason == "missing user id"
    assert rejected(users, {"user_id": "u", "timezone": "Europe/Nowhere"}).reason == (
        "unknown timezone"
    )
    assert rejected(users, {"user_id": "u", "traits": "[1]"}).reason == "traits not an object"
