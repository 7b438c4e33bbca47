"""The admin invokers table shows each invoker's dead letters (issue 14, finding 4): records it could not store as
they were, which must never go unseen."""

from __future__ import annotations

import re

import pytest

from app.core.invokers import InvokerStatus
from tests.api.conftest import Platform

pytestmark = pytest.mark.api


def _dead_letters_cell(html: str) -> str:
    found = re.search(r'<td class="n dead-letters">(.*?)</td>', html)
    assert found, html
    return found.group(1)


def test_the_invokers_table_shows_dead_letters_from_the_report(platform: Platform) -> None:
    report = {"name": "invoker0", "ready": True, "threads": 4, "in_flight": 0, "dead_letters": 3, "at_ms": 1}
    with platform.app.test_request_context("/admin/invokers"):
        template = platform.app.jinja_env.get_template("admin/_invokers_table.html")
        html = template.render(invokers=[InvokerStatus.from_report("h", report, 0)], now_ms=2)
        assert "dead letters</th>" in html
        assert ">3<" in _dead_letters_cell(html)
        quiet = template.render(invokers=[InvokerStatus.from_report("h", {"name": "i"}, 0)], now_ms=2)
        assert _dead_letters_cell(quiet) == "0"  # an invoker that reports none (an older one) shows 0
