"""``CodeCache``: attached action code an invoker has read, bounded by bytes, least recently used out first.

Keyed by (document id, attachment name): each upload of code gets a new name (``app.core.attachments``), so a key
always means the same bytes and an entry never goes stale: an update that changes the code refers to another name,
one that keeps it (a new limit, new parameters) refers to the same one and still finds it here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

Key = tuple[str, str]


class CodeCache:
    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._entries: OrderedDict[Key, str] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, key: Key) -> str | None:
        with self._lock:
            code = self._entries.get(key)
            if code is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return code

    def put(self, key: Key, code: str) -> None:
        """Keep ``code`` (base64 or text: one byte a character) unless it alone is over the bound."""
        if len(code) > self._max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._entries[key] = code
            self._bytes += len(code)
            while self._bytes > self._max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted)
