"""How an action's code is shown, by kind family: highlighted server-side by Pygments on the action's page, and the
CodeMirror mode the editor page highlights it with as it is typed."""

from __future__ import annotations

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name

from app.core.entities import SEQUENCE, Action
from app.core.manifest import BLACKBOX

_LEXERS = {"python": "python", "nodejs": "javascript", "java": "java", "go": "go", "php": "php", "ruby": "ruby",
           "swift": "swift", "dotnet": "csharp", "rust": "rust"}

EDITOR_MODES = {"python": "python", "nodejs": "javascript", "go": "go", "ruby": "ruby",
                "php": "application/x-httpd-php", "java": "text/x-java", "rust": "rust", "dotnet": "text/x-csharp",
                "swift": "swift"}
"""Kind family → CodeMirror mode (the scripts under ``static/admin/vendor/codemirror-*/mode/`` the editor page
loads); a family not listed is edited as plain text."""


def highlighted(action: Action) -> Markup | None:
    """The action's code as highlighted HTML (Pygments, server-side); None for zips and images."""
    code = action.exec.code
    if code is None or action.exec.binary:
        return None
    lexer = get_lexer_by_name(_LEXERS.get(action.exec.kind.split(":")[0], "text"))
    return Markup(highlight(code, lexer, HtmlFormatter(cssclass="highlight", linenos="table")))  # noqa: S704


def editable(action: Action) -> bool:
    """Text code of a runtime kind, which the editor can show and save back; not a zip, an image or a sequence."""
    return action.exec.kind not in (BLACKBOX, SEQUENCE) and not action.exec.binary and action.exec.code is not None


CODEMIRROR = "admin/vendor/codemirror-5.65.21"
EDITOR_STYLES = (f"{CODEMIRROR}.css",)
EDITOR_SCRIPTS = (
    f"{CODEMIRROR}.js", f"{CODEMIRROR}-addon-simple.js", f"{CODEMIRROR}-addon-matchbrackets.js",
    # xml, javascript and css before htmlmixed, and it and clike before php: each mode finds those it nests by name
    *(f"{CODEMIRROR}-mode-{mode}.js" for mode in ("xml", "javascript", "css", "htmlmixed", "clike", "php", "python",
                                                   "go", "ruby", "rust", "swift")),
    "admin/editor.js",
)
"""The editor page's static files, in load order: CodeMirror 5 as npm ships it (renamed flat, not changed), then our
script that puts it over the code textarea."""
