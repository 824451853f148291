"""``rapport import``, run as a subprocess like a user would, checked in the database."""

from __future__ import annotations

import gzip
import json
import os
import pty
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from rapport.core.db import Database
from rapport.core.pagination import PageRequest
from rapport.core.tables import events, inbox, profiles
from rapport.profiles import service, storage
from rapport.profiles.processor import Processor
from rapport.profiles.schemas import ProfilePublic
from tests.api.processes import RAPPORT, rapport_env, run_cli

WS = "shop"


def rapport(args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI; the exit status is the caller's to check."""
    return subprocess.run(
        [*RAPPORT, *args],
        env=rapport_env(url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def import_json(url: str, path: Path, *extra: str, status: int = 0) -> dict[str, Any]:
    """``rapport import --json``; its summary."""
    result = rapport(["import", str(path), "--json", *extra], url)
    assert result.returncode == status, result.stdout + result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


@pytest.fixture
def url(fresh_database_url: str) -> str:
    run_cli(["init", "--json", "--workspace", WS], fresh_database_url)
    return fresh_database_url


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = Database(url)
    yield database
    database.dispose()


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt") as out:
        for row in rows:
            out.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def profile(db: Database, external_id: str, workspace: str = WS) -> ProfilePublic:
    with db.read() as conn:
        owners = storage.lookup_identities(conn, workspace, [("external_id", external_id)])
        assert ("external_id", external_id) in owners, f"no profile for {external_id}"
        return service.get_profile(conn, workspace, owners[("external_id", external_id)])


def events_of(db: Database, external_id: str) -> list[dict[str, Any]]:
    found = profile(db, external_id)
    with db.read() as conn:
        page = service.list_events(conn, WS, found.id, PageRequest(limit=100))
    ordered = sorted(page.data, key=lambda e: e.occurred_at)
    return [
        {
            "name": e.name,
            "at": e.occurred_at.timestamp(),
            "properties": e.properties,
            "id": e.event_id,
        }
        for e in ordered
    ]


def count(db: Database, table: Any, workspace: str = WS) -> int:
    with db.read() as conn:
        query = select(func.count()).select_from(table).where(table.c.workspace_id == workspace)
        return int(conn.execute(query).scalar_one())


EVENTS = [
    {"user_id": "u1", "event_name": "signup", "timestamp": 1700000000},
    {
        "user_id": "u1",
        "event_name": "purchase",
        "timestamp": "2023-11-15T00:00:00Z",
        "metadata": {"price": 9.5, "sku": "A-1"},
    },
    {
        "user_id": "u2",
        "event_name": "purchase",
        "timestamp": 1700100000000,
        "event_id": "order-2",
        "metadata": {"price": 20},
    },
]


# -- events ---------------------------------------------------------------------------


def test_jsonl_events_become_events_and_profiles(url: str, db: Database, tmp_path: Path) -> None:
    summary = import_json(url, write_jsonl(tmp_path / "events.jsonl", EVENTS))
    assert summary["kind"] == "events"
    assert (summary["rows_read"], summary["imported"], summary["rejected"]) == (3, 3, 0)
    assert summary["processed"] == 3
    u1 = events_of(db, "u1")
    assert [(e["name"], e["at"]) for e in u1] == [("signup", 1700000000), ("purchase", 1700006400)]
    assert u1[1]["properties"] == {"price": 9.5, "sku": "A-1"}
    assert all(e["id"].startswith("imp_") for e in u1)
    assert [e["id"] for e in events_of(db, "u2")] == ["order-2"]
    assert profile(db, "u1").computed.counts_by_name == {"signup": 1, "purchase": 1}
    assert count(db, inbox) == 0


def test_csv_events_gzipped_with_json_metadata_and_extra_columns(
    url: str, db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "events.csv.gz"
    with gzip.open(path, "wt", newline="") as out:
        out.write(
            "contact_id,event,occurred_at,metadata,store\n"
            '42,purchase,1700000000,"{""price"": 3}",paris\n'
            "42,view,2023-11-14T22:13:21Z,,\n"
        )
    summary = import_json(url, path)
    assert (summary["format"], summary["imported"], summary["rejected"]) == ("csv", 2, 0)
    assert [(e["name"], e["properties"]) for e in events_of(db, "42")] == [
        ("purchase", {"price": 3, "store": "paris"}),
        ("view", {}),
    ]


def test_parquet_events(url: str, db: Database, tmp_path: Path) -> None:
    table = pa.table(
        {
            "user_id": pa.array([1001, 1001, 1002], pa.int64()),
            "event_name": ["open", "purchase", "open"],
            "timestamp": pa.array(
                [datetime(2024, 1, 1, h, tzinfo=UTC) for h in (8, 9, 10)], pa.timestamp("ms", "UTC")
            ),
            "event_id": [None, "p-1", None],
            "metadata": ['{"campaign": "winter"}', '{"price": 12.5}', None],
        }
    )
    pq.write_table(table, tmp_path / "events.parquet", row_group_size=2)
    summary = import_json(url, tmp_path / "events.parquet")
    assert (summary["format"], summary["imported"], summary["rejected"]) == ("parquet", 3, 0)
    assert [(e["name"], e["at"], e["properties"]) for e in events_of(db, "1001")] == [
        ("open", datetime(2024, 1, 1, 8, tzinfo=UTC).timestamp(), {"campaign": "winter"}),
        ("purchase", datetime(2024, 1, 1, 9, tzinfo=UTC).timestamp(), {"price": 12.5}),
    ]
    assert events_of(db, "1001")[1]["id"] == "p-1"
    assert len(events_of(db, "1002")) == 1


def test_a_rerun_stores_each_event_once_whatever_the_format(
    url: str, db: Database, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "events.jsonl", EVENTS)
    import_json(url, path)
    assert count(db, events) == 3
    again = import_json(url, path)
    assert again["imported"] == 3  # accepted again...
    assert count(db, events) == 3  # ...and stored once
    # The same events exported as CSV with other timestamp spellings are the same events.
    csv_path = tmp_path / "events.csv"
    csv_path.write_text(
        "user_id,event_name,timestamp,event_id,metadata\n"
        "u1,signup,2023-11-14T22:13:20Z,,\n"
        'u1,purchase,1700006400000,,"{""sku"": ""A-1"", ""price"": 9.5}"\n'
        "u2,purchase,1700100000,order-2,\n"
    )
    import_json(url, csv_path)
    assert count(db, events) == 3
    assert profile(db, "u1").computed.event_count == 2


def test_queued_but_unprocessed_rows_are_not_queued_twice(
    url: str, db: Database, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "events.jsonl", EVENTS)
    first = import_json(url, path, "--no-process")
    assert first["processed"] is None
    import_json(url, path, "--no-process")
    assert count(db, inbox) == 3
    assert count(db, events) == 0
    # Whoever processes the inbox (here the worker's processor) makes the events.
    Processor(db).drain()
    assert count(db, events) == 3
    assert profile(db, "u2").computed.event_count == 1


@pytest.mark.parametrize("name", ["events.jsonl", "events.csv"])
def test_a_byte_order_mark_is_ignored(url: str, db: Database, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".csv"):
        body = "user_id,event_name,timestamp\nu1,open,1700000000\n"
    else:
        body = '{"user_id": "u1", "event_name": "open", "timestamp": 1700000000}\n'
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    assert import_json(url, path)["imported"] == 1
    assert [e["name"] for e in events_of(db, "u1")] == ["open"]


# -- rejected and unusable input ---------------------------------------------------------


def test_rejected_rows_are_reported_and_the_rest_imported(
    url: str, db: Database, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "events.jsonl",
        [
            {"user_id": "u1", "event_name": "ok", "timestamp": 1700000000},
            {"user_id": "u1", "event_name": "late", "timestamp": "last tuesday"},
            {"event_name": "anonymous", "timestamp": 1700000000},
            "",
            {"user_id": "u1", "event_name": "tz", "timestamp": 1700000000, "timezone": "Mars/Base"},
            {"user_id": "u1", "event_name": "meta", "timestamp": 1700000000, "metadata": "[1, 2]"},
            "{broken json",
            {"user_id": "", "event_name": "empty", "timestamp": 1700000000},
            {"user_id": "u2", "event_name": "ok", "timestamp": 1700000001},
        ],
    )
    rejects = tmp_path / "rejects.jsonl"
    result = rapport(["import", str(path), "--rejects", str(rejects)], url)
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert re.search(r"rows read: +8\n", out)
    assert re.search(r"imported: +2\n", out)
    assert re.search(r"rejected: +6\n", out)
    assert "- missing user id: 2 rows (lines 3, 8)" in out
    assert "- bad timestamp: 1 row (line 2)" in out
    assert "- unknown timezone: 1 row (line 5)" in out
    assert "- metadata not an object: 1 row (line 6)" in out
    assert "- invalid JSON: 1 row (line 7)" in out
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["line"], r["reason"]) for r in written] == [
        (2, "bad timestamp"),
        (3, "missing user id"),
        (5, "unknown timezone"),
        (6, "metadata not an object"),
        (7, "invalid JSON"),
        (8, "missing user id"),
    ]
    assert written[0]["row"]["timestamp"] == "last tuesday"
    assert "Mars/Base" in written[2]["detail"]
    assert [e["name"] for e in events_of(db, "u1")] == ["ok"]
    assert [e["name"] for e in events_of(db, "u2")] == ["ok"]


def test_rejected_csv_rows_carry_their_line_numbers(url: str, tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text(
        "user_id,country,timezone\n"
        "u1,FR,Europe/Paris\n"
        ",DE,Europe/Berlin\n"
        'u3,"multi\nline",Asia/Atlantis\n'
        "u4,ES,Europe/Madrid\n"
    )
    summary = import_json(url, path, status=1)
    assert summary["kind"] == "users"
    assert (summary["imported"], summary["rejected"]) == (2, 2)
    assert summary["rejected_by_reason"] == {
        "missing user id": {"count": 1, "lines": [3]},
        "unknown timezone": {"count": 1, "lines": [4]},
    }


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "no such file"),
        ("events.txt", "user_id,event_name,timestamp\n", "--format"),
        ("users.csv", "email,country\na@b.c,FR\n", "no user id column"),
        ("events.csv", "user_id,event_name\nu1,open\n", "no timestamp column"),
        ("array.json", '[{"user_id": "u1"}]\n', "JSON array"),
        ("broken.parquet", "not parquet", "Parquet"),
    ],
)
def test_unusable_input_exits_2(
    url: str, db: Database, tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    result = rapport(["import", str(path)], url)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert count(db, inbox) == 0


def test_format_and_kind_can_be_forced(url: str, db: Database, tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_text("user_id,event,timestamp\nu1,open,1700000000\n")
    summary = import_json(url, path, "--format", "csv", "--kind", "events")
    assert (summary["format"], summary["kind"], summary["imported"]) == ("csv", "events", 1)
    # As user attributes, the same columns are profile properties.
    as_users = import_json(url, path, "--format", "csv", "--kind", "users")
    assert as_users["kind"] == "users"
    assert profile(db, "u1").properties == {"event": "open"}


def test_dry_run_validates_and_writes_nothing(url: str, db: Database, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "events.jsonl", [*EVENTS, {"user_id": "u9", "event_name": "x", "timestamp": "?"}]
    )
    result = rapport(["import", str(path), "--dry-run"], url)
    assert result.returncode == 1
    assert "dry run" in result.stdout
    assert re.search(r"would import: +3\n", result.stdout)
    assert "- bad timestamp: 1 row (line 4)" in result.stdout
    assert count(db, inbox) == 0
    assert count(db, events) == 0
    assert count(db, profiles) == 0


def test_the_workspace_must_be_named_when_there_are_several(
    url: str, db: Database, tmp_path: Path
) -> None:
    run_cli(["init", "--force", "--workspace", "other"], url)
    path = write_jsonl(tmp_path / "events.jsonl", EVENTS)
    unnamed = rapport(["import", str(path)], url)
    assert unnamed.returncode == 2
    assert "--workspace" in unnamed.stderr
    unknown = rapport(["import", str(path), "--workspace", "nope"], url)
    assert unknown.returncode == 2
    assert "'nope' does not exist" in unknown.stderr
    assert import_json(url, path, "--workspace", "other")["workspace"] == "other"
    assert count(db, events, "other") == 3
    assert count(db, events, WS) == 0


# -- user attributes ------------------------------------------------------------------------


def test_jsonl_users_become_profiles_with_devices(url: str, db: Database, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "users.jsonl",
        [
            {
                "user_id": "u1",
                "push_token": "fcm-token-1",
                "country": "FR",
                "timezone": "Europe/Paris",
                "locale": "fr-FR",
                "plan": "gold",
                "age": 31,
                "tags": ["a", "b"],
                "email": "Ann@Example.com",
            },
            {
                "external_id": "u2",
                "token": "apns-2",
                "device_id": "iphone-2",
                "os": "ios",
                "country": "US",
            },
            {"user_id": "u3", "country": "DE"},
        ],
    )
    summary = import_json(url, path)
    assert (summary["kind"], summary["imported"], summary["rejected"]) == ("users", 3, 0)
    u1 = profile(db, "u1")
    assert u1.properties == {
        "country": "FR",
        "plan": "gold",
        "age": 31,
        "tags": ["a", "b"],
        "email": "Ann@Example.com",
    }
    assert (u1.computed.timezone, u1.computed.locale) == ("Europe/Paris", "fr-FR")
    [device] = u1.devices
    assert device.token == "fcm-token-1"
    assert device.device_id.startswith("tok_")
    [named] = profile(db, "u2").devices
    assert (named.device_id, named.token, named.os) == ("iphone-2", "apns-2", "ios")
    assert profile(db, "u3").devices == []

    # Re-applying the same rows gives the same profiles and no new devices.
    before = {u: profile(db, u) for u in ("u1", "u2", "u3")}
    import_json(url, path)
    for user, earlier in before.items():
        now = profile(db, user)
        assert (now.id, now.properties, now.computed) == (
            earlier.id,
            earlier.properties,
            earlier.computed,
        )
        assert [(d.device_id, d.token) for d in now.devices] == [
            (d.device_id, d.token) for d in earlier.devices
        ]
    assert count(db, profiles) == 3


def test_csv_users(url: str, db: Database, tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text(
        "Customer ID,Push Token,Country,Timezone,Plan\nc-1,tok-1,FR,Europe/Paris,gold\nc-2,,DE,,\n"
    )
    summary = import_json(url, path)
    assert (summary["kind"], summary["imported"]) == ("users", 2)
    c1 = profile(db, "c-1")
    assert c1.properties == {"Country": "FR", "Plan": "gold"}
    assert c1.computed.timezone == "Europe/Paris"
    assert [d.token for d in c1.devices] == ["tok-1"]
    c2 = profile(db, "c-2")
    assert c2.properties == {"Country": "DE"}
    assert c2.devices == []


def test_parquet_users(url: str, db: Database, tmp_path: Path) -> None:
    table = pa.table(
        {
            "user_id": pa.array([7, 8], pa.int64()),
            "push_token": ["tok-7", None],
            "country": ["BR", "JP"],
            "timezone": ["America/Sao_Paulo", "Asia/Tokyo"],
            "vip": [True, False],
            "lifetime_value": [12.5, 0.0],
            "signed_up": pa.array(
                [datetime(2023, 5, 1, tzinfo=UTC), None], pa.timestamp("s", "UTC")
            ),
        }
    )
    pq.write_table(table, tmp_path / "users.parquet")
    summary = import_json(url, tmp_path / "users.parquet")
    assert (summary["kind"], summary["imported"], summary["rejected"]) == ("users", 2, 0)
    seven = profile(db, "7")
    assert seven.properties == {
        "country": "BR",
        "vip": True,
        "lifetime_value": 12.5,
        "signed_up": "2023-05-01T00:00:00+00:00",
    }
    assert seven.computed.timezone == "America/Sao_Paulo"
    assert [d.token for d in seven.devices] == ["tok-7"]
    assert profile(db, "8").properties["vip"] is False


def test_rows_of_erased_users_are_skipped(url: str, db: Database, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "users.jsonl",
        [{"user_id": "gone", "country": "FR"}, {"user_id": "kept", "country": "IT"}],
    )
    import_json(url, path)
    with db.begin() as conn:
        service.erase_profile(conn, WS, profile(db, "gone").id)
    again = import_json(url, path)
    assert (again["imported"], again["skipped_erased"], again["rejected"]) == (1, 1, 0)
    with db.read() as conn:
        assert storage.lookup_identities(conn, WS, [("external_id", "gone")]) == {}
    assert profile(db, "kept").properties == {"country": "IT"}


# -- progress -------------------------------------------------------------------------


def test_progress_shows_on_a_terminal_only(url: str, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "events.jsonl", EVENTS)
    quiet = rapport(["import", str(path)], url)
    assert quiet.stderr == ""
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [*RAPPORT, "import", str(path)],
            env=rapport_env(url),
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(terminal)
    shown = b""
    try:
        while chunk := os.read(controller, 4096):
            shown += chunk
    except OSError:  # EIO: the terminal side is closed and everything was read
        pass
    finally:
        os.close(controller)
    assert result.returncode == 0
    assert b"importing: 3 rows" in shown
    assert b"rows/s" in shown
    assert b"100%" in shown
