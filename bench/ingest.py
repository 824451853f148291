"""Ingestion: durably acknowledged events per second on SQLite, and processing lag.

Three figures, each beside the bare ASGI baseline of the same run:
- single-event ``POST /v1/events`` requests per second (target: ≥ 40 % of the baseline);
- batches of 100 events, in events per second (target: ≥ 100,000 events/s);
- processing under a steady 5,000 events/s: whether it keeps up and its p99 lag
  (target: under 1 s), read from the server's own ``/metrics`` histogram.

Every 202 is a commit with ``synchronous=FULL``: what is measured is what survives a
power cut, not what sits in a buffer.
"""

from __future__ import annotations

import re
import threading
import time

import httpx

from bench.harness import Load, Server, baseline_server, lua_string, rapport_server, report, wrk

# Many concurrent senders, as an ingestion endpoint sees: with durable commits the
# throughput is what one fsync carries, so it grows with concurrency (group commit).
SECONDS, CONNECTIONS = 6.0, 128

_COUNTER = """
local tid = 0
local nonce = {nonce}
function setup(thread)
  tid = tid + 1
  thread:set("tid", tid)
end
local counter = 0
"""


def single_event_script(key: str, nonce: str) -> str:
    """A unique event id per request, so every request stores a new row."""
    return (
        _COUNTER.format(nonce=lua_string(nonce))
        + f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = {lua_string("Bearer " + key)}
request = function()
  counter = counter + 1
  local body = string.format(
    '{{"contact_id":"user-%d","event_name":"view_item","timestamp":%d,'
    .. '"event_id":"%s-%d-%d","metadata":{{"sku":"A-%d","price":19.5}}}}',
    counter % 5000, 1763800000 + counter, nonce, tid, counter, counter % 97)
  return wrk.format(nil, "/v1/events", nil, body)
end
"""
    )


def batch_script(key: str, nonce: str, size: int = 100) -> str:
    """Batches of ``size`` events, each with a unique id."""
    return (
        _COUNTER.format(nonce=lua_string(nonce))
        + f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = {lua_string("Bearer " + key)}
request = function()
  local items = {{}}
  for i = 1, {size} do
    counter = counter + 1
    items[i] = string.format(
      '{{"contact_id":"user-%d","event_name":"view_item","timestamp":%d,'
      .. '"event_id":"%s-%d-%d","metadata":{{"sku":"A-%d","price":19.5}}}}',
      counter % 5000, 1763800000 + counter, nonce, tid, counter, counter % 97)
  end
  return wrk.format(nil, "/v1/events", nil, "[" .. table.concat(items, ",") .. "]")
end
"""
    )


def _lag_quantile(metrics_text: str, quantile: float) -> tuple[float, int]:
    """The upper bound of the histogram bucket holding ``quantile``, and the count."""
    buckets = [
        (float("inf") if bound == "+Inf" else float(bound), float(count))
        for bound, count in re.findall(
            r'^rapport_processing_lag_seconds_bucket\{le="([^"]+)"\} ([\d.e+]+)$',
            metrics_text,
            re.MULTILINE,
        )
    ]
    total = buckets[-1][1] if buckets else 0.0
    for bound, count in buckets:
        if count >= quantile * total:
            return bound, int(total)
    return float("inf"), int(total)


def steady_stream(server: Server, events_per_second: int, seconds: float) -> tuple[int, float]:
    """Send ``events_per_second`` for ``seconds`` (batches of 50 on two connections, open
    loop); return the events acknowledged and the rate actually achieved."""
    batch, senders = 50, 2
    interval = batch * senders / events_per_second
    key = server.keys["ingest"]
    sent = [0] * senders
    started = time.monotonic()

    def send(index: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            tick = started + index * interval / senders
            n = 0
            while tick < started + seconds:
                now = time.monotonic()
                if tick > now:
                    time.sleep(tick - now)
                body = [
                    {
                        "contact_id": f"user-{(n + i) % 20000}",
                        "event_name": "purchase" if (n + i) % 20 == 0 else "view_item",
                        "timestamp": 1763800000 + n + i,
                        "event_id": f"steady-{index}-{n + i}",
                        "metadata": {"sku": f"A-{i}"},
                    }
                    for i in range(batch)
                ]
                response = client.post(
                    "/v1/events", json=body, headers={"Authorization": f"Bearer {key}"}
                )
                if response.status_code != 202:
                    raise SystemExit(f"bench: steady stream got {response.status_code}")
                sent[index] += batch
                n += batch
                tick += interval

    threads = [threading.Thread(target=send, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return sum(sent), sum(sent) / elapsed


def wait_drained(server: Server, timeout: float = 120.0) -> str:
    """Wait until the server's inbox is empty; return its metrics text."""
    deadline = time.monotonic() + timeout
    while True:
        text = httpx.get(f"{server.url}/metrics", timeout=10).text
        match = re.search(r"^rapport_inbox_backlog ([\d.e+]+)$", text, re.MULTILINE)
        if match and float(match.group(1)) == 0:
            return text
        if time.monotonic() > deadline:
            raise SystemExit("bench: processing did not drain the inbox")
        time.sleep(0.25)


def main() -> None:
    nonce = str(time.time_ns())
    with baseline_server() as baseline:
        base_single = wrk(
            baseline.url, single_event_script("-", nonce), seconds=SECONDS, connections=CONNECTIONS
        )
        base_batch = wrk(
            baseline.url, batch_script("-", nonce), seconds=SECONDS, connections=CONNECTIONS
        )
    # The acknowledgement path alone: processing deferred (it is asynchronous by design;
    # the inbox absorbs bursts), then the default configuration, processing inline.
    figures: dict[str, tuple[Load, Load]] = {}
    for label, inline in (("ingestion only", "false"), ("processing inline", "true")):
        with rapport_server(RAPPORT_PROCESS_INLINE=inline) as server:
            key = server.keys["ingest"]
            figures[label] = (
                wrk(
                    server.url,
                    single_event_script(key, nonce),
                    seconds=SECONDS,
                    connections=CONNECTIONS,
                ),
                wrk(server.url, batch_script(key, nonce), seconds=SECONDS, connections=CONNECTIONS),
            )
    with rapport_server() as server:
        accepted, rate = steady_stream(server, 5000, seconds=20.0)
        metrics = wait_drained(server)
        p99, observed = _lag_quantile(metrics, 0.99)
    rows = []
    for label, (single, batch) in figures.items():
        rows += [
            (
                f"single event POST /v1/events, {label}",
                single.describe(),
                f"{single.requests_per_second / base_single.requests_per_second:.0%} of "
                f"baseline {base_single.describe()} (target ≥ 40%)",
            ),
            (
                f"batches of 100 events, {label}",
                f"{batch.requests_per_second * 100:,.0f} events/s (p99 {batch.p99_ms:.1f} ms)",
                f"{batch.requests_per_second / base_batch.requests_per_second:.0%} of baseline "
                f"{base_batch.requests_per_second * 100:,.0f} events/s (target ≥ 100,000)",
            ),
        ]
    rows.append(
        (
            "processing a steady 5,000 events/s",
            f"{rate:,.0f} events/s sent for 20 s; {observed:,} processed",
            f"p99 lag ≤ {p99:g} s (target < 1 s); {accepted:,} acknowledged",
        )
    )
    report(f"ingestion (SQLite, synchronous=FULL, one process, {CONNECTIONS} connections)", rows)


if __name__ == "__main__":
    main()
