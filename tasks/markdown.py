"""Markdown scrapes as the plain text a browser shows: the source's lines, link and image syntax gone.

Scrapers that save pages as Markdown (html2text, reader APIs, crawler exports) keep each link's URL
beside its text and each image as ``![alt](src)``; left in, a menu item or a related-story link is a
line of URL that reads as neither chrome nor prose, and no body line is what the page showed.
markdown-it-py (CommonMark with tables) parses the document. Each line of a block stays a line
(a paragraph's soft line breaks are kept, so a text that is only partly Markdown keeps its lines);
a table row is one line of its cells; an ordered list item keeps its number; a link is its text, an
image nothing, emphasis and escapes their characters; an HTML tag is dropped, its text kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

# A link or image with an absolute or site-relative target, ``[text](https://...)``: what a text
# that is Markdown is full of and the visible text of a page does not hold.
_LINK = re.compile(r"\]\((?:https?://|/)[^)\s]*\)")
_HTML_TAG = re.compile(r"<[^>]*>")
# What an empty <b></b> or an icon's <i></i> becomes ("__", "****"): no text of the page.
_EMPTY_EMPHASIS = "_* \t"


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def looks_like_markdown(text: str, min_links: int) -> bool:
    """Whether a text saved under no Markdown name is Markdown: it has ``min_links`` links or images
    with a URL target."""
    return len(_LINK.findall(text)) >= min_links


def markdown_text(source: str) -> str:
    """The visible text of a Markdown document, in order."""
    return "\n".join(_block_lines(_parser().parse(source)))


def _block_lines(tokens: Sequence[Token]) -> Iterator[str]:
    cells: list[str] | None = None  # the table row being read
    number = ""  # an ordered list item's number, shown before its first line as a browser shows it
    for token in tokens:
        if token.type == "list_item_open":
            number = f"{token.info}{token.markup} " if token.info else ""
        elif token.type == "tr_open":
            cells = []
        elif token.type == "tr_close" and cells is not None:
            if any(cells):
                yield " ".join(cell for cell in cells if cell)
            cells = None
        elif token.type == "inline":
            text = _inline_text(token.children or ())
            if cells is not None:
                cells.append(" ".join(text.split()))
            else:
                yield from (line.strip() for line in f"{number}{text}".split("\n") if line.strip(_EMPTY_EMPHASIS))
                number = ""
        elif token.type in ("fence", "code_block"):
            yield from token.content.rstrip("\n").split("\n")
        elif token.type == "html_block":
            yield from (line.strip() for line in _HTML_TAG.sub("", token.content).split("\n") if line.strip())


def _inline_text(children: Sequence[Token]) -> str:
    """A block's text: text and code as written, a link's text without its target, no image."""
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts)
