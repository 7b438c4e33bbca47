from __future__ import annotations

import threading

import pytest

from app.state.journal import MemoryJournal

pytestmark = pytest.mark.unit


def test_first_claim_wins_once():
    journal = MemoryJournal()
    assert journal.claim("a") is True
    assert journal.claim("a") is False
    assert journal.claim("b") is True


def test_concurrent_claims_have_one_winner():
    journal = MemoryJournal()
    wins: list[bool] = []
    threads = [threading.Thread(target=lambda: wins.append(journal.claim("x"))) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(True) == 1


def test_a_kept_record_is_there_until_forgotten():
    journal = MemoryJournal()
    journal.claim("a")
    journal.keep("a", {"activationId": "a"})
    assert journal.kept("a") == {"activationId": "a"}
    journal.forget("a")
    assert journal.kept("a") is None and journal.claim("a") is False


def test_the_spool_keeps_a_record_in_its_claim_until_done(tmp_path):
    from app.standalone.spool import Spool

    spool = Spool(tmp_path)
    assert spool.kept("a") is None
    spool.keep("a", {"activationId": "a"})  # not claimed: nothing to keep it in
    assert spool.kept("a") is None
    assert spool.claim("a")
    assert spool.kept("a") is None  # claimed, not ended (a process killed in /run leaves this)
    spool.keep("a", {"activationId": "a"})
    assert spool.kept("a") == {"activationId": "a"} and spool.claim("a") is False
    spool.done("a")
    assert spool.kept("a") is None and spool.claim("a") is True
