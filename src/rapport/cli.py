"""The ``rapport`` command: init, serve, migrate, keys."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import IO

from sqlalchemy import Connection

from rapport import __version__
from rapport.config import Settings, SettingsError
from rapport.core import migrate
from rapport.core.db import Database
from rapport.core.errors import RapportError
from rapport.core.ids import short_id
from rapport.core.keys import KeyKind
from rapport.core.pagination import PageRequest, decode_cursor
from rapport.workspaces import service, storage
from rapport.workspaces.schemas import ApiKeyPublic

DEFAULT_WORKSPACE = "default"


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "database_url", None):
        settings = settings.with_(database_url=args.database_url)
    return settings


def _open(args: argparse.Namespace) -> tuple[Settings, Database]:
    settings = _settings(args)
    database = Database(settings.database_url)
    migrate.upgrade(database)
    return settings, database


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    database = Database(settings.database_url)
    before = migrate.current_revision(database)
    migrate.upgrade(database)
    after = migrate.current_revision(database)
    print(f"schema at revision {after} (was {before or 'empty'})")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    settings, database = _open(args)
    with database.begin() as conn:
        if storage.count_workspaces(conn) and args.if_needed:
            print("rapport init: workspace already set up; see `rapport keys list`")
            return 0
        if storage.count_workspaces(conn) and not args.force:
            print(
                "rapport init: this database already has a workspace; its keys were shown when "
                "it was created. Use `rapport keys create` for new keys, or --force to add "
                "another workspace.",
                file=sys.stderr,
            )
            return 1
        workspace_id = args.workspace
        if workspace_id is None:
            workspace_id = DEFAULT_WORKSPACE
            if storage.get_workspace(conn, workspace_id) is not None:
                workspace_id = f"ws-{short_id(6)}"
        region = args.region or settings.region
        service.create_workspace(conn, workspace_id, args.name or workspace_id, region)
        created = {
            kind.value: service.create_key(conn, workspace_id, kind, f"{kind.value} (init)").key
            for kind in KeyKind
        }
    if args.json:
        print(json.dumps({"workspace": workspace_id, "keys": created}))
    else:
        print(f"Workspace {workspace_id!r} in region {region}. Keys (shown only now, keep them):")
        for kind, key in created.items():
            print(f"  {kind:<12} {key}")
    return 0


def _workspace_of(conn: Connection, args: argparse.Namespace) -> str:
    if args.workspace:
        return str(args.workspace)
    ids = storage.workspace_ids(conn, limit=2)
    if len(ids) != 1:
        raise SystemExit("rapport keys: name the workspace with --workspace")
    return str(ids[0])


def _print_key(key: ApiKeyPublic) -> None:
    used = key.last_used_at.isoformat() if key.last_used_at else "never"
    kind = key.kind.value
    print(f"{key.id}  {kind:<12} {key.status:<8} {key.prefix}…  last used {used}  {key.name}")


def cmd_keys(args: argparse.Namespace) -> int:
    _, database = _open(args)
    with database.begin() as conn:
        workspace_id = _workspace_of(conn, args)
        if args.action == "list":
            page = PageRequest(limit=1000)
            while True:
                listed = service.list_keys(conn, workspace_id, page)
                for key in listed.data:
                    _print_key(key)
                if listed.next_token is None:
                    break
                page = PageRequest(limit=1000, after=decode_cursor(listed.next_token))
        elif args.action == "create":
            created = service.create_key(conn, workspace_id, KeyKind(args.kind), args.name)
            print(created.key)
        elif args.action == "rotate":
            print(service.rotate_key(conn, workspace_id, args.key_id).key)
        elif args.action == "revoke":
            service.revoke_key(conn, workspace_id, args.key_id)
            print(f"revoked {args.key_id}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from rapport.logs import configure

    settings = _settings(args)
    configure(settings.log_level, settings.log_format)
    if args.database_url:
        os.environ["RAPPORT_DATABASE_URL"] = args.database_url
    # Migrate once here, before any worker process starts.
    migrate.upgrade(Database(settings.database_url))
    uvicorn.run(
        "rapport.api.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http="httptools",
        log_config=None,
        access_log=False,
        server_header=False,
        # Trust X-Forwarded-For only when asked: behind a proxy, pass --proxy-headers.
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import signal

    from rapport.api.app import build_loop, build_orchestrator, build_processor
    from rapport.decide.catalog import Catalog
    from rapport.decide.feedback import Feedback
    from rapport.decide.grouping import GroupFitter
    from rapport.logs import configure

    settings, database = _open(args)
    configure(settings.log_level, settings.log_format)
    catalog = Catalog()
    feedback = Feedback(catalog)
    fitter = GroupFitter(database, feedback, catalog)
    loop = build_loop(settings, database, build_processor(database, feedback=feedback), fitter)
    loop.idle_seconds = args.poll
    orchestrator = build_orchestrator(settings, database)

    def stop(*_: object) -> None:
        loop.stop()
        orchestrator.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    print(f"rapport worker: processing {database.dialect} inbox and campaigns", file=sys.stderr)
    orchestrator.start()
    loop.run()
    orchestrator.stop()
    database.dispose()
    return 0


def cmd_providers(args: argparse.Namespace) -> int:
    from rapport.messaging.crypto import load_cipher
    from rapport.messaging.providers.rotation import reencrypt_providers

    settings, database = _open(args)
    cipher = load_cipher(settings)
    if cipher is None:
        print("no encryption key: set RAPPORT_ENCRYPTION_KEY", file=sys.stderr)
        return 2
    with database.begin() as conn:
        report = reencrypt_providers(conn, cipher)
    database.dispose()
    print(
        f"re-encrypted {len(report.rewritten)}, already under the current key "
        f"{len(report.current)}, unreadable {len(report.unreadable)}"
    )
    for provider_id in report.unreadable:
        print(
            f"unreadable: {provider_id} (no configured key opens it; save its credentials again)",
            file=sys.stderr,
        )
    return 1 if report.unreadable else 0


def cmd_import(args: argparse.Namespace) -> int:
    """Thin wrapper: the work is in :mod:`rapport.ingest.importer`."""
    from pathlib import Path

    from rapport.api.app import build_processor
    from rapport.ingest.importer import ImportFile, InputError
    from rapport.ingest.importer_report import Progress

    rejects: IO[bytes] | None = None
    try:
        with ImportFile(Path(args.file), args.format, args.kind) as export:
            if args.rejects:
                rejects = Path(args.rejects).open("wb")  # noqa: SIM115 (closed below)
            _, database = _open(args)
            drain = None if args.no_process else build_processor(database).drain
            try:
                summary = export.run(
                    database,
                    workspace=args.workspace,
                    dry_run=args.dry_run,
                    drain=drain,
                    rejects=rejects,
                    progress=Progress(sys.stderr),
                )
            finally:
                database.dispose()
    except (InputError, OSError) as exc:
        print(f"rapport import: {exc}", file=sys.stderr)
        return 2
    finally:
        if rejects is not None:
            rejects.close()
    print(json.dumps(summary.to_json()) if args.json else summary.render())
    return summary.exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rapport", description=__doc__)
    parser.add_argument("--version", action="version", version=f"rapport {__version__}")
    parser.add_argument(
        "--database-url", help="overrides RAPPORT_DATABASE_URL (default sqlite:///rapport.db)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--proxy-headers",
        action="store_true",
        help="take the client address from X-Forwarded-For (behind a reverse proxy)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="proxies trusted with --proxy-headers (comma-separated, default 127.0.0.1)",
    )
    serve.set_defaults(func=cmd_serve)

    worker = commands.add_parser(
        "worker", help="process ingested messages and run campaigns (scale-out mode)"
    )
    worker.add_argument("--poll", type=float, default=0.05, help="idle poll interval, seconds")
    worker.set_defaults(func=cmd_worker)

    commands.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        func=cmd_migrate
    )

    init = commands.add_parser("init", help="create a workspace and one key of each kind")
    init.add_argument("--workspace", help="workspace id (default: default)")
    init.add_argument("--name", help="display name")
    init.add_argument("--region", help="home region (default: RAPPORT_REGION)")
    init.add_argument("--json", action="store_true", help="print JSON for scripts")
    init.add_argument(
        "--force", action="store_true", help="add a workspace to a database that has one"
    )
    init.add_argument(
        "--if-needed", action="store_true", help="do nothing when a workspace exists already"
    )
    init.set_defaults(func=cmd_init)

    keys = commands.add_parser("keys", help="list, create, rotate or revoke API keys")
    keys.add_argument("--workspace", help="workspace id (needed when there are several)")
    actions = keys.add_subparsers(dest="action", required=True)
    actions.add_parser("list")
    create = actions.add_parser("create")
    create.add_argument("--kind", required=True, choices=[kind.value for kind in KeyKind])
    create.add_argument("--name", default="unnamed")
    for action in ("rotate", "revoke"):
        actions.add_parser(action).add_argument("key_id")
    keys.set_defaults(func=cmd_keys)

    providers = commands.add_parser(
        "providers",
        help="re-encrypt push providers' credentials with the current key",
        description="After rotating RAPPORT_ENCRYPTION_KEY (the previous key kept in "
        "RAPPORT_ENCRYPTION_OLD_KEYS), rewrite every provider's credentials with the new "
        "key; then the old one can be dropped. Exit status: 0 all readable, 1 some could "
        "not be opened with any configured key (listed; nothing else is lost).",
    )
    provider_actions = providers.add_subparsers(dest="action", required=True)
    provider_actions.add_parser("re-encrypt")
    providers.set_defaults(func=cmd_providers)

    imports = commands.add_parser(
        "import",
        help="import a warehouse export of events or user attributes (JSONL, CSV, Parquet)",
        description="Import events or user attributes. Exit status: 0 every row imported, "
        "1 some rows rejected (the others imported), 2 the file cannot be imported.",
    )
    imports.add_argument("file", help=".jsonl/.ndjson/.json, .csv (optionally .gz), .parquet")
    imports.add_argument("--format", choices=["jsonl", "csv", "parquet"], help="override")
    imports.add_argument(
        "--kind", choices=["events", "users"], help="default: events if there is an event column"
    )
    imports.add_argument("--workspace", help="workspace id (needed when there are several)")
    imports.add_argument("--dry-run", action="store_true", help="validate only; write nothing")
    imports.add_argument(
        "--no-process",
        action="store_true",
        help="only queue the rows; leave processing to a running `rapport serve`/`worker`",
    )
    imports.add_argument("--rejects", metavar="FILE", help="write rejected rows here (JSON lines)")
    imports.add_argument("--json", action="store_true", help="print the summary as JSON")
    imports.set_defaults(func=cmd_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rapport`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (SettingsError, RapportError) as exc:
        print(f"rapport: {exc}", file=sys.stderr)
        return 2
