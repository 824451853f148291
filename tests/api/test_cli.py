"""The command line and the README's quickstart, as a newcomer would run them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port

RAPPORT = [sys.executable, "-m", "rapport"]


def run(args: list[str], url: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAPPORT_DATABASE_URL": url, "RAPPORT_LOG_LEVEL": "WARNING"}
    result = subprocess.run(
        [*RAPPORT, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_init_prints_one_key_of_each_kind_once(fresh_database_url: str) -> None:
    first = run(["init", "--json", "--workspace", "shop"], fresh_database_url)
    printed = json.loads(first.stdout)
    assert printed["workspace"] == "shop"
    assert set(printed["keys"]) == {"ingest", "public", "surfaces", "personalize", "admin"}
    assert printed["keys"]["public"].startswith("pk_")
    again = run(["init", "--json"], fresh_database_url, check=False)
    assert again.returncode == 1
    assert "already" in again.stderr
    assert run(["init", "--if-needed"], fresh_database_url).returncode == 0
    forced = json.loads(run(["init", "--json", "--force"], fresh_database_url).stdout)
    assert forced["workspace"] != "shop"


def test_keys_commands_manage_keys(fresh_database_url: str) -> None:
    run(["init", "--json"], fresh_database_url)
    created = run(["keys", "create", "--kind", "surfaces", "--name", "web"], fresh_database_url)
    key = created.stdout.strip()
    assert key.startswith("sk_")
    key_id = key[3:15]
    listing = run(["keys", "list"], fresh_database_url).stdout
    assert re.search(rf"^{key_id}\s+surfaces\s+active", listing, re.M)
    assert key not in listing
    rotated = run(["keys", "rotate", key_id], fresh_database_url).stdout.strip()
    assert rotated.startswith(f"sk_{key_id}_")
    assert rotated != key
    run(["keys", "revoke", key_id], fresh_database_url)
    assert re.search(
        rf"^{key_id}\s+surfaces\s+revoked", run(["keys", "list"], fresh_database_url).stdout, re.M
    )
    missing = run(["keys", "revoke", "nosuchkey000"], fresh_database_url, check=False)
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr


def test_migrate_reports_the_revision(fresh_database_url: str) -> None:
    out = run(["migrate"], fresh_database_url).stdout
    assert "was empty" in out
    assert "was empty" not in run(["migrate"], fresh_database_url).stdout


@pytest.fixture
def served(fresh_database_url: str, tmp_path: Path) -> Iterator[str]:
    """`rapport serve` as its own process on a fresh database."""
    run(["init", "--json"], fresh_database_url)
    port = free_port()
    env = {**os.environ, "RAPPORT_DATABASE_URL": fresh_database_url}
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [*RAPPORT, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def _quickstart() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "the README's quickstart has no bash block"
    return match.group(1)


def test_the_readme_quickstart_works_as_printed(served: str, fresh_database_url: str) -> None:
    # The quickstart runs `.venv/bin/rapport` from the project root, as `make serve` set up.
    assert (ROOT / ".venv" / "bin" / "rapport").exists(), "run through `make test`"
    script = _quickstart().replace("http://127.0.0.1:8000", served)
    env = {
        **os.environ,
        "RAPPORT_DATABASE_URL": fresh_database_url,
        "RAPPORT_LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert '{"status":"ok"}' in out
    assert '"id":"default"' in out
    assert '{"accepted":2}' in out
    assert '"external_id":"user-42"' in out
    assert '"event_count":2' in out
    assert '"next_token":' in out
    assert '"total":' in out


def test_providers_re_encrypt_moves_credentials_to_the_current_key(
    fresh_database_url: str,
) -> None:
    """After a key rotation every readable provider is rewritten under the new key (and
    still opens to the same credentials); one no configured key opens is reported, left
    as it was, and makes the exit status 1."""
    from rapport.config import encryption_key_bytes
    from rapport.core.db import Database
    from rapport.core.tables import providers
    from rapport.messaging.crypto import Cipher, generate_key, provider_context

    run(["init", "--json", "--workspace", "shop"], fresh_database_url)
    old, new, lost = (generate_key() for _ in range(3))
    ciphers = {name: Cipher(encryption_key_bytes(key)) for name, key in
               (("old", old), ("new", new), ("lost", lost))}  # fmt: skip
    plain = {"p-old": b'{"token":"a"}', "p-new": b'{"token":"b"}', "p-lost": b'{"token":"c"}'}
    database = Database(fresh_database_url)
    try:
        with database.begin() as conn:
            for provider_id, under in (("p-old", "old"), ("p-new", "new"), ("p-lost", "lost")):
                context = provider_context("shop", provider_id)
                conn.execute(
                    providers.insert().values(
                        id=provider_id,
                        workspace_id="shop",
                        name=provider_id,
                        kind="log",
                        settings={},
                        secret=ciphers[under].encrypt(plain[provider_id], context),
                        created_at=1.0,
                        updated_at=1.0,
                    )
                )
        with database.begin() as conn:
            before = dict(conn.execute(providers.select().with_only_columns(
                providers.c.id, providers.c.secret)).all())  # fmt: skip
        env = {"RAPPORT_ENCRYPTION_KEY": new, "RAPPORT_ENCRYPTION_OLD_KEYS": old}
        result = subprocess.run(
            [*RAPPORT, "providers", "re-encrypt"],
            env={**os.environ, "RAPPORT_DATABASE_URL": fresh_database_url, **env},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 1, result.stderr
        assert "re-encrypted 1, already under the current key 1, unreadable 1" in result.stdout
        assert "unreadable: p-lost" in result.stderr
        with database.begin() as conn:
            after = dict(conn.execute(providers.select().with_only_columns(
                providers.c.id, providers.c.secret)).all())  # fmt: skip
        current = ciphers["new"]
        assert bytes(after["p-old"]) != bytes(before["p-old"])
        assert current.is_current(bytes(after["p-old"]))
        for provider_id in ("p-old", "p-new"):
            opened = current.decrypt(
                bytes(after[provider_id]), provider_context("shop", provider_id)
            )
            assert opened == plain[provider_id]
        assert bytes(after["p-new"]) == bytes(before["p-new"])  # already current: untouched
        assert bytes(after["p-lost"]) == bytes(before["p-lost"])
    finally:
        database.dispose()
