"""Network isolation of action containers: iptables rules for the invoker's action bridge.

Action containers join one Docker bridge network (``invoker.network``, created with inter-container
traffic off). Two chains of our own, hooked only for packets that come in on that bridge:

* ``SQUALL-<id>-IN``, from ``INPUT`` (packets to the invoker host itself): replies to connections the
  host opened (the invoker's ``/init`` and ``/run``) and the API host's port pass; everything else is
  dropped. Services bound on the host (CouchDB, RabbitMQ, Redis, the Docker API) are out of reach
  whatever address they listen on.
* ``SQUALL-<id>-FWD``, from ``DOCKER-USER`` (packets routed to other hosts): the API host passes; the
  configured services (CouchDB, the broker, the result backend) are dropped; other egress (the
  internet, which actions often need) goes on through Docker's own rules.

Installing is idempotent: the chains are created if missing and flushed, then filled, and each hook is
added only if ``iptables -C`` does not find it. Why ``iptables`` through a subprocess: it is what Docker
itself drives (legacy or nft backend alike), and the Python bindings (python-iptables) link libiptc,
which the nft backend does not use.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from app.core.errors import PlatformError

log = logging.getLogger(__name__)

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]
_DEFAULT_PORTS = {"http": 80, "https": 443, "amqp": 5672, "amqps": 5671, "redis": 6379, "rediss": 6379}


class IsolationError(PlatformError):
    """The rules could not be installed (no iptables, not root, no such network)."""


@dataclass(frozen=True)
class Endpoint:
    address: str  # an IPv4 address
    port: int


@dataclass(frozen=True)
class IsolationPlan:
    """Everything the rules depend on; built from settings and the network by ``plan_for``."""

    network: str
    bridge: str  # the bridge interface on the host, e.g. br-0123456789ab
    allowed: tuple[Endpoint, ...]  # the API host as actions reach it
    denied: tuple[Endpoint, ...] = field(default=())  # the services, when they live on other hosts

    @property
    def chain_prefix(self) -> str:
        # iptables chain names are at most 28 characters: name the chains by a digest of the network.
        return "SQUALL-" + hashlib.sha256(self.network.encode()).hexdigest()[:8]

    @property
    def input_chain(self) -> str:
        return f"{self.chain_prefix}-IN"

    @property
    def forward_chain(self) -> str:
        return f"{self.chain_prefix}-FWD"


def endpoints(url: str) -> list[Endpoint]:
    """The IPv4 addresses and port a service URL names (``amqp://u:p@host:5672//``, ``redis://host/0``)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return []
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme.split("+")[0], 0)
    if not port:
        return []
    try:
        infos = socket.getaddrinfo(parts.hostname, port, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        log.warning("cannot resolve %s: no isolation rule for it", parts.hostname)
        return []
    return sorted({Endpoint(str(info[4][0]), port) for info in infos}, key=lambda e: (e.address, e.port))


def input_rules(plan: IsolationPlan) -> list[list[str]]:
    """The ``-A`` rules of the input chain, in order."""
    chain = plan.input_chain
    rules = [["-A", chain, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"]]
    rules += [["-A", chain, "-p", "tcp", "-d", e.address, "--dport", str(e.port), "-j", "ACCEPT"]
              for e in plan.allowed]
    rules.append(["-A", chain, "-j", "DROP"])
    return rules


def forward_rules(plan: IsolationPlan) -> list[list[str]]:
    """The ``-A`` rules of the forward chain, in order (RETURN hands the packet back to Docker's rules)."""
    chain = plan.forward_chain
    rules = [["-A", chain, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"]]
    rules += [["-A", chain, "-p", "tcp", "-d", e.address, "--dport", str(e.port), "-j", "RETURN"]
              for e in plan.allowed]
    rules += [["-A", chain, "-p", "tcp", "-d", e.address, "--dport", str(e.port), "-j", "DROP"]
              for e in plan.denied if not ipaddress.ip_address(e.address).is_loopback]
    rules.append(["-A", chain, "-j", "RETURN"])
    return rules


def hooks(plan: IsolationPlan) -> list[list[str]]:
    """The jumps into our chains, for packets from the action bridge only (``-C``/``-I``/``-D`` prefix-less)."""
    return [["INPUT", "-i", plan.bridge, "-j", plan.input_chain],
            ["DOCKER-USER", "-i", plan.bridge, "-j", plan.forward_chain]]


def _run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", *args], capture_output=True, text=True, check=False, timeout=30)


class Isolation:
    """Installs and removes a plan's rules; ``runner`` runs one ``iptables`` call (swappable for tests)."""

    def __init__(self, plan: IsolationPlan, runner: Runner = _run) -> None:
        self.plan = plan
        self._run = runner

    def install(self) -> None:
        for chain, rules in ((self.plan.input_chain, input_rules(self.plan)),
                             (self.plan.forward_chain, forward_rules(self.plan))):
            self._run(["-N", chain])  # fails harmlessly when it exists
            self._check(["-F", chain])
            for rule in rules:
                self._check(rule)
        self._run(["-N", "DOCKER-USER"])  # Docker makes it; an engine started with iptables off does not
        for hook in hooks(self.plan):
            if self._run(["-C", *hook]).returncode != 0:
                self._check(["-I", hook[0], "1", *hook[1:]])
        log.info("isolation rules installed for network %s (bridge %s)", self.plan.network, self.plan.bridge)

    def remove(self) -> None:
        for hook in hooks(self.plan):
            while self._run(["-C", *hook]).returncode == 0:
                self._check(["-D", *hook])
        for chain in (self.plan.input_chain, self.plan.forward_chain):
            self._run(["-F", chain])
            self._run(["-X", chain])

    def _check(self, args: Sequence[str]) -> None:
        try:
            done = self._run(args)
        except (OSError, subprocess.SubprocessError) as e:
            raise IsolationError(f"iptables {' '.join(args)} failed: {e}") from e
        if done.returncode != 0:
            raise IsolationError(f"iptables {' '.join(args)} failed: {done.stderr.strip()}")
