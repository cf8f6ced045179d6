"""Make a Great Expectations Data Docs page readable offline (no CDN, no remote image).

GX pages load Bootstrap, jQuery, Font Awesome, bootstrap-table and vega from CDNs and their
logo from S3, so offline they show unstyled. `offline_page` rewrites one page into a single
self-contained file: the CSS and JS that a pinned PyPI package provides (XStatic Bootstrap 4,
jQuery; GX's own default styles) are inlined, every other remote script or stylesheet is
dropped, remote images become their alt text, and a note at the end of the page says what is
not shown offline. Links in ``<a>`` tags (to GX's docs) are kept: they load nothing.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Final

import great_expectations


def _xstatic_dir(name: str) -> Path:
    """The data folder of an XStatic package (pinned in pyproject.toml; it has no types)."""
    return Path(str(importlib.import_module(f"xstatic.pkg.{name}").BASE_DIR))


_BOOTSTRAP: Final = _xstatic_dir("bootstrap")
_JQUERY: Final = _xstatic_dir("jquery")
_GX_STYLES: Final = (
    Path(great_expectations.__file__).parent
    / "render/view/static/styles/data_docs_default_styles.css"
)

#: The mark left in a rewritten page, so a second pass changes nothing.
OFFLINE_MARK: Final = "<!-- data docs: offline copy -->"

#: Remote assets with a local copy, by a pattern of their URL: (kind, file).
_LOCAL: Final[tuple[tuple[re.Pattern[str], str, Path], ...]] = (
    (re.compile(r"bootstrap(?:\.min)?\.css$"), "style", _BOOTSTRAP / "css/bootstrap.min.css"),
    # The bundle carries Popper, so the separate popper.js reference is not needed.
    (re.compile(r"bootstrap(?:\.min)?\.js$"), "script", _BOOTSTRAP / "js/bootstrap.bundle.min.js"),
    (re.compile(r"jquery-3[\d.]*(?:\.min)?\.js$"), "script", _JQUERY / "jquery.min.js"),
)

_TAG: Final = re.compile(
    r"<(?P<tag>script|link|img)\b(?P<attrs>[^>]*?)/?>(?:\s*</script>)?", re.IGNORECASE
)
_URL_ATTR: Final = re.compile(r"""\b(?:src|href)\s*=\s*["'](https?://[^"']+)["']""", re.I)
_ALT: Final = re.compile(r"""\balt\s*=\s*["']([^"']*)["']""", re.IGNORECASE)

#: What the offline copy does not show, stated at the end of the page.
OFFLINE_NOTE: Final = (
    "Offline copy: styles and scripts are inlined from local packages. Not shown offline: "
    "charts (vega), the sortable and filterable tables (bootstrap-table), the date picker, "
    "icons (Font Awesome) and the Great Expectations logo; the tables and text are complete."
)


def _local_asset(url: str) -> tuple[str, Path] | None:
    path = url.split("?", 1)[0].split("#", 1)[0]
    for pattern, kind, file in _LOCAL:
        if pattern.search(path):
            return kind, file
    return None


def _inline(kind: str, text: str) -> str:
    if kind == "style":
        return f"<style>\n{text}\n</style>"
    # A "</script" inside the code would end the element early.
    return "<script>\n" + text.replace("</script", "<\\/script") + "\n</script>"


def offline_page(page: str) -> str:
    """The page with no remote script, stylesheet or image left (see the module docstring).

    Idempotent: a page already rewritten is returned unchanged.
    """
    if OFFLINE_MARK in page:
        return page
    inlined: set[Path] = set()

    def replace(match: re.Match[str]) -> str:
        tag = match.group("tag").lower()
        if tag == "link" and "stylesheet" not in match.group("attrs").lower():
            return ""  # an icon (a path beside the GX site, not this copy) or a CDN hint
        remote = _URL_ATTR.search(match.group("attrs"))
        if remote is None:
            return match.group(0)
        if tag == "img":
            alt = _ALT.search(match.group("attrs"))
            return f"<span>{alt.group(1) if alt else ''}</span>"
        local = _local_asset(remote.group(1))
        if local is None or local[1] in inlined:
            return f"<!-- not available offline: {remote.group(1)} -->"
        inlined.add(local[1])
        return _inline(local[0], local[1].read_text(encoding="utf-8"))

    rewritten = _TAG.sub(replace, page)
    styles = _inline("style", _GX_STYLES.read_text(encoding="utf-8"))
    note = f'<footer class="container"><p><small>{OFFLINE_NOTE}</small></p></footer>'
    rewritten = re.sub(r"</head>", lambda _: f"{styles}\n</head>", rewritten, count=1, flags=re.I)
    if re.search(r"</body>", rewritten, re.I):
        rewritten = re.sub(r"</body>", lambda _: f"{note}\n</body>", rewritten, count=1, flags=re.I)
    else:
        rewritten += note
    return f"{OFFLINE_MARK}\n{rewritten}"
