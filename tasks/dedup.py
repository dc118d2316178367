"""Near-duplicate detection: MinHash LSH candidates, exact verification, one kept article per cluster.

Features (both from the same normalised tokens: NFKC, lower case, runs of letters/digits):

* tier ``near_copy``: word n-gram shingles; a pair counts when their shingle Jaccard reaches
  ``near_copy_threshold`` or their containment |A∩B|/min(|A|,|B|) reaches ``near_copy_containment``
  (a copy wrapped in another site's boilerplate);
* tier ``rewrite``: the set of content words (stopwordsiso list removed); a pair counts when their
  Jaccard reaches ``rewrite_threshold``.  A rewrite keeps the story's vocabulary, not its word order.

Each feature is a 32-bit ``feature_hash``; signatures use datasketch's default "affine32" permutation
scheme (``num_perm`` permutations for near-copies, ``rewrite_num_perm`` for rewrites) and equal
``datasketch.MinHash(num_perm, seed, hashfunc=feature_hash)`` fed the same features.  Tokens,
shingles and signatures of whole chunks of documents come from the compiled loops of
``tasks/dedup_kernels.py``, chunks on ``workers`` threads (the kernels release the GIL).  Bands and
rows come from ``datasketch.lsh._optimal_param``.  Rows sharing a band key are candidates; rewrite
candidates whose MinHash estimate is far below the threshold are dropped first
(``prefilter_sigmas``); every remaining candidate is verified on its exact feature sets, so an LSH
false positive never drops an article.  Verified pairs of both tiers form a graph; each connected
component (scipy.sparse.csgraph) is one cluster.  Batches with at most ``exhaustive_max_pairs`` pairs
skip LSH and verify every pair (exact recall where it costs nothing).

Keep policy (one article per cluster): an article of ``index`` (published by an earlier run) always
wins; otherwise the earliest ``published_date`` (nulls last), then the larger ``word_count`` (the
more complete body), then the smallest ``article_id``.  Row order never matters.

Memory grows linearly with the number of documents: the signature pass keeps band keys (bands x
8 bytes per doc and tier: 880 bytes by default), the rewrite signatures (rewrite_num_perm x 4 bytes:
1 KiB) for the prefilter, and each chunk's features (about the text's size) up to
``_FEATURE_CACHE_BYTES``, so candidates need not be tokenised twice; rows of chunks beyond that
budget are re-tokenised for verification.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, cached_property, partial

import numpy as np
import polars as pl
import pyarrow as pa
import stopwordsiso
from datasketch import MinHash
from datasketch.lsh import _optimal_param
from datasketch.minhash import _FMIX_CONSTANTS
from scipy.sparse import coo_matrix
from prefect import task
from prefect.cache_policies import NO_CACHE
from scipy.sparse.csgraph import connected_components

from tasks import dedup_kernels as kernels
from tasks.config import DedupConfig
from tasks.errors import PipelineError
from tasks.records import WORD_PATTERN

TIERS = ("near_copy", "rewrite")

RESULT_SCHEMA = pl.Schema(
    {
        "article_id": pl.String,
        "cluster_id": pl.String,
        "duplicate_of": pl.String,
        "similarity": pl.Float64,
        "matched_tier": pl.String,
        "matched_index": pl.Boolean,
    }
)

# Bumped whenever tokens or feature hashes change: stored index rows of another version can't match.
FEATURE_VERSION = "3"
# Odd 64-bit constants for the multiplicative mixing of token hashes into n-gram and band keys.
_MIX = np.uint64(0x9E3779B97F4A7C15)
_MIX_OUT = np.uint64(0xD6E8FEB86659FD93)
_CONTENT_MIX = np.uint64((int(_MIX) * int(_MIX_OUT)) & ((1 << 64) - 1))  # a one-word feature: (0 ^ token) * _MIX * _MIX_OUT
_MASK64 = (1 << 64) - 1
_TOKEN_SEED = 0x636C6E77  # "clnw": fixed, so token hashes are reproducible across runs
# Bytes of signature-pass features kept for verification (about the batch's text size: 100k articles
# of 3 KB use 192 MiB for near_copy, 321 MiB for both tiers).  Beyond it, candidates are re-tokenised:
# slower, but the extra memory of a huge batch stays bounded by this.
_FEATURE_CACHE_BYTES = 512 << 20


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


# Feature kinds each tier verifies on, and all of them (what index rows store).
_VERIFIED_KINDS = {"near_copy": ("near_copy",), "rewrite": ("rewrite", "names")}
_INDEXED_KINDS = ("near_copy", "rewrite", "names")
# Counters of the rewrite tier's document-frequency table (4 MiB): enough that most words of a day's
# batch have their own.
_DF_SLOTS = 1 << 20


def _document_frequencies(flat: np.ndarray, lens: np.ndarray) -> np.ndarray:
    return kernels.document_frequencies(flat, lens.astype(np.int64, copy=False), _DF_SLOTS)


# ------------------------------------------------------------------------------------- signatures
# datasketch's optimiser integrates the banding curve numerically (~0.15 s a call): once per setting.
_lsh_params = cache(_optimal_param)


class _Lsh:
    """Permutations and banding of both tiers, derived from the config the way datasketch does."""

    def __init__(self, config: DedupConfig) -> None:
        unknown = set(config.tiers) - set(TIERS)
        if unknown:
            raise ValueError(f"unknown dedup tiers {sorted(unknown)}; known: {TIERS}")
        self.config = config
        self.num_perm = {"near_copy": config.num_perm, "rewrite": config.rewrite_num_perm}
        # datasketch is the reference: its permutations, its parameter optimiser.
        self.permutations = {
            tier: tuple(np.ascontiguousarray(p, dtype=np.uint32) for p in MinHash(num_perm=n, seed=config.seed).permutations)
            for tier, n in self.num_perm.items()
        }
        weights = (config.lsh_false_positive_weight, config.lsh_false_negative_weight)
        self.bands = {
            "near_copy": _lsh_params(config.near_copy_lsh_threshold, config.num_perm, *weights),
            "rewrite": _lsh_params(config.rewrite_lsh_threshold, config.rewrite_num_perm, *weights),
        }

    @cached_property
    def fingerprint(self) -> str:
        """What stored band keys depend on; index rows with another fingerprint get theirs recomputed."""
        return "affine32;seed=%d;%s" % (
            self.config.seed,
            ";".join(f"{t}={self.num_perm[t]}perm,{b}x{r}" for t, (b, r) in self.bands.items()),
        )

    def signatures(self, tier: str, feats: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """MinHash signatures of a tier, (num_perm, docs) uint32; a document without features gets all-max."""
        a, b = self.permutations[tier]
        return kernels.signatures(feats.astype(np.uint32, copy=False), lens.astype(np.int64, copy=False), a, b, _FMIX_CONSTANTS[32])

    def band_keys(self, tier: str, sig: np.ndarray) -> np.ndarray:
        """(bands, docs) uint64: the rows of each band mixed into one key (a collision only costs a check)."""
        bands, rows = self.bands[tier]
        keys = np.zeros((bands, sig.shape[1]), dtype=np.uint64)
        for r in range(rows):
            keys = (keys ^ sig[r:bands * rows:rows].astype(np.uint64)) * _MIX
        return keys


@dataclass
class _Keys:
    """Band keys of one tier for a set of rows, and which rows take part in the tier."""

    keys: np.ndarray  # (bands, rows) uint64
    eligible: np.ndarray  # (rows,) bool
    signatures: np.ndarray | None = None  # (rows, num_perm) uint32, kept for tiers that prefilter


# Tiers whose candidates are screened by their MinHash estimate before exact verification: the
# rewrite tier's low threshold makes many same-topic candidates; near-copy candidates are few, and
# its containment test needs the exact sets (a short copy in a long page has a low Jaccard).
_PREFILTERED = ("rewrite",)
# What a tier makes of a band key shared by more than ``lsh_max_bucket_rows`` documents: near-copies
# chain them (mass copies of one text must stay linked); for rewrites such a key is words the day's
# articles share (a template, a topic's vocabulary), not evidence, and makes no candidates: copies
# of one text are the near-copy tier's.
_LARGE_BUCKETS = {"near_copy": "chain", "rewrite": "skip"}


def _batch_keys(
    bodies: pl.Series, tokeniser: _Tokeniser, lsh: _Lsh, cache: _FeatureCache | None = None
) -> tuple[dict[str, _Keys], np.ndarray | None]:
    """Band keys of the configured tiers, chunk by chunk on ``config.workers`` threads (the kernels free
    the GIL), and the rewrite tier's document frequencies (None without that tier).

    Each chunk writes into its slice of the result arrays (no second copy of a million rows' keys).
    With ``cache``, each chunk's features are kept there (within its byte budget) so verification
    need not tokenise the same texts again.
    """
    config, n = lsh.config, len(bodies)
    out = {
        tier: _Keys(
            np.empty((lsh.bands[tier][0], n), dtype=np.uint64),
            np.empty(n, dtype=np.bool_),
            np.empty((n, lsh.num_perm[tier]), dtype=np.uint32) if tier in _PREFILTERED else None,
        )
        for tier in config.tiers
    }
    frequencies = np.zeros(_DF_SLOTS, dtype=np.uint32) if "rewrite" in config.tiers else None
    lock = threading.Lock()

    def one_chunk(start: int) -> None:
        feats = _features(bodies.slice(start, config.chunk_docs), tokeniser, config, config.tiers)
        if cache is not None:
            cache.offer(start, feats)
        if frequencies is not None:
            counted = _document_frequencies(feats.flat["rewrite"], feats.lens["rewrite"])
            with lock:
                frequencies[:] += counted
        rows = slice(start, start + len(feats.lens[config.tiers[0]]))
        for tier in config.tiers:
            chunk = _chunk_keys(tier, feats, lsh)
            out[tier].keys[:, rows] = chunk.keys
            out[tier].eligible[rows] = chunk.eligible
            if out[tier].signatures is not None:
                out[tier].signatures[rows] = chunk.signatures

    with ThreadPoolExecutor(max_workers=config.workers) as pool:
        list(pool.map(one_chunk, range(0, n, config.chunk_docs)))
    return out, frequencies


def _chunk_keys(tier: str, feats: _Features, lsh: _Lsh) -> _Keys:
    """Band keys, eligibility and signatures (docs x num_perm, a view) of one chunk's documents in a tier."""
    sig = lsh.signatures(tier, feats.flat[tier], feats.lens[tier])
    return _Keys(lsh.band_keys(tier, sig), _eligible(tier, feats.lens[tier], lsh.config), sig.T)


class _FeatureCache:
    """Features of the signature pass's chunks, kept for verification up to ``budget`` bytes.

    Tokenising is most of the cost, and LSH candidates would otherwise be tokenised twice.  Features
    take about as many bytes as the text, so the budget caps the extra memory of huge batches: chunks
    beyond it are re-tokenised at verification as before (same features either way).
    """

    def __init__(self, chunk_docs: int, budget: int) -> None:
        self.chunk_docs = chunk_docs
        self.budget = budget
        self.chunks: dict[int, _Features] = {}  # chunk start row -> its features
        self._used = 0
        self._lock = threading.Lock()

    def offer(self, start: int, feats: _Features) -> None:
        size = sum(a.nbytes for a in feats.flat.values()) + sum(a.nbytes for a in feats.lens.values())
        with self._lock:
            if self._used + size <= self.budget:
                self._used += size
                self.chunks[start] = feats

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


def _eligible(tier: str, lens: np.ndarray, config: DedupConfig) -> np.ndarray:
    """Rows worth banding: any feature; for rewrites enough content words (counted with repeats here,
    the distinct count is checked at verification)."""
    return lens >= (config.rewrite_min_words if tier == "rewrite" else 1)


# ------------------------------------------------------------------------------------- candidates
def _candidate_pairs(
    keys: _Keys,
    window: int,
    max_bucket: int,
    large: str = "chain",
    screen: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """Distinct (a, b) row pairs, a < b, that share a band key, band by band.

    Within a bucket sorted by row each row pairs with its next ``window`` rows: every pair of a
    bucket of up to window+1 rows, a linear number in bigger ones.  A bucket of more than
    ``max_bucket`` rows is a key that many documents share (a template, the day's commonest words,
    or mass copies): with ``large="chain"`` each of its rows pairs with the next only (mass copies
    stay connected through the chain), with ``large="skip"`` it is not evidence and makes no pair.
    So each row meets at most ``window`` new rows per band, whatever the corpus.  A pair met in an
    earlier band is skipped (true pairs share most bands), and ``screen`` drops hopeless new pairs
    as each band is done, so memory holds the distinct pairs (8 bytes each) and the survivors,
    never every band's raw candidates.
    """
    rows = np.flatnonzero(keys.eligible).astype(np.uint32)
    found = [pl.DataFrame(schema={"a": pl.UInt32, "b": pl.UInt32})]
    seen = np.empty(0, dtype=np.uint64)  # sorted a << 32 | b of every pair met so far
    for band_keys in keys.keys if len(rows) > 1 else []:
        key = band_keys[rows]
        by_key = np.argsort(key)
        # Rows whose key another row shares (few), then sorted by key and row.
        same_as_next = key[by_key[1:]] == key[by_key[:-1]]
        shared = by_key[np.concatenate(([False], same_as_next)) | np.concatenate((same_as_next, [False]))]
        shared = shared[np.lexsort((rows[shared], key[shared]))]
        key, row = key[shared], rows[shared].astype(np.uint64)
        starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
        small = np.repeat(np.diff(np.append(starts, len(key))) <= max_bucket, np.diff(np.append(starts, len(key))))
        if large == "skip":
            key, row, small = key[small], row[small], small[small]
        met = []
        for step in range(1, window + 1):
            same = np.flatnonzero((key[step:] == key[:-step]) & (small[:-step] | (step == 1)))
            if len(same) == 0:
                break
            met.append((row[same] << np.uint64(32)) | row[same + step])
        if not met:
            continue
        met = _sorted_unique(np.concatenate(met))
        at = np.minimum(np.searchsorted(seen, met), max(len(seen) - 1, 0))
        fresh = met[~(seen[at] == met)] if len(seen) else met
        seen = np.sort(np.concatenate([seen, fresh]), kind="stable")  # two sorted runs: a linear merge
        pairs = pl.DataFrame(
            {"a": (fresh >> np.uint64(32)).astype(np.uint32), "b": (fresh & np.uint64(0xFFFFFFFF)).astype(np.uint32)}
        )
        found.append(screen(pairs) if screen else pairs)
    return pl.concat(found)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting (numpy 2.4's hash-based unique is ~50x slower on these uint64 keys)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


def _prefilter(pairs: pl.DataFrame, signatures: np.ndarray, threshold: float, config: DedupConfig) -> pl.DataFrame:
    """Candidates whose MinHash estimate reaches ``threshold - prefilter_sigmas`` standard errors.

    The estimate (share of equal signature values) of a pair at the threshold has standard error
    sqrt(t(1-t)/num_perm); 3 of them lose ~0.13% of pairs exactly at the threshold (none measurably
    from 0.3 up) and ~99.9% of same-topic noise (Jaccard ~0.08).  Pairs
    with a row beyond ``signatures`` (index rows not signed yet) pass.
    """
    num_perm = signatures.shape[1]
    floor = threshold - config.prefilter_sigmas * np.sqrt(threshold * (1 - threshold) / num_perm)
    keep = []
    for chunk in pairs.iter_slices(100_000):
        a, b = chunk["a"].to_numpy(), chunk["b"].to_numpy()
        signed = b < len(signatures)
        estimate = np.ones(len(a))
        estimate[signed] = (signatures[a[signed]] == signatures[b[signed]]).mean(axis=1)
        keep.append(estimate >= floor)
    return pairs.filter(pl.Series(np.concatenate(keep))) if keep else pairs


def _all_pairs(n_batch: int, n_index: int) -> pl.DataFrame:
    """Every batch-batch and batch-index pair (small inputs: verifying them all is cheaper than LSH)."""
    a, b = np.triu_indices(n_batch, k=1)
    ia, ib = np.divmod(np.arange(n_batch * n_index), max(n_index, 1))
    return pl.DataFrame(
        {"a": np.concatenate([a, ia]).astype(np.uint32), "b": np.concatenate([b, ib + n_batch]).astype(np.uint32)}
    )


# ----------------------------------------------------------------------------------- verification
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

    def bounds(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start and end (positions in ``keys``) of each row's set."""
        first = rows.astype(np.uint64) << np.uint64(32)
        return np.searchsorted(self.keys, first), np.searchsorted(self.keys, first + np.uint64(1 << 32))


def _feature_sets(
    bodies: pl.Series,
    rows: np.ndarray,
    tokeniser: _Tokeniser,
    config: DedupConfig,
    tiers: tuple[str, ...] = TIERS,
    cache: _FeatureCache | None = None,
) -> dict[str, _Sets]:
    """Feature sets per tier of the given batch rows: from ``cache`` where it kept them, else re-tokenised."""

    def one_chunk(chunk: np.ndarray) -> dict[str, np.ndarray]:
        if cache is not None:
            kept = cache.sets(int(chunk[0]) // cache.chunk_docs * cache.chunk_docs, chunk, tiers)
            if kept is not None:
                return kept
        feats = _features(bodies.gather(chunk), tokeniser, config, tiers)
        return {tier: _Sets.of(np.repeat(chunk, feats.lens[tier]), feats.flat[tier]).keys for tier in tiers}

    if cache is None:
        chunks = [rows[start : start + config.chunk_docs] for start in range(0, len(rows), config.chunk_docs)]
    else:
        # One work unit per signature chunk, so each unit is either all cached or all re-tokenised.
        cuts = np.flatnonzero(np.diff(rows // cache.chunk_docs)) + 1
        chunks = [c for c in np.split(rows, cuts) if len(c)]
    # ``rows`` ascend, so each chunk's keys sort after the previous chunk's: no global sort needed.
    with ThreadPoolExecutor(max_workers=config.workers) as pool:
        parts = list(pool.map(one_chunk, chunks))
    return {tier: _Sets(np.concatenate([p[tier] for p in parts] or [np.empty(0, np.uint64)])) for tier in tiers}


def _similarities(pairs: pl.DataFrame, sets: _Sets, weights: np.ndarray | None = None) -> pl.DataFrame:
    """Set sizes, exact Jaccard and containment of each (a, b) pair's feature sets (0 when a set is
    empty); given ``weights`` (per document-frequency slot), also the weighted Jaccard."""
    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    start_a, end_a = sets.bounds(a)
    start_b, end_b = sets.bounds(b)
    key_weights = np.empty(0) if weights is None else weights[(sets.keys & np.uint64(_DF_SLOTS - 1)).astype(np.int64)]
    common, shared = kernels.intersections(sets.keys, key_weights, start_a, end_a, start_b, end_b)
    na, nb = end_a - start_a, end_b - start_b
    union, smaller = na + nb - common, np.minimum(na, nb)
    columns = {
        "a": a,
        "b": b,
        "na": na,
        "nb": nb,
        "jaccard": np.divide(common, union, out=np.zeros(len(a)), where=union > 0),
        "containment": np.divide(common, smaller, out=np.zeros(len(a)), where=smaller > 0),
    }
    if weights is not None:
        total = np.concatenate(([0.0], np.cumsum(key_weights)))
        weighted_union = total[end_a] - total[start_a] + total[end_b] - total[start_b] - shared
        columns["weighted"] = np.divide(shared, weighted_union, out=np.zeros(len(a)), where=weighted_union > 0)
    return pl.DataFrame(columns, schema_overrides={"a": pl.UInt32, "b": pl.UInt32})


@dataclass
class _Evidence:
    """What verification weighs beside the feature sets: word rarity and publication dates."""

    weights: np.ndarray | None  # per document-frequency slot: log((N + prior) / (df + 1))
    dates: pl.Series  # published_date of every universe row

    @classmethod
    def of(cls, frequencies: np.ndarray | None, n_docs: int, dates: pl.Series, config: DedupConfig) -> _Evidence:
        if frequencies is None:
            return cls(None, dates)
        prior = config.rewrite_idf_prior_docs
        return cls(np.log((n_docs + prior) / (frequencies.astype(np.float64) + 1.0)), dates)

    def measure(self, tier: str, pairs: pl.DataFrame, sets: dict[str, _Sets], min_names: float = 0.0) -> pl.DataFrame:
        """A tier's similarities of ``pairs``, with ``score`` (the similarity a verdict reports: shingle
        Jaccard for near-copies, rarity-weighted content-word Jaccard for rewrites) and, for rewrites,
        ``names`` (Jaccard of names and numbers) and ``days_apart`` (null when a date is unknown).

        Rewrite pairs whose names Jaccard is below ``min_names`` are left out before their (larger)
        content-word sets are compared: documents of one template share their words, not their names.
        """
        if tier != "rewrite":
            return _similarities(pairs, sets[tier]).with_columns(score=pl.col("jaccard"))
        names = _similarities(pairs, sets["names"])["jaccard"]
        pairs = pairs.select("a", "b").with_columns(names=names).filter(pl.col("names") >= min_names)
        sims = _similarities(pairs, sets[tier], self.weights)
        a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
        return sims.with_columns(
            score=pl.col("weighted"),
            names=pairs["names"],
            days_apart=(self.dates.gather(a) - self.dates.gather(b)).dt.total_days().abs(),
        )


def _verified(sims: dict[str, pl.DataFrame], config: DedupConfig) -> pl.DataFrame:
    """Pairs whose similarity passes a tier's test (``_Evidence.measure`` columns); near_copy wins when both do.

    A rewrite needs all of: content-word Jaccard, its rarity-weighted form, the Jaccard of names and
    numbers, published dates (when both known) at most ``rewrite_max_days_apart`` apart, and
    ``rewrite_min_words`` distinct content words on both sides (a low threshold on a handful of words
    is noise).  Each alone lets same-topic stories through (docs/scaling.md has the measured margins).
    """
    passes = {
        "near_copy": (pl.col("jaccard") >= config.near_copy_threshold) | (pl.col("containment") >= config.near_copy_containment),
        "rewrite": (pl.col("jaccard") >= config.rewrite_threshold)
        & (pl.col("weighted") >= config.rewrite_weighted_threshold)
        & (pl.col("names") >= config.rewrite_name_threshold)
        & (pl.min_horizontal("na", "nb") >= config.rewrite_min_words)
        & pl.col("days_apart").fill_null(0).le(config.rewrite_max_days_apart),
    }
    return (
        pl.concat(
            [
                sims[t].filter(passes[t]).select("a", "b", similarity=pl.col("score"), tier=pl.lit(TIERS.index(t), pl.UInt8))
                for t in config.tiers
            ]
        )
        .sort("tier")
        .unique(["a", "b"], keep="first")
    )


# ---------------------------------------------------------------------------------------- helpers
def _index_for(batch: pl.DataFrame, index: pl.DataFrame | None) -> pl.DataFrame | None:
    """Index rows to match against: never the batch's own articles (a rerun of the same day)."""
    if index is None or index.height == 0:
        return None
    index = index.filter(~pl.col("article_id").is_in(batch["article_id"].implode()))
    if index.height == 0:
        return None
    stale = index.filter(pl.col("feature_version") != FEATURE_VERSION)
    if stale.height:
        raise ValueError(
            f"{stale.height} index rows were built with feature version(s) "
            f"{stale['feature_version'].unique().to_list()}, this code has {FEATURE_VERSION}: rebuild or drop them"
        )
    return index


def _index_keys(index: pl.DataFrame, lsh: _Lsh) -> dict[str, _Keys]:
    """Stored band keys, or keys recomputed from the stored feature sets when the LSH setup changed."""
    current = (index["lsh_params"] == lsh.fingerprint).to_numpy()
    out = {}
    for tier in lsh.config.tiers:
        bands, _ = lsh.bands[tier]
        keys = np.zeros((bands, index.height), dtype=np.uint64)
        stored = index[f"{tier}_bands"]
        eligible = current & (stored.list.len() == bands).to_numpy()
        same = np.flatnonzero(eligible)
        keys[:, same] = stored.gather(same).explode().to_numpy().reshape(len(same), bands).T
        other = np.flatnonzero(~current)
        if len(other):
            feats = index[f"{tier}_features"].gather(other)
            lens = feats.list.len().to_numpy()
            keys[:, other] = lsh.band_keys(tier, lsh.signatures(tier, feats.explode().drop_nulls().to_numpy(), lens))
            eligible[other] = _eligible(tier, lens, lsh.config)
        out[tier] = _Keys(keys, eligible)
    return out


def _with_index_signatures(
    batch_sigs: np.ndarray, index: pl.DataFrame | None, pairs: pl.DataFrame, tier: str, lsh: _Lsh
) -> np.ndarray:
    """Signatures of all universe rows; index rows' (only those in ``pairs``) from their stored features."""
    if index is None:
        return batch_sigs
    n = len(batch_sigs)
    rows = _sorted_unique(pairs["b"].to_numpy())
    rows = rows[rows >= n]
    out = np.zeros((n + index.height, batch_sigs.shape[1]), dtype=np.uint32)  # calloc: untouched rows cost nothing
    out[:n] = batch_sigs
    feats = index[f"{tier}_features"].gather(rows - n)
    out[rows] = lsh.signatures(tier, feats.explode().drop_nulls().to_numpy(), feats.list.len().to_numpy()).T
    return out


def _index_sets(index: pl.DataFrame, n_batch: int, rows: np.ndarray, tiers: tuple[str, ...]) -> dict[str, _Sets]:
    """Feature sets of the given universe rows that are index rows (offset by the batch size)."""
    out = {}
    for tier in tiers:
        feats = index[f"{tier}_features"].gather(rows - n_batch)
        out[tier] = _Sets.of(np.repeat(rows, feats.list.len().to_numpy()), feats.explode().drop_nulls().to_numpy())
    return out


def _keep_rank(universe: pl.DataFrame) -> np.ndarray:
    """Rank of every universe row under the keep policy (0 = the best to keep)."""
    order = universe.with_row_index("row").sort(
        ["from_index", "published_date", "word_count", "article_id"],
        descending=[True, False, True, False],
        nulls_last=True,
    )["row"].to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def _empty_result() -> pl.DataFrame:
    return pl.DataFrame(schema=RESULT_SCHEMA)


# --------------------------------------------------------------------------------------------- API
def find_duplicates(batch: pl.DataFrame, config: DedupConfig = DedupConfig(), index: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per batch article: its cluster, and what it duplicates if it is not kept.

    ``batch`` needs ``article_id`` (unique), ``body``, ``published_date`` (nullable) and ``word_count``.
    ``index`` holds ``index_rows`` of articles published by earlier runs; they are always kept, and
    index rows whose ``article_id`` is also in ``batch`` are ignored (a rerun must not match itself).

    Returns ``article_id``, ``cluster_id`` (the kept article's id), ``duplicate_of`` (null when kept),
    ``similarity`` (exact Jaccard with ``duplicate_of`` in ``matched_tier``'s features), ``matched_tier``
    ("near_copy" or "rewrite") and ``matched_index`` (the kept article comes from ``index``).

    Keep policy per cluster: an index article first; then the earliest ``published_date`` (nulls
    last), the larger ``word_count``, the smallest ``article_id``.  Two articles are in one cluster
    when a chain of verified pairs joins them; a dropped article's ``similarity`` is measured against
    the kept article directly (it can fall below the threshold at the end of a long chain).
    """
    return _deduplicate(batch, config, index, with_index_rows=False)[0]


def deduplicate_with_index_rows(
    batch: pl.DataFrame, config: DedupConfig = DedupConfig(), index: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``find_duplicates``, and the ``index_rows`` of the articles it keeps, reusing the features
    and band keys its signature pass computed instead of tokenising the kept articles again."""
    return _deduplicate(batch, config, index, with_index_rows=True)


def _deduplicate(
    batch: pl.DataFrame, config: DedupConfig, index: pl.DataFrame | None, with_index_rows: bool
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    if batch.height == 0:
        return _empty_result(), (index_rows(batch, config) if with_index_rows else None)
    n = batch.height
    index = _index_for(batch, index)
    m = 0 if index is None else index.height
    bodies = batch["body"]
    tokeniser = _Tokeniser(config)
    lsh = _Lsh(config)

    exhaustive = n * (n - 1) // 2 + n * m <= config.exhaustive_max_pairs
    cache, reusable, frequencies = None, None, None
    if exhaustive:
        candidates = {tier: _all_pairs(n, m) for tier in config.tiers}
    else:
        cache = _FeatureCache(config.chunk_docs, _FEATURE_CACHE_BYTES)
        keys, frequencies = _batch_keys(bodies, tokeniser, lsh, cache)
        if with_index_rows and set(config.tiers) == set(TIERS):
            reusable = {t: _Keys(keys[t].keys, keys[t].eligible) for t in TIERS}  # not the prefilter's signatures
        if index is not None:
            stored = _index_keys(index, lsh)
            keys = {
                t: _Keys(np.hstack([keys[t].keys, stored[t].keys]), np.concatenate([keys[t].eligible, stored[t].eligible]), keys[t].signatures)
                for t in config.tiers
            }
        candidates = {}
        for t in config.tiers:
            screen = partial(_prefilter, signatures=keys[t].signatures, threshold=config.rewrite_threshold, config=config)
            # Pairs of two index rows were settled by an earlier run.
            candidates[t] = _candidate_pairs(
                keys[t], config.lsh_bucket_window, config.lsh_max_bucket_rows, _LARGE_BUCKETS[t], screen if t in _PREFILTERED else None
            ).filter(
                pl.col("a") < n
            )
            if t in _PREFILTERED and index is not None:
                signatures = _with_index_signatures(keys[t].signatures, index, candidates[t], t, lsh)
                candidates[t] = _prefilter(candidates[t], signatures, config.rewrite_threshold, config)

        del keys  # band keys and signatures are done with: free them before the feature sets
    universe = batch.select("article_id", "published_date", pl.col("word_count").cast(pl.Int64), from_index=pl.lit(False))
    if index is not None:
        universe = pl.concat(
            [universe, index.select("article_id", "published_date", pl.col("word_count").cast(pl.Int64), from_index=pl.lit(True))]
        )
    # One tier's sets at a time, only for the rows it has candidates for: memory stays ~ candidates.
    sims, evidence = {}, _Evidence(None, universe["published_date"])
    for t in config.tiers:
        involved = _sorted_unique(np.concatenate([candidates[t]["a"].to_numpy(), candidates[t]["b"].to_numpy()]))
        sets = _universe_sets(bodies, index, n, involved, tokeniser, config, _VERIFIED_KINDS[t], cache)
        if t == "rewrite":
            if frequencies is None:  # exhaustive: every batch row is involved (or there is nothing to verify)
                batch_keys = sets["rewrite"].keys[sets["rewrite"].keys < (np.uint64(n) << np.uint64(32))]
                frequencies = np.bincount((batch_keys & np.uint64(_DF_SLOTS - 1)).astype(np.int64), minlength=_DF_SLOTS)
            evidence = _Evidence.of(frequencies, n, universe["published_date"], config)
        sims[t] = evidence.measure(t, candidates[t], sets, config.rewrite_name_threshold)
    edges = _verified(sims, config)

    total = n + m
    graph = coo_matrix(
        (np.ones(edges.height, dtype=np.int8), (edges["a"].to_numpy(), edges["b"].to_numpy())), shape=(total, total)
    )
    _, component = connected_components(graph, directed=False)
    rank = _keep_rank(universe)
    # The kept row of a component is the one of lowest rank.
    best = np.full(component.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(best, component, rank)
    row_of_rank = np.argsort(rank)
    kept = row_of_rank[best[component[:n]]]

    dropped = np.flatnonzero(kept != np.arange(n))
    to_kept = pl.DataFrame(
        {
            "row": dropped.astype(np.uint32),
            "a": np.minimum(dropped, kept[dropped]).astype(np.uint32),
            "b": np.maximum(dropped, kept[dropped]).astype(np.uint32),
        }
    )
    # Most dropped rows were verified against their kept article directly; only chained ones need sets.
    similarity = to_kept.join(edges, on=["a", "b"]).select("row", "similarity", "tier")
    chained = to_kept.join(edges, on=["a", "b"], how="anti")
    if chained.height:
        rows = _sorted_unique(np.concatenate([chained["a"].to_numpy(), chained["b"].to_numpy()]))
        kinds = tuple(k for t in config.tiers for k in _VERIFIED_KINDS[t])
        sets = _universe_sets(bodies, index, n, rows, tokeniser, config, kinds, cache)
        similarity = pl.concat([similarity, _chained_similarity(chained, edges, sets, evidence, config)])
    verdicts = (
        pl.DataFrame({"article_id": batch["article_id"], "cluster_id": universe["article_id"].gather(kept), "matched_index": kept >= n})
        .with_row_index("row")
        .join(similarity, on="row", how="left", maintain_order="left")
        .select(
            "article_id",
            "cluster_id",
            duplicate_of=pl.when(pl.col("article_id") != pl.col("cluster_id")).then(pl.col("cluster_id")),
            similarity="similarity",
            matched_tier=pl.col("tier").replace_strict({0: TIERS[0], 1: TIERS[1]}, default=None, return_dtype=pl.String),
            matched_index="matched_index",
        )
    )
    if not with_index_rows:
        return verdicts, None
    keep = kept == np.arange(n)
    if reusable is None:  # small batch (no signature pass) or a subset of the tiers
        return verdicts, index_rows(batch.filter(pl.Series(keep)), config)
    return verdicts, _index_rows(batch, keep, tokeniser, lsh, cache, reusable)


def _universe_sets(
    bodies: pl.Series,
    index: pl.DataFrame | None,
    n: int,
    rows: np.ndarray,
    tokeniser: _Tokeniser,
    config: DedupConfig,
    tiers: tuple[str, ...],
    cache: _FeatureCache | None = None,
) -> dict[str, _Sets]:
    """Feature sets of batch and index rows (``rows`` ascending universe row numbers)."""
    batch_sets = _feature_sets(bodies, rows[rows < n], tokeniser, config, tiers, cache)
    if index is None:
        return batch_sets
    index_sets = _index_sets(index, n, rows[rows >= n], tiers)
    # Index rows are numbered after batch rows, so concatenating keeps the keys sorted.
    return {t: _Sets(np.concatenate([batch_sets[t].keys, index_sets[t].keys])) for t in tiers}


def _chained_similarity(
    pairs: pl.DataFrame, edges: pl.DataFrame, sets: dict[str, _Sets], evidence: _Evidence, config: DedupConfig
) -> pl.DataFrame:
    """(row, similarity, tier) of dropped rows joined to their kept article only through a chain.

    Measured directly: the first tier whose test the pair passes names the match; otherwise the
    tier of the row's best own edge, with the pair's score in that tier (below its threshold).
    """
    sims = {t: evidence.measure(t, pairs.select("a", "b"), sets) for t in config.tiers}
    direct = _verified(sims, config).rename({"similarity": "direct_similarity", "tier": "direct_tier"})
    own = pl.concat([edges.select(row="a", tier="tier"), edges.select(row="b", tier="tier")]).group_by("row").agg(pl.col("tier").min())
    measured = pl.concat(
        [sims[t].select("a", "b", chain_similarity="score", chain_tier=pl.lit(TIERS.index(t), pl.UInt8)) for t in sims]
    )
    return (
        pairs.join(direct, on=["a", "b"], how="left")
        .join(own, on="row", how="left")
        .join(measured, left_on=["a", "b", "tier"], right_on=["a", "b", "chain_tier"], how="left")
        .select(
            "row",
            similarity=pl.coalesce("direct_similarity", "chain_similarity"),
            tier=pl.coalesce("direct_tier", "tier"),
        )
    )


def index_rows(kept: pl.DataFrame, config: DedupConfig = DedupConfig()) -> pl.DataFrame:
    """What a later run needs to match against published articles, without their bodies.

    Columns: ``article_id``, ``published_date``, ``word_count``, per feature kind ``{kind}_features``
    (distinct feature hashes, List(UInt32), for exact verification: ``near_copy``, ``rewrite``,
    ``names``), per tier ``{tier}_bands`` (band keys,
    List(UInt64); empty when the article is not eligible for the tier), ``lsh_params`` (the setup the
    band keys belong to; rows of another setup are re-banded from their features) and
    ``feature_version``.
    """
    config = config.model_copy(update={"tiers": TIERS})  # a later run may match on either tier
    return _index_rows(kept, np.ones(kept.height, dtype=np.bool_), _Tokeniser(config), _Lsh(config))


def _index_rows(
    batch: pl.DataFrame,
    keep: np.ndarray,
    tokeniser: _Tokeniser,
    lsh: _Lsh,
    cache: _FeatureCache | None = None,
    keys: dict[str, _Keys] | None = None,
) -> pl.DataFrame:
    """``index_rows`` of the ``keep`` rows of ``batch``, chunk by chunk on worker threads.

    ``cache`` and ``keys`` (every tier's band keys of the whole batch) are what a signature pass
    over ``batch`` already computed; without them, features and keys are computed here.
    """
    config = lsh.config

    def one_chunk(start: int) -> dict[str, pl.Series]:
        rows = slice(start, start + config.chunk_docs)
        feats = cache.chunks.get(start) if cache is not None else None
        if feats is None:  # no signature pass, or beyond the cache's budget
            feats = _features(batch["body"][rows], tokeniser, config, TIERS)
        if keys is None:
            chunk_keys = {tier: _chunk_keys(tier, feats, lsh) for tier in TIERS}
        else:
            chunk_keys = {tier: _Keys(k.keys[:, rows], k.eligible[rows]) for tier, k in keys.items()}
        return _index_chunk(feats, chunk_keys, keep[rows])

    with ThreadPoolExecutor(max_workers=config.workers) as pool:
        parts = list(pool.map(one_chunk, range(0, batch.height, config.chunk_docs)))
    dtypes = {f"{kind}_features": pl.List(pl.UInt32) for kind in _INDEXED_KINDS} | {f"{t}_bands": pl.List(pl.UInt64) for t in TIERS}
    columns = {
        name: pl.concat([p[name] for p in parts], rechunk=False) if parts else pl.Series([], dtype=dtype)
        for name, dtype in dtypes.items()
    }
    return (
        batch.select("article_id", "published_date", pl.col("word_count").cast(pl.Int32))
        .filter(pl.Series(keep))
        .with_columns(**columns, lsh_params=pl.lit(lsh.fingerprint), feature_version=pl.lit(FEATURE_VERSION))
    )


def _index_chunk(feats: _Features, keys: dict[str, _Keys], keep: np.ndarray) -> dict[str, pl.Series]:
    """Index-row columns of one chunk's ``keep`` rows: distinct sorted features and band keys (none
    for a row not eligible for the tier) per tier.  Built per chunk, so the flat arrays of a
    million rows never exist next to their list columns."""
    out = {}
    for kind in _INDEXED_KINDS:
        lens = feats.lens[kind]
        distinct = _Sets.of(np.repeat(np.arange(len(lens)), lens), feats.flat[kind]).keys
        row = (distinct >> np.uint64(32)).astype(np.int64)
        out[f"{kind}_features"] = _list_series(
            (distinct[keep[row]] & np.uint64(0xFFFFFFFF)).astype(np.uint32), np.bincount(row, minlength=len(lens))[keep]
        )
    for tier in TIERS:
        bands, eligible = keys[tier].keys, keys[tier].eligible
        out[f"{tier}_bands"] = _list_series(
            np.ascontiguousarray(bands.T[keep & eligible]).ravel(), np.where(eligible, bands.shape[0], 0)[keep]
        )
    return out


def _list_series(values: np.ndarray, counts: np.ndarray) -> pl.Series:
    """A List column from flat values and the number of values per row (no per-row Python work)."""
    offsets = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))
    return pl.Series(pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values)))


def explain_match(dropped: str, kept: str, config: DedupConfig = DedupConfig(), examples: int = 3) -> dict:
    """Why two texts are duplicates, measured again on the two texts alone: per tier what it verifies
    (shingle Jaccard and containment; content-word and names Jaccard: the rarity weights of the run
    that decided need its whole batch, so the verified score is the one stored with the duplicate),
    and the evidence: shared names and numbers, shared content words, shared shingles."""
    bodies = pl.Series([dropped, kept], dtype=pl.String)
    feats = _features(bodies, _Tokeniser(config), config, TIERS)
    pair = pl.DataFrame({"a": [0], "b": [1]}, schema={"a": pl.UInt32, "b": pl.UInt32})
    measured = {}
    for kind in _INDEXED_KINDS:
        sets = _Sets.of(np.repeat(np.arange(2), feats.lens[kind]), feats.flat[kind])
        measured[kind] = _similarities(pair, sets).row(0, named=True)
    stop = set(stopwords(config).to_list())

    def words(text: str) -> tuple[set[str], set[str], set[tuple[str, ...]]]:
        raw = re.findall(_WORD, unicodedata.normalize("NFKC", text))
        lower = [w.lower() for w in raw]
        content = {w for w in lower if w not in stop and len(w) >= config.min_content_word_chars}
        names = {w.lower() for w in raw if (w[0].isupper() or w[0].isdigit()) and w.lower() in content}
        n = config.near_copy_ngram
        return content, names, {tuple(lower[i : i + n]) for i in range(len(lower) - n + 1)}

    (content_a, names_a, shingles_a), (content_b, names_b, shingles_b) = words(dropped), words(kept)
    shared_shingles = sorted(shingles_a & shingles_b)
    return {
        "near_copy": {k: measured["near_copy"][k] for k in ("jaccard", "containment")},
        "rewrite": {"content_jaccard": measured["rewrite"]["jaccard"], "names_jaccard": measured["names"]["jaccard"]},
        "shared_names": sorted(names_a & names_b),
        "shared_content_words": len(content_a & content_b),
        "shared_shingles": len(shared_shingles),
        "shingle_examples": [" ".join(s) for s in shared_shingles[:examples]],
    }


def deduplicate_table(
    table: pl.DataFrame, text_column: str, id_column: str, config: DedupConfig = DedupConfig(), date_column: str | None = None
) -> pl.DataFrame:
    """Any table with an id and a text column: every row back, plus ``cluster_id``, ``duplicate_of``, ``similarity``.

    Ids are compared as strings; ``date_column`` (a date) feeds the keep policy when given.
    """
    missing = [c for c in (text_column, id_column, date_column) if c and c not in table.columns]
    if missing:
        raise PipelineError(f"no column {', '.join(map(repr, missing))} in the input; it has {', '.join(table.columns)}")
    ids = table[id_column].cast(pl.String)
    if ids.null_count() or ids.n_unique() != table.height:
        raise PipelineError(f"column {id_column!r} must hold a unique, non-null id per row")
    body = table[text_column].cast(pl.String).fill_null("")
    batch = pl.DataFrame(
        {
            "article_id": ids,
            "body": body,
            "published_date": table[date_column].cast(pl.Date) if date_column else pl.Series([None] * table.height, dtype=pl.Date),
            "word_count": body.str.count_matches(WORD_PATTERN).cast(pl.Int32),
        }
    )
    verdicts = find_duplicates(batch, config).select("article_id", "cluster_id", "duplicate_of", "similarity")
    return table.with_columns(ids.alias("__id")).join(
        verdicts.rename({"article_id": "__id"}), on="__id", how="left", maintain_order="left"
    ).drop("__id")


@task(name="dedup", cache_policy=NO_CACHE)
def dedup_task(
    batch: pl.DataFrame, config: DedupConfig, index: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Verdicts for the batch (``matched_tier`` named ``tier``, as the duplicates dataset calls it), and
    the index rows of the articles it keeps (for later runs)."""
    verdicts, rows = deduplicate_with_index_rows(batch, config, index)
    return verdicts.rename({"matched_tier": "tier"}), rows
