"""The alarms feed provider: schedules a trigger owner creates through the ``/whisk.system/alarms`` feed
actions, and the scheduler's side (claim what is due, forget what is over). Feed actions and their lifecycle
events: https://github.com/apache/openwhisk/blob/master/docs/feeds.md.

A claim stores the alarm with its next fire time under the revision it was read at: of two schedulers (or
one restarted mid-tick) only one claim wins, and a claimed fire is never claimed again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from app.core.alarms import ACTIVE, PAUSED, Alarm, parse_alarm
from app.core.entities import Document, now_ms
from app.core.errors import Conflict, Invalid, NotFound
from app.core.identities import Identity
from app.core.names import EntityPath, check_name
from app.core.ports import AlarmStore, EntityStore
from app.core.services.entitlement import check_owner

log = logging.getLogger(__name__)

FEED_PARAMS = frozenset({"lifecycleEvent", "triggerName", "authKey", "kind"})
_DELETE_ATTEMPTS = 5


def _read_form(alarm: Alarm) -> Document:
    status: Document = {"active": alarm.status == ACTIVE, "dateChanged": alarm.updated, "fired": alarm.fired}
    if alarm.next_fire is not None:
        status["nextFire"] = alarm.next_fire
    return {"config": alarm.config(), "status": status}


@dataclass(frozen=True)
class Due:
    """A claimed fire: the alarm as it was before the claim, and when it was due."""

    alarm: Alarm
    due: int


class AlarmService:
    def __init__(self, entities: EntityStore, alarms: AlarmStore, clock: Callable[[], int] = now_ms) -> None:
        self._entities = entities
        self._alarms = alarms
        self._clock = clock

    # --- the feed's lifecycle events ----------------------------------------------------------------

    def create(self, identity: Identity, api_key: str, namespace: str, trigger: str, kind: str,
               params: dict[str, Any], overwrite: bool = False) -> Alarm:
        """CREATE (or UPDATE with ``overwrite``): validate, compute the first fire, store. Nothing is stored
        when a check fails. 404 no such trigger; 409 exists (CREATE); 400 bad parameters."""
        path = self._trigger(identity, namespace, trigger)
        try:
            old: Alarm | None = self._load(path.doc_id)
        except NotFound:
            old = None
        if old is not None and not overwrite:
            raise Conflict(f"an alarm for trigger {path.fqn} already exists")
        if old is None and overwrite:
            raise NotFound(f"there is no alarm for trigger {path.fqn}")
        given = {k: v for k, v in params.items() if k not in FEED_PARAMS}
        alarm = parse_alarm(kind, path, api_key, given, self._clock())
        if old is not None:
            alarm = replace(alarm, rev=old.rev, fired=old.fired, last_fired=old.last_fired, status=old.status)
        rev = self._alarms.put_alarm(alarm.to_doc())
        return replace(alarm, rev=rev)

    def read(self, identity: Identity, namespace: str, trigger: str) -> Document:
        """READ: ``{"config": {...}, "status": {"active", "dateChanged"}}`` as the alarms package answers."""
        return _read_form(self._load(self._trigger(identity, namespace, trigger, must_exist=False).doc_id))

    def delete(self, identity: Identity, namespace: str, trigger: str) -> Document:
        """DELETE; works after the trigger itself is gone. Returns the schedule's last READ form (its
        ``fired`` count is final: no claim can follow)."""
        path = self._trigger(identity, namespace, trigger, must_exist=False)
        for _ in range(_DELETE_ATTEMPTS):
            alarm = self._load(path.doc_id)
            assert alarm.rev is not None
            try:
                self._alarms.delete_alarm(alarm.doc_id, alarm.rev)
            except Conflict:
                continue  # the scheduler claimed it meanwhile: delete the claimed version
            return _read_form(alarm)
        raise Conflict()

    def set_status(self, identity: Identity, namespace: str, trigger: str, status: Any) -> None:
        """PAUSE (``paused``) and UNPAUSE (``active``). Unpausing skips the fires missed while paused."""
        if status not in (ACTIVE, PAUSED):
            raise Invalid(f"'{status}' is not a recognized alarm state, must be one of ['active', 'paused']")
        alarm = self._load(self._trigger(identity, namespace, trigger, must_exist=False).doc_id)
        now = self._clock()
        changed = replace(alarm, status=status, updated=now)
        if status == ACTIVE:
            changed = replace(changed, next_fire=alarm.next_after(now))
        self._alarms.put_alarm(changed.to_doc())

    # --- the scheduler's side ----------------------------------------------------------------------

    def claim_due(self, limit: int = 100) -> list[Due]:
        """Claim every alarm due now; an alarm another scheduler claimed first is skipped."""
        now = self._clock()
        claimed: list[Due] = []
        for doc in self._alarms.due_alarms(now, limit):
            alarm = Alarm.from_doc(doc)
            try:
                self._alarms.put_alarm(alarm.claimed(now).to_doc())
            except (Conflict, NotFound):
                continue  # claimed, changed or deleted meanwhile
            claimed.append(Due(alarm, alarm.next_fire or now))
        return claimed

    def next_time(self) -> int | None:
        return self._alarms.next_alarm_time()

    def forget(self, trigger_id: str) -> None:
        """Drop the schedule of a trigger that is gone (or deleted after its one fire)."""
        try:
            doc = self._alarms.get_alarm(trigger_id)
            self._alarms.delete_alarm(trigger_id, doc["_rev"])
        except (NotFound, Conflict):
            pass

    def pause(self, trigger_id: str) -> None:
        """Stop firing a trigger whose owner's key no longer works; UNPAUSE resumes it."""
        try:
            alarm = Alarm.from_doc(self._alarms.get_alarm(trigger_id))
            self._alarms.put_alarm(replace(alarm, status=PAUSED, updated=self._clock()).to_doc())
        except (NotFound, Conflict):
            pass

    # --- helpers -----------------------------------------------------------------------------------

    def _trigger(self, identity: Identity, namespace: str, trigger: str, must_exist: bool = True) -> EntityPath:
        check_owner(identity, namespace, trigger)
        path = EntityPath(namespace, check_name(trigger))
        if must_exist:
            try:
                doc = self._entities.get_entity(path.doc_id)
            except NotFound:
                raise NotFound(f"trigger {path.fqn} does not exist") from None
            if doc.get("entityType") != "trigger":
                raise NotFound(f"trigger {path.fqn} does not exist")
        return path

    def _load(self, doc_id: str) -> Alarm:
        try:
            return Alarm.from_doc(self._alarms.get_alarm(doc_id))
        except NotFound:
            raise NotFound(f"there is no alarm for trigger /{doc_id}") from None
