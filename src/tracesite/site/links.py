"""Note HTML for a page: links to content rewritten, ```` ```trace ```` blocks filled with the
heatmaps the render stage made (this module renders nothing; it assembles).

Links in notes are written as paths between source files, as in MkDocs (``[see](../about.md)``,
``![fig](img/plot.png)``, ``[run](evals/run1.json)``); they are rewritten to the page-relative URL
of what that source became, so they work wherever the page lands. Links whose URL would run script
(``javascript:``, ``vbscript:``, ``data:`` other than images) are replaced by ``#`` with a warning,
as Hugo's Markdown renderer does: notes often quote model output, and a click must not run it.
"""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from markupsafe import Markup, escape

from tracesite.core.errors import Diagnostics, NoteError, TracesiteError
from tracesite.site.notes import Note, TraceEmbed, split_embeds
from tracesite.site.urls import relative, trace_slug, trace_url

_LINK = re.compile(r'\b(href|src)="([^"]*)"')
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
#: Browsers drop ASCII whitespace and control characters inside a URL's scheme.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")


def script_scheme(url: str, attr: str) -> str | None:
    """The scheme of a URL that would run script when followed (``javascript``...), else None.

    The URL is read as a browser reads the attribute: entities decoded (``&#106;avascript:``),
    whitespace and control characters dropped (``java\tscript:``), case ignored.
    """
    plain = _URL_NOISE.sub("", html.unescape(url)).lower()
    scheme = plain.partition(":")[0] if ":" in plain else ""
    if scheme in ("javascript", "vbscript"):
        return scheme
    if scheme == "data" and not (attr == "src" and plain.startswith("data:image/")):
        return scheme
    return None


def neutralise_script_links(html_text: str) -> tuple[str, list[str]]:
    """Note HTML with every script URL in an ``href``/``src`` replaced by ``#``, and the schemes
    removed (for warnings). For pages that show a note without :func:`rewrite_links`."""
    removed: list[str] = []

    def fix(m: re.Match[str]) -> str:
        scheme = script_scheme(m.group(2), m.group(1))
        if scheme is None:
            return m.group(0)
        removed.append(scheme)
        return f'{m.group(1)}="#"'

    return _LINK.sub(fix, html_text), removed


def rewrite_links(
    note: Note, page_url: str, urls: Mapping[str, str], diag: Diagnostics, note_label: str
) -> str:
    """The note's HTML with links between source files pointing at the pages they became, and
    script URLs removed (each removal a warning against ``note_label``, the note's path)."""
    folder = posixpath.dirname(note.path.as_posix())

    def fix(m: re.Match[str]) -> str:
        attr, target = m.group(1), m.group(2)
        scheme = script_scheme(target, attr)
        if scheme is not None:
            diag.warn(
                NoteError(
                    f"link to a {scheme}: URL removed (it would run script when followed)",
                    path=note_label,
                )
            )
            return f'{attr}="#"'
        path, sep, frag = target.partition("#")
        if not path or _EXTERNAL.match(path) or path.startswith("/") or "?" in path:
            return m.group(0)
        source = posixpath.normpath(posixpath.join(folder, path.replace("&amp;", "&")))
        url = urls.get(source)
        if url is None:
            if path.endswith(".md"):
                diag.warn(
                    NoteError(f"link to {path!r}: no such page under content/", path=note_label)
                )
            return m.group(0)
        return f'{attr}="{escape(relative(page_url, url))}{sep}{escape(frag)}"'

    return _LINK.sub(fix, note.html)


def resolve_embed_src(content_dir: Path, src: str) -> Path:
    """The file a ```` ```trace ```` block names, which must be a file under ``content_dir``
    (symlinks resolved first, so a link out of the content folder is refused)."""
    content = content_dir.resolve()
    missing = NoteError(f"trace block: src {src!r} not found under content/")
    if "\x00" in src:  # no file name holds NUL; the OS would refuse to look it up
        raise missing
    try:
        target = (content / src).resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
        raise missing from None
    if not target.is_relative_to(content):
        raise NoteError(f"trace block: src {src!r} is outside the content folder")
    if not target.is_file():
        raise missing
    return target


def embed_figure(embed: TraceEmbed, fragment: Mapping[str, str], page_url: str) -> str:
    """A rendered embed as a ``<figure>``: the heatmap, and a caption linking to its trace page.

    ``fragment`` is what the render stage stored: ``div``, ``script``, ``positions`` (the
    positions shown, "" for the whole trace) and ``n_in_file``.
    """
    label = embed.src
    if fragment.get("positions"):
        label += f", positions {fragment['positions']}"
    n_in_file = int(fragment.get("n_in_file") or 1)
    _, url = trace_url(trace_slug(embed.src), embed.index, n_in_file)
    href = relative(page_url, url)
    return (
        f'<figure class="trace-embed">{fragment["div"]}{fragment["script"]}'
        f'<figcaption><a href="{escape(href)}">{escape(label)}</a></figcaption></figure>'
    )


def embed_error(err: TracesiteError) -> str:
    """What a page shows where an embed failed (the error is reported once, by the build)."""
    return f'<p class="embed-error">{escape(str(err))}</p>'


def fill_embeds(html: str, figures: Sequence[str]) -> Markup:
    """Note HTML with its embed placeholders replaced by ``figures`` (one per embed, in order)."""
    if not figures:
        return Markup(html)
    out: list[str] = []
    for part in split_embeds(html):
        out.append(part if isinstance(part, str) else figures[part])
    return Markup("".join(out))
