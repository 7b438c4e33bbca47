"""Where an activation goes when several invokers share the work: pure decisions, tested without a broker.

* **Home by rendezvous hashing.** Each invoker gets a score per action (a hash of the action's key and the
  invoker's name); the action's home is the healthy invoker with the highest score. An invoker joining or
  leaving moves only the actions whose top score it holds (about 1/N of them), so warm containers elsewhere
  stay useful. OpenWhisk's sharding balancer gets a similar stability from a home index and a co-prime step.
* **Overflow in score order.** When the home has no room for the action's memory (or no free thread), the next
  invoker in the action's own score order is asked, and so on: an action's overflow lands on the same second
  and third invokers each time, where its containers are already warm.
* **Room is reserved, not guessed.** Controllers reserve memory and a thread on an invoker in shared state
  before publishing (``app.state.registry``), and the invoker gives them back when the activation ended, so
  two controllers never overfill one invoker between them (OpenWhisk instead gives each controller a fixed
  share of every invoker).
* **Everyone full.** The home takes it anyway: its run buffer holds it until memory frees up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Placement", "place", "rendezvous"]


def _score(key: str, name: str) -> int:
    digest = hashlib.blake2b(f"{key}\x00{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rendezvous(key: str, names: Iterable[str]) -> list[str]:
    """``names`` in ``key``'s preference order: highest rendezvous score first (ties by name)."""
    return sorted(names, key=lambda name: (-_score(key, name), name))


@dataclass(frozen=True)
class Placement:
    invoker: str
    reserved: bool  # room was reserved on ``invoker`` (it gives it back when the activation ends)


def place(key: str, healthy: Iterable[str], reserve: Callable[[str], bool]) -> Placement | None:
    """The invoker for an activation of the action ``key`` among the ``healthy`` ones, or None when none is.

    ``reserve(name)`` tries to take room on an invoker (memory and a thread) and says whether it could; it is
    asked in ``key``'s preference order until one says yes. When none has room, the home takes it unreserved.
    """
    order = rendezvous(key, healthy)
    if not order:
        return None
    for name in order:
        if reserve(name):
            return Placement(name, reserved=True)
    return Placement(order[0], reserved=False)
