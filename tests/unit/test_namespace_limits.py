"""A namespace's throttles: the deployment's defaults, its stored overrides, and their validation."""

from __future__ import annotations

import pytest

from app.core.errors import Invalid
from app.core.limits import NamespaceLimits, parse_overrides
from app.core.services.limits import LimitsService
from tests.fakes import DictLimitsStore

pytestmark = pytest.mark.unit

DEFAULTS = NamespaceLimits(invocations_per_minute=60, fires_per_minute=60)


def test_overrides_replace_only_what_they_name_and_ignore_bad_values() -> None:
    assert DEFAULTS.overridden({}) == DEFAULTS
    assert DEFAULTS.overridden({"invocationsPerMinute": 5}) == NamespaceLimits(5, 60)
    assert DEFAULTS.overridden({"firesPerMinute": 0, "invocationsPerMinute": True, "other": 3}) == \
        NamespaceLimits(60, 0)
    assert NamespaceLimits(5, 7).to_api() == {"invocationsPerMinute": 5, "firesPerMinute": 7,
                                              "concurrentInvocations": 30, "activationsKeepDays": 0,
                                              "storeActivations": True}


def test_retention_overrides_apply_and_bad_ones_are_ignored() -> None:
    base = NamespaceLimits(60, 60, activations_keep_days=30)
    assert base.overridden({"activationsKeepDays": 3, "storeActivations": False}) == \
        NamespaceLimits(60, 60, activations_keep_days=3, store_activations=False)
    assert base.overridden({"activationsKeepDays": 0}).activations_keep_days == 0  # for ever
    assert base.overridden({"activationsKeepDays": -2, "storeActivations": "no"}) == base
    assert base.overridden({"storeActivations": 0}).store_activations is True  # a number is not a boolean


def test_retention_overrides_are_validated() -> None:
    assert parse_overrides({"activationsKeepDays": 7, "storeActivations": False}) == \
        {"activationsKeepDays": 7, "storeActivations": False}
    assert parse_overrides({"storeActivations": None}) == {}
    with pytest.raises(Invalid, match="storeActivations must be true or false, not 'false'"):
        parse_overrides({"storeActivations": "false"})
    with pytest.raises(Invalid, match="activationsKeepDays must be a whole number of at least 0"):
        parse_overrides({"activationsKeepDays": 1.5})


@pytest.mark.parametrize(("given", "message"), [
    ({"maxActionMemory": 3}, "'maxActionMemory' is not a namespace limit"),
    ({"invocationsPerMinute": -1}, "invocationsPerMinute must be a whole number of at least 0"),
    ({"firesPerMinute": "9"}, "firesPerMinute must be a whole number of at least 0"),
])
def test_bad_overrides_are_refused_with_a_reason(given: dict[str, object], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        parse_overrides(given)


def test_empty_fields_drop_an_override() -> None:
    assert parse_overrides({"invocationsPerMinute": None, "firesPerMinute": 4}) == {"firesPerMinute": 4}


def test_the_service_caches_and_a_set_is_seen_at_once_here() -> None:
    now = [0.0]
    store = DictLimitsStore()
    service = LimitsService(store, DEFAULTS, cache_seconds=5, clock=lambda: now[0])  # type: ignore[arg-type]
    assert service.of("guest") == DEFAULTS
    store.put_limits("guest", {"invocationsPerMinute": 1})  # another controller's write
    assert service.of("guest") == DEFAULTS  # cached here for up to 5 s
    now[0] = 6.0
    assert service.of("guest").invocations_per_minute == 1
    assert service.set("guest", {"firesPerMinute": 2}) == NamespaceLimits(60, 2)  # replaces, seen at once
    assert service.overrides("guest") == {"firesPerMinute": 2}
