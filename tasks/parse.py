"""Parse step: decoded text of one raw object -> the documents it holds.

A plain-text scrape holds one document. Every document keeps the URI of the object it came from and a
locator inside it (empty for whole-file documents), so each output row is traceable to its input.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RawDocument:
    source_uri: str
    locator: str  # position inside the source object ("" when the object is the document)
    text: str
    size_bytes: int


def parse_text(source_uri: str, text: str, size_bytes: int) -> list[RawDocument]:
    """A plain-text scrape is one document: the visible text of one page."""
    return [RawDocument(source_uri=source_uri, locator="", text=text, size_bytes=size_bytes)]
