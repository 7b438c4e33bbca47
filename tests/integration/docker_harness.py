"""The invoker wired to the real Docker factory, with dict-backed stores of our own ports (no CouchDB mock):
shared by the Docker-level integration tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from typing import Any

import docker
import docker.errors
import pytest

from app.core.entities import Action, ActivationMessage, Exec, new_activation_id, now_ms
from app.core.limits import ActionLimits
from app.core.manifest import RuntimeManifest
from app.core.names import EntityPath
from app.state.journal import MemoryJournal
from config.settings import Settings
from tests.fakes import DictActivationStore, DictEntityStore
from workers.factories.docker import LABEL_INVOKER, DockerContainerFactory
from workers.invoker import Invoker
from workers.pool import ContainerPool, StemCellSpec

IMAGE = "squall/action-python-v3:latest"


@pytest.fixture(scope="module")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    try:
        client.ping()
        try:
            client.images.get(IMAGE)
        except docker.errors.ImageNotFound:
            from app.host.images import build_runtime_images

            build_runtime_images(client, Settings().runtimes.directory, kinds=["python:3"])
        yield client
    finally:
        client.close()


def make_settings(**invoker: Any) -> Settings:
    """Settings for one test: its own invoker name, so its containers carry a label no other test uses."""
    return Settings().replace(invoker={"name": f"itest{secrets.token_hex(4)}", "user_memory_mb": 1024,
                                       "threads": 4, **invoker})


class Harness:
    def __init__(self, settings: Settings, factory: DockerContainerFactory,
                 stem_cells: Sequence[StemCellSpec] = (), manifest: RuntimeManifest | None = None) -> None:
        self.settings = settings
        self.factory = factory
        self.entities = DictEntityStore()
        self.activations = DictActivationStore()
        self.pool = ContainerPool(factory, settings.invoker, wait_timeout_s=30, stem_cells=stem_cells)
        self.journal = MemoryJournal()
        self.manifest = manifest or RuntimeManifest.load(settings.runtimes.manifest_path)
        self.invoker = Invoker(self.entities, self.activations, self.pool, self.manifest, settings, self.journal)
        self.published: list[dict[str, Any]] = []
        self.stored_when_published: list[bool] = []

    def action(self, code: str, name: str = "act", timeout_ms: int = 10_000, logs_mb: int = 10,
               memory_mb: int = 256, concurrency: int = 1, kind: str = "python:3") -> Action:
        action = Action(EntityPath("guest", name), Exec(kind, code=code),
                        ActionLimits(timeout=timeout_ms, memory=memory_mb, logs=logs_mb, concurrency=concurrency))
        return self.entities.put_action(action)

    def entities_action(self, name: str) -> Action:
        """The stored action ``name`` (as the invoker will read it)."""
        return Action.from_doc(self.entities.docs[f"guest/{name}"])

    def message(self, action: Action, content: dict[str, Any] | None = None) -> ActivationMessage:
        return ActivationMessage(
            activation_id=new_activation_id(), transaction_id=secrets.token_hex(16), namespace="guest",
            subject="guest", action=action.path.doc_id, revision=action.rev or "", content=content or {},
            blocking=True, received_ms=now_ms())

    def invoke(self, msg: ActivationMessage):  # type: ignore[no-untyped-def]
        def publish(doc: dict[str, Any]) -> None:
            self.published.append(doc)
            self.stored_when_published.append(f"guest/{doc['activationId']}" in self.activations.docs)

        return self.invoker.invoke(msg, publish)

    def containers(self, **filters: str) -> list[dict[str, Any]]:
        labels = [f"{LABEL_INVOKER}={self.settings.invoker.name}", *(f"{k}={v}" for k, v in filters.items())]
        found: list[dict[str, Any]] = self.factory._api().containers(all=True, filters={"label": labels})
        return found

    def close(self) -> None:
        self.invoker.close()
        self.factory.cleanup()
        self.factory.close()
