"""The isolation rules as data, and the install/remove sequence against a recording iptables runner."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

import pytest

from app.host.firewall import (
    Endpoint,
    Isolation,
    IsolationError,
    IsolationPlan,
    endpoints,
    forward_rules,
    hooks,
    input_rules,
)

pytestmark = pytest.mark.unit

PLAN = IsolationPlan("squall-actions", "br-abc", allowed=(Endpoint("10.0.0.5", 3233),),
                     denied=(Endpoint("10.0.0.7", 5984), Endpoint("127.0.0.1", 6379)))


def test_endpoints_of_service_urls():
    assert endpoints("amqp://guest:guest@127.0.0.1:5672//") == [Endpoint("127.0.0.1", 5672)]
    assert endpoints("redis://127.0.0.1/0") == [Endpoint("127.0.0.1", 6379)]
    assert endpoints("http://127.0.0.1") == [Endpoint("127.0.0.1", 80)]
    assert endpoints("memory://") == []


def test_input_chain_lets_replies_and_the_api_host_through_and_drops_the_rest():
    chain = PLAN.input_chain
    assert chain.startswith("SQUALL-") and len(chain) <= 28
    assert input_rules(PLAN) == [
        ["-A", chain, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
        ["-A", chain, "-p", "tcp", "-d", "10.0.0.5", "--dport", "3233", "-j", "ACCEPT"],
        ["-A", chain, "-j", "DROP"],
    ]


def test_forward_chain_drops_remote_services_only():
    chain = PLAN.forward_chain
    assert forward_rules(PLAN) == [
        ["-A", chain, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"],
        ["-A", chain, "-p", "tcp", "-d", "10.0.0.5", "--dport", "3233", "-j", "RETURN"],
        ["-A", chain, "-p", "tcp", "-d", "10.0.0.7", "--dport", "5984", "-j", "DROP"],
        ["-A", chain, "-j", "RETURN"],  # a loopback service is the input chain's business
    ]


def test_hooks_only_catch_packets_from_the_action_bridge():
    assert hooks(PLAN) == [["INPUT", "-i", "br-abc", "-j", PLAN.input_chain],
                           ["DOCKER-USER", "-i", "br-abc", "-j", PLAN.forward_chain]]


class RecordingIptables:
    """Our runner port: records calls, answers ``-C`` from the hooks it has seen inserted."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.hooked: set[tuple[str, ...]] = set()
        self.fail_on = fail_on

    def __call__(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        args = list(args)
        self.calls.append(args)
        code = 0
        if args[0] == "-C":
            code = 0 if tuple(args[1:]) in self.hooked else 1
        elif args[0] == "-I":
            self.hooked.add((args[1], *args[3:]))
        elif args[0] == "-D":
            self.hooked.discard(tuple(args[1:]))
        if self.fail_on and args[0] == self.fail_on:
            code = 4
        return subprocess.CompletedProcess(["iptables", *args], code, "", "denied")


def test_install_is_idempotent():
    runner = RecordingIptables()
    isolation = Isolation(PLAN, runner)
    isolation.install()
    isolation.install()
    inserts = [c for c in runner.calls if c[0] == "-I"]
    assert len(inserts) == 2  # each hook inserted once, however often installed
    flushes = [c for c in runner.calls if c[0] == "-F"]
    assert len(flushes) == 4  # both chains refilled from scratch each time


def test_remove_deletes_hooks_then_chains():
    runner = RecordingIptables()
    isolation = Isolation(PLAN, runner)
    isolation.install()
    runner.calls.clear()
    isolation.remove()
    assert not runner.hooked
    assert [c for c in runner.calls if c[0] == "-X"] == [["-X", PLAN.input_chain], ["-X", PLAN.forward_chain]]


def test_a_refused_rule_is_an_error():
    with pytest.raises(IsolationError, match="denied"):
        Isolation(PLAN, RecordingIptables(fail_on="-A")).install()
