"""Once an activation is published the caller gets its id, whatever the wait does; a result backend that cannot be
read leaves ``GET /activations/{id}`` to the store's answer."""

from __future__ import annotations

import pytest

from app.core.entities import Activation
from app.core.errors import Unavailable
from tests.api.conftest import NS, Api, error

pytestmark = pytest.mark.api


def test_a_wait_that_fails_after_the_publish_answers_202_with_the_id(api: Api,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    api.action("echo")

    def broken(activation_id: str, timeout_s: float) -> Activation | None:
        raise RuntimeError("Retry limit exceeded while trying to reconnect to the Celery result store backend.")

    monkeypatch.setattr(api.dispatcher, "wait", broken)
    response = api.post(f"{NS}/actions/echo", {}, query={"blocking": "true"})
    assert response.status_code == 202
    activation_id = response.get_json()["activationId"]
    assert response.headers["x-openwhisk-activation-id"] == activation_id
    assert api.dispatcher.message(activation_id).blocking is True


def test_a_peek_that_fails_leaves_the_stores_404(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(activation_id: str) -> Activation | None:
        raise Unavailable("the result backend cannot be reached")

    monkeypatch.setattr(api.dispatcher, "peek", broken)
    error(api.get(f"{NS}/activations/{'f' * 32}"), 404)
