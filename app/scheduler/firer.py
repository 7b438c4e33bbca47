"""Firing one claimed alarm: ``POST /namespaces/{ns}/triggers/{name}`` as the trigger's owner.

What each answer means:

* 202/204: fired (204: no rule is active, which is fine); a ``once`` alarm then deletes what it was asked to;
* 404: the trigger is gone, so its schedule is dropped;
* 401/403: the owner's key no longer works, so the schedule is paused (UNPAUSE resumes it);
* 429, 5xx, or no answer: ``RetryableFire``, which the task retries with backoff;
* any other 4xx: logged and dropped (retrying cannot help).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import quote

import httpx

from app.core.errors import Unavailable
from app.core.services.alarms import AlarmService
from app.log_format import fields, transaction

log = logging.getLogger(__name__)

DUE_HEADER = "X-Squall-Alarm-Due"
"""Sent with each fire: the epoch ms of the slot it fires for (reaches rule actions in ``__ow_headers``)."""


class RetryableFire(Unavailable):
    """The fire did not land for a reason that may pass (controller down, overloaded, throttled)."""


class AlarmFirer:
    def __init__(self, api_host: str, alarms: AlarmService, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(base_url=api_host.rstrip("/"), timeout=30.0, transport=transport)
        self._alarms = alarms

    def close(self) -> None:
        self._client.close()

    def fire(self, trigger: str, auth_key: str, payload: dict[str, Any], due: int,
             delete_after_fire: bool | str = False) -> None:
        # Each fire is a request of its own: its transaction id is sent as X-Request-ID, so the controller's
        # request line, the rule activations' lines on the invokers and these lines all carry it.
        tid = secrets.token_hex(16)
        with transaction(tid):
            self._fire(tid, trigger, auth_key, payload, due, delete_after_fire)

    def _fire(self, tid: str, trigger: str, auth_key: str, payload: dict[str, Any], due: int,
              delete_after_fire: bool | str) -> None:
        namespace, _, name = trigger.partition("/")
        uuid, _, key = auth_key.partition(":")
        auth = (uuid, key)
        url = f"/api/v1/namespaces/{quote(namespace, safe='')}/triggers/{quote(name, safe='')}"
        try:
            response = self._client.post(url, json=payload, auth=auth,
                                         headers={DUE_HEADER: str(due), "X-Request-ID": tid})
        except httpx.TransportError as e:
            raise RetryableFire(f"firing /{trigger} failed: {e!r}") from e
        status = response.status_code
        if status in (202, 204):
            activation_id = response.json().get("activationId") if status == 202 else None
            log.info("fired /%s for %d: %s", trigger, due, activation_id or "no active rule", extra=fields(
                trigger=trigger, due=due, status=status, activation_id=activation_id))
            if delete_after_fire:
                self._delete_trigger(namespace, name, auth, rules=delete_after_fire == "rules")
                self._alarms.forget(trigger)
        elif status == 404:
            log.warning("trigger /%s is gone; dropping its alarm", trigger)
            self._alarms.forget(trigger)
        elif status in (401, 403):
            log.warning("the key of trigger /%s's owner is refused (%d); pausing its alarm", trigger, status)
            self._alarms.pause(trigger)
        elif status == 429 or status >= 500:
            raise RetryableFire(f"firing /{trigger} answered {status}: {response.text[:200]}")
        else:
            log.error("firing /%s answered %d: %s; not retried", trigger, status, response.text[:200])

    def give_up(self, trigger: str, due: int, error: BaseException) -> None:
        log.error("giving up firing /%s for %d after retries: %s", trigger, due, error)

    def _delete_trigger(self, namespace: str, name: str, auth: tuple[str, str], rules: bool) -> None:
        """``deleteAfterFire``: the trigger, and with ``rules`` its rules first."""
        base = f"/api/v1/namespaces/{quote(namespace, safe='')}"
        trigger_url = f"{base}/triggers/{quote(name, safe='')}"
        if rules:
            found = self._client.get(trigger_url, auth=auth)
            for rule_id in (found.json().get("rules") or {}) if found.status_code == 200 else {}:
                rule_ns, _, rule = rule_id.partition("/")
                self._client.delete(f"/api/v1/namespaces/{quote(rule_ns, safe='')}/rules/{quote(rule, safe='')}",
                                    auth=auth)
        deleted = self._client.delete(trigger_url, auth=auth)
        log.info("deleted trigger /%s/%s after its one fire: %d", namespace, name, deleted.status_code)
