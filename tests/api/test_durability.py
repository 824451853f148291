"""What a 2xx promises: the data is committed, whatever happens to the process next."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
from sqlalchemy import func, select

from rapport.core.db import Database
from rapport.core.tables import events, inbox
from tests.api.processes import Server, run_cli
from tests.conftest import wait_processed


def _sender(url: str, key: str, prefix: str, acked: list[str], stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=5) as client:
        n = 0
        while not stop.is_set() and n < 5000:
            event_id = f"{prefix}-{n}"
            n += 1
            try:
                response = client.post(
                    "/v1/events",
                    json={
                        "contact_id": f"user-{n % 50}",
                        "event_name": "tick",
                        "timestamp": 1763800000 + n,
                        "event_id": event_id,
                    },
                    headers={"Authorization": f"Bearer {key}"},
                )
            except httpx.TransportError:
                return  # the server died under us: this request was never acknowledged
            if response.status_code == 202:
                acked.append(event_id)


def test_every_acknowledged_event_survives_sigkill_exactly_once(
    fresh_database_url: str, tmp_path: Path
) -> None:
    keys = json.loads(run_cli(["init", "--json"], fresh_database_url))
    workspace, key = keys["workspace"], keys["keys"]["ingest"]
    server = Server(fresh_database_url, tmp_path / "serve.log")
    acked: list[str] = []
    stop = threading.Event()
    senders = [
        threading.Thread(target=_sender, args=(server.url, key, f"s{i}", acked, stop))
        for i in range(4)
    ]
    try:
        for sender in senders:
            sender.start()
        waited = 0
        while len(acked) < 400 and waited < 3000:
            stop.wait(0.01)
            waited += 1
        server.kill()  # mid-stream: requests are in flight
    finally:
        stop.set()
        for sender in senders:
            sender.join(timeout=30)
        server.stop()
    assert len(acked) >= 400

    restarted = Server(fresh_database_url, tmp_path / "serve2.log")
    database = Database(fresh_database_url)
    try:
        wait_processed(database, workspace, timeout=60)
        with database.read() as conn:
            stored = [
                row[0]
                for row in conn.execute(
                    select(events.c.event_id).where(events.c.workspace_id == workspace)
                )
            ]
            assert conn.execute(select(func.count()).select_from(inbox)).scalar_one() == 0
        assert set(acked) <= set(stored)
        assert len(stored) == len(set(stored))
    finally:
        restarted.stop()
        database.dispose()
