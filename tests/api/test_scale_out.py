"""On PostgreSQL, several API and worker processes share one stream of messages."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Any

import httpx

from rapport.core.db import Database
from tests.api.processes import Process, Server, run_cli
from tests.conftest import access_token, fresh_database, management_headers, wait_processed


def _messages(seed: int = 7) -> list[tuple[str, Any]]:
    """A stream touching 60 users: events, traits at various times, aliases, devices."""
    rng = random.Random(seed)
    out: list[tuple[str, Any]] = []
    for user in range(60):
        known, anon = f"user-{user}", f"anon-{user}"
        for n in range(rng.randint(3, 12)):
            who = {"anonymous_id": anon} if n % 3 == 0 else {"external_id": known}
            out.append(
                (
                    "client/events",
                    [
                        {
                            "name": rng.choice(["view", "purchase", "add_to_cart", "search_items"]),
                            "event_id": f"{known}-e{n}",
                            "created_at": 1763800000 + rng.randint(0, 10_000),
                            **who,
                        }
                    ],
                )
            )
        for n in range(3):
            out.append(
                (
                    "aampe/properties",
                    {
                        "contact_id": known,
                        "timestamp": 1763800000 + rng.randint(0, 10_000),
                        "event_id": f"{known}-p{n}",
                        "user_properties": {"tier": rng.choice(["a", "b", "c"]), f"k{n}": n},
                    },
                )
            )
        out.append(
            (
                "client/devices",
                {
                    "anonymous_id": anon,
                    "device_id": f"dev-{user}",
                    "os": "ios",
                    "model": "m",
                    "app_build": "1",
                    "app_version": "1",
                },
            )
        )
        out.append(("client/alias", {"anonymous_id": anon, "external_id": known}))
    rng.shuffle(out)
    return out


def _send(url: str, keys: dict[str, str], items: list[tuple[str, Any]]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for path, body in items:
            if path.startswith("client/"):
                response = client.post(
                    f"/api/{path}", json=body, headers={"Authorization": f"Bearer {keys['public']}"}
                )
            else:
                response = client.post(
                    "/v1/properties",
                    json=body,
                    headers={"Authorization": f"Bearer {keys['ingest']}"},
                )
            assert response.status_code in (202, 204), response.text


def _profiles(url: str, keys: dict[str, str], workspace: str) -> dict[str, dict[str, Any]]:
    """Every profile, keyed by external id, without the ids that differ between runs."""
    with httpx.Client(base_url=url, timeout=30) as client:
        headers = management_headers(access_token(client, keys["admin"]), workspace)
        result: dict[str, dict[str, Any]] = {}
        params: dict[str, Any] = {"limit": 1000}
        while True:
            page = client.get("/api/profiles", params=params, headers=headers).json()
            for summary in page["data"]:
                full = client.get(f"/api/profiles/{summary['id']}", headers=headers).json()
                computed = dict(full["computed"])
                # Device registrations are stamped with the wall clock, which differs
                # between the two runs.
                assert computed.pop("last_seen") is not None
                result[summary["external_id"]] = {
                    "identities": sorted((i["kind"], i["value"]) for i in full["identities"]),
                    "properties": full["properties"],
                    "computed": computed,
                    "devices": sorted(d["device_id"] for d in full["devices"]),
                }
            if "next_token" not in page:
                return result
            params = {"limit": 1000, "next_token": page["next_token"]}


def _run(database_url: str, tmp: Path, servers: int, workers: int) -> dict[str, dict[str, Any]]:
    init = json.loads(run_cli(["init", "--json"], database_url))
    workspace, keys = init["workspace"], init["keys"]
    inline = "true" if workers == 0 else "false"
    api = [
        Server(database_url, tmp / f"serve{i}.log", RAPPORT_PROCESS_INLINE=inline)
        for i in range(servers)
    ]
    procs = [Process(["worker"], database_url, tmp / f"worker{i}.log") for i in range(workers)]
    database = Database(database_url)
    try:
        stream = _messages()
        shares = [stream[i :: len(api)] for i in range(len(api))]
        threads = [
            threading.Thread(target=_send, args=(server.url, keys, share))
            for server, share in zip(api, shares, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        wait_processed(database, workspace, timeout=120)
        return _profiles(api[0].url, keys, workspace)
    finally:
        for process in [*api, *procs]:
            process.stop()
        database.dispose()


def test_two_servers_and_two_workers_match_one_process(
    postgres_database_url: str, tmp_path: Path
) -> None:
    scaled = _run(postgres_database_url, tmp_path, servers=2, workers=2)
    (tmp_path / "single").mkdir()
    with fresh_database("postgresql", tmp_path) as baseline_url:
        single = _run(baseline_url, tmp_path / "single", servers=1, workers=0)
    assert len(scaled) == 60
    assert None not in scaled  # every anonymous profile was merged into its user
    assert scaled == single
    total_events = sum(p["computed"]["event_count"] for p in scaled.values())
    expected = sum(
        1 for path, _ in _messages() if path != "client/devices" and path != "client/alias"
    )
    assert total_events == expected
