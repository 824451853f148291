"""A broadcast to every user, planned and sent through the log provider.

Each size runs in a fresh process on a fresh SQLite file (the default deployment, with
``synchronous=FULL``): N profiles with time zones, one broadcast with three labelled
alternates, optimized timing over a 7-day window, quiet hours and a 10 % holdout.

- planning: the orchestrator's planner walks the audience page by page (content agent,
  timing agent, holdout, quiet hours), writing each page's sends and cursor in one
  transaction;
- sending: the sender claims due sends in batches, checks caps and quiet hours, sends
  through the log provider and records each result, with the clock moved to the end of
  the window so every planned send is due.

Beside each phase, the baseline of the same run: the bare SQL the phase cannot avoid
(insert the same number of send rows in pages of 1,000; update them in batches of 500),
so the ratio says what the decisions and checks cost. Peak memory (max RSS) is per
process: it stays flat when the audience grows tenfold if nothing holds the audience.

    .venv/bin/python bench/broadcast.py              # 100,000 and 1,000,000 users
    .venv/bin/python bench/broadcast.py --users 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ZONES = ["America/New_York", "Europe/Paris", "Asia/Tokyo", "America/Los_Angeles", None]
PAGE = 10_000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _profiles(db: Any, workspace_id: str, count: int) -> None:
    from sqlalchemy import insert

    from rapport.core.ids import uuid7
    from rapport.core.tables import profiles

    now = time.time()
    for start in range(0, count, PAGE):
        rows: list[dict[str, Any]] = [
            {
                "id": uuid7(),
                "workspace_id": workspace_id,
                "properties": {},
                "property_times": {},
                "counts": {},
                "event_count": 0,
                "timezone": ZONES[i % len(ZONES)],
                "created_at": now,
                "updated_at": now,
            }
            for i in range(start, min(count, start + PAGE))
        ]
        with db.begin() as conn:
            conn.execute(insert(profiles), rows)


_BLANK_SEND: dict[str, Any] = {
    "workspace_id": "baseline", "campaign_id": "baseline", "alternate_id": None,
    "slot": "mon-morning", "holdout": False, "status": "planned", "reason": None,
    "scheduled_at": 0.0, "attempts": 0, "lease_until": None, "device_id": None,
    "provider_message_id": None, "context": {}, "sent_at": None, "delivered_at": None,
    "opened_at": None, "clicked_at": None, "converted_at": None,
    "conversion_event_id": None, "created_at": 0.0, "updated_at": 0.0,
}  # fmt: skip


def _baseline(db: Any, count: int) -> tuple[float, float]:
    """Insert then update ``count`` bare send rows: the SQL floor of both phases."""
    from sqlalchemy import bindparam, insert, update

    from rapport.core.ids import uuid7
    from rapport.core.tables import campaign_sends

    now = time.time()
    ids = [uuid7() for _ in range(count)]
    started = time.perf_counter()
    for start in range(0, count, 1000):
        rows = [
            {**_BLANK_SEND, "id": i, "profile_id": i, "dedupe_key": i}
            for i in ids[start : start + 1000]
        ]
        with db.begin() as conn:
            conn.execute(insert(campaign_sends), rows)
    inserted = time.perf_counter() - started
    started = time.perf_counter()
    statement = (
        update(campaign_sends)
        .where(campaign_sends.c.id == bindparam("b_id"))
        .values(status="sent", sent_at=bindparam("sent_at"))
    )
    for start in range(0, count, 500):
        with db.begin() as conn:
            conn.execute(statement, [{"b_id": i, "sent_at": now} for i in ids[start : start + 500]])
    updated = time.perf_counter() - started
    return count / inserted, count / updated


def run_one(users: int) -> dict[str, float]:
    """One size, in this process: set up, plan, send; figures as a dict."""
    logging.disable(logging.CRITICAL)  # the log provider's lines would time stderr
    import msgspec

    from rapport.config import Settings
    from rapport.core import migrate
    from rapport.core.db import Database
    from rapport.messaging import service
    from rapport.messaging import storage as messaging_storage
    from rapport.messaging.dryrun import DryRun
    from rapport.messaging.orchestrator import Orchestrator
    from rapport.messaging.providers import service as provider_service
    from rapport.messaging.providers.schemas import LogCreate, LogSettings
    from rapport.messaging.providers.service import ProviderRuntime
    from rapport.messaging.schemas import CampaignCreate
    from rapport.messaging.sender import Sender
    from rapport.workspaces import service as workspace_service

    directory = Path(tempfile.mkdtemp(prefix="rapport-broadcast-"))
    db = Database(f"sqlite:///{directory / 'bench.db'}")
    migrate.upgrade(db)
    with db.begin() as conn:
        workspace_service.create_workspace(conn, "bench", "Bench", "us-east1")
    _profiles(db, "bench", users)
    settings = Settings(database_url=db.url)
    runtime = ProviderRuntime.from_settings(settings)
    with db.begin() as conn:
        # The log provider at "debug": a record is only built when that level is on,
        # so the figure is rapport's own cost, not the log formatter's.
        log_provider = LogCreate(name="dry run", settings=LogSettings(level="debug"))
        provider_id = provider_service.create_provider(
            conn, "bench", log_provider, runtime.require_cipher()
        ).id
        body = {
            "name": "Broadcast",
            "provider_id": provider_id,
            "alternates": [
                {"name": n, "title": f"{n} title", "body": "Body", "labels": {"tone": n}}
                for n in ("urgent", "friendly", "informative")
            ],
            "timing": "optimize",
            "window_days": 7,
            "holdout_percent": 10,
        }
        created = service.create_campaign(conn, "bench", msgspec.convert(body, CampaignCreate))
        service.transition(conn, "bench", created.id, "schedule")
    sender = Sender(db, runtime.load, DryRun)
    orchestrator = Orchestrator(db, sender)
    baseline_memory = _peak_mb()

    now = time.time()
    with db.begin() as conn:
        orchestrator._start_due(conn, now)
    started = time.perf_counter()
    while True:
        with db.begin() as conn:
            if orchestrator.planner.plan_page(conn, created.id, now) is None:
                break
    planning = time.perf_counter() - started
    planned_memory = _peak_mb()

    with db.read() as conn:
        campaign = messaging_storage.get_campaign(conn, "bench", created.id)
    end = now + 7 * 86400  # every moment planned in the window is due
    started = time.perf_counter()
    sent = 0

    async def send_all() -> int:
        total = 0
        while claimed := await sender.send_due([campaign], end):
            total += claimed
        await sender.aclose()
        return total

    sent = asyncio.run(send_all())
    sending = time.perf_counter() - started
    with db.read() as conn:
        report = service.report(conn, "bench", created.id)
    insert_rate, update_rate = _baseline(db, min(users, 200_000))
    db.dispose()
    return {
        "users": users,
        "planned_per_s": users / planning,
        "sent": report.progress.sent,
        "held_out": report.progress.held_out,
        "attempted_per_s": sent / sending,
        "baseline_insert_per_s": insert_rate,
        "baseline_update_per_s": update_rate,
        "setup_mb": baseline_memory,
        "peak_mb_planning": planned_memory,
        "peak_mb": _peak_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return
    print("broadcast: plan and send through the log provider (SQLite, synchronous=FULL)")
    for users in args.users:
        output = subprocess.run(
            [sys.executable, __file__, "--one", str(users)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        figures = json.loads(output.strip().splitlines()[-1])
        print(
            f"  {users:>9,} users: planned {figures['planned_per_s']:>8,.0f} users/s "
            f"(bare insert of the same rows {figures['baseline_insert_per_s']:,.0f}/s, "
            f"{figures['planned_per_s'] / figures['baseline_insert_per_s']:.0%}); "
            f"sent {figures['sent']:,} + held out {figures['held_out']:,} at "
            f"{figures['attempted_per_s']:,.0f} sends/s "
            f"(bare update {figures['baseline_update_per_s']:,.0f}/s, "
            f"{figures['attempted_per_s'] / figures['baseline_update_per_s']:.0%}); "
            f"peak RSS {figures['peak_mb']:,.0f} MB "
            f"(after set-up {figures['setup_mb']:,.0f} MB, "
            f"after planning {figures['peak_mb_planning']:,.0f} MB)"
        )


if __name__ == "__main__":
    main()
