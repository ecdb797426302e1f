"""Small HTML helpers for tests: parse a page, collect links, elements and text."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]


@dataclass
class ParsedPage:
    elements: list[Element] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)  # inline script bodies

    def find_all(self, tag: str, **attrs: str) -> list[Element]:
        return [
            e
            for e in self.elements
            if e.tag == tag and all(e.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def links(self) -> list[str]:
        out = []
        for e in self.elements:
            for attr in ("href", "src"):
                v = e.attrs.get(attr)
                if v and e.tag in ("a", "link", "script", "img", "source"):
                    if e.tag == "link" and e.attrs.get("rel") == "canonical":
                        continue  # the page's own absolute address: named, never fetched
                    out.append(v)
        return out

    @property
    def all_text(self) -> str:
        return " ".join(self.text)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.page.elements.append(Element(tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.page.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.page.scripts[-1] += data
        else:
            self.page.text.append(data)


def parse(path_or_html: Path | str) -> ParsedPage:
    html = (
        path_or_html.read_text(encoding="utf-8") if isinstance(path_or_html, Path) else path_or_html
    )
    p = _Parser()
    p.feed(html)
    p.close()
    return p.page
