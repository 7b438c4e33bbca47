"""Entity names and paths, validated the way OpenWhisk validates them (``EntityPath.scala``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.errors import Invalid

# First character a word character; then words, '@', ' ', '.', '&', '-'; no trailing space.
_NAME = re.compile(r"\A([\w]|[\w][\w@ .&-]*[\w@.&-])\Z")
MAX_NAME_LENGTH = 256
DEFAULT_NAMESPACE = "_"


def check_name(name: str) -> str:
    """Return ``name`` if it is a legal entity name, else raise ``Invalid`` with OpenWhisk's message."""
    if len(name) > MAX_NAME_LENGTH:
        # "segement" is OpenWhisk's spelling; clients match on it.
        raise Invalid(f"Name segement longer than allowed: {len(name)} > {MAX_NAME_LENGTH}.")
    if not _NAME.match(name):
        raise Invalid("The name of the entity contains illegal characters.")
    return name


@dataclass(frozen=True)
class EntityPath:
    """Where an entity lives and what it is called: ``namespace[/package]/name``."""

    namespace: str
    name: str
    package: str | None = None

    @property
    def path(self) -> str:
        """The containing path: ``ns`` or ``ns/pkg`` (OpenWhisk's ``namespace`` field of an entity)."""
        return f"{self.namespace}/{self.package}" if self.package else self.namespace

    @property
    def doc_id(self) -> str:
        """The document id in the entities database: ``ns[/pkg]/name``, no leading slash."""
        return f"{self.path}/{self.name}"

    @property
    def fqn(self) -> str:
        """The fully qualified name clients print: ``/ns[/pkg]/name``."""
        return f"/{self.doc_id}"

    @property
    def relative(self) -> str:
        """``[pkg/]name``: the name within its namespace."""
        return f"{self.package}/{self.name}" if self.package else self.name

    @classmethod
    def from_url(cls, namespace: str, name: str) -> EntityPath:
        """Build from a URL's namespace segment and ``[pkg/]name``; raises ``Invalid`` on bad names."""
        parts = name.split("/")
        if len(parts) == 1:
            return cls(check_name(namespace), check_name(parts[0]))
        if len(parts) == 2:
            return cls(check_name(namespace), check_name(parts[1]), check_name(parts[0]))
        raise Invalid("The name of the entity contains illegal characters.")

    @classmethod
    def parse_fqn(cls, fqn: str, default_namespace: str) -> EntityPath:
        """Parse ``/ns/[pkg/]name``, ``pkg/name`` or ``name``; ``_`` stands for ``default_namespace``."""
        text = fqn.strip()
        if text.startswith("/"):
            parts = text[1:].split("/")
            if len(parts) < 2:
                raise Invalid(f"'{fqn}' is not a fully qualified name.")
            namespace, rest = parts[0], parts[1:]
        else:
            namespace, rest = DEFAULT_NAMESPACE, text.split("/")
        if namespace == DEFAULT_NAMESPACE:
            namespace = default_namespace
        return cls.from_url(namespace, "/".join(rest))
