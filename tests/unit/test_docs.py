"""The README and the manual in docs/: the README stays short, every relative link resolves inside the
repository (an anchor to a heading of its page), and no file points at notes that live outside it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_MAX_LINES = 150

_FENCED_BLOCK = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target), with an optional "title" after the target.
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_EXTERNAL = ("http://", "https://", "mailto:")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)

# Notes kept outside the repository, which a reader of it cannot open. Each is spelled in two parts so that
# this file does not match itself.
_FORBIDDEN = tuple(
    "".join(parts)
    for parts in (
        ("reference", " §"),
        ("DESIGN", " §"),
        ("DESIGN", ".md"),
        ("STYLE", ".md"),
        ("deps-", "measured"),
        ("../", "shared"),
    )
)


def _documents() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def _links(markdown: str) -> list[tuple[int, str]]:
    """(line number, target) of every Markdown link or image outside code blocks and code spans."""
    # Blank out code, keeping the newlines so that line numbers stay right.
    text = _FENCED_BLOCK.sub(lambda m: "\n" * m.group(0).count("\n"), markdown)
    found: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in _LINK.finditer(_CODE_SPAN.sub("", line)):
            found.append((number, match.group(1)))
    return found


def _broken_link(document: Path, target: str) -> str | None:
    """Why ``target``, linked from ``document``, does not resolve to a file of the repository (or, for an anchor
    into a Markdown file, to one of its headings); None if it does."""
    if target.startswith(_EXTERNAL):
        return None
    path, _, anchor = target.split("?", 1)[0].partition("#")
    resolved = (document.parent / path).resolve() if path else document
    if not resolved.is_relative_to(ROOT):
        return "points outside the repository"
    if not resolved.exists():
        return "no such file"
    if anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved.read_text(encoding="utf-8")):
        return "no such heading"
    return None


def _anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of ``markdown``: lower case, punctuation dropped, spaces as hyphens,
    a repeated heading numbered (``-1``, ``-2``)."""
    text = _FENCED_BLOCK.sub("", markdown)
    found: set[str] = set()
    for heading in _HEADING.findall(text):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def _tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [name for name in listed.stdout.decode().split("\0") if name]


def _text_of(path: Path) -> str | None:
    """The file's text, or None for a binary file or one missing from the working tree."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def test_the_readme_is_a_front_door() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines, at most {README_MAX_LINES}: move the detail into docs/"
    )


def test_every_relative_link_resolves() -> None:
    broken: list[str] = []
    for document in _documents():
        for number, target in _links(document.read_text(encoding="utf-8")):
            why = _broken_link(document, target)
            if why is not None:
                broken.append(f"{document.relative_to(ROOT)}:{number}: {target} ({why})")
    assert not broken, "links that do not resolve:\n" + "\n".join(broken)


def test_the_docs_cover_every_page_the_readme_lists() -> None:
    readme_targets = {target.split("#", 1)[0] for _, target in _links(README.read_text(encoding="utf-8"))}
    pages = {f"docs/{page.name}" for page in _documents()[1:]}
    missing = sorted(pages - readme_targets)
    assert not missing, f"docs pages the README does not link: {missing}"


def test_nothing_points_at_notes_outside_the_repository() -> None:
    hits: list[str] = []
    for name in _tracked_files():
        if name.startswith("bench/results/"):
            continue
        text = _text_of(ROOT / name)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            hits.extend(f"{name}:{number}: {word!r}" for word in _FORBIDDEN if word in line)
    assert not hits, "mentions of notes kept outside the repository (state the fact instead):\n" + "\n".join(hits)


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("see [the manual](docs/a.md#part) and ![a shot](docs/s.png)", [(1, "docs/a.md#part"), (1, "docs/s.png")]),
        ('[OpenWhisk](https://example.org "title")', [(1, "https://example.org")]),
        ("```\n[not a link](nowhere.md)\n```\n[a link](x.md)", [(4, "x.md")]),
        ("`[not a link](nowhere.md)` and [`code` text](y.md)", [(1, "y.md")]),
    ],
)
def test_links_are_found_outside_code(markdown: str, expected: list[tuple[int, str]]) -> None:
    assert _links(markdown) == expected


def test_anchors_are_github_s() -> None:
    markdown = "# Squall\n## 2026-12-07, late: the `send_task` path\n```\n# not a heading\n```\n## Squall\n"
    assert _anchors(markdown) == {"squall", "2026-12-07-late-the-send_task-path", "squall-1"}
