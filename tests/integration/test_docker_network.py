"""Several invokers starting at once on one Docker host end up with one action network, never two of one name
(Docker's own duplicate check is not atomic); duplicates made elsewhere are cleaned up."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import docker
import pytest

from config import Settings
from workers.factories.docker import DockerContainerFactory

pytestmark = pytest.mark.integration


@pytest.fixture
def network() -> Iterator[str]:
    name = f"squall-test-{secrets.token_hex(4)}"
    yield name
    client = docker.from_env()
    try:
        for found in client.api.networks(names=[name]):
            client.api.remove_network(found["Id"])
    finally:
        client.close()


def _named(name: str) -> list[str]:
    client = docker.from_env()
    try:
        return [n["Id"] for n in client.api.networks(names=[name]) if n["Name"] == name]
    finally:
        client.close()


def test_invokers_starting_together_make_one_network(network: str) -> None:
    settings = Settings().replace(invoker={"network": network})
    factories = [DockerContainerFactory(settings.invoker, "http://127.0.0.1:1") for _ in range(6)]
    start = threading.Barrier(len(factories))
    errors: list[BaseException] = []

    def connect(factory: DockerContainerFactory) -> None:
        try:
            start.wait(10)
            factory._api()  # connects and makes sure the action network exists, as the first container start does
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=connect, args=(f,)) for f in factories]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        assert len(_named(network)) == 1
    finally:
        for factory in factories:
            factory.close()


def test_a_duplicate_network_is_removed_and_the_oldest_kept(network: str) -> None:
    client = docker.from_env()
    try:
        first = client.api.create_network(network, driver="bridge", check_duplicate=False)["Id"]
        client.api.create_network(network, driver="bridge", check_duplicate=False)
    finally:
        client.close()
    assert len(_named(network)) == 2
    factory = DockerContainerFactory(Settings().replace(invoker={"network": network}).invoker, "http://127.0.0.1:1")
    try:
        factory._api()
    finally:
        factory.close()
    assert _named(network) == [first]
