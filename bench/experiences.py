"""Experiences API: ``POST /v1/experiences/fetch`` with 20 live experiences.

Each experience has an audience of 5 rules (profile property, in-session key, device
type from the user agent, country from the IP through a MaxMind-format database the
benchmark builds, day of the week); half split by fixed weights, half optimized by the
agents. 2,000 users with properties. Every request names no experience key, so all 20
are evaluated, with a user agent and an IP to parse. Figures beside the bare ASGI
baseline answering the same POSTs in the same run:
- throughput with wrk (32 connections);
- latency at a steady 1,000 req/s for 10 s from the open-loop driver of
  ``bench/content.py`` (target: p99 ≤ 10 ms).
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.content import open_loop
from bench.harness import (
    WORKERS,
    Server,
    baseline_server,
    lua_string,
    processes,
    rapport_server,
    report,
    wrk,
)
from bench.ingest import wait_drained

USERS, EXPERIENCES = 2000, 20
SECONDS, CONNECTIONS = 6.0, 32
AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
]
COUNTRIES = {"GB": "81.2.69.0/24", "US": "216.160.83.0/24", "FR": "90.0.0.0/16"}
IPS = ["81.2.69.10", "216.160.83.60", "90.0.1.2", "10.1.2.3"]


def geo_database(directory: Path) -> Path:
    """A small GeoLite2-City-layout database for a few networks."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    for code, network in COUNTRIES.items():
        writer.insert_network(IPSet([network]), {"country": {"iso_code": code}})
    path = directory / "bench-city.mmdb"
    writer.to_db_file(str(path))
    return path


def body(user: int) -> dict[str, Any]:
    return {
        "identifiers": {"customer_id": f"exp-user-{user}"},
        "utm_medium": ["email", "push", "organic"][user % 3],
        "USER_AGENT": AGENTS[user % len(AGENTS)],
        "USER_IP_ADDRESS": IPS[user % len(IPS)],
    }


def set_up(server: Server) -> None:
    """20 audiences of 5 rules, 20 live experiences, 2,000 users with properties."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        token = client.post(
            "/api/oauth/token", headers={"Authorization": f"Bearer {server.keys['admin']}"}
        ).json()["access_token"]
        client.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Rapport-Workspace": server.workspace,
                "Api-Version": "2026-11-01",
            }
        )
        for n in range(EXPERIENCES):
            rule = {
                "all": [
                    {"attribute": "profile.plan", "op": "in", "value": ["free", "pro"]},
                    {"attribute": "session.utm_medium", "op": "ne", "value": f"none-{n}"},
                    {"attribute": "device.type", "op": "in", "value": ["mobile", "desktop"]},
                    {
                        "any": [
                            {"attribute": "geo.country", "op": "in", "value": ["GB", "US"]},
                            {"attribute": "geo.country", "op": "exists", "value": False},
                        ]
                    },
                    {"attribute": "time.day_of_week", "op": "exists"},
                ]
            }
            audience = client.post("/api/audiences", json={"name": f"a{n}", "rule": rule})
            variations = [
                {
                    "name": f"v{i}",
                    "payload": {"Title": {"value": f"Title {i}", "data_type": "string"}},
                    "weight": i + 1,
                    "labels": {"tone": f"t{i}"},
                }
                for i in range(3)
            ]
            created = client.post(
                "/api/experiences",
                json={
                    "key": f"exp-{n}",
                    "name": f"Experience {n}",
                    "status": "active",
                    "allocation": "fixed" if n % 2 else "optimize",
                    "holdout_percent": 5,
                    "audience_id": audience.json()["id"],
                    "variations": variations,
                },
            )
            if created.status_code != 201:
                raise SystemExit(f"bench: experience: {created.text}")
        for start in range(0, USERS, 100):
            batch = [
                {
                    "contact_id": f"exp-user-{u}",
                    "timestamp": time.time(),
                    "user_properties": {"plan": ["free", "pro", "team"][u % 3]},
                }
                for u in range(start, start + 100)
            ]
            client.post(
                "/v1/properties",
                json=batch,
                headers={"Authorization": f"Bearer {server.keys['ingest']}"},
            )
    wait_drained(server)


def first_visits(
    server: Server, payloads: list[bytes], headers: dict[str, str], auth: httpx.BasicAuth
) -> float:
    """Every user's first fetch (20 fresh decisions each, stored), 8 at a time: the rate
    of first visits. Later fetches within a day reuse those decisions."""
    from concurrent.futures import ThreadPoolExecutor

    def visit(index: int) -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            for i in range(index, len(payloads), 8):
                response = client.post("/v1/experiences/fetch", content=payloads[i], auth=auth)
                if response.status_code != 200:
                    raise SystemExit(f"bench: fetch got {response.status_code}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(visit, range(8)))
    return len(payloads) / (time.perf_counter() - started)


def fetch_script(workspace: str, secret: str) -> str:
    bodies = ", ".join(lua_string(json.dumps(body(u))) for u in range(200))
    basic = base64.b64encode(f"{workspace}:{secret}".encode()).decode()
    return f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = {lua_string("Basic " + basic)}
wrk.headers["MOE-APPKEY"] = {lua_string(workspace)}
local bodies = {{{bodies}}}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, "/v1/experiences/fetch", nil, bodies[counter % #bodies + 1])
end
"""


def main() -> None:
    payloads = [json.dumps(body(u)).encode() for u in range(USERS)]
    with baseline_server() as baseline:
        base_load = wrk(
            baseline.url,
            fetch_script("ws", "secret"),
            seconds=SECONDS,
            connections=CONNECTIONS,
            pid=baseline.process.pid,
        )
        base_steady = open_loop(
            baseline.url,
            lambda c, i: c.post("/", content=payloads[i % USERS]),
            {},
            pid=baseline.process.pid,
        )
    directory = Path(tempfile.mkdtemp(prefix="rapport-geo-"))
    try:
        geo = geo_database(directory)
        with rapport_server(RAPPORT_GEOIP_DATABASE=str(geo)) as server:
            set_up(server)
            headers = {"MOE-APPKEY": server.workspace, "Content-Type": "application/json"}
            auth = httpx.BasicAuth(server.workspace, server.keys["personalize"])

            def send(client: httpx.Client, i: int) -> httpx.Response:
                return client.post("/v1/experiences/fetch", content=payloads[i % USERS], auth=auth)

            first = first_visits(server, payloads, headers, auth)
            wait_drained(server)  # the first visits' evidence applied: a steady state
            measured = open_loop(server.url, send, headers, pid=server.process.pid)
            load = wrk(
                server.url,
                fetch_script(server.workspace, server.keys["personalize"]),
                seconds=SECONDS,
                connections=CONNECTIONS,
                pid=server.process.pid,
            )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if measured.errors:
        raise SystemExit(f"bench: {measured.errors} failed requests in the steady run")
    report(
        f"Experiences API (SQLite, {processes(WORKERS)}; {EXPERIENCES} live experiences with "
        f"5-rule audiences, user-agent and IP lookups, {USERS:,} users)",
        [
            (
                "first visits (20 fresh decisions stored per fetch)",
                f"{first:,.0f} fetches/s = {first * EXPERIENCES:,.0f} decisions/s",
                "8 concurrent clients",
            ),
            (
                f"POST /v1/experiences/fetch, {CONNECTIONS} connections",
                load.describe(),
                f"{load.requests_per_second / base_load.requests_per_second:.0%} of baseline "
                f"{base_load.describe()}",
            ),
            (
                "returning users: steady 1,000 req/s for 10 s, open loop",
                f"{measured.describe()}; {measured.rate:,.0f} req/s achieved",
                f"target p99 ≤ 10 ms; same driver on the baseline: {base_steady.describe()}",
            ),
        ],
    )


if __name__ == "__main__":
    main()
