"""What every benchmark shares: servers in subprocesses, the wrk load driver, reports.

Each figure is printed beside the bare ASGI baseline (``bench/baseline.py``) measured
in the same run under the same uvicorn configuration, so ratios stay comparable on a
noisy machine where absolute figures do not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# `rapport serve --workers N` for every server the benchmarks start (default 1).
WORKERS = int(os.environ.get("RAPPORT_BENCH_WORKERS", "1"))


def ensure_wrk() -> str:
    """The path of ``wrk``, installing Debian's package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("bench: installing wrk (Debian package)", file=sys.stderr)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*sudo, "apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: wrk could not be installed")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"bench: server did not start:\n{log.read_text()}")
        time.sleep(0.05)


@dataclass
class Server:
    """A server subprocess on a loopback port."""

    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    database_url: str = ""
    keys: dict[str, str] = field(default_factory=dict)
    workspace: str = ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def baseline_server() -> Iterator[Server]:
    """The bare ASGI app under uvicorn, configured as ``rapport serve`` configures it,
    with as many worker processes as the benchmarked server (``RAPPORT_BENCH_WORKERS``)."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="rapport-bench-"))
    log = workdir / "baseline.log"
    command = [
        PYTHON, "-m", "uvicorn", "bench.baseline:app", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log",
        "--log-level", "warning", "--no-server-header", "--no-proxy-headers",
        "--workers", str(WORKERS),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    server = Server(f"http://127.0.0.1:{port}", process, workdir)
    try:
        wait_until_up(server.url, process, log)
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def rapport_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "RAPPORT_DATABASE_URL": database_url,
        "RAPPORT_LOG_LEVEL": "WARNING",
        **extra,
    }


@contextmanager
def rapport_server(database_url: str | None = None, **env: str) -> Iterator[Server]:
    """``rapport serve`` (one process unless ``RAPPORT_BENCH_WORKERS`` says otherwise) on
    a fresh SQLite file, with a workspace and keys."""
    workdir = Path(tempfile.mkdtemp(prefix="rapport-bench-"))
    url = database_url or f"sqlite:///{workdir / 'bench.db'}"
    init = subprocess.run(
        [PYTHON, "-m", "rapport", "init", "--json"],
        env=rapport_env(url),
        capture_output=True,
        check=True,
    )
    created = json.loads(init.stdout)
    port = free_port()
    log = workdir / "serve.log"
    process = subprocess.Popen(
        [PYTHON, "-m", "rapport", "serve", "--port", str(port), "--workers", str(WORKERS)],
        env=rapport_env(url, **env),
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    server = Server(
        f"http://127.0.0.1:{port}", process, workdir, url, created["keys"], created["workspace"]
    )
    try:
        wait_until_up(f"{server.url}/health", process, log)
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (Linux ``/proc``).

    On a shared, noisy machine the CPU a server spends per request varies far less than
    its throughput or latency, which depend on what else runs."""
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = stat.rsplit(")", 1)[1].split()  # fields 3.. (the name may hold spaces)
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        for task in tasks:
            try:
                pending += [int(child) for child in (task / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
    return total


@dataclass(frozen=True)
class Load:
    """What wrk measured (and, when the server's pid was given, its CPU per request)."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_ms_per_request: float | None = None

    def describe(self) -> str:
        cpu = (
            f", {self.cpu_ms_per_request:.3f} ms CPU/req"
            if self.cpu_ms_per_request is not None
            else ""
        )
        return (
            f"{self.requests_per_second:,.0f} req/s "
            f"(p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms{cpu})"
        )


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_wrk(output: str) -> Load:
    """Read wrk's ``--latency`` report."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", output, re.MULTILINE))
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Load(rps, _ms(percentiles["50"]), _ms(percentiles["99"]), total, errors)


def wrk(
    url: str,
    script: str,
    *,
    seconds: float = 5.0,
    connections: int = 32,
    threads: int = 1,
    pid: int | None = None,
) -> Load:
    """Run wrk with a Lua ``script`` against ``url`` (a warm-up second first); with the
    server's ``pid``, also the server's CPU time per request."""
    binary = ensure_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        path = handle.name
    try:
        base = [binary, "-t", str(threads), "-c", str(connections), "-s", path, "--latency"]
        subprocess.run([*base, "-d", "1s", url], capture_output=True, check=True)
        cpu_before = cpu_seconds(pid) if pid is not None else 0.0
        result = subprocess.run(
            [*base, "-d", f"{seconds:g}s", "--timeout", "10s", url],
            capture_output=True,
            text=True,
            check=True,
        )
        cpu = cpu_seconds(pid) - cpu_before if pid is not None else None
    finally:
        os.unlink(path)
    try:
        load = parse_wrk(result.stdout)
    except (AttributeError, KeyError, ValueError) as exc:
        raise SystemExit(f"bench: unreadable wrk output ({exc!r}):\n{result.stdout}") from exc
    if load.errors:
        raise SystemExit(f"bench: {load.errors} failed requests\n{result.stdout}")
    if cpu is not None and load.requests:
        load = replace(load, cpu_ms_per_request=cpu * 1000 / load.requests)
    return load


def processes(workers: int) -> str:
    """How a report names the server configuration."""
    return "one process" if workers == 1 else f"serve --workers {workers}"


def lua_string(value: str) -> str:
    """A Lua string literal."""
    return json.dumps(value)


def report(title: str, rows: list[tuple[str, str, str]]) -> None:
    """Print a benchmark's figures: (what, figure, beside the baseline)."""
    width = max(len(what) for what, _, _ in rows)
    print(f"\n== {title}")
    for what, figure, versus in rows:
        print(f"  {what:<{width}}  {figure:<44} {versus}")
    sys.stdout.flush()
