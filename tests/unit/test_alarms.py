"""Alarm schedules: cron (5 and 6 fields, time zones, start/stop), interval, once, and claims."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.core.alarms import Alarm, parse_alarm, parse_date
from app.core.errors import Invalid
from app.core.names import EntityPath

pytestmark = pytest.mark.unit

T = EntityPath("guest", "t")


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


NOW = ms("2026-03-01T12:00:00")


def alarm(kind: str, **params: object) -> Alarm:
    return parse_alarm(kind, T, "u:k", dict(params), NOW)


def test_five_field_cron_in_utc_and_in_a_time_zone() -> None:
    assert alarm("alarm", cron="30 12 * * *").next_fire == ms("2026-03-01T12:30:00")
    paris = alarm("alarm", cron="0 9 * * *", timezone="Europe/Paris")
    assert paris.next_fire == ms("2026-03-02T08:00:00")  # 09:00 in Paris is 08:00 UTC in March


def test_six_field_cron_has_seconds_first() -> None:
    every_three = alarm("alarm", cron="*/3 * * * * *")
    assert every_three.next_fire == NOW + 3000
    assert every_three.next_after(NOW + 3000) == NOW + 6000


def test_start_and_stop_dates_bound_the_schedule() -> None:
    bounded = alarm("alarm", cron="0 * * * *", startDate="2026-03-01T15:30:00Z", stopDate=ms("2026-03-01T17:00:00"))
    assert bounded.next_fire == ms("2026-03-01T16:00:00")
    assert bounded.next_after(ms("2026-03-01T16:00:00")) == ms("2026-03-01T17:00:00")
    assert bounded.next_after(ms("2026-03-01T17:00:00")) is None


def test_interval_from_creation_or_from_start_date() -> None:
    every5 = alarm("interval", minutes=5)
    assert every5.next_fire == NOW + 300_000
    assert every5.next_after(NOW + 300_000) == NOW + 600_000
    assert every5.next_after(NOW + 301_000) == NOW + 600_000
    started = alarm("interval", minutes="2", startDate=NOW + 10_000)
    assert started.next_fire == NOW + 10_000 and started.next_after(NOW + 10_000) == NOW + 130_000


def test_once_fires_once() -> None:
    once = alarm("once", date="2026-03-01T12:00:05Z", deleteAfterFire="rules")
    assert once.next_fire == NOW + 5000 and once.delete_after_fire == "rules"
    assert once.claimed(NOW + 5000).next_fire is None


def test_a_claim_after_downtime_fires_once_then_keeps_to_the_schedule() -> None:
    every_three = alarm("alarm", cron="*/3 * * * * *")
    late = every_three.claimed(NOW + 30_500)  # the scheduler was down for ten slots
    assert late.next_fire == NOW + 33_000 and late.fired == 1 and late.last_fired == NOW + 30_500


@pytest.mark.parametrize(("kind", "params", "message"), [
    ("alarm", {}, "alarms trigger feeds must specify a cron expression"),
    ("alarm", {"cron": "61 * * * *"}, "cron pattern '61 * * * *' is not valid"),
    ("alarm", {"cron": "* * *"}, "cron pattern '* * *' is not valid"),
    ("alarm", {"cron": "* * * * *", "timezone": "Nowhere/City"}, "Invalid timezone 'Nowhere/City'"),
    ("alarm", {"cron": "* * * * *", "startDate": "2020-01-01"}, "must be sometime in the future"),
    ("alarm", {"cron": "* * * * *", "stopDate": "soon"}, "stopDate parameter 'soon' is not a valid Date"),
    ("interval", {"minutes": 0}, "'minutes' as a positive integer"),
    ("once", {}, "once trigger feeds must specify a date"),
    ("once", {"date": "2026-03-01T11:00:00Z"}, "must be sometime in the future"),
    ("once", {"date": NOW + 1, "deleteAfterFire": "yes"}, "deleteAfterFire must be false, true or 'rules'"),
    ("daily", {}, "unknown alarm kind 'daily'"),
    ("alarm", {"cron": "* * * * *", "trigger_payload": [1]}, "trigger_payload must be a JSON object"),
])
def test_bad_parameters(kind: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(Invalid, match=message.replace("*", r"\*").replace("(", r"\(")):
        parse_alarm(kind, T, "u:k", params, NOW)


def test_documents_round_trip_and_dates_parse() -> None:
    original = alarm("alarm", cron="0 9 * * *", timezone="Asia/Tokyo", trigger_payload={"a": 1})
    assert Alarm.from_doc(original.to_doc()) == original
    assert parse_date("2026-03-01T12:00:00Z", "date") == NOW == parse_date("2026-03-01T12:00:00", "date")
    assert parse_date(NOW, "date") == NOW
