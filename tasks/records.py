"""Identity and fingerprints of records: the values that must stay stable across reruns."""

from __future__ import annotations

import hashlib
import re

_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


def article_id(source_uri: str, locator: str = "") -> str:
    """Stable id of the document at ``source_uri`` (+ locator): the same input gets the same id on every run."""
    key = f"{source_uri}#{locator}" if locator else source_uri
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def content_hash(body: str) -> str:
    """SHA-256 of the body with whitespace folded, so re-wrapped copies of one text hash alike."""
    return hashlib.sha256(_WHITESPACE.sub(" ", body).strip().encode("utf-8")).hexdigest()


def word_count(body: str) -> int:
    return len(_WORD.findall(body))
