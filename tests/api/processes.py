"""Start rapport's own processes (serve, worker) for tests that need to kill them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

RAPPORT = [sys.executable, "-m", "rapport"]


def rapport_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "RAPPORT_DATABASE_URL": database_url,
        "RAPPORT_LOG_LEVEL": "WARNING",
        **extra,
    }


def run_cli(args: list[str], database_url: str) -> str:
    result = subprocess.run(
        [*RAPPORT, *args],
        env=rapport_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


class Process:
    """A rapport process with its log file; stopped (or killed) by the test."""

    def __init__(self, args: list[str], database_url: str, log: Path, **env: str) -> None:
        self.log_path = log
        self._log = log.open("a")
        self.popen = subprocess.Popen(
            [*RAPPORT, *args],
            env=rapport_env(database_url, **env),
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up, as in a crash."""
        self.popen.kill()
        self.popen.wait(timeout=15)
        self._log.close()

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=15)
        self._log.close()


class Server(Process):
    """``rapport serve`` on a free loopback port, ready when constructed."""

    def __init__(self, database_url: str, log: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(["serve", "--port", str(self.port)], database_url, log, **env)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.popen.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"rapport serve did not start:\n{log.read_text()}")
            time.sleep(0.05)
