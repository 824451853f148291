"""Content API: decisions per second and latency at a steady rate.

One surface with the 27 variants of ``bench/worlds.py`` (``sticky_seconds: 0``, so every
request is a fresh decision by the user's agent, and 5 % holdout), 2,000 users with some
history (a content request each, then impressions, purchases crediting the assignments
and page views through ``POST /v1/events``, processed before measuring). Then:

- throughput: wrk against ``GET /v1/surface/content``, the contact id varying over the
  2,000 users and the device over the three types, beside the bare ASGI baseline
  (``bench/baseline.py``) answering the same requests in the same run
  (target: ≥ 30 % of the baseline);
- latency at a steady 1,000 requests/s for 10 s, open loop: a few threads, each with
  its own ``httpx.Client``, send on a fixed timetable and measure each latency from the
  request's *scheduled* send time, so a stall delays (and counts against) every request
  due during it instead of silently lowering the rate (coordinated omission). The same
  driver against the baseline shows the driver's own share (target: p99 ≤ 10 ms).
"""

from __future__ import annotations

import math
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):  # run as a script: make the ``bench`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    WORKERS,
    Load,
    Server,
    baseline_server,
    cpu_seconds,
    lua_string,
    processes,
    rapport_server,
    report,
    wrk,
)
from bench.ingest import wait_drained
from bench.personalize import USER_AGENTS, Clients, content_item, create_surface
from bench.worlds import DEVICES

USERS = 2000
SECONDS, CONNECTIONS = 6.0, 32
# Four driver threads: with more, the driver's own GIL contention shows in the p99 of the
# bare baseline; with fewer, one slow response delays more of the timetable.
RATE, STEADY_SECONDS, DRIVER_THREADS = 1000, 10.0, 4
PREFIX = "content-user"


def content_path(surface_id: str, user: int, device: str) -> str:
    return (
        f"/v1/surface/content?contact_id={PREFIX}-{user}&surface_id={surface_id}"
        f"&allow_unassigned=true&device_type={device}"
    )


def content_script(key: str, surface_id: str) -> str:
    """GET content, the user and the device varying with every request."""
    devices = ", ".join(lua_string(d) for d in DEVICES)
    return f"""
wrk.method = "GET"
wrk.headers["X-API-Key"] = {lua_string(key)}
local devices = {{{devices}}}
local counter = 0
request = function()
  counter = counter + 1
  local path = string.format(
    "/v1/surface/content?contact_id=%s-%d&surface_id=%s&allow_unassigned=true&device_type=%s",
    {lua_string(PREFIX)}, (counter * 7919) % {USERS}, {lua_string(surface_id)},
    devices[counter % 3 + 1])
  return wrk.format(nil, path)
end
"""


def seed_history(server: Server, surface_id: str, seed: int = 5) -> int:
    """Give every user a decision, an impression, a page view, and 15 % a purchase;
    return the events sent (processed before this returns)."""
    rng = random.Random(seed)
    headers = {"X-API-Key": server.keys["surfaces"]}

    clients = Clients(server.url)

    def decide(user: int) -> str:
        device = DEVICES[user % 3]
        response = clients.get().get(
            content_path(surface_id, user, device),
            headers={**headers, "User-Agent": USER_AGENTS[device]},
        )
        return str(content_item(response, surface_id)["assignment_id"])

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            assignments = list(pool.map(decide, range(USERS)))
    finally:
        clients.close()
    now = time.time()
    events: list[dict[str, Any]] = []
    for user, assignment in enumerate(assignments):
        contact = f"{PREFIX}-{user}"
        events.append(
            {
                "contact_id": contact,
                "event_name": "view_item",
                "timestamp": round(now - 60, 3),
                "event_id": f"history-{user}-view",
                "metadata": {"sku": f"A-{user % 97}"},
            }
        )
        events.append(
            {
                "contact_id": contact,
                "event_name": "impression",
                "timestamp": round(now, 3),
                "event_id": f"history-{user}-impression",
                "metadata": {"assignment_id": assignment, "surface_id": surface_id},
            }
        )
        if rng.random() < 0.15:
            events.append(
                {
                    "contact_id": contact,
                    "event_name": "purchase",
                    "timestamp": round(now + 1, 3),
                    "event_id": f"history-{user}-purchase",
                    "metadata": {"assignment_id": assignment, "value": 30.0},
                }
            )
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for start in range(0, len(events), 100):
            response = client.post(
                "/v1/events",
                json=events[start : start + 100],
                headers={"Authorization": f"Bearer {server.keys['ingest']}"},
            )
            if response.status_code != 202:
                raise SystemExit(f"bench: events got {response.status_code}: {response.text}")
    wait_drained(server)
    return len(events)


@dataclass(frozen=True)
class Steady:
    """What the open-loop driver measured (and the server's CPU per request, when its
    pid was given)."""

    sent: int
    rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    cpu_ms_per_request: float | None = None

    def describe(self) -> str:
        cpu = (
            f", {self.cpu_ms_per_request:.3f} ms CPU/req"
            if self.cpu_ms_per_request is not None
            else ""
        )
        return f"p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms (max {self.max_ms:.1f} ms{cpu})"


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of an already sorted sequence."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


Send = Callable[[httpx.Client, int], httpx.Response]


def getter(paths: Sequence[str]) -> Send:
    """Request ``i`` is a GET of ``paths[i % len(paths)]``."""
    return lambda client, i: client.get(paths[i % len(paths)])


def open_loop(
    url: str,
    send: Send,
    headers: dict[str, str],
    *,
    rate: float = RATE,
    seconds: float = STEADY_SECONDS,
    threads: int = DRIVER_THREADS,
    pid: int | None = None,
) -> Steady:
    """Send ``rate`` requests/s for ``seconds`` on a fixed timetable (request ``i`` is due
    at ``start + i / rate``, thread ``i % threads`` sends it); latency counts from the
    due time, so time spent waiting behind a slow request is measured, not omitted."""
    total = int(rate * seconds)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    start = time.perf_counter() + 0.2

    def drive(index: int) -> None:
        mine = latencies[index]
        with httpx.Client(base_url=url, timeout=10, headers=headers) as client:
            for i in range(index, total, threads):
                due = start + i / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                try:
                    ok = send(client, i).status_code == 200
                except httpx.HTTPError:
                    ok = False
                mine.append((time.perf_counter() - due) * 1000)
                if not ok:
                    errors[index] += 1

    workers = [threading.Thread(target=drive, args=(i,)) for i in range(threads)]
    cpu_before = cpu_seconds(pid) if pid is not None else 0.0
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(pid) - cpu_before if pid is not None else None
    ordered = sorted(value for values in latencies for value in values)
    return Steady(
        sent=len(ordered),
        rate=len(ordered) / elapsed,
        p50_ms=percentile(ordered, 0.50),
        p99_ms=percentile(ordered, 0.99),
        max_ms=ordered[-1] if ordered else math.nan,
        errors=sum(errors),
        cpu_ms_per_request=cpu * 1000 / len(ordered) if cpu is not None and ordered else None,
    )


def steady(url: str, send: Send, headers: dict[str, str], pid: int | None = None) -> Steady:
    """One warm-up second, then the measured run."""
    open_loop(url, send, headers, seconds=1.0)
    return open_loop(url, send, headers, pid=pid)


def measure(sticky_seconds: int) -> tuple[int, Load, Steady]:
    """A fresh server, one surface, seeded history; wrk throughput and the steady run."""
    with rapport_server() as server:
        surface = create_surface(
            server, "home-hero", holdout_percent=5, sticky_seconds=sticky_seconds
        ).id
        history = seed_history(server, surface)
        paths = [content_path(surface, (u * 7919) % USERS, DEVICES[u % 3]) for u in range(USERS)]
        measured = steady(
            server.url, getter(paths), {"X-API-Key": server.keys["surfaces"]}, server.process.pid
        )
        wait_drained(server)
        load: Load = wrk(
            server.url,
            content_script(server.keys["surfaces"], surface),
            seconds=SECONDS,
            connections=CONNECTIONS,
            pid=server.process.pid,
        )
    if measured.errors:
        raise SystemExit(f"bench: {measured.errors} failed requests in the steady run")
    return history, load, measured


def main() -> None:
    sample_surface = "00000000-0000-4000-8000-000000000000"
    base_paths = [content_path(sample_surface, u, DEVICES[u % 3]) for u in range(USERS)]
    with baseline_server() as baseline:
        base_load = wrk(
            baseline.url,
            content_script("-", sample_surface),
            seconds=SECONDS,
            connections=CONNECTIONS,
            pid=baseline.process.pid,
        )
        base_steady = steady(
            baseline.url, getter(base_paths), {"X-API-Key": "-"}, baseline.process.pid
        )
    rows = []
    history = 0
    # Fresh: every request is a new decision (sticky_seconds 0, the worst case). Sticky:
    # the default one-day stickiness, every user already decided for (their history),
    # which is what most requests of a returning user are.
    for label, sticky_seconds in (("fresh decision", 0), ("sticky decision", 86400)):
        history, load, measured = measure(sticky_seconds)
        rows += [
            (
                f"{label}: GET /v1/surface/content, {CONNECTIONS} connections",
                load.describe(),
                f"{load.requests_per_second / base_load.requests_per_second:.0%} of baseline "
                f"{base_load.describe()} (target ≥ 30%)",
            ),
            (
                f"{label}: steady {RATE:,} req/s for {STEADY_SECONDS:g} s, open loop",
                f"{measured.describe()}; {measured.rate:,.0f} req/s achieved",
                f"target p99 ≤ 10 ms; same driver on the baseline: {base_steady.describe()}",
            ),
        ]
    report(
        f"Content API (SQLite, {processes(WORKERS)}; 27 variants, {USERS:,} users with "
        f"{history:,} events of history)",
        rows,
    )


if __name__ == "__main__":
    main()
