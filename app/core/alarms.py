"""Alarm schedules: what the ``/whisk.system/alarms`` feeds store and when each fires next.

Three kinds, as OpenWhisk's alarms package offers them:

* ``alarm``: a cron expression (5 fields, or 6 with seconds first), optional ``timezone``, ``startDate`` and
  ``stopDate``;
* ``interval``: every ``minutes``, from ``startDate`` (else one period after creation) until ``stopDate``;
* ``once``: at ``date``; ``deleteAfterFire`` false, true (delete the trigger) or ``"rules"`` (and its rules).

``trigger_payload`` is what each fire posts. Everything here is pure; the scheduler claims a due alarm by
storing it with its next fire time (a compare-and-swap on the document revision), then fires.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from app.core.entities import Document
from app.core.errors import Invalid
from app.core.names import EntityPath

Kind = Literal["alarm", "interval", "once"]
KINDS: tuple[Kind, ...] = ("alarm", "interval", "once")
ACTIVE = "active"
PAUSED = "paused"
MINUTE_MS = 60_000
LAST_DATE_MS = int(datetime(9000, 1, 1, tzinfo=UTC).timestamp() * 1000)
"""No date or fire time after 9000-01-01: past year 9999 ``datetime`` (and so the cron arithmetic) overflows, and
past 64 bits the stores do; what lies in between is no schedule anyone means."""


def parse_date(value: Any, what: str) -> int:
    """Epoch ms from an ISO 8601 string (UTC unless it says otherwise) or a number of epoch ms, at most
    ``LAST_DATE_MS``."""
    if isinstance(value, bool):
        raise Invalid(f"{what} parameter '{value}' is not a valid Date")
    if isinstance(value, int | float):
        if not -LAST_DATE_MS <= value <= LAST_DATE_MS:  # NaN fails this too
            raise Invalid(f"{what} parameter '{value}' is out of range: dates must come before the year 9000")
        return int(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parse_date(int(parsed.timestamp() * 1000), what)
    raise Invalid(f"{what} parameter '{value}' is not a valid Date")


def _cron(expression: Any) -> str:
    if not isinstance(expression, str) or not expression.strip():
        raise Invalid("alarms trigger feeds must specify a cron expression")
    text = " ".join(expression.split())
    fields = len(text.split(" "))
    if fields not in (5, 6) or not croniter.is_valid(text, second_at_beginning=fields == 6):
        raise Invalid(f"cron pattern '{expression}' is not valid")
    return text


def _zone(name: Any) -> str | None:
    if name is None or name == "":
        return None
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"Invalid timezone '{name}'") from None
    return str(name)


@dataclass(frozen=True)
class Alarm:
    trigger: EntityPath
    kind: Kind
    auth_key: str  # the trigger owner's uuid:key: fires go through the API as that user
    created: int
    payload: dict[str, Any] = field(default_factory=dict)
    cron: str | None = None
    timezone: str | None = None
    minutes: int | None = None
    date: int | None = None
    start_date: int | None = None
    stop_date: int | None = None
    delete_after_fire: bool | str = False
    status: str = ACTIVE
    next_fire: int | None = None
    fired: int = 0
    last_fired: int | None = None
    updated: int = 0
    rev: str | None = None

    @property
    def doc_id(self) -> str:
        return self.trigger.doc_id

    def next_after(self, after_ms: int) -> int | None:
        """The first fire time strictly after ``after_ms``, or None when the schedule is over."""
        if self.kind == "once":
            assert self.date is not None
            return self.date if self.date > after_ms else None
        if self.kind == "interval":
            assert self.minutes is not None
            period = self.minutes * MINUTE_MS
            anchor = self.start_date if self.start_date is not None else self.created + period
            steps = 0 if after_ms < anchor else (after_ms - anchor) // period + 1
            upcoming = anchor + steps * period
        else:
            assert self.cron is not None
            begin = after_ms if self.start_date is None else max(after_ms, self.start_date - 1)
            zone = ZoneInfo(self.timezone) if self.timezone else UTC
            start = datetime.fromtimestamp(begin / 1000, tz=zone)
            seconds = len(self.cron.split(" ")) == 6
            upcoming = int(croniter(self.cron, start, second_at_beginning=seconds).get_next(float) * 1000)
        if self.stop_date is not None and upcoming > self.stop_date:
            return None
        return upcoming

    def claimed(self, now_ms: int) -> Alarm:
        """This alarm after the fire due now: the next time is computed from now, so a scheduler that was
        down fires a missed alarm once, not once per missed period."""
        base = max(now_ms, self.next_fire or now_ms)
        return replace(self, next_fire=self.next_after(base), fired=self.fired + 1, last_fired=now_ms)

    def config(self) -> Document:
        """The parameters as the feed's READ shows them."""
        config: Document = {"name": self.trigger.name, "namespace": self.trigger.namespace,
                            "trigger_payload": self.payload}
        for key, value in (("cron", self.cron), ("timezone", self.timezone), ("minutes", self.minutes),
                           ("date", self.date), ("startDate", self.start_date), ("stopDate", self.stop_date)):
            if value is not None:
                config[key] = value
        if self.kind == "once":
            config["deleteAfterFire"] = self.delete_after_fire
        return config

    def to_doc(self) -> Document:
        doc: Document = {
            "_id": self.doc_id, "kind": self.kind, "namespace": self.trigger.namespace,
            "trigger": self.trigger.name, "auth_key": self.auth_key, "created": self.created,
            "payload": self.payload, "cron": self.cron, "timezone": self.timezone, "minutes": self.minutes,
            "date": self.date, "start_date": self.start_date, "stop_date": self.stop_date,
            "delete_after_fire": self.delete_after_fire, "status": self.status, "next_fire": self.next_fire,
            "fired": self.fired, "last_fired": self.last_fired, "updated": self.updated,
        }
        if self.rev:
            doc["_rev"] = self.rev
        return doc

    @classmethod
    def from_doc(cls, doc: Document) -> Alarm:
        return cls(
            trigger=EntityPath(doc["namespace"], doc["trigger"]), kind=doc["kind"], auth_key=doc["auth_key"],
            created=int(doc["created"]), payload=dict(doc.get("payload") or {}), cron=doc.get("cron"),
            timezone=doc.get("timezone"), minutes=doc.get("minutes"), date=doc.get("date"),
            start_date=doc.get("start_date"), stop_date=doc.get("stop_date"),
            delete_after_fire=doc.get("delete_after_fire", False), status=doc.get("status", ACTIVE),
            next_fire=doc.get("next_fire"), fired=int(doc.get("fired", 0)), last_fired=doc.get("last_fired"),
            updated=int(doc.get("updated", 0)), rev=doc.get("_rev"),
        )


def parse_alarm(kind: str, trigger: EntityPath, auth_key: str, params: dict[str, Any], now_ms: int) -> Alarm:
    """An alarm from a feed's parameters, validated; its first fire time is computed. Raises ``Invalid``."""
    if kind not in KINDS:
        raise Invalid(f"unknown alarm kind '{kind}', must be one of {list(KINDS)}")
    payload = params.get("trigger_payload", {})
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise Invalid("trigger_payload must be a JSON object")
    start = parse_date(params["startDate"], "startDate") if params.get("startDate") is not None else None
    stop = parse_date(params["stopDate"], "stopDate") if params.get("stopDate") is not None else None
    if start is not None and start <= now_ms:
        raise Invalid(f"startDate parameter '{params['startDate']}' must be sometime in the future")
    if stop is not None and stop <= (start if start is not None else now_ms):
        raise Invalid(f"stopDate parameter '{params['stopDate']}' must be greater than the startDate")
    alarm = Alarm(trigger=trigger, kind=kind, auth_key=auth_key, created=now_ms, payload=payload,
                  start_date=start, stop_date=stop, updated=now_ms)
    if kind == "alarm":
        alarm = replace(alarm, cron=_cron(params.get("cron")), timezone=_zone(params.get("timezone")))
    elif kind == "interval":
        minutes = params.get("minutes")
        if isinstance(minutes, str) and minutes.isdecimal() and len(minutes) <= 18:  # longer is out of range anyway
            minutes = int(minutes)
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
            raise Invalid("interval trigger feeds must specify 'minutes' as a positive integer")
        if minutes > LAST_DATE_MS // MINUTE_MS:
            raise Invalid(f"interval trigger feeds must specify at most {LAST_DATE_MS // MINUTE_MS} 'minutes'")
        alarm = replace(alarm, minutes=minutes)
    else:
        if params.get("date") is None:
            raise Invalid("once trigger feeds must specify a date")
        date = parse_date(params["date"], "date")
        if date <= now_ms:
            raise Invalid(f"date parameter '{params['date']}' must be sometime in the future")
        delete = params.get("deleteAfterFire", False)
        if delete in ("true", "false"):
            delete = delete == "true"
        if delete not in (True, False, "rules"):
            raise Invalid("deleteAfterFire must be false, true or 'rules'")
        alarm = replace(alarm, date=date, delete_after_fire=delete, start_date=None, stop_date=None)
    next_fire = alarm.next_after(now_ms)
    if next_fire is not None and next_fire > LAST_DATE_MS:  # e.g. an interval of 10**30 minutes
        raise Invalid(f"the first fire of this {kind} trigger feed would be after the year 9000")
    return replace(alarm, next_fire=next_fire)
