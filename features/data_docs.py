"""Make a Great Expectations Data Docs page readable offline (no CDN, no remote image).

GX pages load Bootstrap, jQuery, Font Awesome, bootstrap-table and vega from CDNs and their
logo from S3, so offline they show unstyled. `offline_page` rewrites one page into a single
self-contained file: the CSS and JS that a pinned PyPI package provides (XStatic Bootstrap 4,
jQuery, Font Awesome 6; GX's own default styles) are inlined, every other remote script or
stylesheet is dropped, remote images become their alt text, and a note at the end of the page
says what is not shown offline. Links in ``<a>`` tags (to GX's docs) are kept: they load nothing.

`offline_site` does the same for every page of a GX site (e.g. ``local_site``) in place, but
links the local files from one vendor folder of the site instead of copying them into each page;
`offline_docs_sites` finds the local sites of a data context. A small script stands in for
bootstrap-table on every page, so the site's index (a table GX fills from JavaScript) lists each
validation run with a link to its page.

Font Awesome draws GX's pass/fail icons (``fas fa-check-circle``, ``fas fa-times``: FA5 names,
which FA6's stylesheet keeps as aliases). A single file gets only the icon rules and the font
faces its classes use, the font as a ``data:`` URL (the solid face: about 200 KB); a site's
vendor folder gets the whole stylesheet and the solid and regular fonts beside it. GX's
"Failed Only" filter is a script of the page itself (``hideSucceededValidations``, jQuery), so
it works offline once jQuery does.
"""

from __future__ import annotations

import base64
import importlib
import os
import re
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse
from urllib.request import url2pathname

import great_expectations


def _xstatic_dir(name: str) -> Path:
    """The data folder of an XStatic package (pinned in pyproject.toml; it has no types)."""
    return Path(str(importlib.import_module(f"xstatic.pkg.{name}").BASE_DIR))


_BOOTSTRAP: Final = _xstatic_dir("bootstrap")
_JQUERY: Final = _xstatic_dir("jquery")
_FONT_AWESOME: Final = _xstatic_dir("font_awesome")
#: FA6's core and icon rules; its vendor copy and inlined form also carry the font faces.
_FA_CSS: Final = _FONT_AWESOME / "css/fontawesome.min.css"
#: The font faces: (stylesheet declaring it, its woff2 font, the classes that use it).
_FA_FACES: Final = (
    (
        _FONT_AWESOME / "css/solid.min.css",
        _FONT_AWESOME / "webfonts/fa-solid-900.woff2",
        frozenset({"fa", "fas", "fa-solid"}),
    ),
    (
        _FONT_AWESOME / "css/regular.min.css",
        _FONT_AWESOME / "webfonts/fa-regular-400.woff2",
        frozenset({"far", "fa-regular"}),
    ),
)
_GX_STYLES: Final = (
    Path(great_expectations.__file__).parent
    / "render/view/static/styles/data_docs_default_styles.css"
)

#: The mark left in a rewritten page, so a second pass changes nothing.
OFFLINE_MARK: Final = "<!-- data docs: offline copy -->"
#: The mark of a site page that links the site's vendor folder (see `offline_site`).
SITE_MARK: Final = "<!-- data docs: offline site page -->"
#: The site's folder of local assets, relative to the site root.
VENDOR_FOLDER: Final = "static/offline"

#: Remote assets with a local copy, by a pattern of their URL: (kind, file).
_LOCAL: Final[tuple[tuple[re.Pattern[str], str, Path], ...]] = (
    (re.compile(r"bootstrap(?:\.min)?\.css$"), "style", _BOOTSTRAP / "css/bootstrap.min.css"),
    # The bundle carries Popper, so the separate popper.js reference is not needed.
    (re.compile(r"bootstrap(?:\.min)?\.js$"), "script", _BOOTSTRAP / "js/bootstrap.bundle.min.js"),
    (re.compile(r"jquery-3[\d.]*(?:\.min)?\.js$"), "script", _JQUERY / "jquery.min.js"),
    # GX links cdnjs' font-awesome/6.x/css/all.min.css; a kit's fontawesome/.../all.css too.
    (re.compile(r"font-?awesome.*\.css$", re.I), "style", _FA_CSS),
)

#: A site page's link to a vendor file: the file's name, to inline it in a single-file copy.
_VENDOR_ATTR: Final = re.compile(r"""\bdata-offline-asset\s*=\s*["']([^"']+)["']""", re.I)
#: A remote image in CSS (GX's footer logo): replaced by ``none``.
_CSS_URL: Final = re.compile(r"""url\(\s*(["']?)https?://[^)"']*\1\s*\)""", re.I)

#: Stands in for bootstrap-table, the datepicker and vega-embed, whose files no package has:
#: called with options, ``bootstrapTable`` draws ``options.data`` as a plain table (cells are
#: GX's own HTML) with a link to each row's page; its method calls and the others do nothing.
_STAND_IN: Final = """(function ($) {
  if (!$) { return; }
  function text(value) { return $("<div>").text(value == null ? "" : String(value)).html(); }
  if (!$.fn.bootstrapTable) {
    $.fn.bootstrapTable = function (options) {
      if (!options || typeof options !== "object") { return this; }
      var columns = options.columns || [], rows = options.data || [];
      var head = columns.map(function (c) { return "<th>" + text(c.title || c.field) + "</th>"; });
      var body = rows.map(function (row) {
        var cells = columns.map(function (c) {
          return "<td>" + (row[c.field] == null ? "" : String(row[c.field])) + "</td>";
        });
        var link = row._table_row_link_path;
        cells.push(link ? '<td><a href="' + text(link) + '">open</a></td>' : "<td></td>");
        return "<tr>" + cells.join("") + "</tr>";
      });
      return this.each(function () {
        $(this).addClass("table table-sm").html(
          "<thead><tr>" + head.join("") + "<th>page</th></tr></thead><tbody>" +
          body.join("") + "</tbody>");
      });
    };
  }
  if (!$.fn.datepicker) { $.fn.datepicker = function () { return this; }; }
  if (!window.vegaEmbed) { window.vegaEmbed = function () { return Promise.resolve(); }; }
})(window.jQuery);"""

_TAG: Final = re.compile(
    r"<(?P<tag>script|link|img)\b(?P<attrs>[^>]*?)/?>(?:\s*</script>)?", re.IGNORECASE
)
_URL_ATTR: Final = re.compile(r"""\b(?:src|href)\s*=\s*["'](https?://[^"']+)["']""", re.I)
_ALT: Final = re.compile(r"""\balt\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_CLASS_ATTR: Final = re.compile(r"""\bclass\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
#: One icon rule of FA's stylesheet: its selectors (``.fa-times:before,.fa-xmark:before``).
_FA_ICON_RULE: Final = re.compile(r"""(?<=\})((?:\.fa-[\w-]+:{1,2}before,?)+)\{content:"[^"]*"\}""")
_FA_ICON_NAME: Final = re.compile(r"\.(fa-[\w-]+):")
_CSS_COMMENT: Final = re.compile(r"/\*.*?\*/", re.S)
_CSS_SRC: Final = re.compile(r"src:[^;}]+")

#: What the offline copy does not show, stated at the end of the page.
_NOT_SHOWN: Final = (
    "charts (vega), the sortable and filterable tables (bootstrap-table), the date picker "
    "and the Great Expectations logo;"
)
OFFLINE_NOTE: Final = (
    "Offline copy: styles and scripts are inlined from local packages. Not shown offline: "
    f"{_NOT_SHOWN} the tables and text are complete."
)
#: The note of a site page rewritten before Font Awesome was vendored (see `_add_dropped_assets`).
_NOTE_WITHOUT_ICONS: Final = (
    "charts (vega), the sortable and filterable tables (bootstrap-table), the date picker, "
    "icons (Font Awesome) and the Great Expectations logo;"
)
#: A remote asset that an earlier rewrite dropped.
_DROPPED: Final = re.compile(r"<!-- not available offline: (\S+) -->")


def _local_asset(url: str) -> tuple[str, Path] | None:
    path = url.split("?", 1)[0].split("#", 1)[0]
    for pattern, kind, file in _LOCAL:
        if pattern.search(path):
            return kind, file
    return None


def _vendor_files() -> dict[str, tuple[str, Path]]:
    """Every local asset by its file name in the vendor folder: (kind, source file)."""
    files = {file.name: (kind, file) for _, kind, file in _LOCAL}
    files[_GX_STYLES.name] = ("style", _GX_STYLES)
    return files


def _classes(page: str) -> frozenset[str]:
    """Every class name used in the page's ``class`` attributes."""
    return frozenset(name for value in _CLASS_ATTR.findall(page) for name in value.split())


def font_awesome_css(classes: frozenset[str] | None = None) -> str:
    """FA6's stylesheet with its font faces: whole for a site's vendor folder, else for one page.

    ``classes`` None: every icon rule, the solid and regular faces, each font linked by its file
    name (beside the stylesheet). Else only the icon rules and faces those classes use, each
    font inlined as a base64 ``data:`` URL; empty if the classes use no icon.
    """
    core = _FA_CSS.read_text(encoding="utf-8")
    faces: list[str] = []
    for sheet, font, users in _FA_FACES:
        if classes is None:
            url = font.name
        elif classes & users:
            url = "data:font/woff2;base64," + base64.b64encode(font.read_bytes()).decode("ascii")
        else:
            continue
        face = _CSS_COMMENT.sub("", sheet.read_text(encoding="utf-8")).strip()
        # Only the woff2 (every current browser reads it), not the package's ttf fallback.
        # No backslash in a file name or base64, so the URL is a plain replacement string.
        faces.append(_CSS_SRC.sub(f'src:url({url}) format("woff2")', face))
    if classes is not None:
        if not faces:
            return ""

        def used(rule: re.Match[str]) -> str:
            names = set(_FA_ICON_NAME.findall(rule.group(1)))
            return rule.group(0) if names & classes else ""

        core = _FA_ICON_RULE.sub(used, core)
    return "\n".join([core, *faces])


def _file_text(file: Path, classes: frozenset[str]) -> str:
    """A local asset's text to inline in a page that uses ``classes``."""
    if file == _FA_CSS:
        return font_awesome_css(classes)
    return file.read_text(encoding="utf-8")


def _inline(kind: str, text: str) -> str:
    if kind == "style":
        return f"<style>\n{text}\n</style>"
    # A "</script" inside the code would end the element early.
    return "<script>\n" + text.replace("</script", "<\\/script") + "\n</script>"


def _reference(kind: str, file: Path, vendor: str) -> str:
    """A tag loading ``file`` from the vendor folder at the relative URL ``vendor``."""
    url = f"{vendor}/{file.name}"
    marker = f'data-offline-asset="{file.name}"'
    if kind == "style":
        return f'<link rel="stylesheet" href="{url}" {marker}>'
    return f'<script src="{url}" {marker}></script>'


def _asset(kind: str, file: Path, vendor: str | None, classes: frozenset[str] = frozenset()) -> str:
    """The asset inlined (single file) or referenced from the vendor folder (site page)."""
    if vendor is None:
        text = _file_text(file, classes)
        tag = _inline(kind, text) if text else ""
    else:
        tag = _reference(kind, file, vendor)
    if file == _JQUERY / "jquery.min.js":
        tag += "\n" + _inline("script", _STAND_IN)
    return tag


def offline_page(page: str, vendor: str | None = None) -> str:
    """The page with no remote script, stylesheet or image left (see the module docstring).

    ``vendor`` is the relative URL from the page to the site's vendor folder: given, the local
    assets are linked from there (a site page); else they are inlined (a single file, which a
    site page can also be turned into). Idempotent: a page already rewritten the same way is
    returned unchanged, except that a site page rewritten before an asset was vendored (Font
    Awesome) now links it.
    """
    mark = OFFLINE_MARK if vendor is None else SITE_MARK
    if vendor is not None and SITE_MARK in page and OFFLINE_MARK not in page:
        return _add_dropped_assets(page, vendor)
    if mark in page or (vendor is not None and OFFLINE_MARK in page):
        return page
    inlined: set[Path] = set()
    vendored = _vendor_files()
    classes = _classes(page)

    def replace(match: re.Match[str]) -> str:
        tag = match.group("tag").lower()
        attrs = match.group("attrs")
        own = _VENDOR_ATTR.search(attrs)
        if own is not None and own.group(1) in vendored:
            kind, file = vendored[own.group(1)]
            if vendor is not None:
                return match.group(0)
            text = _file_text(file, classes)
            return _inline(kind, text) if text else ""
        if tag == "link" and "stylesheet" not in attrs.lower():
            # An icon or a CDN hint. GX links the favicon one folder too shallow from run
            # pages (a missing file, a console error), so no copy keeps it.
            return ""
        remote = _URL_ATTR.search(attrs)
        if remote is None:
            return match.group(0)
        if tag == "img":
            alt = _ALT.search(attrs)
            return f"<span>{alt.group(1) if alt else ''}</span>"
        local = _local_asset(remote.group(1))
        if local is None or local[1] in inlined:
            return f"<!-- not available offline: {remote.group(1)} -->"
        inlined.add(local[1])
        return _asset(local[0], local[1], vendor, classes)

    rewritten = _CSS_URL.sub("none", _TAG.sub(replace, page))
    if SITE_MARK not in page:
        rewritten = _with_styles_and_note(rewritten, vendor)
    return f"{mark}\n{rewritten}"


def _add_dropped_assets(page: str, vendor: str) -> str:
    """A site page rewritten earlier, linking the vendor files added since (Font Awesome).

    An asset that page links already, or dropped twice, is linked once.
    """
    linked = set(_VENDOR_ATTR.findall(page))

    def replace(match: re.Match[str]) -> str:
        local = _local_asset(match.group(1))
        if local is None or local[1].name in linked:
            return match.group(0)
        linked.add(local[1].name)
        return _asset(local[0], local[1], vendor)

    page = _DROPPED.sub(replace, page)
    return page.replace(_NOTE_WITHOUT_ICONS, _NOT_SHOWN)


def _with_styles_and_note(page: str, vendor: str | None) -> str:
    """GX's default stylesheet before ``</head>``, the offline note before ``</body>``."""
    styles = _asset("style", _GX_STYLES, vendor)
    note = f'<footer class="container"><p><small>{OFFLINE_NOTE}</small></p></footer>'
    page = re.sub(r"</head>", lambda _: f"{styles}\n</head>", page, count=1, flags=re.I)
    if re.search(r"</body>", page, re.I):
        return re.sub(r"</body>", lambda _: f"{note}\n</body>", page, count=1, flags=re.I)
    return page + note


def write_vendor_folder(site: Path) -> Path:
    """Copy the local assets into the site's vendor folder (only files that differ).

    Font Awesome's stylesheet is written with its font faces, whose fonts are copied beside it.
    """
    folder = site / VENDOR_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    contents: dict[str, bytes | Path] = {
        name: (font_awesome_css().encode() if source == _FA_CSS else source)
        for name, (_, source) in _vendor_files().items()
    }
    contents.update({font.name: font for _, font, _ in _FA_FACES})
    for name, content in contents.items():
        target = folder / name
        data = content.read_bytes() if isinstance(content, Path) else content
        if not target.is_file() or target.read_bytes() != data:
            temporary = target.with_name(f".{name}.tmp")
            temporary.write_bytes(data)
            temporary.replace(target)
    return folder


def offline_site(site: Path) -> list[Path]:
    """Rewrite every HTML page of a Data Docs site in place to load only files of the site.

    Pages already rewritten are left alone (but for linking an asset vendored since), so this
    can run after each build (GX rewrites the index and adds the new runs' pages). Returns the
    pages it rewrote.
    """
    folder = write_vendor_folder(site)
    rewritten: list[Path] = []
    for path in sorted(site.rglob("*.html")):
        if folder in path.parents:
            continue
        page = path.read_text(encoding="utf-8")
        vendor = Path(os.path.relpath(folder, path.parent)).as_posix()
        offline = offline_page(page, vendor)
        if offline != page:
            temporary = path.with_name(f".{path.name}.offline")
            temporary.write_text(offline, encoding="utf-8")
            temporary.replace(path)
            rewritten.append(path)
    return rewritten


def local_site_roots(context: Any) -> list[Path]:
    """The folders of the data context's Data Docs sites that live on the local disk.

    ``context`` is a Great Expectations data context; a site GX has not built yet is skipped.
    """
    roots: list[Path] = []
    for site in context.get_docs_sites_urls():
        url = str(site.get("site_url") or "")
        if url.startswith("file://"):
            index = Path(url2pathname(urlparse(url).path))
            if index.is_file():
                roots.append(index.parent)
    return roots


def offline_docs_sites(context: Any) -> list[Path]:
    """`offline_site` on every local Data Docs site of ``context``; the pages rewritten."""
    return [page for root in local_site_roots(context) for page in offline_site(root)]
