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
