"""Note HTML for a page: links to content rewritten, ```` ```trace ```` blocks filled with the
heatmaps the render stage made (this module renders nothing; it assembles).

Links in notes are written as paths between source files, as in MkDocs (``[see](../about.md)``,
``![fig](img/plot.png)``, ``[run](evals/run1.json)``); they are rewritten to the page-relative URL
of what that source became, so they work wherever the page lands. Links whose URL would run script
(``javascript:``, ``vbscript:``, ``data:`` other than images) are replaced by ``#`` with a warning,
as Hugo's Markdown renderer does: notes often quote model output, and a click must not run it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from markupsafe import Markup, escape

from tracesite.core.errors import Diagnostics, NoteError, TracesiteError
from tracesite.site.discover import resolve_inside
from tracesite.site.notes import Note, TraceEmbed, split_embeds
from tracesite.site.scripturls import (
    Attr,
    dangerous,
    neutralise_script_links,
    rewrite_attributes,
    script_scheme,
)
from tracesite.site.urls import relative, trace_slug, trace_url

_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")

__all__ = ["neutralise_script_links", "rewrite_links", "script_scheme"]


def rewrite_links(
    note: Note, page_url: str, urls: Mapping[str, str], diag: Diagnostics, note_label: str
) -> str:
    """The note's HTML with links between source files pointing at the pages they became, and
    script URLs removed (each removal a warning against ``note_label``, the note's path)."""
    folder = posixpath.dirname(note.path.as_posix())

    def fix(a: Attr) -> str | None:
        scheme = dangerous(a)
        if scheme is not None:
            diag.warn(
                NoteError(
                    f"link to a {scheme}: URL removed (it would run script when followed)",
                    path=note_label,
                )
            )
            return f'{a.name}="#"'
        if a.name not in ("href", "src") or a.value is None:
            return None
        attr, target = a.name, a.value
        path, sep, frag = target.partition("#")
        if not path or _EXTERNAL.match(path) or path.startswith("/") or "?" in path:
            return None
        source = posixpath.normpath(posixpath.join(folder, path.replace("&amp;", "&")))
        url = urls.get(source)
        if url is None:
            if path.endswith(".md"):
                diag.warn(
                    NoteError(f"link to {path!r}: no such page under content/", path=note_label)
                )
            return None
        return f'{attr}="{escape(relative(page_url, url))}{sep}{escape(frag)}"'

    text, removed = neutralise_script_links(rewrite_attributes(note.html, fix))
    for scheme in removed:  # in what the first reading took for a tag's text
        diag.warn(
            NoteError(
                f"link to a {scheme}: URL removed (it would run script when followed)",
                path=note_label,
            )
        )
    return text


def resolve_embed_src(content_dir: Path, src: str, what: str = "trace block: src") -> Path:
    """The file a ```` ```trace ```` block names (or a ```` ```compare ```` block's ``a`` or
    ``b``, as ``what`` says), which must be a file under ``content_dir`` (symlinks resolved
    first, so a link out of the content folder is refused)."""
    missing = NoteError(f"{what} {src!r} not found under content/")
    if "\x00" in src:  # no file name holds NUL; the OS would refuse to look it up
        raise missing
    try:
        (content_dir / src).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop (3.11); a name no OS can hold
        raise missing from None
    target = resolve_inside(content_dir, Path(src))  # the rule discovery uses for every file
    if target is None:
        raise NoteError(f"{what} {src!r} is outside the content folder")
    if not target.is_file():
        raise missing
    return target


def embed_figure(
    embed: TraceEmbed, fragment: Mapping[str, str], page_url: str, target: str | None = None
) -> str:
    """A rendered embed as a ``<figure>``: the heatmap, and a caption linking to its trace page.

    ``fragment`` is what the render stage stored: ``div``, ``script``, ``positions`` (the
    positions shown, "" for the whole trace) and ``n_in_file``.
    """
    label = embed.src if embed.compare is None else f"{embed.src} vs {embed.compare}"
    if fragment.get("positions"):
        label += f", positions {fragment['positions']}"
    n_in_file = int(fragment.get("n_in_file") or 1)
    url = target  # the trace's page as the build named it (a rollout row by its id)
    if url is None:
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
