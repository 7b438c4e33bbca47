"""Skip/limit paging from query arguments, with links that keep the other arguments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PAGE_SIZE = 25
MAX_PAGE_SIZE = 200


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = default
    return max(low, min(value, high))


@dataclass(frozen=True)
class Paging:
    skip: int
    limit: int
    more: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Paging:
        return cls(_int(args.get("skip"), 0, 0, 1_000_000), _int(args.get("limit"), PAGE_SIZE, 1, MAX_PAGE_SIZE))

    def page(self, more: bool) -> Paging:
        return Paging(self.skip, self.limit, more)

    @property
    def previous_skip(self) -> int | None:
        return max(self.skip - self.limit, 0) if self.skip > 0 else None

    @property
    def next_skip(self) -> int | None:
        return self.skip + self.limit if self.more else None
