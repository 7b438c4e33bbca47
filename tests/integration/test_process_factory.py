"""The ``process`` container factory on the real kernel: sandboxed proxies, and hostile actions contained
(fork bomb, memory bomb, log flood, infinite loop). Each test owns its factory and folder."""

from __future__ import annotations

import http.server
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.errors import ActionTimeout, RuntimeStartupError, UserImageStartupError
from config.settings import InvokerSettings
from tests.integration.helpers import processes_in
from workers.factories.base import ContainerSpec
from workers.factories.process import LOG_CAP_BYTES, NPROC, LocalProcessFactory, ProcessContainer
from workers.logs import LogCursor, collect_logs
from workers.proxy_client import ContainerDied, ProxyClient

pytestmark = pytest.mark.integration

RUNTIMES_DIR = Path(__file__).resolve().parents[2] / "runtimes"
SPEC = ContainerSpec(image="unused", memory_mb=256, namespace="guest", action="hostile", kind="python:3")


@pytest.fixture
def factory() -> Iterator[LocalProcessFactory]:
    name = f"pf{secrets.token_hex(3)}"
    root = Path(tempfile.gettempdir()) / f"squall-{name}"
    made = LocalProcessFactory(InvokerSettings(name=name, process_dir=str(root)), "http://127.0.0.1:3233",
                               runtimes_dir=RUNTIMES_DIR)
    yield made
    made.cleanup()
    made.close()
    shutil.rmtree(root, ignore_errors=True)


def started(factory: LocalProcessFactory, source: str) -> tuple[ProcessContainer, ProxyClient]:
    container = factory.create(SPEC)
    proxy = ProxyClient(container.host, container.port)
    init = proxy.init({"value": {"name": "hostile", "main": "main", "binary": False, "env": {},
                                 "code": textwrap.dedent(source)}}, timeout_s=30)
    assert init.status == 200, init.body
    return container, proxy


def factory_name(factory: LocalProcessFactory) -> str:
    return Path(factory.root).name.removeprefix("squall-")


def destroyed_cleanly(container: ProcessContainer, proxy: ProxyClient) -> None:
    directory = Path(container.log_path or "").parent
    proxy.close()
    container.destroy()
    assert processes_in(directory) == []
    assert not directory.exists()
    with pytest.raises(ProcessLookupError):
        os.killpg(container.pid, 0)


def test_a_run_prints_into_the_json_file_log_and_destroy_removes_everything(factory: LocalProcessFactory) -> None:
    container, proxy = started(factory, """
        import os
        def main(args):
            print("hello", args["n"])
            return {"cwd": os.getcwd(), "home": os.environ["HOME"]}
    """)
    result = proxy.run({"value": {"n": 1}}, timeout_s=30).body
    workdir = Path(container.log_path or "").parent / "work"
    assert Path(result["home"]) == workdir and Path(result["cwd"]).parent == workdir
    logs = collect_logs(container, LogCursor(), limit_mb=1, developer_error=False)
    assert len(logs) == 1 and logs[0].endswith(" stdout: hello 1")
    destroyed_cleanly(container, proxy)


def test_infinite_loop_times_out_and_is_killed(factory: LocalProcessFactory) -> None:
    container, proxy = started(factory, """
        def main(args):
            while True:
                pass
    """)
    with pytest.raises(ActionTimeout):
        proxy.run({"value": {}}, timeout_s=1.0)
    assert processes_in(Path(container.log_path or "").parent)  # still spinning until destroyed
    destroyed_cleanly(container, proxy)


def test_fork_bomb_is_stopped_by_the_process_limit_and_every_child_dies(factory: LocalProcessFactory) -> None:
    container, proxy = started(factory, """
        import os, time
        def main(args):
            forks = 0
            while True:
                try:
                    pid = os.fork()
                except OSError:
                    return {"forks": forks}
                if pid == 0:
                    if forks % 2:
                        os.setsid()  # half of them leave the process group: the namespace still holds them
                    time.sleep(600)
                    os._exit(0)
                forks += 1
    """)
    run = proxy.run({"value": {}}, timeout_s=30)
    assert run.status == 200, run.body
    assert 0 < run.body["forks"] < NPROC
    assert subprocess.run(["true"], check=False).returncode == 0  # the host can still fork
    destroyed_cleanly(container, proxy)


def test_memory_bomb_fails_inside_its_limit(factory: LocalProcessFactory) -> None:
    container, proxy = started(factory, """
        def main(args):
            hoard = []
            while True:
                hoard.append(bytearray(16 * 1024 * 1024))
    """)
    run = proxy.run({"value": {}}, timeout_s=30)
    # A developer error, worded as Docker's out-of-memory end is (an application error {"error": ""} before).
    assert run.status == 502 and run.body == {"error": "The action exhausted its memory and was aborted."}, run.body
    destroyed_cleanly(container, proxy)


def test_log_flood_is_capped_on_disk(factory: LocalProcessFactory) -> None:
    container, proxy = started(factory, """
        import sys
        def main(args):
            line = "x" * 1000
            while True:
                print(line)
                print(line, file=sys.stderr)
    """)
    with pytest.raises(ActionTimeout):
        proxy.run({"value": {}}, timeout_s=3.0)
    size = Path(container.log_path or "").stat().st_size
    assert size < 2 * LOG_CAP_BYTES * 1.2  # both streams at their cap, plus the JSON around each line
    logs = collect_logs(container, LogCursor(), limit_mb=1, developer_error=True)
    assert "Logs were truncated" in logs[-2]
    destroyed_cleanly(container, proxy)


def test_blackbox_is_refused_with_a_clear_message(factory: LocalProcessFactory) -> None:
    spec = ContainerSpec(image="me/img", memory_mb=256, namespace="guest", action="bb", kind="blackbox",
                         user_image=True)
    with pytest.raises(UserImageStartupError, match="--containers docker"):
        factory.create(spec)


def test_a_kind_whose_toolchain_this_host_lacks_is_refused_saying_which(tmp_path: Path) -> None:
    runtimes = tmp_path / "runtimes"
    shutil.copytree(RUNTIMES_DIR, runtimes, ignore=shutil.ignore_patterns("deps", "classes", "__pycache__"))
    manifest = json.loads((runtimes / "manifest.json").read_text())
    manifest["runtimes"]["ruby"][0]["tools"] = ["squall-no-such-ruby"]
    (runtimes / "manifest.json").write_text(json.dumps(manifest))
    name = f"pf{secrets.token_hex(3)}"
    root = Path(tempfile.gettempdir()) / f"squall-{name}"  # reachable by the actions' users, as the fixture's
    made = LocalProcessFactory(InvokerSettings(name=name, process_dir=str(root)), "http://127.0.0.1:3233",
                               runtimes_dir=runtimes)
    try:
        spec = ContainerSpec(image="unused", memory_mb=256, namespace="guest", action="rb", kind="ruby:3.1")
        with pytest.raises(RuntimeStartupError, match="ruby:3.1 kind needs squall-no-such-ruby on this host"):
            made.create(spec)
    finally:
        made.cleanup()
        made.close()
        shutil.rmtree(root, ignore_errors=True)


def test_cleanup_kills_what_an_earlier_run_left(factory: LocalProcessFactory) -> None:
    container, proxy = started(factory, "def main(args):\n    return {}\n")
    directory = Path(container.log_path or "").parent
    proxy.close()
    assert processes_in(directory)
    factory.cleanup()  # as a restarted invoker would, without the old process's objects
    assert processes_in(directory) == []
    assert not directory.exists()
    container.destroy()  # idempotent, and quiet about what is already gone


def test_a_forking_memory_bomb_is_bounded_as_a_whole(factory: LocalProcessFactory) -> None:
    """Each process stays under its own address-space limit, so only the container's memory cgroup can bound
    the sum: 16 children of 64 MB each would be 1 GB against the action's 256 MB."""
    if not Path("/sys/fs/cgroup/memory").is_dir() or os.geteuid() != 0:
        pytest.skip("memory cgroups are used only by root on a cgroup v1 host")
    container, proxy = started(factory, """
        import os, time
        def main(args):
            children = []
            for _ in range(16):
                pid = os.fork()
                if pid == 0:
                    hoard = bytearray(64 * 1024 * 1024)
                    for i in range(0, len(hoard), 4096):
                        hoard[i] = 1  # touch every page, so it is really used
                    time.sleep(600)
                    os._exit(0)
                children.append(pid)
            time.sleep(3)
            alive = 0
            for pid in children:
                if os.waitpid(pid, os.WNOHANG) == (0, 0):
                    alive += 1
            return {"alive": alive}
    """)
    run = proxy.run({"value": {}}, timeout_s=60)
    assert run.status != 200 or run.body["alive"] < 16  # the OOM killer ended some of them, or the launcher
    cgroup = Path("/sys/fs/cgroup/memory") / f"squall-{factory_name(factory)}" / container.name
    assert int((cgroup / "memory.max_usage_in_bytes").read_text()) <= 256 * 1024 * 1024
    oom = dict(line.split() for line in (cgroup / "memory.oom_control").read_text().splitlines())
    assert int(oom["oom_kill"]) > 0  # the limit was reached, and held by killing
    assert container.oom_killed() is True  # what the invoker asks to record "exhausted its memory"
    assert container.oom_killed() is False  # since the previous call: nothing new
    destroyed_cleanly(container, proxy)


def test_pause_freezes_the_container_and_resume_thaws_it(factory: LocalProcessFactory) -> None:
    container, proxy = started(factory, """
        def main(args):
            return {"n": args.get("n")}
    """)
    try:
        container.pause()
        # SIGSTOP reaches each process of the group in its own time: wait until all of them are stopped.
        deadline = time.monotonic() + 10
        while (states := {_state(pid) for pid in processes_in(Path(container.log_path or "").parent)}) != {"T"}:
            assert time.monotonic() < deadline, f"not all stopped: {states}"
            time.sleep(0.02)
        container.resume()
        assert proxy.run({"value": {"n": 1}}, timeout_s=30).body == {"n": 1}
    finally:
        destroyed_cleanly(container, proxy)


def _state(pid: int) -> str:
    """The process state letter from /proc (T: stopped)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2]


NOT_ROOT_SCRIPT = """
import json
import sys
from pathlib import Path
from config.settings import InvokerSettings
from workers.factories.base import ContainerSpec
from workers.factories.process import LocalProcessFactory
from workers.proxy_client import ProxyClient

root, runtimes = Path(sys.argv[1]), Path(sys.argv[2])
factory = LocalProcessFactory(InvokerSettings(name="notroot", process_dir=str(root)), "http://127.0.0.1:3233",
                              runtimes_dir=runtimes)
factory.cleanup()
container = factory.create(ContainerSpec(image="-", memory_mb=256, namespace="guest", action="a", kind="python:3"))
proxy = ProxyClient(container.host, container.port)
code = ("import os, socket\\ndef main(args):\\n    tmp = os.statvfs(os.environ['TMPDIR'])\\n"
        "    return {'uid': os.getuid(), 'pid': os.getpid(), 'interfaces': [n for _, n in socket.if_nameindex()],"
        " 'scratch_mb': tmp.f_blocks * tmp.f_frsize // 2**20}\\n")
assert proxy.init({"value": {"name": "a", "main": "main", "binary": False, "env": {}, "code": code}}, 30).status == 200
print(json.dumps(proxy.run({"value": {}}, 30).body))
proxy.close()
container.destroy()
"""


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder under the system temp that other users can reach (pytest's tmp_path is private)."""
    folder = Path(tempfile.mkdtemp(prefix="squall-notroot-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_an_unprivileged_invoker_gets_a_user_namespace(open_folder: Path) -> None:
    """As an ordinary user (nobody, via setpriv): the sandbox falls back to a user namespace of its own."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user for the test")
    tmp_path = open_folder
    code = tmp_path / "code"
    for package in ("app", "config", "workers"):  # a copy nobody can read, wherever the checkout is
        shutil.copytree(RUNTIMES_DIR.parent / package, code / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(RUNTIMES_DIR, code / "runtimes", ignore=shutil.ignore_patterns("__pycache__"))
    (code / "run.py").write_text(NOT_ROOT_SCRIPT)
    subprocess.run(["chmod", "-R", "a+rX", str(code)], check=True)
    containers = tmp_path / "containers"
    containers.mkdir()
    containers.chmod(0o777)  # nobody makes its factory folder here
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", str(code / "run.py"),
         str(containers / "root"), str(code / "runtimes")],
        cwd=code, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(code), "HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["uid"] == 0 and result["pid"] < 100  # root of its own user namespace, low pid in its own
    assert result["interfaces"] == ["lo"] and result["scratch_mb"] == 256  # its own network and bounded scratch


# --- tenants apart: what one container (or any other local user) can reach of another -------------------------

PEEK = """
import json, socket, sys
def peek(path, socket_path):
    found = {}
    try:
        with open(path) as f:
            found["log"] = "read: " + f.read(200)
    except OSError as e:
        found["log"] = "refused: " + type(e).__name__
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(socket_path)
            s.sendall(b'POST /init HTTP/1.1\\r\\nContent-Length: 2\\r\\n\\r\\n{}')
            found["proxy"] = "answered: " + s.recv(100).decode()
    except OSError as e:
        found["proxy"] = "refused: " + type(e).__name__
    return found
"""


def _socket_of(container: ProcessContainer) -> str:
    assert container.host.startswith("/"), container.host  # a Unix socket, not 127.0.0.1
    return container.host


def test_a_container_folder_is_private_to_the_invoker_and_the_container(factory: LocalProcessFactory) -> None:
    if os.geteuid() != 0:
        pytest.skip("a user id per container only when the invoker is root")
    container, proxy = started(factory, """
        import os
        def main(args):
            print("secret of b")
            return {"uid": os.getuid()}
    """)
    try:
        uid = proxy.run({"value": {}}, timeout_s=30).body["uid"]
        directory = Path(container.log_path or "").parent
        assert uid != 0
        st = directory.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, uid, 0o750)
        for private in ("work", "run"):
            st = (directory / private).stat()
            assert (st.st_uid, st.st_mode & 0o777) == (uid, 0o700), private
        log_file = Path(container.log_path or "").stat()
        assert (log_file.st_uid, log_file.st_mode & 0o777) == (0, 0o600)
        assert Path(_socket_of(container)).parent == directory / "run"
    finally:
        destroyed_cleanly(container, proxy)


def test_another_user_can_neither_read_the_logs_nor_reach_the_proxy(factory: LocalProcessFactory) -> None:
    """As nobody (any other local user): B's log file and B's proxy (a stem cell too) are out of reach; the invoker
    still reaches both."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user for the test")
    stem = factory.create(SPEC)  # not initialized: /init from anyone would take it over
    container, proxy = started(factory, "def main(args):\n    print('secret of b')\n    return {}\n")
    try:
        proxy.run({"value": {}}, timeout_s=30)
        for target in (stem, container):
            done = subprocess.run(
                ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
                 PEEK + "\nprint(json.dumps(peek(sys.argv[1], sys.argv[2])))", str(target.log_path),
                 _socket_of(target)], capture_output=True, text=True, timeout=30, check=True, cwd="/")
            found = json.loads(done.stdout)
            assert found["log"].startswith("refused: PermissionError"), found
            assert found["proxy"].startswith("refused: PermissionError"), found
        assert "secret of b" in Path(container.log_path or "").read_text()  # the invoker reads them
        stem_proxy = ProxyClient(stem.host, stem.port)
        assert stem_proxy.init({"value": {"name": "a", "main": "main", "binary": False, "env": {},
                                          "code": "def main(args):\n    return {'stem': 1}\n"}}, 30).status == 200
        assert stem_proxy.run({"value": {}}, 30).body == {"stem": 1}
        stem_proxy.close()
    finally:
        destroyed_cleanly(container, proxy)
        stem.destroy()


def test_an_action_cannot_reach_another_containers_logs_or_proxy(factory: LocalProcessFactory) -> None:
    victim, victim_proxy = started(factory, "def main(args):\n    print('secret of b')\n    return {}\n")
    attacker, attacker_proxy = started(factory, PEEK + "def main(args):\n    return peek(args['log'], args['sock'])\n")
    try:
        victim_proxy.run({"value": {}}, timeout_s=30)
        found = attacker_proxy.run({"value": {"log": victim.log_path, "sock": _socket_of(victim)}}, 30).body
        if os.geteuid() == 0:  # not root: every container is this invoker's user, see the start warning
            assert found["log"].startswith("refused"), found
            assert found["proxy"].startswith("refused"), found
    finally:
        destroyed_cleanly(attacker, attacker_proxy)
        destroyed_cleanly(victim, victim_proxy)


def test_a_key_of_an_earlier_activation_is_not_left_in_the_environment(factory: LocalProcessFactory) -> None:
    container, proxy = started(factory, """
        import os
        def main(args):
            return {"key": os.environ.get("__OW_API_KEY"), "namespace": os.environ.get("__OW_NAMESPACE")}
    """)
    try:
        first = proxy.run({"value": {}, "api_key": "uuid-b:key-of-b", "namespace": "b"}, timeout_s=30).body
        assert first == {"key": "uuid-b:key-of-b", "namespace": "b"}
        second = proxy.run({"value": {}, "namespace": "b"}, timeout_s=30).body
        assert second == {"key": None, "namespace": "b"}
    finally:
        destroyed_cleanly(container, proxy)


NODE_SPEC = ContainerSpec(image="unused", memory_mb=256, namespace="guest", action="nodeaction", kind="nodejs:18")


@pytest.mark.skipif(shutil.which("node") is None, reason="no node on PATH")
def test_a_node_proxy_is_private_and_forgets_an_earlier_key(factory: LocalProcessFactory) -> None:
    """The Node.js proxy listens on the container's private socket too, and drops an earlier activation's key."""
    container = factory.create(NODE_SPEC)
    proxy = ProxyClient(container.host, container.port)
    try:
        code = "function main(args) { return {key: process.env.__OW_API_KEY || null}; }"
        assert proxy.init({"value": {"name": "n", "main": "main", "binary": False, "env": {}, "code": code}},
                          30).status == 200
        assert proxy.run({"value": {}, "api_key": "uuid-b:key-of-b"}, 30).body == {"key": "uuid-b:key-of-b"}
        assert proxy.run({"value": {}}, 30).body == {"key": None}
        if os.geteuid() == 0:
            done = subprocess.run(
                ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
                 PEEK + "\nprint(json.dumps(peek(sys.argv[1], sys.argv[2])))", str(container.log_path),
                 _socket_of(container)], capture_output=True, text=True, timeout=30, check=True, cwd="/")
            found = json.loads(done.stdout)
            assert found["proxy"].startswith("refused: PermissionError"), found
    finally:
        destroyed_cleanly(container, proxy)


# --- the network: the API host and nothing else; the disk: a scratch tmpfs of the memory limit ----------------

class _ApiHost(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "auth": self.headers.get("Authorization")}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def api_host() -> Iterator[str]:
    """A stand-in API host on 127.0.0.1: what actions may reach."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ApiHost)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def host_service() -> Iterator[int]:
    """A service listening on every address of this host (as CouchDB, RabbitMQ or Redis may): what actions may not
    reach. Returns its port."""
    listener = socket.create_server(("0.0.0.0", 0))  # every address: the point of the test
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


def _host_addresses() -> list[str]:
    """127.0.0.1 and this host's other IPv4 addresses."""
    shown = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True).stdout
    found = [line.split()[3].split("/")[0] for line in shown.splitlines()]
    return ["127.0.0.1", *[a for a in found if not a.startswith("127.")]]


@pytest.fixture
def isolated(api_host: str) -> Iterator[LocalProcessFactory]:
    """A factory in the default place (``/var/lib/squall/<name>`` as root) with the stand-in API host."""
    name = f"pn{secrets.token_hex(3)}"
    made = LocalProcessFactory(InvokerSettings(name=name), api_host, runtimes_dir=RUNTIMES_DIR)
    yield made
    made.cleanup()
    made.close()
    shutil.rmtree(made.root, ignore_errors=True)


REACH = """
import json, os, socket, urllib.request
def main(args):
    found = {"interfaces": [n for _, n in socket.if_nameindex()], "api_host": os.environ["__OW_API_HOST"]}
    request = urllib.request.Request(os.environ["__OW_API_HOST"] + "/api/v1/namespaces",
                                     headers={"Authorization": "Basic a2V5"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        found["api"] = json.loads(reply.read())
    for address in args["addresses"]:
        for port in args["ports"]:
            try:
                socket.create_connection((address, port), timeout=2).close()
                found[f"{address}:{port}"] = "connected"
            except OSError as e:
                found[f"{address}:{port}"] = type(e).__name__
    return found
"""


def test_an_action_reaches_the_api_host_and_no_service_of_this_host(
        isolated: LocalProcessFactory, host_service: int) -> None:
    """Its own network namespace: loopback only; the API host through the relay; neither a service on any of this
    host's addresses nor Redis on 127.0.0.1."""
    if os.geteuid() != 0:
        pytest.skip("as root: the unprivileged case is test_an_unprivileged_invoker_gets_a_user_namespace")
    container, proxy = started(isolated, REACH)
    try:
        found = proxy.run({"value": {"addresses": _host_addresses(), "ports": [host_service, 6379]}}, 60).body
        assert found["interfaces"] == ["lo"], found
        assert found["api"] == {"path": "/api/v1/namespaces", "auth": "Basic a2V5"}, found
        reached = {k: v for k, v in found.items() if ":" in k and not k.startswith("api") and v == "connected"}
        assert reached == {}, found
        # From the host the same service is reachable: the refusals above are the namespace's doing.
        socket.create_connection(("127.0.0.1", host_service), timeout=2).close()
    finally:
        destroyed_cleanly(container, proxy)


@pytest.mark.skipif(shutil.which("node") is None, reason="no node on PATH")
def test_a_node_action_reaches_the_api_host_and_no_service_of_this_host(
        isolated: LocalProcessFactory, host_service: int) -> None:
    if os.geteuid() != 0:
        pytest.skip("as root")
    container = isolated.create(NODE_SPEC)
    proxy = ProxyClient(container.host, container.port)
    code = textwrap.dedent("""
        const http = require('http');
        const net = require('net');
        const attempt = (port) => new Promise((resolve) => {
          const socket = net.connect(port, '127.0.0.1');
          socket.on('connect', () => { socket.destroy(); resolve('connected'); });
          socket.on('error', (error) => resolve(error.code));
        });
        // http, not fetch: undici's WebAssembly does not fit the address-space limit (docs/known-gaps.md)
        const get = (url) => new Promise((resolve, reject) => {
          http.get(url, (reply) => {
            let body = '';
            reply.on('data', (chunk) => { body += chunk; });
            reply.on('end', () => resolve(JSON.parse(body)));
          }).on('error', reject);
        });
        async function main(args) {
          const api = await get(process.env.__OW_API_HOST + '/api/v1/x');
          return {api, service: await attempt(args.port), redis: await attempt(6379)};
        }
    """)
    try:
        assert proxy.init({"value": {"name": "n", "main": "main", "binary": False, "env": {}, "code": code}},
                          30).status == 200
        found = proxy.run({"value": {"port": host_service}}, 60).body
        assert found["api"]["path"] == "/api/v1/x", found
        assert found["service"] != "connected" and found["redis"] != "connected", found
    finally:
        destroyed_cleanly(container, proxy)


def test_process_network_host_shares_the_hosts_network(api_host: str, host_service: int) -> None:
    """The documented way out (``invoker.process_network = "host"``): the action is on the host's network."""
    name = f"ph{secrets.token_hex(3)}"
    made = LocalProcessFactory(InvokerSettings(name=name, process_network="host"), api_host,
                               runtimes_dir=RUNTIMES_DIR)
    try:
        container, proxy = started(made, REACH)
        found = proxy.run({"value": {"addresses": ["127.0.0.1"], "ports": [host_service]}}, 60).body
        assert found["api_host"] == api_host and found[f"127.0.0.1:{host_service}"] == "connected", found
        destroyed_cleanly(container, proxy)
    finally:
        made.cleanup()
        made.close()
        shutil.rmtree(made.root, ignore_errors=True)


SCRATCH = """
import errno, os
def main(args):
    found = {}
    for place in ("/tmp", "/var/tmp", "/dev/shm", os.environ["HOME"]):
        space = os.statvfs(place)
        found[place] = space.f_blocks * space.f_frsize // 2**20
    try:
        with open(os.path.join("/tmp", args["marker"]), "w") as f:
            f.write("written in the container")
        found["marker"] = "written"
    except OSError as e:
        found["marker"] = errno.errorcode[e.errno]
    if args.get("fill"):
        written = 0
        try:
            with open(os.path.join(os.environ["TMPDIR"], "fill"), "wb") as f:
                while written < args["fill"] * 2**20:
                    f.write(b"x" * 2**20)
                    written += 2**20
            found["fill"] = "all"
        except OSError as e:
            found["fill"] = errno.errorcode[e.errno]
        found["written_mb"] = written // 2**20
    return found
"""


def test_what_an_action_writes_is_a_tmpfs_of_its_memory_limit(isolated: LocalProcessFactory) -> None:
    """As in a Docker container: ``/tmp``, ``/var/tmp``, ``/dev/shm`` and its home are one scratch space the size of
    its memory limit, gone with the container; nothing lands on the host's disk."""
    if os.geteuid() != 0:
        pytest.skip("as root: the unprivileged case is test_an_unprivileged_invoker_gets_a_user_namespace")
    marker = f"squall-marker-{secrets.token_hex(4)}"
    container, proxy = started(isolated, SCRATCH)
    try:
        found = proxy.run({"value": {"marker": marker}}, 60).body
        assert {found[p] for p in ("/tmp", "/var/tmp", "/dev/shm")} == {SPEC.memory_mb}, found
        assert found["marker"] == "written" and not (Path("/tmp") / marker).exists()
        # Either the tmpfs is full (ENOSPC) or the memory cgroup, which counts tmpfs pages, ends the container.
        try:
            filled = proxy.run({"value": {"marker": marker, "fill": 2 * SPEC.memory_mb}}, 60)
            assert filled.body["fill"] == "ENOSPC" and filled.body["written_mb"] <= SPEC.memory_mb, filled.body
        except ContainerDied:
            assert container.oom_killed() or isolated_without_cgroups(isolated)
        host_view = Path(container.log_path or "").parent / "work"
        assert list(host_view.iterdir()) == []  # the invoker's side of the folder never held the data
    finally:
        destroyed_cleanly(container, proxy)


def isolated_without_cgroups(factory: LocalProcessFactory) -> bool:
    return factory._cgroups is None  # which of the two bounds applies


def test_under_tmp_the_containers_tmp_is_read_only_and_its_home_bounded(factory: LocalProcessFactory) -> None:
    """With the containers' folder under ``/tmp`` (the fixture's), the scratch tmpfs cannot be laid over ``/tmp``:
    it is read-only instead, and the home folder is the bounded scratch space."""
    container, proxy = started(factory, SCRATCH)
    try:
        found = proxy.run({"value": {"marker": f"squall-marker-{secrets.token_hex(4)}", "fill": 16}}, 60).body
        home = str(Path(container.log_path or "").parent / "work")
        assert found["marker"] == "EROFS" and found[home] == SPEC.memory_mb, found
        assert found["fill"] == "all" and found["written_mb"] == 16, found
    finally:
        destroyed_cleanly(container, proxy)
