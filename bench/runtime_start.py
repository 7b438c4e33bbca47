"""Per runtime image: container start → proxy listening → /init done (cold start), then warm /run.

    python bench/runtime_start.py -n 10 -r 200

Straight to Docker and the proxies, without the controller or the broker: what the image itself costs.
Images as `squall runtimes build` makes them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import sys
import time
from pathlib import Path

import docker

from app.host.images import runtime_images

NOOP = {
    "python": "def main(args):\n    return {'ok': True}\n",
    "nodejs": "function main(args) { return {ok: true}; }\n",
    "blackbox": "#!/bin/sh\necho '{\"ok\": true}'\n",
    "ruby": "def main(args)\n  { 'ok' => true }\nend\n",
    "php": "<?php\nfunction main(array $args): array { return ['ok' => true]; }\n",
    "go": 'package main\n\nfunc Main(obj map[string]interface{}) map[string]interface{} {\n'
          '\treturn map[string]interface{}{"ok": true}\n}\n',
    "rust": 'use serde_json::{json, Error, Value};\n\npub fn main(_args: Value) -> Result<Value, Error> {\n'
            '    Ok(json!({"ok": true}))\n}\n',
}
"""No-op actions by family (Java's is a jar: bench/kinds.py compiles one; this script leaves Java out)."""


def post(conn: http.client.HTTPConnection, path: str, payload: object) -> tuple[int, bytes]:
    conn.request("POST", path, json.dumps(payload), {"Content-Type": "application/json"})
    reply = conn.getresponse()
    return reply.status, reply.read()


def cold_start(client: docker.DockerClient, image: str, code: str) -> tuple[float, float, http.client.HTTPConnection,
                                                                            str]:
    """(ms to listening, ms to /init done), the open connection and the container id."""
    start = time.perf_counter()
    container = client.api.create_container(image, host_config=client.api.create_host_config(
        mem_limit="256m", network_mode="bridge"))
    client.api.start(container["Id"])
    ip = client.api.inspect_container(container["Id"])["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    while True:
        try:
            socket.create_connection((ip, 8080), timeout=1).close()
            break
        except OSError:
            time.sleep(0.002)
    listening = time.perf_counter()
    conn = http.client.HTTPConnection(ip, 8080, timeout=30)
    status, body = post(conn, "/init", {"value": {"name": "bench", "main": "main", "code": code, "env": {}}})
    assert status == 200, body
    return (listening - start) * 1000, (time.perf_counter() - start) * 1000, conn, container["Id"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="cold starts per image")
    parser.add_argument("-r", type=int, default=200, help="warm runs per image")
    args = parser.parse_args()
    client = docker.from_env()
    print(f"{'image':40} {'listening p50':>14} {'init done p50':>14} {'warm /run p50':>14} {'p99':>8}")
    for image in runtime_images(Path(__file__).resolve().parents[1] / "runtimes"):
        family = "blackbox" if image.kind == "blackbox" else image.kind.split(":")[0]
        if family not in NOOP:
            print(f"{image.tag}: no no-op action here, left out")
            continue
        listening, ready, runs = [], [], []
        for i in range(args.n):
            up, done, conn, cid = cold_start(client, image.tag, NOOP[family])
            listening.append(up)
            ready.append(done)
            if i == 0:
                for _ in range(args.r):
                    t = time.perf_counter()
                    status, _body = post(conn, "/run", {"value": {}, "activation_id": "x"})
                    runs.append((time.perf_counter() - t) * 1000)
                    assert status == 200
            conn.close()
            client.api.remove_container(cid, force=True)
        runs.sort()
        print(f"{image.tag:40} {statistics.median(listening):12.0f}ms {statistics.median(ready):12.0f}ms "
              f"{statistics.median(runs):12.2f}ms {runs[int(len(runs) * 0.99) - 1]:6.2f}ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
