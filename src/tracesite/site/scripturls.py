"""Script URLs out of note HTML: the attributes of every tag, read as a browser reads them.

Raw HTML in a note is the author's own and passes through (README), but a URL that runs script
when followed (``javascript:``, ``vbscript:``, ``data:`` other than an image) is replaced by ``#``,
as Hugo's Markdown renderer does: notes quote model output, and a click must not run it. The
promise holds in every form a browser accepts, so the tags are tokenized the way the HTML
standard tokenizes them, not matched with one pattern: double-, single- or un-quoted values,
spaces around ``=``, any case, entities (``&#106;avascript:``, ``java&Tab;script:``), tabs and
newlines inside the scheme, and every attribute that holds a followed URL (``href``, ``src``,
``action``, ``formaction``, ``xlink:href``, ``data``, ``poster``, SVG ``<animate to=…>``, a
``<meta>`` refresh…). Comments end where the standard ends them (``<!-->`` at once); the text of
``<script>``, ``<style>``, ``<textarea>``… is read once as text (as HTML does) and once for tags
(as inside ``<svg>``), and a script URL either reading finds is removed.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

#: Browsers drop ASCII whitespace and control characters inside a URL's scheme.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")
_TAG_NAME = re.compile(r"[A-Za-z][^\t\n\f\r />]*")
_SPACE = "\t\n\f\r /"
#: Attributes whose value is a URL a browser loads or follows.
URL_ATTRS = frozenset(
    [
        "href",
        "src",
        "action",
        "formaction",
        "xlink:href",
        "data",
        "poster",
        "background",
        "cite",
        "longdesc",
        "codebase",
        "dynsrc",
        "lowsrc",
        "ping",
        "manifest",
        "icon",
        "usemap",
        "classid",
        "archive",
        "srcset",
    ]
)
#: Elements whose content is text, never tags (the standard's raw-text and RCDATA elements).
_RAW_TEXT = frozenset(
    ["script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript"]
)
#: Where ``data:image/...`` is only a picture (no script runs in an image).
_IMAGE_TAGS = frozenset(["img", "source", "picture", "input", "video"])
#: SVG animation elements set an attribute (``href``) to these values.
_ANIMATE = frozenset(["animate", "set", "animatemotion", "animatetransform"])


def script_scheme(url: str, attr: str, tag: str = "img") -> str | None:
    """The scheme of a URL that would run script when followed (``javascript``...), else None.

    The URL is read as a browser reads the attribute: entities decoded (``&#106;avascript:``),
    whitespace and control characters dropped (``java\\tscript:``), case ignored. ``data:`` is
    allowed only as an image's ``src`` (or a video's ``poster``).
    """
    plain = _URL_NOISE.sub("", html.unescape(url)).lower()
    scheme = plain.partition(":")[0] if ":" in plain else ""
    if scheme in ("javascript", "vbscript", "livescript"):
        return scheme
    if scheme == "data":
        picture = attr in ("src", "srcset", "poster") and tag in _IMAGE_TAGS
        return None if picture and plain.startswith("data:image/") else scheme
    return None


@dataclass(frozen=True)
class Attr:
    """One attribute of a start tag: its name (lower case), its raw value (entities not
    decoded; None without ``=``) and where the whole ``name=value`` lies in the text."""

    tag: str
    name: str
    value: str | None
    start: int
    end: int


def _raw_text_end(text: str, tag: str, at: int) -> int:
    """Where the text of a raw-text element that starts at ``at`` ends (its ``</tag``)."""
    m = re.compile(rf"</{re.escape(tag)}[\t\n\f\r />]", re.I).search(text, at)
    return m.start() if m else len(text)


def _attributes(text: str, tag: str, j: int) -> tuple[list[Attr], int]:
    """The attributes of a start tag whose name ends at ``j``, and where the tag ends."""
    n = len(text)
    attrs: list[Attr] = []
    while True:
        while j < n and text[j] in _SPACE:
            j += 1
        if j >= n or text[j] == ">":
            return attrs, j
        start = j
        j += 1  # the first character of a name may be "="
        while j < n and text[j] not in _SPACE and text[j] not in ">=":
            j += 1
        name = text[start:j].lower()
        k = j
        while k < n and text[k] in "\t\n\f\r ":
            k += 1
        if k >= n or text[k] != "=":
            attrs.append(Attr(tag, name, None, start, j))
            continue
        k += 1
        while k < n and text[k] in "\t\n\f\r ":
            k += 1
        if k < n and text[k] in "\"'":
            close = text.find(text[k], k + 1)
            close = n if close < 0 else close
            value, j = text[k + 1 : close], min(close + 1, n)
        else:
            v = k
            while v < n and text[v] not in "\t\n\f\r >":
                v += 1
            value, j = text[k:v], v
        attrs.append(Attr(tag, name, value, start, j))


_COMMENT_END = re.compile(r"--!?>")


def _comment_end(text: str, at: int) -> int:
    """Where the comment whose ``<!--`` ends at ``at`` ends, as the standard says: ``-->``,
    ``--!>``, or at once for ``<!-->`` and ``<!--->``; unclosed, at the end of the text."""
    if text.startswith(">", at):
        return at + 1
    if text.startswith("->", at):
        return at + 2
    m = _COMMENT_END.search(text, at)
    return m.end() if m else len(text)


def each_attribute(text: str, *, raw_text: bool = True) -> list[Attr]:
    """Every attribute of every start tag of ``text``, in order. With ``raw_text``, the content
    of ``<script>``, ``<style>``, ``<textarea>``… is text, as in HTML; without, it is read for
    tags too, as inside ``<svg>`` and ``<math>`` (the neutraliser reads both ways)."""
    out: list[Attr] = []
    i, n = 0, len(text)
    while True:
        lt = text.find("<", i)
        if lt < 0 or lt + 1 >= n:
            return out
        if text.startswith("<!--", lt):
            i = _comment_end(text, lt + 4)
            continue
        m = _TAG_NAME.match(text, lt + 1)
        if m is None:  # an end tag, a doctype, "<?", or a "<" that is text
            if text[lt + 1] in "/!?":  # ends at the first ">" (reading further is the safe way)
                end = text.find(">", lt)
                i = n if end < 0 else end + 1
            else:
                i = lt + 1
            continue
        tag = m.group().lower()
        attrs, end = _attributes(text, tag, m.end())
        out += attrs
        i = end + 1
        if raw_text and tag == "plaintext":
            return out
        if raw_text and tag in _RAW_TEXT:
            i = _raw_text_end(text, tag, i)


def _urls_in(a: Attr) -> list[str]:
    """The URLs an attribute's value holds (srcset lists several; a refresh one after url=)."""
    value = a.value or ""
    if a.name == "srcset":
        return [part.strip().split(" ")[0] for part in value.split(",")]
    if a.name == "content" and a.tag == "meta":
        m = re.search(r"url\s*=\s*['\"]?(.*)", html.unescape(value), re.I | re.S)
        return [m.group(1)] if m else []
    if a.tag in _ANIMATE and a.name in ("to", "from", "values", "by"):
        return value.split(";")
    return [value]


def dangerous(a: Attr) -> str | None:
    """The script scheme an attribute would follow, or None."""
    if a.value is None:
        return None
    animated = a.tag in _ANIMATE and a.name in ("to", "from", "values", "by")
    if a.name not in URL_ATTRS and not animated and not (a.tag == "meta" and a.name == "content"):
        return None
    for url in _urls_in(a):
        scheme = script_scheme(url, a.name, a.tag)
        if scheme is not None:
            return scheme
    return None


def rewrite_attributes(
    text: str, fix: Callable[[Attr], str | None], *, raw_text: bool = True
) -> str:
    """``text`` with each attribute for which ``fix`` returns a string replaced by it."""
    out: list[str] = []
    pos = 0
    for a in each_attribute(text, raw_text=raw_text):
        new = fix(a)
        if new is not None:
            out += [text[pos : a.start], new]
            pos = a.end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def neutralise_script_links(html_text: str) -> tuple[str, list[str]]:
    """Note HTML with every script URL replaced by ``#``, and the schemes removed (for
    warnings). The text is read both as HTML reads it and with no raw-text elements (as in
    ``<svg>``), until neither reading finds one: an attribute either would see is removed."""
    removed: list[str] = []

    def fix(a: Attr) -> str | None:
        scheme = dangerous(a)
        if scheme is None:
            return None
        removed.append(scheme)
        return f'{a.name}="#"'

    while True:
        before = len(removed)
        for raw_text in (True, False):
            html_text = rewrite_attributes(html_text, fix, raw_text=raw_text)
        if len(removed) == before:
            return html_text, removed
