"""Identity and fingerprints of records: the values that must stay stable across reruns."""

from __future__ import annotations

import hashlib
import re

import polars as pl

# Kana and CJK ideographs are written without spaces: each character counts as a word, so that the
# word-count bounds of the contract mean roughly the same amount of text in every language.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
WORD_PATTERN = rf"[{_CJK}]|[^\W{_CJK}]+"  # also valid for polars' (Rust) regex engine
_WORD = re.compile(WORD_PATTERN)
# A character on which Python's and polars' (Rust) regex engines may disagree: a letter, digit or mark
# beyond ASCII (Rust's \w also takes combining marks; under IGNORECASE Python's "i" also matches "ı"
# and "İ"), or \x1c-\x1f (Python's \s only). On text without one, the two find the same matches for
# \w, \d, \s, \b and ASCII letters in either case (checked over every code point).
ENGINES_DIFFER_PATTERN = r"[^\x00-\x1b\x20-\x7f\p{Pd}\p{Ps}\p{Pe}\p{Pi}\p{Pf}\p{Po}\p{Zs}\p{Sc}\p{Sm}\p{Sk}]"
# The host of an absolute URL ("scheme://[user@]host[:port]/..."), also valid for polars' regex
# engine. A pattern, not a URL parser: a malformed URL (an unclosed IPv6 bracket) still names a host.
URL_HOST_PATTERN = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/:?#]+)"
_URL_HOST = re.compile(URL_HOST_PATTERN)


def article_id(source_uri: str, locator: str = "") -> str:
    """Stable id of the document at ``source_uri`` (+ locator): the same input gets the same id on every run."""
    key = f"{source_uri}#{locator}" if locator else source_uri
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def content_hash(body: str) -> str:
    """SHA-256 of the body with whitespace folded, so re-wrapped copies of one text hash alike."""
    return hashlib.sha256(" ".join(body.split()).encode("utf-8")).hexdigest()


def word_count(body: str) -> int:
    """Words of ``body``: runs of word characters, and every CJK character on its own.
    ``word_counts`` is the same count over a column."""
    return len(_WORD.findall(body))


def word_counts(bodies: pl.Series) -> pl.Series:
    """``word_count`` of each body of a column (Int32): by polars, except the bodies where the
    engines may disagree (``ENGINES_DIFFER_PATTERN``), counted by ``word_count``."""
    counts = bodies.str.count_matches(WORD_PATTERN).cast(pl.Int32).alias("word_count")
    other = bodies.str.contains(ENGINES_DIFFER_PATTERN).arg_true()
    return counts.scatter(other, [word_count(body) for body in bodies.gather(other)]) if len(other) else counts


def url_site(url: str | None) -> str | None:
    """The site a URL names: its host in lower case without a leading "www." (None without a host).
    ``url_sites`` is the same rule over a column."""
    found = _URL_HOST.match(url) if url else None
    return found[1].lower().removeprefix("www.") if found else None


def url_sites(urls: pl.Series) -> pl.Series:
    """``url_site`` of each URL of a column (null where it has none)."""
    return urls.cast(pl.String).str.extract(URL_HOST_PATTERN, 1).str.to_lowercase().str.strip_prefix("www.")
