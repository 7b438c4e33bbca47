"""Warm blocking invoke latency against a running Squall: p50/p90/p99/max of N calls, one client.

    python bench/warm_invoke.py --url http://127.0.0.1:3233 --auth UUID:KEY -n 200

The first issue's measurement; `squall bench` (issue 6) will grow from here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import httpx

NOOP = "def main(args):\n    return {'ok': True}\n"


def percentile(sorted_ms: list[float], p: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(p / 100 * len(sorted_ms)) - 1))
    return sorted_ms[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:3233")
    parser.add_argument("--auth", required=True, help="uuid:key")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--action", default="bench-noop")
    args = parser.parse_args()
    uuid, key = args.auth.split(":", 1)
    path = f"/api/v1/namespaces/_/actions/{args.action}"
    with httpx.Client(base_url=args.url, auth=(uuid, key), timeout=70) as client:
        client.put(path, params={"overwrite": "true"}, json={"exec": {"kind": "python:default", "code": NOOP}})
        for _ in range(5):  # warm the container and the connections
            client.post(path, params={"blocking": "true", "result": "true"}, json={}).raise_for_status()
        samples = []
        for i in range(args.n):
            start = time.perf_counter()
            response = client.post(path, params={"blocking": "true", "result": "true"}, json={})
            samples.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                print(f"call {i}: {response.status_code} {response.text}", file=sys.stderr)
                return 1
            if (i + 1) % max(1, args.n // 10) == 0:
                print(f"  {i + 1}/{args.n}", file=sys.stderr)
    samples.sort()
    print(f"warm blocking invoke, {args.n} calls: p50 {statistics.median(samples):.1f} ms, "
          f"p90 {percentile(samples, 90):.1f} ms, p99 {percentile(samples, 99):.1f} ms, max {samples[-1]:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
