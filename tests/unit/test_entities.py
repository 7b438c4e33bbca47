"""Names, limits, identities and records: the pure rules OpenWhisk clients depend on."""

from __future__ import annotations

import base64

import pytest

from app.core.entities import Activation, Status, bump_patch, is_binary_code, merge_parameters
from app.core.errors import Invalid
from app.core.identities import hash_key, key_matches, new_credentials
from app.core.limits import ActionLimits, LimitPolicy
from app.core.names import EntityPath, check_name

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["hello", "a", "_x", "my action", "a.b-c@d&e", "x" * 256])
def test_legal_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", " lead", "trail ", "-dash", "a/b", "a*b"])
def test_illegal_names(name: str) -> None:
    with pytest.raises(Invalid, match="illegal characters"):
        check_name(name)


def test_too_long_name_uses_openwhisk_wording() -> None:
    with pytest.raises(Invalid, match="Name segement longer than allowed: 257 > 256."):
        check_name("x" * 257)


def test_paths() -> None:
    p = EntityPath.from_url("guest", "pkg/act")
    assert (p.path, p.doc_id, p.fqn, p.relative) == ("guest/pkg", "guest/pkg/act", "/guest/pkg/act", "pkg/act")
    assert EntityPath.parse_fqn("/_/a", "me").doc_id == "me/a"
    assert EntityPath.parse_fqn("/ns/p/a", "me").doc_id == "ns/p/a"
    with pytest.raises(Invalid):
        EntityPath.from_url("guest", "a/b/c")


def test_binary_detection_follows_openwhisk() -> None:
    assert is_binary_code(base64.b64encode(b"PK\x03\x04 zip bytes").decode())
    assert not is_binary_code("def main(args):\n    return args\n")
    assert not is_binary_code("abc")  # not a multiple of 4
    assert not is_binary_code("")


def test_limits_merge_and_messages() -> None:
    policy = LimitPolicy()
    assert policy.validate({"memory": 128}) == ActionLimits(60000, 128, 10, 1)
    assert policy.validate({"timeout": 1000}, ActionLimits(5000, 512, 1, 1)) == ActionLimits(1000, 512, 1, 1)
    with pytest.raises(Invalid, match="memory 1024 MB exceeds allowed threshold of 512 MB"):
        policy.validate({"memory": 1024})
    with pytest.raises(Invalid, match="timeout 50 milliseconds below allowed threshold of 100 milliseconds"):
        policy.validate({"timeout": 50})
    with pytest.raises(Invalid, match="malformed"):
        policy.validate({"memory": "big"})


def test_parameters_merge_later_wins_and_init_params_stay_out() -> None:
    merged = merge_parameters([{"key": "a", "value": 1}, {"key": "s", "value": 2, "init": True}], {"a": 3, "b": 4})
    assert merged == {"a": 3, "b": 4}


def test_version_bump() -> None:
    assert bump_patch("0.0.1") == "0.0.2"
    assert bump_patch("1.2.9") == "1.2.10"


def test_keys_are_hashed_salted_and_checked() -> None:
    _, key = new_credentials()
    stored = hash_key(key)
    assert key not in stored and stored.startswith("sha256$")
    assert hash_key(key) != stored  # a fresh salt each time
    assert key_matches(key, stored)
    assert not key_matches(key + "x", stored)
    assert not key_matches(key, "garbage")


def test_activation_api_and_db_forms() -> None:
    a = Activation(namespace="guest", name="hello", version="0.0.1", subject="guest", activation_id="a" * 32,
                   start=1000, end=1005, status=Status.APPLICATION_ERROR, result={"error": "boom"},
                   logs=["l"], annotations=[{"key": "kind", "value": "python:3"}])
    api = a.to_api()
    assert api["response"] == {"status": "application error", "success": False, "result": {"error": "boom"}}
    assert api["duration"] == 5
    doc = a.to_doc()
    assert doc["_id"] == "guest/" + "a" * 32 and doc["response"]["statusCode"] == 1
    assert Activation.from_doc(doc) == a
    assert Activation.from_doc(api) == a
    summary = a.to_summary()
    assert summary["statusCode"] == 1 and "logs" not in summary


def test_an_activation_message_with_keys_of_a_newer_release_still_reads() -> None:
    from app.core.entities import ActivationMessage

    message = ActivationMessage(activation_id="a" * 32, transaction_id="t", namespace="guest", subject="guest",
                                action="guest/x", revision="1-a", content={"p": 1}, blocking=True, received_ms=1,
                                reply_to="squall:replies:abc")
    data = {**message.to_dict(), "a_field_of_a_later_release": {"x": 1}}
    assert ActivationMessage.from_dict(data) == message
    assert ActivationMessage.from_dict(message.to_dict()) == message


def test_an_activation_message_without_a_transaction_id_still_reads() -> None:
    from app.core.entities import ActivationMessage

    message = ActivationMessage(activation_id="a" * 32, transaction_id="", namespace="guest", subject="guest",
                                action="guest/x", revision="1-a", content={}, blocking=False, received_ms=1)
    data = message.to_dict()
    del data["transaction_id"]
    assert ActivationMessage.from_dict(data) == message
