"""Which invoker process made a container (``workers.factories.owner``): a restarted invoker removes only the
leftovers of a process that is gone, never the containers of one still draining."""

from __future__ import annotations

import subprocess
import sys

from workers.factories.owner import Owner, left_by_the_dead, start_time


def test_a_label_names_this_process_and_reads_back() -> None:
    me = Owner.current()
    assert Owner.parse(me.label) == me and me.alive()
    assert len(me.token) == 6 and me.token != Owner(me.host, me.pid + 1, me.started).token


def test_only_containers_of_a_process_that_is_gone_are_leftovers() -> None:
    me = Owner.current()
    draining = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        other = Owner(me.host, draining.pid, start_time(draining.pid))
        assert not left_by_the_dead(other.label, me)  # still running: its containers are its own
        assert left_by_the_dead(me.label, me)  # an earlier factory of this very process, replaced
    finally:
        draining.kill()
        draining.wait()
    assert left_by_the_dead(other.label, me)  # gone: leftovers
    assert left_by_the_dead(Owner(me.host, me.pid, "1").label, me)  # the pid reused by another process
    assert left_by_the_dead(Owner("another-host", me.pid, me.started).label, me)
    assert left_by_the_dead(None, me) and left_by_the_dead("garbage", me)  # before labels existed
