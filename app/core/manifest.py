"""The runtime manifest: which kinds Squall runs and in which images (OpenWhisk ``ExecManifest``).

The file has the shape of OpenWhisk's ``ansible/files/runtimes.json``:
``{"runtimes": {family: [{kind, image: {prefix, name, tag}, default, deprecated, attached,
requireMain, stemCells, concurrent, tools}]}, "blackboxes": [{prefix, name, tag}]}``. ``concurrent`` is ours:
OpenWhisk knows only Node.js takes concurrent activations; here the manifest says which kinds do. ``tools``,
also ours: the commands a host needs to run the kind in the ``process`` factory (``ruby``, ``go``, ...).
``GET /`` serves the ``runtimes`` part (``to_api``); the controller validates kinds with ``resolve``;
the invoker maps a kind to its image with ``image``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import Invalid

BLACKBOX = "blackbox"
SEQUENCE = "sequence"
_DEFAULT = re.compile(r"\A([a-z0-9]+):default\Z")
_MEMORY = re.compile(r"\A\s*(\d+)\s*(MB|M|m|mb)?\s*\Z")


class ManifestError(ValueError):
    """The manifest file is malformed; raised at load time so a bad file fails at boot."""


@dataclass(frozen=True)
class ImageName:
    name: str
    prefix: str | None = None
    tag: str | None = None
    registry: str | None = None

    @property
    def ref(self) -> str:
        """``[registry/][prefix/]name[:tag]``, as ``docker run`` takes it."""
        parts = [p for p in (self.registry, self.prefix) if p]
        parts.append(self.name)
        return "/".join(parts) + (f":{self.tag}" if self.tag else "")

    @classmethod
    def from_dict(cls, data: Any) -> ImageName:
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
            raise ManifestError(f"an image needs a name: {data!r}")
        return cls(name=data["name"], prefix=data.get("prefix") or None, tag=data.get("tag") or None,
                   registry=data.get("registry") or None)


@dataclass(frozen=True)
class StemCell:
    """Prewarmed containers to keep for a kind: ``initialCount`` of ``memory_mb`` each."""

    initial_count: int
    memory_mb: int

    def to_api(self) -> dict[str, Any]:
        return {"initialCount": self.initial_count, "memory": f"{self.memory_mb} MB"}

    @classmethod
    def from_dict(cls, data: Any) -> StemCell:
        if not isinstance(data, dict):
            raise ManifestError(f"a stem cell must be an object: {data!r}")
        count = data.get("initialCount", data.get("count"))
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ManifestError(f"a stem cell needs a positive initialCount: {data!r}")
        return cls(count, _memory_mb(data.get("memory")))


def _memory_mb(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _MEMORY.match(value) if isinstance(value, str) else None
    if not match:
        raise ManifestError(f"a stem cell memory must look like '256 MB': {value!r}")
    return int(match.group(1))


@dataclass(frozen=True)
class RuntimeKind:
    kind: str
    family: str
    image: ImageName
    default: bool = False
    deprecated: bool = False
    attached: bool = False  # code kept as an attachment, not inline (OpenWhisk ``attached``)
    require_main: bool = False
    concurrent: bool = False  # the proxy takes several /run at once (limits.concurrency may exceed 1)
    stem_cells: tuple[StemCell, ...] = ()
    tools: tuple[str, ...] = ()  # commands the process factory needs on the host to run this kind (ours)

    def to_api(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "kind": self.kind,
            "image": self.image.ref,
            "deprecated": self.deprecated,
            "default": self.default,
            "attached": self.attached,
            "requireMain": self.require_main,
        }
        if self.stem_cells:
            doc["stemCells"] = [cell.to_api() for cell in self.stem_cells]
        return doc

    @classmethod
    def from_dict(cls, family: str, data: Any) -> RuntimeKind:
        if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
            raise ManifestError(f"a runtime of family {family!r} needs a kind: {data!r}")
        return cls(
            kind=data["kind"],
            family=family,
            image=ImageName.from_dict(data.get("image")),
            default=bool(data.get("default", False)),
            deprecated=bool(data.get("deprecated", False)),
            attached=bool(data.get("attached")),
            require_main=bool(data.get("requireMain", False)),
            concurrent=bool(data.get("concurrent", False)),
            stem_cells=tuple(StemCell.from_dict(c) for c in data.get("stemCells") or ()),
            tools=tuple(str(t) for t in data.get("tools") or ()),
        )


class RuntimeManifest:
    """Kinds by family, each family's default, and the blackbox images known to the platform."""

    def __init__(self, kinds: list[RuntimeKind], blackboxes: tuple[ImageName, ...] = ()) -> None:
        self._kinds: dict[str, RuntimeKind] = {}
        for kind in kinds:
            if kind.kind in self._kinds or kind.kind in (BLACKBOX, SEQUENCE):
                raise ManifestError(f"kind {kind.kind!r} is defined twice or reserved")
            self._kinds[kind.kind] = kind
        self._defaults = {family: _default_of(family, [k for k in kinds if k.family == family])
                          for family in dict.fromkeys(k.family for k in kinds)}
        self.blackboxes = blackboxes

    @classmethod
    def from_dict(cls, data: Any) -> RuntimeManifest:
        if not isinstance(data, dict) or not isinstance(data.get("runtimes", {}), dict):
            raise ManifestError("the manifest must be an object with a 'runtimes' object")
        kinds = [RuntimeKind.from_dict(family, entry)
                 for family, entries in data.get("runtimes", {}).items()
                 for entry in _as_list(entries, family)]
        blackboxes = tuple(ImageName.from_dict(b) for b in data.get("blackboxes") or ())
        return cls(kinds, blackboxes)

    @classmethod
    def load(cls, path: str | Path) -> RuntimeManifest:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ManifestError(f"cannot read the runtime manifest {path}: {e}") from e
        return cls.from_dict(data)

    # --- questions the controller asks ----------------------------------------------------------

    def resolve(self, kind: str, allow_deprecated: bool = False) -> str:
        """The concrete kind: ``python:default`` → the python family's default; ``blackbox`` and
        ``sequence`` as they are. Raises ``Invalid`` for an unknown kind, and for a deprecated one
        unless ``allow_deprecated`` (reading and deleting old actions is still allowed)."""
        if kind in (BLACKBOX, SEQUENCE):
            return kind
        match = _DEFAULT.match(kind)
        if match and match.group(1) in self._defaults:
            kind = self._defaults[match.group(1)]
        runtime = self._kinds.get(kind)
        if runtime is None:
            raise Invalid(f"The specified runtime '{kind}' is not supported by this platform. "
                          f"Valid values are: {', '.join(self.valid_kinds())}.")
        if runtime.deprecated and not allow_deprecated:
            raise Invalid(f"The '{kind}' runtime is no longer supported. "
                          "You may read and delete but not update or invoke this action.")
        return kind

    def valid_kinds(self) -> list[str]:
        """Kinds a new action may use, as listed in the unknown-kind message."""
        return [*sorted(k.kind for k in self._kinds.values() if not k.deprecated), BLACKBOX]

    def is_deprecated(self, kind: str) -> bool:
        runtime = self._kinds.get(kind)
        return runtime is not None and runtime.deprecated

    def is_known(self, kind: str) -> bool:
        return kind in self._kinds

    def families(self) -> dict[str, list[str]]:
        """Family → its kinds, in manifest order."""
        out: dict[str, list[str]] = {}
        for runtime in self._kinds.values():
            out.setdefault(runtime.family, []).append(runtime.kind)
        return out

    def default_kind(self, family: str) -> str:
        try:
            return self._defaults[family]
        except KeyError:
            raise Invalid(f"The runtime family '{family}' is not supported by this platform.") from None

    def runtime(self, kind: str) -> RuntimeKind:
        """The manifest entry of a concrete kind. Raises ``Invalid`` like ``resolve``."""
        resolved = self.resolve(kind, allow_deprecated=True)
        if resolved not in self._kinds:  # blackbox and sequence: no image of ours runs them
            raise Invalid(f"The '{resolved}' kind has no runtime image in the manifest.")
        return self._kinds[resolved]

    # --- questions the invoker asks -------------------------------------------------------------

    def image(self, kind: str) -> str:
        """The image reference that runs ``kind`` (deprecated kinds still map: their actions exist)."""
        return self.runtime(kind).image.ref

    def supports_concurrency(self, kind: str) -> bool:
        """True if containers of ``kind`` may run several activations at once. Blackbox images and
        unknown kinds: no (nothing says their proxy can)."""
        if kind in (BLACKBOX, SEQUENCE):
            return False
        try:
            return self.runtime(kind).concurrent
        except Invalid:
            return False

    def stem_cells(self) -> dict[str, tuple[StemCell, ...]]:
        return {k.kind: k.stem_cells for k in self._kinds.values() if k.stem_cells}

    def to_api(self) -> dict[str, Any]:
        """``{"runtimes": {family: [kind, ...]}}`` as OpenWhisk's ``GET /`` shows it."""
        runtimes: dict[str, list[dict[str, Any]]] = {}
        for runtime in self._kinds.values():
            runtimes.setdefault(runtime.family, []).append(runtime.to_api())
        return {"runtimes": runtimes}


def _as_list(entries: Any, family: str) -> list[Any]:
    if not isinstance(entries, list) or not entries:
        raise ManifestError(f"runtime family {family!r} must list at least one kind")
    return entries


def _default_of(family: str, kinds: list[RuntimeKind]) -> str:
    defaults = [k.kind for k in kinds if k.default]
    if len(defaults) > 1:
        raise ManifestError(f"runtime family {family!r} has more than one default: {', '.join(defaults)}")
    if defaults:
        return defaults[0]
    if len(kinds) == 1:  # OpenWhisk: a lone kind is its family's default
        return kinds[0].kind
    raise ManifestError(f"runtime family {family!r} has several kinds but no default")
