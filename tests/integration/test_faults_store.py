"""The CouchDB-API server taken down under load on the real parts (``bench.faults``: a pouchdb-server, Redis and
RabbitMQ node of the run's own, a controller, invokers in network namespaces).

While the store is down, the controller serves the callers it knows from what it read before (their identity,
their limits, the action): invokes of an action already in use go on, answered 200 (blocking) or 202. What needs
the store now is 503 with the envelope and ``Retry-After``, never 500, and the controller says so in a few log
lines, not a traceback per request. Once the store is back, nothing accepted is lost or run twice, and blocking
calls get their results again within seconds.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest

from bench.faults import Outcome, fault_lab, logged_since, outcome
from bench.lab import Call, Lab, Load, prime, unavailable

pytestmark = pytest.mark.integration

DOWN_S = 15.0
BEFORE_S = 5.0
AFTER_S = 15.0
BLOCKING_CLIENTS = 4
NONBLOCKING_CLIENTS = 2
ACTION_SLEEP_S = 0.1
NONBLOCKING_PAUSE_S = 0.05
RECORDS_S = 120.0
RECOVERY_S = 15.0
"""Blocking calls sent after the store is back get their results within this. Not seconds: while the store is
away each invoker thread holds its activation through the record's retries (about 2.6 s) before handing the
record to RabbitMQ, so non-blocking work queues up and drains first (measured 0.8-5.2 s here)."""
LOG_BUDGET = 50 * 1024
"""What the controller may log while the store is down, besides its line per request (a traceback per request was
megabytes)."""
MIN_CALLS_DURING = 20
"""At least this many invokes must have been sent while the store was down, or the test proved nothing."""


def _answered_from_memory(c: Call) -> bool:
    """An invoke the controller took on without its store: a blocking one with its result, or a 202."""
    return c.status == (200 if c.blocking else 202)


def _probe_listing(lab: Lab) -> tuple[int, dict[str, object], str | None]:
    """One request that needs the store now (the action list): its status, body and ``Retry-After``."""
    with lab.client(timeout_s=30.0) as client:
        response = client.get("/api/v1/namespaces/_/actions")
    return response.status_code, response.json(), response.headers.get("Retry-After")


def test_store_down_under_load_serves_cached_invokes_logs_little_and_loses_nothing(tmp_path: Path) -> None:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    action = f"fault-store-{secrets.token_hex(2)}"
    with fault_lab(tmp_path, invokers=2) as (services, lab):
        with lab.client() as client:
            lab.put_action(client, action)
        prime(lab, action)  # the controller has read the key, the limits and the action; it is warm
        seconds = BEFORE_S + DOWN_S + AFTER_S
        loads = [Load(lab, [action], ACTION_SLEEP_S, BLOCKING_CLIENTS, seconds=seconds),
                 Load(lab, [action], ACTION_SLEEP_S, NONBLOCKING_CLIENTS, seconds=seconds, blocking=False,
                      pause_s=NONBLOCKING_PAUSE_S)]
        time.sleep(BEFORE_S)  # callers on a healthy platform first
        sizes = [c.log.stat().st_size for c in lab.controllers]
        services.stop_store()
        down_at = time.time()
        time.sleep(DOWN_S / 2)  # the outage, with the caches' last reads well behind them
        probe = _probe_listing(lab)
        time.sleep(DOWN_S / 2)
        up_at = time.time()
        logged = logged_since([c.log for c in lab.controllers], sizes)  # request lines left out
        services.start_store()
        back = time.time()
        calls = [c for load in loads for c in load.finish()]
        result: Outcome = outcome(lab, "store", calls, back, log_bytes=len(logged), records_s=RECORDS_S)

    during = [c for c in calls if down_at <= c.sent and c.done <= up_at]
    served = [c for c in during if _answered_from_memory(c)]
    print(result.line())
    for example in result.examples:
        print(f"    e.g. {example}")
    print(f"    during the outage: {len(served)} of {len(during)} invokes answered without the store; "
          f"the action list answered {probe[0]} (Retry-After {probe[2]})")
    for label, lo, hi in (("before", 0.0, down_at), ("during", down_at, up_at), ("after", back, float("inf"))):
        waits = sorted(c.waited for c in calls if c.blocking and c.status == 200 and lo <= c.sent < hi)
        if waits:
            print(f"    blocking invokes {label} the outage: {len(waits)}, median {waits[len(waits) // 2]:.2f} s, "
                  f"max {waits[-1]:.2f} s")
    print("    the controller logged while the store was down:")
    for line in logged.decode(errors="replace").splitlines()[:20]:
        print(f"      {line[:300]}")

    assert result.wrong_status == 0, result.line()  # no 500, every 503 with the envelope
    assert len(during) >= MIN_CALLS_DURING, f"only {len(during)} invokes were sent while the store was down"
    assert served == during, [(c.status, c.body) for c in during if not _answered_from_memory(c)][:5]
    status, body, retry_after = probe
    assert status == 503 and {"error", "code"} <= set(body) and retry_after and int(retry_after) > 0, probe
    assert result.controller_log_bytes < LOG_BUDGET, result.line()
    assert b"Traceback" not in logged, logged[:2000]
    assert result.accepted > 0 and result.lost == 0 and result.twice == 0, result.line()
    assert result.whisk_errors == 0 and result.client_errors == 0 and result.late == 0, result.line()
    assert result.recovery_s is not None and result.recovery_s <= RECOVERY_S, result.line()
