"""Personalization: how much of the achievable lift rapport's agents capture.

A simulated population (``bench/worlds.py``: 27 variants over three label dimensions,
users with hidden per-label tastes, a clustered and an individual world, fixed seeds)
visits one surface of a fresh ``rapport serve`` over HTTP, round after round:

1. ``GET /v1/surface/content`` for the user, with the device as context;
2. a conversion is drawn from the hidden probability of the variant shown (the arrival's
   own uniform number, shared with every learner);
3. ``POST /v1/events``: an impression carrying the assignment id, and a ``purchase``
   when converted;
4. after each round, wait until the server's inbox is drained, so the agents have
   learned from the round before the next one starts.

Per world it prints, over the last 30 % of the arrivals, rapport's conversion rate and
captured lift ``(rapport - random) / (oracle - random)`` beside random choice, the
oracle, and two peers run offline on the same arrivals with the same feedback delay: a
non-personalized Thompson sampler and a Vowpal Wabbit contextual bandit. Target:
captured lift ≥ 0.75 in every world, above both peers. Holdout arrivals (policy
``holdout``: the default variant, for uplift measurement) are excluded from rapport's
figures and counted.

``python bench/personalize.py --offline`` prints the offline figures only (no server).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):  # run as a script: make the ``bench`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Server, rapport_server, report
from bench.ingest import wait_drained
from bench.worlds import (
    VARIANTS,
    VW_ARGS,
    WORLDS,
    Arrival,
    Figures,
    LabelThompsonReference,
    Learner,
    Outcome,
    ThompsonPeer,
    VowpalPeer,
    World,
    describe,
    figures,
    simulate,
)

API_VERSION = "2026-11-01"
TARGET = 0.75
USER_AGENTS = {
    "mobile": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "tablet": "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
}


@contextmanager
def management_client(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client signed in to the management API of the server's workspace."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        response = client.post(
            "/api/oauth/token", headers={"Authorization": f"Bearer {server.keys['admin']}"}
        )
        if response.status_code != 200:
            raise SystemExit(f"bench: token request got {response.status_code}: {response.text}")
        client.headers.update(
            {
                "Authorization": f"Bearer {response.json()['access_token']}",
                "Rapport-Workspace": server.workspace,
                "Api-Version": API_VERSION,
            }
        )
        yield client


@dataclass(frozen=True)
class Surface:
    id: str
    # variant id -> index in ``worlds.VARIANTS``
    variants: dict[str, int]


def create_surface(
    server: Server, name: str, *, holdout_percent: float = 5, sticky_seconds: int = 0
) -> Surface:
    """A surface with the 27 variants; the first one is the default."""
    body = {
        "name": name,
        "control": {
            "min_gap_days": 0,
            "holdout_percent": holdout_percent,
            "sticky_seconds": sticky_seconds,
        },
        "reward": {"categories": ["conversion"], "events": [], "attribution_window_hours": 24},
        "variants": [
            {
                "name": variant.name,
                "payload": {"headline": variant.name.replace("-", " "), "cta": "Shop now"},
                "labels": variant.labels,
                "default": i == 0,
            }
            for i, variant in enumerate(VARIANTS)
        ],
    }
    with management_client(server) as client:
        response = client.post("/api/surfaces", json=body)
    if response.status_code != 201:
        raise SystemExit(f"bench: creating the surface got {response.status_code}: {response.text}")
    created = response.json()
    by_name = {variant.name: i for i, variant in enumerate(VARIANTS)}
    return Surface(
        id=created["id"], variants={v["id"]: by_name[v["name"]] for v in created["variants"]}
    )


def variant_index(surface: Surface, variant: dict[str, Any]) -> int:
    """Which of the 27 variants the server chose (by id, else by labels)."""
    found = surface.variants.get(variant.get("id", ""))
    if found is not None:
        return found
    labels = variant.get("labels") or {}
    for i, candidate in enumerate(VARIANTS):
        if candidate.labels == labels:
            return i
    raise SystemExit(f"bench: the server chose an unknown variant: {variant}")


def content_item(response: httpx.Response, surface_id: str) -> dict[str, Any]:
    """The Content API answer's item for ``surface_id``."""
    if response.status_code != 200:
        raise SystemExit(f"bench: content request got {response.status_code}: {response.text}")
    for item in response.json():
        if item.get("surface_id") == surface_id:
            if not item.get("variant"):
                raise SystemExit(f"bench: no variant in the content answer: {item}")
            return dict(item)
    raise SystemExit(f"bench: surface {surface_id} missing from {response.text}")


class Clients:
    """One ``httpx.Client`` per worker thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.local = threading.local()
        self.all: list[httpx.Client] = []
        self.lock = threading.Lock()

    def get(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self.local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.url, timeout=30)
            self.local.client = client
            with self.lock:
                self.all.append(client)
        return client

    def close(self) -> None:
        for client in self.all:
            client.close()


@dataclass
class RapportRun:
    outcomes: list[Outcome]
    policies: Counter[str]
    seconds: float
    # What the server's own surface report counted, beside what was sent.
    bookkeeping: str = ""


def bookkeeping(server: Server, surface: Surface, outcomes: Sequence[Outcome]) -> str:
    """Compare the server's surface report (``GET /api/surfaces/{id}/report``) with what
    was sent: every assignment exposed once, every purchase credited to one."""
    with management_client(server) as client:
        response = client.get(f"/api/surfaces/{surface.id}/report")
    if response.status_code != 200:
        return f"server report unavailable ({response.status_code})"
    body = response.json()
    exposed = sum(body[part]["exposed"] for part in ("personalized", "holdout"))
    credited = sum(body[part]["conversions"] for part in ("personalized", "holdout"))
    sent = sum(outcome.converted for outcome in outcomes)
    verdict = "" if (exposed, credited) == (len(outcomes), sent) else " (MISMATCH)"
    return (
        f"server report: {exposed:,} of {len(outcomes):,} exposures, "
        f"{credited:,} of {sent:,} purchases credited{verdict}"
    )


def run_rapport(
    server: Server,
    world: World,
    arrivals: Sequence[Arrival],
    *,
    workers: int = 8,
    holdout_percent: float = 5,
    credit_by_window: bool = False,
) -> RapportRun:
    """Drive the server with the arrival stream; return what it chose for each arrival.

    ``credit_by_window``: send purchases without the assignment id, so the server has to
    credit them to the user's latest exposure within the attribution window.
    """
    surface = create_surface(server, f"home-hero-{world.name}", holdout_percent=holdout_percent)
    content_headers = {"X-API-Key": server.keys["surfaces"]}
    ingest_headers = {"Authorization": f"Bearer {server.keys['ingest']}"}
    clients = Clients(server.url)
    policies: Counter[str] = Counter()
    lock = threading.Lock()

    def visit(arrival: Arrival) -> Outcome:
        client = clients.get()
        contact = f"{world.name}-{world.users[arrival.user].id}"
        response = client.get(
            "/v1/surface/content",
            params={
                "contact_id": contact,
                "surface_id": surface.id,
                "allow_unassigned": "true",
                "device_type": arrival.device,
            },
            headers={**content_headers, "User-Agent": USER_AGENTS[arrival.device]},
        )
        item = content_item(response, surface.id)
        variant = variant_index(surface, item["variant"])
        policy = str(item.get("policy", ""))
        probability = world.probability(arrival.user, variant, arrival.device, arrival.hour)
        converted = arrival.uniform < probability
        now = round(time.time(), 3)
        assignment = item["assignment_id"]
        events: list[dict[str, Any]] = [
            {
                "contact_id": contact,
                "event_name": "impression",
                "timestamp": now,
                "event_id": f"{world.name}-{arrival.index}-impression",
                "metadata": {"assignment_id": assignment, "surface_id": surface.id},
            }
        ]
        if converted:
            metadata: dict[str, Any] = {"value": 30.0, "currency": "EUR"}
            if not credit_by_window:
                metadata["assignment_id"] = assignment
            events.append(
                {
                    "contact_id": contact,
                    "event_name": "purchase",
                    "timestamp": round(now + 0.001, 3),
                    "event_id": f"{world.name}-{arrival.index}-purchase",
                    "metadata": metadata,
                }
            )
        sent = client.post("/v1/events", json=events, headers=ingest_headers)
        if sent.status_code != 202:
            raise SystemExit(f"bench: events got {sent.status_code}: {sent.text}")
        with lock:
            policies[policy] += 1
        return Outcome(variant, probability, converted, excluded=policy == "holdout")

    rounds: dict[int, list[Arrival]] = {}
    for arrival in arrivals:
        rounds.setdefault(arrival.round, []).append(arrival)
    outcomes: list[Outcome] = []
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for number, batch in sorted(rounds.items()):
                outcomes += pool.map(visit, batch)
                wait_drained(server)
                if (number + 1) % 10 == 0:
                    print(
                        f"bench: {world.name}: round {number + 1}/{len(rounds)} "
                        f"({time.monotonic() - started:.0f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        clients.close()
    elapsed = time.monotonic() - started
    return RapportRun(outcomes, policies, elapsed, bookkeeping(server, surface, outcomes))


def offline(world: World, arrivals: Sequence[Arrival], vw_args: str) -> dict[str, Figures]:
    """The peers' (and the reference's) figures on the arrival stream."""
    results: dict[str, Figures] = {}
    learners: list[Learner] = [ThompsonPeer()]
    try:
        learners.append(VowpalPeer(vw_args))
    except ModuleNotFoundError:
        print(
            "bench: vowpalwabbit is not installed (pip install -e '.[bench]'); VW peer skipped",
            file=sys.stderr,
        )
    learners.append(LabelThompsonReference())
    for learner in learners:
        results[learner.name] = figures(world, arrivals, simulate(world, arrivals, learner))
        if isinstance(learner, VowpalPeer):
            learner.close()
    return results


def world_rows(
    peers: dict[str, Figures], rapport: tuple[Figures, RapportRun] | None
) -> list[tuple[str, str, str]]:
    first = next(iter(peers.values()))
    rows = [
        ("random choice", f"conversion {first.random:6.2%}", ""),
        ("oracle (best variant per arrival)", f"conversion {first.oracle:6.2%}", ""),
    ]
    for name, result in peers.items():
        rows.append((name, describe(result), ""))
    if rapport is not None:
        result, run = rapport
        best_peer = max(
            (f.captured for name, f in peers.items() if not name.startswith("reference")),
            default=0.0,
        )
        met = result.captured >= TARGET and result.captured > best_peer
        policies = ", ".join(f"{k or '?'} {v:,}" for k, v in sorted(run.policies.items()))
        rows.append(
            (
                "rapport (HTTP)",
                describe(result),
                f"target ≥ {TARGET} and above both peers: {'met' if met else 'NOT met'}",
            )
        )
        rows.append(
            (
                "",
                f"{result.excluded:,} holdout arrivals excluded of the last 30 %",
                f"policies: {policies}; {run.seconds:.0f} s over HTTP",
            )
        )
        rows.append(("", run.bookkeeping, ""))
    return rows


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worlds", default=",".join(WORLDS), help="comma-separated")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--presence", type=float, default=0.9, help="P(a user comes in a round)")
    parser.add_argument("--workers", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--holdout-percent", type=float, default=5)
    parser.add_argument(
        "--credit-by-window",
        action="store_true",
        help="send purchases without the assignment id (attribution window credit)",
    )
    parser.add_argument("--vw-args", default=VW_ARGS)
    parser.add_argument("--offline", action="store_true", help="no server: peers only")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args([] if argv is None else argv)
    for name in args.worlds.split(","):
        world = WORLDS[name](args.users)
        arrivals = world.arrivals(args.rounds, presence=args.presence)
        peers = offline(world, arrivals, args.vw_args)
        rapport = None
        if not args.offline:
            with rapport_server() as server:
                run = run_rapport(
                    server,
                    world,
                    arrivals,
                    workers=args.workers,
                    holdout_percent=args.holdout_percent,
                    credit_by_window=args.credit_by_window,
                )
            rapport = (figures(world, arrivals, run.outcomes), run)
        report(
            f"personalization, {name} world: {len(world.users)} users x {args.rounds} rounds "
            f"= {len(arrivals):,} arrivals; figures over the last 30 %",
            world_rows(peers, rapport),
        )


if __name__ == "__main__":
    main(sys.argv[1:])
