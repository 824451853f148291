"""Shared fixtures: each database-backed test runs on SQLite and on PostgreSQL.

``RAPPORT_TEST_POSTGRES_URL`` points at a PostgreSQL server (``make test`` starts a
throwaway one); fresh databases are created on it for the tests. Backends can be
chosen explicitly with ``RAPPORT_TEST_BACKENDS=sqlite`` (default: both). A PostgreSQL
run without a server fails loudly instead of skipping.

Tests share one database per backend and isolate themselves by workspace: every test
creates its own workspace, which is also how tenants are isolated in production.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from sqlalchemy.engine import make_url

from rapport.api.app import create_app
from rapport.config import Settings
from rapport.core import migrate
from rapport.core.db import Database
from rapport.core.keys import KeyKind
from rapport.workspaces import service
from tests.fakes.fixtures import (  # noqa: F401 (fixtures shared by every test module)
    _apns_server,
    _fcm_server,
    _webhook_server,
    apns_credentials,
    apns_fake,
    apns_provider_body,
    fake_ca,
    fcm_fake,
    fcm_provider_body,
    fcm_service_account,
    provider_tls,
    webhook_provider_body,
    webhook_receiver,
)
from tests.fakes.tls import TestCA

BACKENDS = [
    name.strip()
    for name in os.environ.get("RAPPORT_TEST_BACKENDS", "sqlite,postgresql").split(",")
    if name.strip()
]
API_VERSION = "2026-11-01"
SERVER_REGION = "us-east1"
ROOT = Path(__file__).resolve().parent.parent
# The servers' key for provider credentials (base64 of 32 bytes; tests only).
TEST_ENCRYPTION_KEY = "cmFwcG9ydC10ZXN0LWVuY3J5cHRpb24ta2V5LTMyYiE="


def _postgres_admin_url() -> str:
    url = os.environ.get("RAPPORT_TEST_POSTGRES_URL")
    if not url:
        pytest.fail(
            "RAPPORT_TEST_POSTGRES_URL is not set. Run `make test` (it starts PostgreSQL), "
            "or set RAPPORT_TEST_BACKENDS=sqlite to run on SQLite only."
        )
    return url


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """A new, empty database of ``backend``; dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'rapport-{secrets.token_hex(4)}.db'}"
        return
    admin = _postgres_admin_url()
    plain_admin = admin.replace("+psycopg", "")
    name = f"rapport_test_{secrets.token_hex(5)}"
    with psycopg.connect(plain_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(plain_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this run of the test."""
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database shared by the session's tests on this backend."""
    with fresh_database(backend, tmp_path_factory.mktemp(backend)) as url:
        database = Database(url)
        migrate.upgrade(database)
        database.dispose()
        yield url


@pytest.fixture
def fresh_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty, unmigrated database for tests that need one of their own."""
    with fresh_database(backend, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def server_settings(database_url: str, **changes: object) -> Settings:
    """Settings for an in-test server."""
    return Settings(database_url=database_url, region=SERVER_REGION, environment="test").with_(
        **changes
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadedServer:
    """A real uvicorn server on a loopback port, in a background thread."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            loop="asyncio",
            http="h11",
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture(scope="session")
def server(database_url: str, fake_ca: TestCA) -> Iterator[ThreadedServer]:  # noqa: F811
    """The session's server on this backend, reached over real HTTP; it encrypts
    provider credentials with ``TEST_ENCRYPTION_KEY`` and trusts the fakes' CA."""
    settings = server_settings(
        database_url, encryption_key=TEST_ENCRYPTION_KEY, provider_ca_file=str(fake_ca.ca_file)
    )
    with ThreadedServer(settings) as running:
        yield running


@pytest.fixture
def http(server: ThreadedServer) -> Iterator[httpx.Client]:
    """A plain HTTP client for the server, without credentials."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@dataclass
class Workspace:
    """A test workspace and one key of each kind."""

    id: str
    keys: dict[KeyKind, str]

    def key_id(self, kind: KeyKind) -> str:
        return self.keys[kind][3:15]


def make_workspace(database: Database, region: str = SERVER_REGION) -> Workspace:
    """Create a workspace with a unique id and one key of each kind."""
    workspace_id = f"ws-{secrets.token_hex(5)}"
    with database.begin() as conn:
        service.create_workspace(conn, workspace_id, f"Test {workspace_id}", region)
        keys = {
            kind: service.create_key(conn, workspace_id, kind, kind.value).key for kind in KeyKind
        }
    return Workspace(workspace_id, keys)


@pytest.fixture
def workspace(db: Database) -> Workspace:
    return make_workspace(db)


@pytest.fixture
def workspace_factory(db: Database) -> Callable[..., Workspace]:
    return lambda region=SERVER_REGION: make_workspace(db, region)


def access_token(client: httpx.Client, admin_key: str) -> str:
    response = client.post("/api/oauth/token", headers={"Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def management_headers(token: str, workspace_id: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Rapport-Workspace": workspace_id,
        "Api-Version": API_VERSION,
    }


@pytest.fixture
def admin(server: ThreadedServer, workspace: Workspace) -> Iterator[httpx.Client]:
    """An HTTP client signed in to the management API of ``workspace``."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        token = access_token(client, workspace.keys[KeyKind.ADMIN])
        client.headers.update(management_headers(token, workspace.id))
        yield client


def wait_processed(database: Database, workspace_id: str, timeout: float = 20.0) -> None:
    """Wait until the server has processed every queued message of a workspace."""
    from sqlalchemy import func, select

    from rapport.core.tables import inbox

    deadline = time.monotonic() + timeout
    query = select(func.count()).select_from(inbox).where(inbox.c.workspace_id == workspace_id)
    while True:
        with database.read() as conn:
            if conn.execute(query).scalar_one() == 0:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"messages of {workspace_id} still unprocessed after {timeout}s")
        time.sleep(0.02)


@dataclass
class Ingest:
    """Clients of the ingestion dialects for one workspace, plus a way to wait."""

    http: httpx.Client
    workspace: Workspace
    database: Database

    def auth(self, kind: KeyKind = KeyKind.INGEST) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.workspace.keys[kind]}"}

    def aampe(self, path: str, body: object, kind: KeyKind = KeyKind.INGEST) -> httpx.Response:
        return self.http.post(path, json=body, headers=self.auth(kind))

    def client(self, path: str, body: object, kind: KeyKind = KeyKind.PUBLIC) -> httpx.Response:
        return self.http.post(f"/api/client/{path}", json=body, headers=self.auth(kind))

    def segment(self, path: str, body: object, kind: KeyKind = KeyKind.INGEST) -> httpx.Response:
        return self.http.post(f"/v1/{path}", json=body, auth=(self.workspace.keys[kind], ""))

    def processed(self) -> None:
        wait_processed(self.database, self.workspace.id)


@pytest.fixture
def ingest(http: httpx.Client, workspace: Workspace, db: Database) -> Ingest:
    return Ingest(http, workspace, db)


def profile_by_external_id(admin: httpx.Client, external_id: str) -> dict[str, object]:
    """The full profile of the user known by ``external_id``."""
    found = admin.get("/api/profiles", params={"identity": external_id, "kind": "external_id"})
    assert found.status_code == 200, found.text
    [summary] = found.json()["data"]
    profile = admin.get(f"/api/profiles/{summary['id']}")
    assert profile.status_code == 200
    return dict(profile.json())


@pytest.fixture
def postgres_database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL database, for tests of what only PostgreSQL deployments do."""
    with fresh_database("postgresql", tmp_path) as url:
        yield url
