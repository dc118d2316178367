"""Features of the dedup tiers: normalised tokens, their hashes, shingles and content words, sets
of distinct features, and the cache that keeps a signature pass's features for verification."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import stopwordsiso

from tasks.config import DedupConfig
from tasks.dedup import kernels

TIERS = ("near_copy", "rewrite")

# Bumped whenever tokens or feature hashes change: stored index rows of another version can't match.
FEATURE_VERSION = "4"
# Odd 64-bit constants for the multiplicative mixing of token hashes into n-gram and band keys.
_MIX = np.uint64(0x9E3779B97F4A7C15)
_MIX_OUT = np.uint64(0xD6E8FEB86659FD93)
_CONTENT_MIX = np.uint64((int(_MIX) * int(_MIX_OUT)) & ((1 << 64) - 1))  # a one-word feature: (0 ^ token) * _MIX * _MIX_OUT
_MASK64 = (1 << 64) - 1
_TOKEN_SEED = 0x636C6E77  # "clnw": fixed, so token hashes are reproducible across runs


# ----------------------------------------------------------------------------------------- tokens
# A word is a run of letters, marks or digits (regex ``\w`` without the underscore), after NFKC and
# lower-casing; everything else separates words.
_WORD = r"[^\W_]+"
# Characters whose NFKC form is themselves or as wordless as themselves (ASCII, no-break space,
# Latin-1 letters, dashes, quotes, ellipsis).  A text made only of these (most news in Latin scripts)
# tokenises the same with or without NFKC, and the token kernel finds its words byte by byte; other
# texts are normalised and split by the regex first (see tests: both paths give the same words).
NFKC_NEUTRAL = "\x00-\x7f\u00a0\u00c0-\u00ff\u2010-\u2015\u2018-\u201f\u2026"
_NEEDS_NFKC = f"[^{NFKC_NEUTRAL}]"
# ASCII bytes as the token kernel folds them: letters and digits small, everything else a space.
_ASCII_FOLD = np.arange(256, dtype=np.uint8)
_ASCII_FOLD[[c for c in range(128) if not chr(c).isalnum()]] = ord(" ")
_ASCII_FOLD[ord("A") : ord("Z") + 1] += ord("a") - ord("A")


def _regex_words(bodies: pl.Series) -> pl.Series:
    """List(String) of the normalised words of each text: NFKC, lower case, regex.  The definition."""
    return bodies.fill_null("").str.normalize("NFKC").str.to_lowercase().str.extract_all(_WORD).fill_null([])


def _regex_words_keeping_capitals(bodies: pl.Series) -> pl.Series:
    """``_regex_words``, except that a word written with an ASCII capital first keeps that capital: the
    token kernel folds it to small as it does any ASCII, and sees that the word is a name."""
    words = bodies.fill_null("").str.normalize("NFKC").str.extract_all(_WORD).fill_null([])
    return words.list.eval(
        pl.when(pl.element().str.contains("^[A-Z]"))
        .then(pl.element().str.slice(0, 1) + pl.element().str.to_lowercase().str.slice(1))
        .otherwise(pl.element().str.to_lowercase())
    )


def tokens(text: str) -> list[str]:
    """The normalised words of one text (the batch path hashes exactly these, see tests)."""
    return _regex_words(pl.Series([text], dtype=pl.String))[0].to_list()


def _token_hashes(
    bodies: pl.Series, stopwords: tuple[np.ndarray, np.ndarray] | None = None, min_chars: int = 1
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Per word of every text: token hash (uint32) and, given ``stopwords`` (stop tokens and their
    ``kernels.stop_index``), whether it is a content word (``min_chars`` characters or more, not a
    stopword); and the number of words per text."""
    bodies = bodies.fill_null("")
    # Pure ASCII is neutral; only other texts need the regex check, and the non-neutral ones the regex.
    maybe_odd = (bodies.str.len_bytes() != bodies.str.len_chars()).arg_true()
    odd = maybe_odd.gather(bodies.gather(maybe_odd).str.contains(_NEEDS_NFKC).arg_true())
    neutral = np.ones(len(bodies), dtype=np.bool_)
    if len(odd):
        neutral[odd.to_numpy()] = False
        bodies = bodies.scatter(odd, _regex_words_keeping_capitals(bodies.gather(odd)).list.join(" "))
    text = bodies.to_arrow(compat_level=pl.CompatLevel.oldest()).cast(pa.large_string())
    _, offsets, data = text.buffers()
    offsets = np.frombuffer(offsets, np.int64)[text.offset : text.offset + len(text) + 1]
    data = np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8)
    return kernels.word_hashes(data, offsets, neutral, _ASCII_FOLD, _TOKEN_SEED, stopwords, min_chars)


def feature_hash(feature: bytes | str) -> int:
    """32-bit hash of one feature: its words joined by single spaces (a shingle, or one content word).

    Token hashes mixed multiplicatively in 64 bits, top 32 bits kept.  This is the ``hashfunc`` that
    makes ``datasketch.MinHash`` reproduce our signatures.
    """
    text = feature.decode() if isinstance(feature, bytes) else feature
    mixed = 0
    for h in _token_hashes(pl.Series([text], dtype=pl.String))[0].tolist():
        mixed = ((mixed ^ h) * int(_MIX)) & _MASK64
    return ((mixed * int(_MIX_OUT)) & _MASK64) >> 32


def stopwords(config: DedupConfig) -> pl.Series:
    """Non-content words of the rewrite tier: stopwordsiso's list, normalised like tokens."""
    listed = pl.Series(sorted(stopwordsiso.stopwords(config.stopword_language)), dtype=pl.String)
    return _regex_words(listed).explode().drop_nulls().unique().sort()


class _Tokeniser:
    """Token hashes and content-word flags of whole chunks of texts."""

    def __init__(self, config: DedupConfig) -> None:
        self._config = config
        stop_tokens = np.unique(_token_hashes(stopwords(config))[0])
        self._stopwords = (stop_tokens, kernels.stop_index(stop_tokens))

    def tokenise(self, bodies: pl.Series, content: bool = True) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Token hashes (uint32), flags (``kernels.CONTENT``, ``kernels.NAME``; None unless ``content``)
        and per-document token counts.

        A word is a stopword when its token hash is a stopword's: the features see only token
        hashes, so a word with a stopword's hash is that stopword to every tier alike.
        """
        return _token_hashes(bodies, self._stopwords if content else None, self._config.min_content_word_chars)


# --------------------------------------------------------------------------------------- features
@dataclass
class _Features:
    """Per feature kind, flat feature hashes and per-document counts (multisets; sets only where verified).

    Kinds: the tiers, and ``names`` (the content words written with a capital or a digit first) that
    the rewrite tier verifies alongside its content words.
    """

    flat: dict[str, np.ndarray]
    lens: dict[str, np.ndarray]


def _features(bodies: pl.Series, tokeniser: _Tokeniser, config: DedupConfig, tiers: tuple[str, ...] = TIERS) -> _Features:
    """Features of the given tiers only (a tier not asked for costs nothing)."""
    tok, content, doc_lens = tokeniser.tokenise(bodies, content="rewrite" in tiers)
    out = _Features({}, {})
    if "near_copy" in tiers:
        out.flat["near_copy"], out.lens["near_copy"] = kernels.ngram_hashes(tok, doc_lens, config.near_copy_ngram, _MIX, _MIX_OUT)
    if "rewrite" in tiers:
        out.flat["rewrite"], out.lens["rewrite"] = kernels.content_hashes(tok, content, doc_lens, _CONTENT_MIX, kernels.CONTENT)
        out.flat["names"], out.lens["names"] = kernels.content_hashes(tok, content, doc_lens, _CONTENT_MIX, kernels.CONTENT | kernels.NAME)
    return out


# Feature kinds each tier's features hold, and all of them (what index rows sketch).
_KINDS = {"near_copy": ("near_copy",), "rewrite": ("rewrite", "names")}
_INDEXED_KINDS = ("near_copy", "rewrite", "names")


def sketch_sizes(config: DedupConfig) -> dict[str, int]:
    """Features per kind in the bottom-k sketches index rows store."""
    return {"near_copy": config.index_shingle_sketch, "rewrite": config.index_word_sketch, "names": config.index_name_sketch}


# Counters of the rewrite tier's document-frequency table (4 MiB): enough that most words of a day's
# batch have their own.
_DF_SLOTS = 1 << 20


def _document_frequencies(flat: np.ndarray, lens: np.ndarray) -> np.ndarray:
    return kernels.document_frequencies(flat, lens.astype(np.int64, copy=False), _DF_SLOTS)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting (numpy 2.4's hash-based unique is ~50x slower on these uint64 keys)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


@dataclass
class _Sets:
    """Distinct features of some universe rows: one sorted array of ``row << 32 | feature`` keys."""

    keys: np.ndarray  # sorted, unique uint64

    @classmethod
    def of(cls, rows: np.ndarray, feats: np.ndarray) -> _Sets:
        return cls.from_keys((rows.astype(np.uint64) << np.uint64(32)) | feats.astype(np.uint64))

    @classmethod
    def from_keys(cls, keys: np.ndarray) -> _Sets:
        return cls(_sorted_unique(keys))

    def bottom_k(self, k: int) -> _Sets:
        """The ``k`` smallest features of each row's set: its bottom-k sketch (feature hashes are
        uniform, so they are a uniform sample of the set, and any two rows' sketches give one of
        the union of their sets)."""
        row = self.keys >> np.uint64(32)
        starts = np.flatnonzero(np.concatenate(([True], row[1:] != row[:-1]))) if len(row) else np.empty(0, np.int64)
        rank = np.arange(len(row)) - np.repeat(starts, np.diff(np.append(starts, len(row))))
        return _Sets(self.keys[rank < k])

    def sizes(self, rows: np.ndarray) -> np.ndarray:
        """Number of features of each of ``rows``."""
        start, end = self.bounds(rows)
        return (end - start).astype(np.int64)

    def bounds(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start and end (positions in ``keys``) of each row's set.  Rows repeat (one per pair): each
        distinct row is looked up in ``keys`` once, the repeats in the far smaller distinct rows."""
        distinct = _sorted_unique(rows.astype(np.uint64))
        first = distinct << np.uint64(32)
        at = np.searchsorted(distinct, rows.astype(np.uint64))
        return np.searchsorted(self.keys, first)[at], np.searchsorted(self.keys, first + np.uint64(1 << 32))[at]


class _FeatureCache:
    """Features of the signature pass's chunks, kept for verification while they fit in ``budget`` bytes.

    Tokenising is most of the cost, and LSH candidates would otherwise be tokenised twice.  Features
    take about as many bytes as the text, so the budget caps the extra memory of huge batches.  All
    or nothing: once a chunk does not fit, the cache is emptied and takes no more, and every row is
    re-tokenised where needed (same features either way): a cache holding a share of a huge batch
    would hold its whole budget through the step to spare a share of the work that shrinks as the
    batch grows.
    """

    def __init__(self, chunk_docs: int, budget: int) -> None:
        self.chunk_docs = chunk_docs
        self.budget = budget
        self.chunks: dict[int, _Features] = {}  # chunk start row -> its features
        self._used = 0
        self._lock = threading.Lock()

    @classmethod
    def for_batch(cls, bodies: pl.Series, chunk_docs: int, budget: int) -> _FeatureCache | None:
        """A cache for the signature pass over ``bodies``, or None for a batch whose text alone exceeds
        ``budget``: its features would fill the cache only to empty it, after holding the whole budget
        beside the signature pass's own arrays."""
        return cls(chunk_docs, budget) if bodies.str.len_bytes().cast(pl.Int64).sum() <= budget else None

    def offer(self, start: int, feats: _Features) -> None:
        size = sum(a.nbytes for a in feats.flat.values()) + sum(a.nbytes for a in feats.lens.values())
        with self._lock:
            if self._used + size <= self.budget:
                self._used += size
                self.chunks[start] = feats
            else:
                self.budget = self._used = 0
                self.chunks.clear()

    def sets(self, start: int, rows: np.ndarray, tiers: tuple[str, ...]) -> dict[str, np.ndarray] | None:
        """Set keys (as ``_Sets.of``) of ``rows`` (ascending, all in the chunk at ``start``), or None if not kept."""
        feats = self.chunks.get(start)
        if feats is None:
            return None
        local = rows - start
        out = {}
        for tier in tiers:
            lens = feats.lens[tier]
            first = np.cumsum(lens) - lens
            picked = lens[local]
            # Positions of the picked documents' features in the chunk's flat array, in row order.
            pos = np.repeat(first[local] - (np.cumsum(picked) - picked), picked) + np.arange(int(picked.sum()))
            out[tier] = _Sets.of(np.repeat(rows, picked), feats.flat[tier][pos]).keys
        return out
