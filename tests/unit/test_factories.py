from __future__ import annotations

import pytest

from app.core.errors import Invalid
from workers.factories import FACTORIES, resolve_factory
from workers.factories.docker import DockerContainerFactory, container_name

pytestmark = pytest.mark.unit


def test_resolve_by_alias_and_by_path():
    assert resolve_factory("docker") is DockerContainerFactory
    assert resolve_factory("workers.factories.docker:DockerContainerFactory") is DockerContainerFactory
    assert set(FACTORIES) >= {"docker", "process"}


def test_unknown_factory_suggests_a_name():
    with pytest.raises(Invalid, match="Did you mean 'docker'"):
        resolve_factory("dokcer")


def test_container_names_are_sanitised():
    assert container_name("invoker0", "3fa9c1_7", "guest", "hello") == "squall_invoker0_3fa9c1_7_guest_hello"
    assert container_name("invoker0", "3fa9c1_8", "me@example.com", "my action&co") == \
        "squall_invoker0_3fa9c1_8_meexample.com_myactionco"
    assert len(container_name("i", "3fa9c1_1", "n" * 300, "a" * 300)) < 120
