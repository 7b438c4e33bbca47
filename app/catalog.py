"""The system catalog: public packages of ``whisk.system`` that every namespace can use or bind.

* ``/whisk.system/utils``: ``echo``, ``cat``, ``sort``, ``head``, ``split``, ``smash``, ``date``, ``namespace``
  (OpenWhisk's catalog utilities, written in Python here);
* ``/whisk.system/alarms``: the feed actions ``alarm``, ``interval`` and ``once`` (``app.core.alarms``).

The actions' code lives in ``runtimes/catalog/<package>/`` as plain files (they run inside action containers and
import nothing of ours). ``CatalogInstaller.install`` is idempotent: what is already as shipped is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.entities import annotation
from app.core.errors import Conflict, NotFound
from app.core.identities import Identity
from app.core.names import EntityPath
from app.core.requests import ActionPut, ExecPut, KeyValue, PackagePut
from app.core.services.actions import ActionService
from app.core.services.identities import IdentityService
from app.core.services.packages import PackageService

SYSTEM_NAMESPACE = "whisk.system"
KIND = "python:default"


@dataclass(frozen=True)
class CatalogAction:
    name: str
    source: str  # file under actions/<package>/
    description: str
    feed: bool = False


@dataclass(frozen=True)
class CatalogPackage:
    name: str
    description: str
    actions: tuple[CatalogAction, ...]


CATALOG = (
    CatalogPackage("utils", "Building blocks that format and assemble data", (
        CatalogAction("echo", "echo.py", "Returns the input"),
        CatalogAction("cat", "cat.py", "Concatenates input into a string"),
        CatalogAction("sort", "sort.py", "Sorts an array"),
        CatalogAction("head", "head.py", "Extract prefix of an array"),
        CatalogAction("split", "split.py", "Split a string into an array"),
        CatalogAction("smash", "smash.py", "Nests all properties under given property"),
        CatalogAction("date", "date.py", "Current date and time"),
        CatalogAction("namespace", "namespace.py", "Returns namespace for the authorization key used to invoke "
                      "this action"),
    )),
    CatalogPackage("alarms", "Alarms and periodic utility", (
        CatalogAction("alarm", "feed.py", "Fire trigger when alarm occurs (cron, timezone, startDate, stopDate, "
                      "trigger_payload)", feed=True),
        CatalogAction("interval", "feed.py", "Fire trigger at specified interval (minutes, startDate, stopDate, "
                      "trigger_payload)", feed=True),
        CatalogAction("once", "feed.py", "Fire trigger once when alarm occurs (date, deleteAfterFire, "
                      "trigger_payload)", feed=True),
    )),
)


def catalog_owner(identities: IdentityService) -> tuple[Identity, bool]:
    """The identity owning ``whisk.system``, and whether it was created just now: on a store where no subject owns
    it, a subject ``whisk.system`` with a random key that nobody is shown (installing writes straight into the
    store and needs none). Not OpenWhisk's well-known key, which ``squall admin seed`` gives it: whoever knows that
    key could replace the feed actions, which receive every feed creator's key."""
    try:
        return identities.identity_of(SYSTEM_NAMESPACE), False
    except NotFound:
        pass
    try:
        identities.create(SYSTEM_NAMESPACE)
        created = True
    except Conflict:  # another install created it meanwhile
        created = False
    return identities.identity_of(SYSTEM_NAMESPACE), created


class CatalogInstaller:
    def __init__(self, packages: PackageService, actions: ActionService, identity: Identity, code_dir: Path) -> None:
        """``code_dir`` holds the actions' code, one folder per package (``runtimes/catalog``)."""
        if identity.namespace != SYSTEM_NAMESPACE:
            raise ValueError(f"the catalog is installed as {SYSTEM_NAMESPACE}, not {identity.namespace}")
        self._packages = packages
        self._actions = actions
        self._identity = identity
        self._code_dir = code_dir

    def install(self) -> list[str]:
        """Create or refresh every catalog package and action; returns the names written (empty when all
        were current already)."""
        written: list[str] = []
        for package in CATALOG:
            if self._package_changed(package):
                body = PackagePut(publish=True, annotations=[KeyValue(key="description", value=package.description)])
                self._packages.put(self._identity, SYSTEM_NAMESPACE, package.name, body, overwrite=True)
                written.append(f"/{SYSTEM_NAMESPACE}/{package.name}")
            for action in package.actions:
                path = EntityPath(SYSTEM_NAMESPACE, action.name, package.name)
                code = (self._code_dir / package.name / action.source).read_text()
                notes = [KeyValue(key="description", value=action.description)]
                if action.feed:
                    notes.append(KeyValue(key="feed", value=True))
                if self._action_current(path, code, notes):
                    continue
                put = ActionPut(exec=ExecPut(kind=KIND, code=code), annotations=notes, parameters=[])
                self._actions.put(self._identity, path, put, overwrite=True)
                written.append(path.fqn)
        return written

    def _package_changed(self, package: CatalogPackage) -> bool:
        try:
            found = self._packages.get(self._identity, SYSTEM_NAMESPACE, package.name)
        except NotFound:
            return True
        return not found["publish"] or annotation(found["annotations"], "description") != package.description

    def _action_current(self, path: EntityPath, code: str, notes: list[KeyValue]) -> bool:
        try:
            found = self._actions.get(self._identity, path)
        except NotFound:
            return False
        return found.exec.code == code and all(annotation(found.annotations, n.key) == n.value for n in notes)
