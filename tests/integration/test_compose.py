"""The deployment recipe, deploy/compose.yaml, run as a user runs it: ``up -d``, then an invoke end to end.

No image registry is reachable here, so tests/deploy/compose.local.yaml puts local stand-ins in place of the
public images (pouchdb-server for CouchDB, Debian's RabbitMQ and Redis, Debian's Python for the Squall image's
base), built from tests/deploy/ on the local Debian base. Everything else is the recipe's own: its Dockerfile,
setup step, settings, health checks and host networking. The services are published on free ports (RabbitMQ
and Redis already run on this host's default ones), under a project name of its own; ``down -v`` always. The
images it builds (``squall-standin/*:local``) stay, as the next run's cache.

Run it with ``-s`` to follow its progress: about a minute and a half once the images are built; building the
stand-ins and the Squall image (whose dependencies come from PyPI) adds about four and a half minutes the first time.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import docker
import docker.errors
import httpx
import pytest

from app.host.images import BASE_IMAGE, image_exists, missing_images, runtime_images
from bench.stack import GUEST_AUTH, free_port
from config import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
LOCAL_FILE = ROOT / "tests" / "deploy" / "compose.local.yaml"
STANDINS = ROOT / "tests" / "deploy"
POUCHDB_DIR = Path(os.environ.get("SQUALL_DEPS_DIR", "/opt/squall-deps")) / "pouchdb"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
INVOKERS = ("invoker0", "invoker1")
UP_TIMEOUT_S = 600
READY_DEADLINE_S = 180.0

HELLO = '''
import os, urllib.request

def main(args):
    # Calls the API back the way feed actions do: through the action network's gateway to the host's port.
    with urllib.request.urlopen(os.environ["__OW_API_HOST"] + "/ping", timeout=10) as answer:
        ping = answer.status
    return {"greeting": "Hello " + args.get("name", "stranger"), "api_ping": ping}
'''


def _say(message: str) -> None:
    print(f"[compose {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _missing(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _compose_command() -> list[str]:
    """Compose v2 (``docker compose``) where it is installed, else docker-compose 1.29 (Debian bookworm's)."""
    docker_cli = shutil.which("docker")
    if docker_cli and subprocess.run([docker_cli, "compose", "version"], capture_output=True,
                                     check=False).returncode == 0:
        return [docker_cli, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    _missing("neither `docker compose` nor docker-compose is installed (tests/services.sh installs docker-compose)")


@dataclass
class Deployment:
    compose: list[str]
    env: dict[str, str]
    api1: str
    api2: str

    def run(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*self.compose, *args], env=self.env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(args[-3:])} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def stream(self, *args: str, timeout: float) -> None:
        """Run a long compose command, printing its output as it comes."""
        with subprocess.Popen([*self.compose, *args], env=self.env, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) as process:
            assert process.stdout is not None
            deadline = time.monotonic() + timeout
            for line in process.stdout:
                print("    " + line.rstrip(), flush=True)
                if time.monotonic() > deadline:
                    process.kill()
                    raise AssertionError(f"{' '.join(args)} took longer than {timeout} s")
            code = process.wait()
        assert code == 0, f"{' '.join(args)} exited {code}"


def _build(client: docker.DockerClient, context: Path, tag: str) -> None:
    _say(f"building {tag}")
    started = time.monotonic()
    for chunk in client.api.build(path=str(context), tag=tag, buildargs={"BASE": BASE_IMAGE}, decode=True,
                                  rm=True, forcerm=True):
        if "error" in chunk:
            raise AssertionError(f"building {tag}: {chunk.get('errorDetail', {}).get('message') or chunk['error']}")
        text = str(chunk.get("stream") or "").strip()
        if text.startswith("Step "):
            print("    " + text, flush=True)
    _say(f"built {tag} in {time.monotonic() - started:.0f} s")


def _build_standins(client: docker.DockerClient) -> None:
    """The stand-ins compose.local.yaml names, each from a temporary context (Dockerfile plus what it copies)."""
    with tempfile.TemporaryDirectory(prefix="squall-standins-") as tmp:
        for name in ("python", "couchdb", "rabbitmq", "redis"):
            context = Path(tmp) / name
            shutil.copytree(STANDINS / name, context)
            if name == "python":
                shutil.copy(CA_BUNDLE, context / "ca-certificates.crt")
            if name == "couchdb":
                shutil.copytree(POUCHDB_DIR, context / "pouchdb", symlinks=True)
            _build(client, context, f"squall-standin/{name}:local")


def _preconditions(client: docker.DockerClient) -> None:
    # Every runtime image present, so the setup step builds none: they are the host's, made by
    # `squall runtimes build` (tests/run does it before pytest), never by a test.
    runtimes = missing_images(runtime_images(Settings().runtimes.directory), lambda name: image_exists(client, name))
    if runtimes or not image_exists(client, BASE_IMAGE):
        absent = [BASE_IMAGE, *(image.tag for image in runtimes)]
        _missing(f"images missing (some of {', '.join(absent)}): run `squall runtimes build` first")
    if not (POUCHDB_DIR / "node_modules" / ".bin" / "pouchdb-server").exists():
        _missing(f"pouchdb-server is not installed in {POUCHDB_DIR} (tests/services.sh installs it)")
    if not CA_BUNDLE.is_file():
        _missing(f"no CA bundle at {CA_BUNDLE} (Debian's ca-certificates)")


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    compose = _compose_command()
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as e:
        _missing(f"Docker is not reachable: {e}")
    started = time.monotonic()
    try:
        _preconditions(client)
        version = subprocess.run([*compose, "version"], capture_output=True, text=True, check=False).stdout
        _say(f"using {' '.join(Path(c).name for c in compose)}: {version.splitlines()[0] if version else '?'}")
        _build_standins(client)
    finally:
        client.close()

    ports = {name: str(free_port()) for name in
             ("COUCHDB_PORT", "RABBITMQ_PORT", "REDIS_PORT", "API_PORT", "API_PORT_2", "FLOWER_PORT")}
    project = f"squalltest{secrets.token_hex(3)}"
    env = {**os.environ, **ports, "COMPOSE_PROJECT_NAME": project, "SQUALL_IMAGE": "squall-standin/squall:local",
           "RUNTIMES_BASE": BASE_IMAGE}
    files = ["-f", str(COMPOSE_FILE), "-f", str(LOCAL_FILE)]
    deployment = Deployment([*compose, *files], env, f"http://127.0.0.1:{ports['API_PORT']}",
                            f"http://127.0.0.1:{ports['API_PORT_2']}")
    _say(f"project {project}, ports {json.dumps(ports)}")
    try:
        _say("building the Squall image (deploy/Dockerfile on the stand-in Python base)")
        deployment.stream("build", "setup", timeout=UP_TIMEOUT_S)
        _say("up -d")
        deployment.stream("up", "-d", timeout=UP_TIMEOUT_S)
        setup_log = deployment.run("logs", "--no-color", "setup").stdout
        _say("setup said:\n" + "\n".join("    " + line for line in setup_log.splitlines()))
        _wait_for_controllers(deployment)
        _wait_for_invokers(deployment)
        _say(f"deployment ready {time.monotonic() - started:.0f} s after the test started")
        yield deployment
    except BaseException:
        logs = deployment.run("logs", "--no-color", "--tail", "40", check=False, timeout=60)
        _say("the deployment failed; its logs:\n" + logs.stdout[-20000:])
        raise
    finally:
        _say("down -v")
        deployment.run("down", "-v", "--remove-orphans", "--timeout", "60", timeout=300, check=False)
        _remove_action_containers()
        _say(f"done, {time.monotonic() - started:.0f} s in all")


def _wait_for_controllers(deployment: Deployment) -> None:
    """Both controllers answering: ``up -d`` waits for the services they depend on, not for them."""
    deadline = time.monotonic() + READY_DEADLINE_S
    waiting = [deployment.api1, deployment.api2]
    while waiting and time.monotonic() < deadline:
        for url in list(waiting):
            try:
                if httpx.get(f"{url}/ping", timeout=5).status_code == 200:
                    waiting.remove(url)
            except httpx.TransportError:
                pass
        if waiting:
            time.sleep(1)  # polling processes coming up
    assert not waiting, f"no answer from {', '.join(waiting)} within {READY_DEADLINE_S:.0f} s"
    _say("both controllers answer")


def _wait_for_invokers(deployment: Deployment) -> None:
    """Both invokers up in the registry, as ``squall admin invokers`` (run in controller1) shows them."""
    deadline = time.monotonic() + READY_DEADLINE_S
    report: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        done = deployment.run("exec", "-T", "controller1", "squall", "admin", "invokers", "--json", check=False)
        if done.returncode == 0:
            report = json.loads(done.stdout)
            up = {str(i.get("name")) for i in report if i.get("healthy")}
            if up >= set(INVOKERS):
                _say(f"invokers up: {', '.join(sorted(up))}")
                return
        time.sleep(2)  # polling processes coming up
    raise AssertionError(f"the invokers did not come up: {report}")


def _remove_action_containers() -> None:
    # The invokers remove their containers when they stop; this is for an invoker that was killed.
    client = docker.from_env()
    try:
        for name in INVOKERS:
            for container in client.containers.list(all=True, filters={"label": f"squall.invoker={name}"}):
                container.remove(force=True)
    finally:
        client.close()


@pytest.fixture(scope="module")
def action(deployment: Deployment) -> str:
    name = f"hello{secrets.token_hex(3)}"
    with httpx.Client(auth=GUEST_AUTH, timeout=30) as http:
        answer = http.put(f"{deployment.api1}/api/v1/namespaces/_/actions/{name}",
                          json={"exec": {"kind": "python:3", "code": HELLO}})
    assert answer.status_code == 200, answer.text
    return name


def test_both_controllers_answer(deployment: Deployment) -> None:
    for url in (deployment.api1, deployment.api2):
        assert httpx.get(f"{url}/ping", timeout=10).status_code == 200


def test_blocking_invoke_through_one_controller_record_through_the_other(deployment: Deployment,
                                                                       action: str) -> None:
    started = time.monotonic()
    with httpx.Client(auth=GUEST_AUTH, timeout=90) as http:
        answer = http.post(f"{deployment.api1}/api/v1/namespaces/_/actions/{action}?blocking=true",
                           json={"name": "compose"})
        assert answer.status_code == 200, answer.text
        activation = answer.json()
        _say(f"blocking invoke through controller1: {answer.status_code} in {time.monotonic() - started:.2f} s, "
             f"result {json.dumps(activation['response']['result'])}")
        assert activation["response"]["result"] == {"greeting": "Hello compose", "api_ping": 200}
        record = http.get(f"{deployment.api2}/api/v1/namespaces/_/activations/{activation['activationId']}")
    assert record.status_code == 200, record.text
    assert record.json()["response"]["result"] == {"greeting": "Hello compose", "api_ping": 200}
    assert record.json()["name"] == action
    _say(f"its record through controller2: {record.status_code}, status {record.json()['response']['status']}")


def test_non_blocking_invoke_through_one_controller_record_through_the_other(deployment: Deployment,
                                                                           action: str) -> None:
    with httpx.Client(auth=GUEST_AUTH, timeout=30) as http:
        answer = http.post(f"{deployment.api1}/api/v1/namespaces/_/actions/{action}", json={"name": "later"})
        assert answer.status_code == 202, answer.text
        activation_id = answer.json()["activationId"]
        _say(f"non-blocking invoke through controller1: 202 {activation_id}")
        deadline = time.monotonic() + 60
        record = http.get(f"{deployment.api2}/api/v1/namespaces/_/activations/{activation_id}")
        while record.status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.2)  # polling for the record, as a client does
            record = http.get(f"{deployment.api2}/api/v1/namespaces/_/activations/{activation_id}")
    assert record.status_code == 200, record.text
    assert record.json()["response"]["result"] == {"greeting": "Hello later", "api_ping": 200}
    _say(f"its record through controller2: {record.status_code}, status {record.json()['response']['status']}")
