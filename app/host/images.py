"""Build the runtime images on the host: a Debian base from the local mirror, then each runtime's Dockerfile.

Why a local base: no image registry is reachable on the machines Squall is built on, so the base is a
debootstrap'd Debian minbase turned into an image with ``docker import``. The runtime Dockerfiles
take the base as the ``BASE`` build argument; its default is the public image a user would pull.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

BASE_IMAGE = "squall/debian-base:bookworm"
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "nodejs", "unzip")  # unzip: Node.js zip actions
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PUBLIC_BASES = "public"  # as a base: let each Dockerfile use its own ARG BASE default

Progress = Callable[[str], None]


class ImageBuildError(Exception):
    """An image could not be built; the message says what to do about it."""


@dataclass(frozen=True)
class RuntimeImage:
    """One image to build: its kind, tag, Dockerfile path relative to the runtimes folder, extra tags."""

    kind: str
    tag: str
    dockerfile: str
    also: tuple[str, ...] = ()  # more full references to give the built image


def _ignore(_line: str) -> None:
    return None


# --- mirror -----------------------------------------------------------------------------------------


def detect_mirror(
    sources_dir: Path = Path("/etc/apt/sources.list.d"),
    sources_list: Path = Path("/etc/apt/sources.list"),
) -> str:
    """The machine's configured Debian mirror: the first ``URIs:`` of a deb822 file, else a ``deb`` line."""
    for path in sorted(sources_dir.glob("*.sources")) if sources_dir.is_dir() else []:
        for line in _read_lines(path):
            match = re.match(r"^URIs:\s*(\S+)", line)
            if match:
                return match.group(1)
    for line in _read_lines(sources_list):
        # "deb [options] URI suite components"; options are bracketed and may hold spaces.
        match = re.match(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", line)
        if match:
            return match.group(1)
    return DEFAULT_MIRROR


def _read_lines(path: Path) -> list[str]:
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return []


# --- base image ---------------------------------------------------------------------------------------


def image_exists(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"cannot ask Docker about image {name}: {exc}; is dockerd running?") from exc
    return True


def ensure_base_image(
    client: docker.DockerClient,
    *,
    name: str = BASE_IMAGE,
    mirror: str | None = None,
    progress: Progress = _ignore,
) -> str:
    """Make ``name`` with debootstrap + docker import unless it already exists (idempotent, quick)."""
    if image_exists(client, name):
        progress(f"base image {name} already exists")
        return name
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise ImageBuildError(
            "debootstrap is needed to make the base image: apt-get install -y debootstrap "
            "(or pass a public base, e.g. --base python:3.11-slim-bookworm)"
        )
    if os.geteuid() != 0:
        raise ImageBuildError(
            "debootstrap must run as root to make the base image: run `squall runtimes build` as root "
            "(or pass a public base, e.g. --base python:3.11-slim-bookworm)"
        )
    mirror = mirror or detect_mirror()
    rootfs = Path(tempfile.mkdtemp(prefix="squall-rootfs-"))
    try:
        progress(f"debootstrap {BASE_SUITE} from {mirror} into {rootfs}")
        _debootstrap(debootstrap, rootfs, mirror, progress)
        _trim_rootfs(rootfs)
        progress(f"importing {rootfs} as {name}")
        _import_rootfs(client, rootfs, name)
    finally:
        _remove_rootfs(rootfs)
    progress(f"base image {name} ready")
    return name


def _debootstrap(debootstrap: str, rootfs: Path, mirror: str, progress: Progress) -> None:
    cmd = [
        debootstrap,
        "--variant=minbase",
        "--include=" + ",".join(BASE_PACKAGES),
        BASE_SUITE,
        str(rootfs),
        mirror,
    ]
    tail = _stream(cmd, progress)
    if tail is not None:
        raise ImageBuildError(
            f"debootstrap failed (mirror {mirror}); check that the mirror is reachable or pass another "
            f"with --mirror. Last output:\n{tail}"
        )


def _stream(cmd: list[str], progress: Progress) -> str | None:
    """Run ``cmd``, feed each output line to ``progress``; None on success, else the last lines."""
    last: deque[str] = deque(maxlen=20)
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip()
            last.append(line)
            progress(line)
        code = proc.wait()
    return None if code == 0 else "\n".join(last)


def _trim_rootfs(rootfs: Path) -> None:
    # Downloaded .debs and apt lists are dead weight in every runtime image.
    for folder in (rootfs / "var/cache/apt/archives", rootfs / "var/lib/apt/lists"):
        for path in folder.glob("*"):
            if path.is_file() and path.name not in ("lock",):
                path.unlink()


def _import_rootfs(client: docker.DockerClient, rootfs: Path, name: str) -> None:
    repository, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
    with subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as tar:
        assert tar.stdout is not None and tar.stderr is not None
        try:
            client.api.import_image(
                src=_chunks(tar.stdout),
                repository=repository,
                tag=tag,
                changes=["ENV LANG=C.UTF-8", 'CMD ["/bin/bash"]'],
                stream_src=True,
            )
        except docker.errors.APIError as exc:
            tar.kill()
            raise ImageBuildError(f"docker import of the base image failed: {exc}") from exc
        error = tar.stderr.read().decode(errors="replace")
        if tar.wait() != 0:
            raise ImageBuildError(f"tar of the base rootfs failed: {error}")


def _chunks(stream: Any, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk


def _remove_rootfs(rootfs: Path) -> None:
    # A failed debootstrap can leave /proc or /sys mounted inside the target: unmount before deleting,
    # so rmtree never walks into the host's /proc.
    for mountpoint in sorted(_mounts_under(rootfs), key=len, reverse=True):
        subprocess.run(["umount", "-l", mountpoint], check=False, capture_output=True)
    if _mounts_under(rootfs):
        raise ImageBuildError(f"{rootfs} still has mounts; unmount them and delete it by hand")
    shutil.rmtree(rootfs, ignore_errors=True)


def _mounts_under(rootfs: Path) -> list[str]:
    prefix = str(rootfs) + "/"
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    points = [line.split()[1] for line in lines if len(line.split()) > 1]
    return [p for p in points if p.startswith(prefix)]


# --- runtime images -----------------------------------------------------------------------------------


def runtime_images(runtimes_dir: Path, kinds: Iterable[str] | None = None) -> list[RuntimeImage]:
    """Images the manifest says we build: runtimes of ours (prefix ``squall``), and blackbox images
    that name a ``folder`` (local stand-ins for public images, tagged with the public name and each
    ``alsoTag``). Entries whose Dockerfile is missing are skipped.

    A runtime's folder is the kind without its colon ("python:3" -> "python3") unless the entry names
    one with ``"folder"``. ``kinds`` keeps only the images whose kind or tag it lists (a blackbox's kind
    is ``blackbox``).
    """
    manifest_path = runtimes_dir / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImageBuildError(f"cannot read {manifest_path}: {exc}") from exc
    candidates: list[tuple[str, dict[str, Any], str | None, list[str]]] = []
    for entries in manifest.get("runtimes", {}).values():
        for entry in entries:
            image = entry.get("image", {})
            if image.get("prefix") == "squall":
                folder = entry.get("folder") or entry["kind"].replace(":", "")
                candidates.append((entry["kind"], image, folder, []))
    for image in manifest.get("blackboxes", []):
        if image.get("folder"):
            candidates.append(("blackbox", image, image["folder"], list(image.get("alsoTag", []))))
    wanted = set(kinds) if kinds is not None else None
    found: dict[str, RuntimeImage] = {}
    for kind, image, folder, also in candidates:
        repository = "/".join(p for p in (image.get("prefix"), image["name"]) if p)
        tag = f"{repository}:{image.get('tag') or 'latest'}"
        if wanted is not None and kind not in wanted and tag not in wanted:
            continue
        if not (runtimes_dir / str(folder) / "Dockerfile").is_file():
            continue
        found.setdefault(tag, RuntimeImage(kind=kind, tag=tag, dockerfile=f"{folder}/Dockerfile",
                                           also=tuple(f"{repository}:{t}" for t in also)))
    return list(found.values())


def missing_images(images: Iterable[RuntimeImage], exists: Callable[[str], bool]) -> list[RuntimeImage]:
    """The images of which Docker lacks the tag or one of the extra tags (``exists`` asks it)."""
    return [image for image in images if not all(exists(name) for name in (image.tag, *image.also))]


def build_image(
    client: docker.DockerClient, runtimes_dir: Path, image: RuntimeImage, base: str, progress: Progress
) -> None:
    try:
        stream = client.api.build(
            path=str(runtimes_dir),
            dockerfile=image.dockerfile,
            buildargs={} if base == PUBLIC_BASES else {"BASE": base},
            tag=image.tag,
            decode=True,
            rm=True,
            forcerm=True,
        )
        for chunk in stream:
            if "error" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                raise ImageBuildError(f"building {image.tag} from {image.dockerfile} failed: {detail}")
            text = chunk.get("stream") or chunk.get("status")
            if text:
                for line in str(text).splitlines():
                    if line.strip():
                        progress(line.rstrip())
        for reference in image.also:
            repository, _, tag = reference.rpartition(":")
            client.api.tag(image.tag, repository, tag=tag)
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"building {image.tag} failed: {exc}") from exc


def build_runtime_images(
    docker_client: docker.DockerClient,
    runtimes_dir: Path | str,
    *,
    base_image: str | None = None,
    mirror: str | None = None,
    progress: Progress | None = None,
    kinds: Iterable[str] | None = None,
    missing_only: bool = False,
) -> list[str]:
    """Make the base (unless a public ``base_image`` is given), then build every image the manifest names.

    ``base_image`` ``"public"`` builds each Dockerfile on its own default (public) base instead.
    Returns the tags built. ``kinds`` limits the build to those kinds (e.g. ``["python:3"]``).
    ``missing_only`` builds only the images Docker does not have yet (a deployment's first start).
    """
    report = progress or _ignore
    runtimes_dir = Path(runtimes_dir)
    images = runtime_images(runtimes_dir, kinds)
    if not images:
        raise ImageBuildError(
            f"no runtime to build: no manifest entry of ours has a Dockerfile in {runtimes_dir}"
        )
    if missing_only:
        images = missing_images(images, lambda name: image_exists(docker_client, name))
        if not images:
            report("every runtime image is present")
            return []
    base = base_image or BASE_IMAGE
    if base == BASE_IMAGE:
        ensure_base_image(docker_client, name=base, mirror=mirror, progress=report)
    for number, image in enumerate(images, 1):
        on = "its Dockerfile's default base" if base == PUBLIC_BASES else base
        report(f"[{number}/{len(images)}] building {image.tag} ({image.kind}) on {on}")
        build_image(docker_client, runtimes_dir, image, base, report)
        for reference in image.also:
            report(f"[{number}/{len(images)}] tagged {image.tag} as {reference}")
    report(f"built {len(images)} image(s): {', '.join(image.tag for image in images)}")
    return [image.tag for image in images]
